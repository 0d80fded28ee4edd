"""int8 forms on a CPU without AMX: OpenVINO int8 vs ONNX Runtime fp32 vs ONNX Runtime int8 forms (issue 20).

    python -m benchmarks.int8_speed                 # x4 d19, 1280x720 output, 2 threads
    python -m benchmarks.int8_speed --scale 2 --rounds 20

Rows, each the bundled model of ``--scale`` depth 19 on the benchmark image, round-robin in one
process (median and 25th percentile of ``--rounds`` runs of the bare engine, no tiling):

* ONNX Runtime fp32 (the reference) and OpenVINO fp32;
* OpenVINO int8 (the QDQ file; OpenVINO runs its Convs as int8 kernels);
* ONNX Runtime int8, the bundled QDQ file at graph optimization level ``all`` (NHWC layout
  transforms on) and ``extended``: ONNX Runtime fuses DequantizeLinear -> Conv -> QuantizeLinear
  into QLinearConv only where a Conv's output is quantized. In the bundled form no Conv output
  is (each recurrent step adds its input back in float, the decoder and tail feed float ops),
  so ONNX Runtime dequantizes the weights once and runs every Conv in fp32, plus the Q/DQ nodes:
  the row says how many QLinearConv nodes the optimized graph holds;
* ONNX Runtime int8, "qlinear" form: the same file with each recurrent Conv's output quantized
  too (uint8, zero point 128; a speed probe: its scale is a rough bound, not calibrated, so its
  output is not the bundled model's), with per-channel and per-tensor weights, so that
  ONNX Runtime runs QLinearConv (NHWC at level ``all``) and QLinearAdd.

Writes benchmarks/results/int8_speed.{json,md}. Timings on a shared machine are "under load";
the command line is in the file for a quiet rerun. Bounded to about 3 minutes at the defaults.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

from litesr_edge.bench.candidates import benchmark_image
from litesr_edge.bench.machine import machine_info
from litesr_edge.engines import create_engine
from litesr_edge.registry import find_model

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
Run = Callable[[], object]


def qlinear_form(proto: onnx.ModelProto, per_tensor: bool) -> onnx.ModelProto:
    """The QDQ file with a QuantizeLinear/DequantizeLinear pair on each recurrent Conv's output."""
    out = onnx.ModelProto()
    out.CopyFrom(proto)
    g = out.graph
    inits = {i.name: i for i in g.initializer}
    new_nodes = []
    for node in g.node:
        new_nodes.append(node)
        if node.op_type != "Conv" or not node.output[0].endswith("_residual"):
            continue
        name = node.output[0]
        g.initializer.extend([numpy_helper.from_array(np.array(0.02, np.float32), f"{name}_rq_scale"),
                              numpy_helper.from_array(np.array(128, np.uint8), f"{name}_rq_zero")])
        s, z = f"{name}_rq_scale", f"{name}_rq_zero"
        new_nodes += [helper.make_node("QuantizeLinear", [f"{name}_pre", s, z], [f"{name}_rq"]),
                      helper.make_node("DequantizeLinear", [f"{name}_rq", s, z], [name])]
        node.output[0] = f"{name}_pre"
    if per_tensor:
        _per_tensor_weights(g, inits)
    del g.node[:]
    g.node.extend(new_nodes)
    return out


def _per_tensor_weights(g: onnx.GraphProto, inits: dict[str, onnx.TensorProto]) -> None:
    """Re-quantize every per-channel int8 weight with one scale (its largest), biases to match."""
    for node in g.node:
        if node.op_type != "DequantizeLinear" or not node.input[0].endswith("_int8"):
            continue
        q = numpy_helper.to_array(inits[node.input[0]]).astype(np.float32)
        s = numpy_helper.to_array(inits[node.input[1]]).astype(np.float32)
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        shape = [1] * q.ndim
        shape[axis] = -1
        w = q * s.reshape(shape)
        big = np.float32(s.max())
        inits[node.input[0]].CopyFrom(numpy_helper.from_array(np.rint(w / big).astype(np.int8), node.input[0]))
        inits[node.input[1]].CopyFrom(numpy_helper.from_array(np.full_like(s, big), node.input[1]))


def ort_session(path: Path, level: str, threads: int) -> tuple[Run, int]:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.graph_optimization_level = {"all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
                                     "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED}[level]
    with tempfile.TemporaryDirectory() as tmp:
        opts.optimized_model_filepath = str(Path(tmp) / "opt.onnx")
        opts.log_severity_level = 3
        session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        ops = Counter(n.op_type for n in onnx.load(opts.optimized_model_filepath).graph.node)
    return session, int(ops.get("QLinearConv", 0))


def candidates(scale: int, threads: int, tmp: Path, x: np.ndarray) -> dict[str, tuple[Run, int | None]]:
    fp32, int8 = find_model(scale, 19).path, find_model(scale, 19, precision="int8").path
    runs: dict[str, tuple[Run, int | None]] = {}
    ref = create_engine("onnxruntime", fp32, None, threads)
    runs["onnxruntime fp32"] = (lambda: ref.run(x), None)
    ovf = create_engine("openvino", fp32, None, threads, precision="fp32")
    runs["openvino fp32"] = (lambda: ovf.run(x), None)
    ovq = create_engine("openvino", int8, None, threads, precision="int8")
    runs["openvino int8 (bundled QDQ)"] = (lambda: ovq.run(x), None)
    files = {"bundled QDQ": int8}
    for per_tensor in (False, True):
        path = tmp / f"qlinear_{per_tensor}.onnx"
        onnx.save(qlinear_form(onnx.load(str(int8)), per_tensor), str(path))
        files[f"qlinear form, per-{'tensor' if per_tensor else 'channel'} weights"] = path
    for form, path in files.items():
        for level in ("all", "extended"):
            session, qconv = ort_session(path, level, threads)
            name = session.get_inputs()[0].name
            runs[f"onnxruntime int8 ({form}, level {level})"] = (
                lambda s=session, n=name: s.run(None, {n: x}), qconv)
    return runs


def timed(runs: dict[str, tuple[Run, int | None]], rounds: int) -> dict[str, list[float]]:
    for run, _ in runs.values():
        run()
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(rounds):
        for key, (run, _) in runs.items():
            start = time.perf_counter()
            run()
            times[key].append(time.perf_counter() - start)
    return times


def to_markdown(rec: dict[str, Any]) -> str:
    m = rec["machine"]
    lines = ["# int8 forms on this CPU (issue 20)", "", f"Command: `{rec['command']}`", "",
             f"Machine: {m['cpu']} ({m['logical_cpus']} logical CPUs), load average {m['load_average_1m']} "
             f"(timings under load unless that is ~0); {m['timestamp']}", "",
             f"x{rec['scale']} d19, {rec['lr_size'][1]}x{rec['lr_size'][0]} LR -> 1280x720, {rec['threads']} threads, "
             f"{rec['rounds']} round-robin runs", "",
             "| variant | median (s) | p25 (s) | x vs ORT fp32 (median) | QLinearConv nodes |", "|---|---|---|---|---|"]
    for r in rec["rows"]:
        q = "" if r["qlinearconv_nodes"] is None else str(r["qlinearconv_nodes"])
        lines.append(f"| {r['variant']} | {r['median_s']:.3f} | {r['p25_s']:.3f} | {r['speedup']:.2f} | {q} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=8)
    args = ap.parse_args()
    image = benchmark_image(1280 // args.scale, 720 // args.scale)
    x = np.ascontiguousarray((image.astype(np.float32) / 255).transpose(2, 0, 1)[None])
    with tempfile.TemporaryDirectory() as tmp:
        runs = candidates(args.scale, args.threads, Path(tmp), x)
        times = timed(runs, args.rounds)
    ref = float(np.median(times["onnxruntime fp32"]))
    rows = [{"variant": k, "median_s": float(np.median(t)), "p25_s": float(np.percentile(t, 25)),
             "speedup": ref / float(np.median(t)), "qlinearconv_nodes": runs[k][1]} for k, t in times.items()]
    rec = {"command": f"python -m benchmarks.int8_speed --scale {args.scale} --threads {args.threads} "
                      f"--rounds {args.rounds}", "machine": machine_info(), "scale": args.scale,
           "lr_size": list(x.shape[2:]), "threads": args.threads, "rounds": args.rounds, "rows": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "int8_speed.json").write_text(json.dumps(rec, indent=2) + "\n")
    (RESULTS / "int8_speed.md").write_text(to_markdown(rec))
    print(to_markdown(rec))


if __name__ == "__main__":
    main()
