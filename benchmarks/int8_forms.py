"""Which int8 graph form and which skip runner are fastest on OpenVINO? Paired, same-run timings.

    python -m benchmarks.int8_forms              # x2, x3, x4 depth 19 from models/checkpoints
    python -m benchmarks.int8_forms --scales 4 --rounds 60

Two choices behind the int8 fast path (issue 7), each measured against the alternative it
replaced, round-robin in one process on the benchmark image (320x180 LR per 1280x720 at x4):

* **graph form** (the network alone, OpenVINO bf16 float ops): the exporter's int8 form
  (``export.fast_graph.rewrite_for_int8``: ConvTranspose decoder, tail Conv at full
  resolution) vs the sub-pixel form of the fp32 files (``rewrite_for_speed`` with the fold),
  both quantized from the same checkpoint by ``export.quantize``; plus OpenVINO's per-op
  times (PERF_COUNT) of the decoder's ops, and the largest uint8 difference between the two
  on the benchmark image;
* **skip runner** (the whole ``OpenVinoEngine.run`` + uint8 conversion): OpenCV's bicubic
  resize (what the engine uses when it reproduces the file's skip) vs the skip sub-graph
  compiled by OpenVINO in fp32 (the engine's fallback).

Medians and 25th percentiles, with ratios, go to benchmarks/results/int8_forms.{json,md}. The
machine is shared and noisy: only ratios within one run mean much. Maintainer side: needs
torch (to rebuild the graphs from the checkpoints) and openvino.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import openvino as ov

from export.fast_graph import rewrite_for_int8, rewrite_for_speed
from export.onnx_export import load_checkpoint, simplify, stamp, to_onnx, torch_weight_scales
from export.quantize import quantize_graph
from litesr_edge._pixels import store_output
from litesr_edge.bench.candidates import benchmark_image
from litesr_edge.bench.machine import machine_info
from litesr_edge.engines.openvino import OpenVinoEngine, _nhwc_output, split_skip
from models.qat import QuantLiteSRNet

REPO = Path(__file__).resolve().parents[1]


def upscale_u8(engine: OpenVinoEngine, image: np.ndarray, scale: int) -> np.ndarray:
    """The whole image through a bare engine (no tiling: engines are timed, not the Upscaler)."""
    x = np.ascontiguousarray((image.astype(np.float32) / 255).transpose(2, 0, 1)[None])
    out = np.empty((image.shape[0] * scale, image.shape[1] * scale, 3), np.uint8)
    store_output(engine.run(x)[0], out)
    return out

RESULTS = REPO / "benchmarks" / "results"
CONFIG = {"INFERENCE_PRECISION_HINT": "bf16", "PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": 2,
          "PERF_COUNT": True}
DECODER_OPS = ("DepthToSpace", "ConvolutionBackpropData", "Reorder")


def int8_graphs(scale: int) -> dict[str, onnx.ModelProto]:
    """The checkpoint's int8 model in the shipped form and in the sub-pixel form."""
    model, extra = load_checkpoint(REPO / "models" / "checkpoints" / f"x{scale}_d19_int8.pt")
    if not isinstance(model, QuantLiteSRNet):
        raise SystemExit(f"x{scale}_d19_int8.pt is not a quantized checkpoint")
    base = simplify(to_onnx(model.net))
    scales = model.act_scales().detach().numpy().astype(np.float32)
    weights = torch_weight_scales(model.net, model.residual_body)
    graphs = {}
    for form, rewrite in (("convtranspose (shipped)", rewrite_for_int8),
                          ("subpixel+fold", lambda p: rewrite_for_speed(p, fold_shuffle=True))):
        graphs[form] = quantize_graph(rewrite(base), scales, weights, model.residual_body)
        stamp(graphs[form], model.net, {**extra, "precision": "int8", "graph": form})
    return graphs


def _round_robin(runs: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    for run in runs.values():
        for _ in range(3):
            run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return times


def _summary(times: dict[str, list[float]], reference: str) -> list[dict[str, Any]]:
    ref_med, ref_p25 = np.median(times[reference]), np.percentile(times[reference], 25)
    return [{"variant": name, "median_ms": round(1000 * float(np.median(t)), 1),
             "p25_ms": round(1000 * float(np.percentile(t, 25)), 1),
             "speedup_median": round(float(ref_med / np.median(t)), 3),
             "speedup_p25": round(float(ref_p25 / np.percentile(t, 25)), 3)} for name, t in times.items()]


def _op_times(request: ov.InferRequest) -> dict[str, float]:
    out: dict[str, float] = {}
    for p in request.profiling_info:
        if p.status == p.Status.EXECUTED and p.node_type in DECODER_OPS:
            out[p.node_type] = out.get(p.node_type, 0.0) + p.real_time.total_seconds() * 1000
    return {k: round(v, 2) for k, v in sorted(out.items())}


def compare_forms(scale: int, rounds: int, folder: Path) -> dict[str, Any]:
    image = benchmark_image(1280 // scale, 720 // scale)
    x = np.ascontiguousarray((image.astype(np.float32) / 255).transpose(2, 0, 1)[None])
    core, requests, outputs, files = ov.Core(), {}, {}, {}
    for form, proto in int8_graphs(scale).items():
        path = folder / f"x{scale}_{form.split()[0]}.onnx"
        onnx.save(proto, str(path))
        files[form] = path
        parts = split_skip(core.read_model(str(path)))
        if parts is None:
            raise SystemExit(f"{path}: the skip does not split off")
        requests[form] = core.compile_model(parts[0], "CPU", CONFIG).create_infer_request()
    times = _round_robin({f: (lambda r=r: r.infer({0: x})) for f, r in requests.items()}, rounds)
    for form, path in files.items():
        engine = OpenVinoEngine(path, threads=2, precision="int8")
        outputs[form] = upscale_u8(engine, image, scale).astype(np.int16)
    first, second = outputs.values()
    return {"scale": scale, "lr_size": list(x.shape[2:]), "rounds": rounds,
            "network": _summary(times, "subpixel+fold"),
            "decoder_op_ms_last_run": {f: _op_times(r) for f, r in requests.items()},
            "max_uint8_difference": int(np.abs(first - second).max())}


def compare_skips(scale: int, rounds: int) -> dict[str, Any]:
    image = benchmark_image(1280 // scale, 720 // scale)
    path = REPO / "litesr_edge" / "models" / f"litesrnet_x{scale}_d19_int8.onnx"
    opencv = OpenVinoEngine(path, threads=2, precision="int8")
    fallback = OpenVinoEngine(path, threads=2, precision="int8")
    model = ov.Core().read_model(str(path))
    parts = split_skip(model)
    if parts is None or opencv._skip is not None:
        raise SystemExit(f"{path}: expected a split-off skip that OpenCV reproduces")
    fallback._skip = ov.Core().compile_model(_nhwc_output(parts[1]), "CPU", {"INFERENCE_PRECISION_HINT": "f32",
                                                                            "INFERENCE_NUM_THREADS": 2})
    times = _round_robin({"opencv skip (shipped)": lambda: upscale_u8(opencv, image, scale),
                          "openvino fp32 skip": lambda: upscale_u8(fallback, image, scale)}, rounds)
    a = upscale_u8(opencv, image, scale).astype(np.int16)
    b = upscale_u8(fallback, image, scale).astype(np.int16)
    return {"scale": scale, "rounds": rounds, "upscale": _summary(times, "openvino fp32 skip"),
            "max_uint8_difference": int(np.abs(a - b).max())}


def _machine_text(m: dict[str, Any]) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    return (f"{m['cpu']} ({m['logical_cpus']} logical CPUs); {versions}; "
            f"load average {m['load_average_1m']}; {m['timestamp']}")


def _markdown(record: dict[str, Any]) -> str:
    lines = ["# int8 graph form and skip runner on OpenVINO (issue 7)", "",
             f"Command: `{record['command']}`", "", "Machine: " + _machine_text(record["machine"]), "",
             "## Graph form: the network alone (int8 convs, bf16 float ops, 2 threads)", "",
             "| scale | form | median (ms) | p25 (ms) | x vs subpixel+fold (median / p25) |", "|---|---|---|---|---|"]
    for res in record["forms"]:
        lines += [f"| x{res['scale']} | {r['variant']} | {r['median_ms']} | {r['p25_ms']} | "
                  f"{r['speedup_median']} / {r['speedup_p25']} |" for r in res["network"]]
    lines += ["", "Decoder ops, OpenVINO PERF_COUNT of the last run (ms):", ""]
    for res in record["forms"]:
        for form, ops in res["decoder_op_ms_last_run"].items():
            lines.append(f"- x{res['scale']} {form}: " + ", ".join(f"{k} {v}" for k, v in ops.items()))
        lines.append(f"- x{res['scale']}: largest uint8 difference between the forms: {res['max_uint8_difference']}")
    lines += ["", "## Skip runner: OpenVinoEngine.run + uint8 conversion (whole image)", "",
              "| scale | skip | median (ms) | p25 (ms) | x vs OpenVINO fp32 skip (median / p25) |",
              "|---|---|---|---|---|"]
    for res in record["skips"]:
        lines += [f"| x{res['scale']} | {r['variant']} | {r['median_ms']} | {r['p25_ms']} | "
                  f"{r['speedup_median']} / {r['speedup_p25']} |" for r in res["upscale"]]
    lines += [""] + [f"- x{r['scale']}: largest uint8 difference between the skip runners: {r['max_uint8_difference']}"
                     for r in record["skips"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scales", default="2,3,4")
    ap.add_argument("--rounds", type=int, default=40)
    args = ap.parse_args()
    scales = [int(s) for s in args.scales.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        forms = [compare_forms(s, args.rounds, Path(tmp)) for s in scales]
    record = {"command": f"python -m benchmarks.int8_forms --scales {args.scales} --rounds {args.rounds}",
              "machine": machine_info(), "forms": forms, "skips": [compare_skips(s, args.rounds) for s in scales]}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "int8_forms.json").write_text(json.dumps(record, indent=2) + "\n")
    (RESULTS / "int8_forms.md").write_text(_markdown(record))
    print(_markdown(record))


if __name__ == "__main__":
    main()
