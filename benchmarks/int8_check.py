"""Does a post-training int8 model pay off? Speed and PSNR of calibrated QDQ int8 vs bf16 / fp32.

    python -m benchmarks.int8_check                  # x4 d19, bundled model
    python -m benchmarks.int8_check --scale 2

Issue 7 allows "a calibrated int8 model" as the fast path if it loses <= 0.05 dB PSNR on Set5
and Set14. This script builds such models with ONNX Runtime's static quantizer (QDQ format,
per-channel int8 weights, uint8 activations, calibrated on 24 random 256x256 crops of
BSDS400 training photos, downscaled with the MATLAB-exact bicubic, never test images) and
measures them:

* the network branch is quantized, the global bicubic skip and the final Add are not
  (quantizing the skip re-quantizes the image itself, as bf16 does);
* scopes: every network Conv ("net") or only the 19 recurrent Convs ("body");
* calibration: min/max, 99.999th percentile, entropy;
* PSNR (Y, border = scale, canonical LR files) with OpenVINO running the QDQ model on
  AMX-int8 (skip in fp32, as the bf16 engine does); timing: one round-robin run of
  ONNX Runtime fp32, OpenVINO bf16 and the int8 models on OpenVINO and ONNX Runtime.

Writes benchmarks/results/int8_check.{json,md}. Maintainer side: needs onnx, onnxruntime's
quantization tools, openvino and ../shared/datasets.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort
import openvino as ov
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)

from litesr_edge.engines.openvino import split_skip
from litesr_edge.quality.bicubic import imresize
from litesr_edge.quality.evaluate import evaluate, find_dataset
from litesr_edge.registry import find_model

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "datasets"
RESULTS = REPO / "benchmarks" / "results"
METHODS = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
           "entropy": CalibrationMethod.Entropy}
Run = Callable[[npt.NDArray[np.float32]], npt.NDArray[np.float32]]


def calibration_batches(scale: int, count: int = 24, side: int = 256, seed: int = 0) -> list[np.ndarray]:
    files = sorted((DATA / "train" / "BSDS400").glob("*.*"))
    rng = np.random.default_rng(seed)
    batches = []
    for i in rng.choice(len(files), count, replace=False):
        hr = cv2.imread(str(files[i]), cv2.IMREAD_COLOR)[:, :, ::-1]
        y, x = (int(rng.integers(0, d - side + 1)) for d in hr.shape[:2])
        lr = imresize(np.ascontiguousarray(hr[y:y + side, x:x + side]), 1.0 / scale)
        batches.append(np.ascontiguousarray(lr.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0)
    return batches


class _Reader(CalibrationDataReader):
    def __init__(self, name: str, batches: list[np.ndarray]) -> None:
        self._it: Iterator[np.ndarray] = iter(batches)
        self._name = name

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._it, None)
        return None if batch is None else {self._name: batch}


def excluded_nodes(model: onnx.ModelProto, scope: str) -> list[str]:
    """Nodes left in float: the skip branch and final Add, plus (scope "body") all but the body Convs."""
    graph = model.graph
    head = next(n for n in graph.node if n.op_type == "Conv")
    reach, network = set(head.output), {head.name}
    for node in graph.node:
        if any(i in reach for i in node.input):
            reach.update(node.output)
            network.add(node.name)
    final = next(n for n in graph.node if graph.output[0].name in n.output)
    keep_float = [n.name for n in graph.node if n.name not in network or n is final]
    if scope == "body":
        keep_float += [n.name for n in graph.node if n.name in network and not n.name.startswith("/body")]
    return keep_float


def quantize(src: Path, dst: Path, scale: int, method: str, scope: str) -> None:
    model = onnx.load(src)
    quantize_static(
        str(src), str(dst), _Reader(model.graph.input[0].name, calibration_batches(scale)),
        quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8, nodes_to_exclude=excluded_nodes(model, scope),
        calibrate_method=METHODS[method],
        extra_options={"CalibPercentile": 99.999} if method == "percentile" else {},
    )


def openvino_run(path: Path, precision: str, threads: int) -> Run:
    """OpenVINO CPU, network in ``precision`` (QDQ nodes run int8), bicubic skip in fp32."""
    core = ov.Core()
    parts = split_skip(core.read_model(str(path)))
    if parts is None:
        raise SystemExit(f"{path}: no bicubic skip found")
    cfg = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads}
    net = core.compile_model(parts[0], "CPU", {**cfg, "INFERENCE_PRECISION_HINT": precision})
    skip = core.compile_model(parts[1], "CPU", {**cfg, "INFERENCE_PRECISION_HINT": "f32"})

    def run(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        out = np.array(net.create_infer_request().infer({0: x})[0], dtype=np.float32)
        return out + skip.create_infer_request().infer({0: x})[0]

    return run


def ort_run(path: Path, threads: int) -> Run:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda x: np.asarray(session.run(None, {name: x})[0], dtype=np.float32)


def psnr(run: Run, scale: int, dataset: str) -> float:
    def upsample(lr: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        x = np.ascontiguousarray(lr.transpose(2, 0, 1)[None], dtype=np.float32) / np.float32(255)
        y = np.clip(run(x)[0], 0.0, 1.0).transpose(1, 2, 0)
        return np.rint(y * 255.0).astype(np.uint8)

    return evaluate(find_dataset(DATA / "test" / dataset, scale), upsample).psnr


def timings(runs: dict[str, Run], scale: int, rounds: int) -> dict[str, float]:
    """Median seconds per 1280x720 output, candidates interleaved round-robin."""
    x = np.random.default_rng(0).random((1, 3, 720 // scale, 1280 // scale), dtype=np.float32)
    for run in runs.values():
        run(x)
        run(x)
    samples: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(rounds):
        for key, run in runs.items():
            time.sleep(0.05)
            start = time.perf_counter()
            run(x)
            samples[key].append(time.perf_counter() - start)
    return {k: float(np.median(v)) for k, v in samples.items()}


def to_markdown(report: dict[str, object]) -> str:
    rows = report["rows"]
    assert isinstance(rows, list)
    lines = [
        "# int8 check (issue 7): calibrated post-training int8 vs bf16 and fp32", "",
        f"Command: `{report['command']}`", "",
        f"Model: `{report['model']}`; timing: {report['size']} output, {report['threads']} threads, "
        f"median of {report['rounds']} round-robin runs (one run, same machine); PSNR: Y channel, "
        "border = scale, canonical LR files. Calibration: 24 random 256x256 BSDS400 training crops.", "",
        "| model | engine | median (s) | x vs ORT fp32 | Set5 PSNR | delta | Set14 PSNR | delta |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        d5, d14 = r.get("delta_Set5"), r.get("delta_Set14")
        lines.append(
            f"| {r['name']} | {r['engine']} | {r['median_s']:.3f} | {r['speedup']:.2f} | "
            + (f"{r['Set5']:.3f} | {d5:+.3f} | {r['Set14']:.3f} | {d14:+.3f} |" if "Set5" in r else "| | | |")
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--out", type=Path, default=RESULTS / "int8_check")
    args = ap.parse_args()
    if not (DATA / "test").is_dir():
        print(f"datasets not found at {DATA}", file=sys.stderr)
        return 1
    src = find_model(args.scale, 19).path
    with tempfile.TemporaryDirectory() as tmp:
        variants = {}
        for scope, method in (("net", "minmax"), ("net", "percentile"), ("net", "entropy"), ("body", "percentile")):
            dst = Path(tmp) / f"int8_{scope}_{method}.onnx"
            quantize(src, dst, args.scale, method, scope)
            variants[f"int8 {scope}, {method}"] = dst
        runs = {"fp32 (bundled)|onnxruntime fp32": ort_run(src, args.threads),
                "fp32 (bundled)|openvino bf16": openvino_run(src, "bf16", args.threads)}
        for name, path in variants.items():
            runs[f"{name}|openvino int8"] = openvino_run(path, "bf16", args.threads)
        runs[f"{next(iter(variants))}|onnxruntime int8"] = ort_run(next(iter(variants.values())), args.threads)
        scores = {k: {d: psnr(r, args.scale, d) for d in ("Set5", "Set14")}
                  for k, r in runs.items() if "onnxruntime int8" not in k}
        times = timings(runs, args.scale, args.rounds)
    ref_t, ref_s = times["fp32 (bundled)|onnxruntime fp32"], scores["fp32 (bundled)|onnxruntime fp32"]
    rows = []
    for key, t in times.items():
        name, engine = key.split("|")
        row: dict[str, object] = {"name": name, "engine": engine, "median_s": t, "speedup": ref_t / t}
        for d, v in scores.get(key, {}).items():
            row[d], row[f"delta_{d}"] = v, v - ref_s[d]
        rows.append(row)
    report = {"command": "python -m benchmarks.int8_check " + " ".join(sys.argv[1:]),
              "model": str(src.relative_to(REPO)), "size": "1280x720",
              "threads": args.threads, "rounds": args.rounds, "rows": rows}
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(to_markdown(report))
    print(to_markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
