"""Per-image PSNR cost of the bundled int8 models vs fp32: benchmark sets and synthetic hard cases (issue 20).

    python -m benchmarks.int8_check                                     # x4, Set5 + Set14 + BSD100 + hard cases
    python -m benchmarks.int8_check --scales 2,3,4 --datasets Set5,Set14 --engines onnxruntime,openvino

A mean hides the images int8 gets wrong (issue 20: Set5 x4 lost 0.008 dB on average while one
urban photo lost 0.79 dB), so this reports each image's loss and the worst per set. Protocol of
``litesr-edge eval`` (canonical LR files, Y-channel PSNR, border = scale, uint8 in/out, whole
images); the hard cases are ``litesr_edge.quality.hard_cases`` (HR drawn in code, MATLAB-bicubic
LR). Reference: the fp32 model of the same scale and depth on ONNX Runtime. The int8 model runs
on each of ``--engines`` (ONNX Runtime runs its QDQ nodes as written; OpenVINO as int8 kernels).

Writes benchmarks/results/int8_check.{json,md}. Needs ../shared/datasets for the sets (the hard
cases need nothing). ``--bar`` (default 0.05 dB, the accuracy bar of ``engine="auto"``) marks the
images that lose more.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from litesr_edge import Upscaler
from litesr_edge.quality.evaluate import Pair, as_rgb, find_dataset, iter_pairs, score_pair
from litesr_edge.quality.hard_cases import hard_case_pairs
from litesr_edge.registry import find_model

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "datasets" / "test"
RESULTS = REPO / "benchmarks" / "results"


def pairs_of(dataset: str, scale: int) -> list[Pair]:
    if dataset == "hard":
        return hard_case_pairs(scale)
    return list(iter_pairs(find_dataset(DATA / dataset, scale)))


def per_image(up: Upscaler, pairs: list[Pair], scale: int) -> dict[str, float]:
    return {p.name: score_pair(p, up.upscale(as_rgb(p.lr)), scale).psnr for p in pairs}


def check_scale(scale: int, datasets: list[str], engines: list[str], threads: int) -> dict[str, Any]:
    fp32, int8 = find_model(scale, 19), find_model(scale, 19, precision="int8")
    ref_up = Upscaler(model=fp32.path, tile=0, threads=threads, engine="onnxruntime")
    int8_ups = {e: Upscaler(model=int8.path, tile=0, threads=threads, engine=e, precision="int8") for e in engines}
    out: dict[str, Any] = {"scale": scale, "fp32_model": fp32.path.name, "int8_model": int8.path.name,
                           "int8_quantization": int8.info.extra.get("quantization", ""), "sets": {}}
    for name in datasets:
        pairs = pairs_of(name, scale)
        ref = per_image(ref_up, pairs, scale)
        entry: dict[str, Any] = {"fp32_psnr": ref, "delta": {}}
        for engine, up in int8_ups.items():
            got = per_image(up, pairs, scale)
            entry["delta"][engine] = {k: got[k] - ref[k] for k in ref}
        out["sets"][name] = entry
        print(f"x{scale} {name}: " + summary_text(entry, 1e9), file=sys.stderr, flush=True)
    return out


def summary_text(entry: dict[str, Any], bar: float) -> str:
    parts = []
    for engine, d in entry["delta"].items():
        worst = min(d, key=d.get)
        parts.append(f"{engine} mean {np.mean(list(d.values())):+.4f} worst {d[worst]:+.4f} ({worst})")
    return "; ".join(parts)


def to_markdown(rec: dict[str, Any]) -> str:
    bar = rec["bar_db"]
    lines = ["# int8 vs fp32, per image (issue 20)", "", f"Command: `{rec['command']}`", "",
             "Delta = int8 PSNR - fp32 PSNR (Y, border = scale) per image; fp32 on ONNX Runtime. "
             f"Bar: {bar} dB on every image.", ""]
    for res in rec["results"]:
        lines += [f"## x{res['scale']}: `{res['int8_model']}`", "", f"Quantization: {res['int8_quantization']}", "",
                  "| set | images | engine | mean delta (dB) | worst delta (dB) | worst image | images below -bar |",
                  "|---|---|---|---|---|---|---|"]
        bad: list[str] = []
        for name, entry in res["sets"].items():
            for engine, d in entry["delta"].items():
                worst = min(d, key=d.get)
                below = sorted((k for k, v in d.items() if v < -bar), key=d.get)
                bad += [f"{name}/{k} {engine} {d[k]:+.3f}" for k in below]
                lines.append(f"| {name} | {len(d)} | {engine} | {np.mean(list(d.values())):+.4f} | "
                             f"{d[worst]:+.4f} | {worst} | {len(below)} |")
        lines += ["", "Images below the bar: " + (", ".join(bad) if bad else "none"), ""]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scales", default="4")
    ap.add_argument("--datasets", default="Set5,Set14,BSD100,hard", help="'hard': the synthetic hard cases")
    ap.add_argument("--engines", default="onnxruntime")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bar", type=float, default=0.05)
    ap.add_argument("--out", type=Path, default=RESULTS / "int8_check")
    args = ap.parse_args()
    datasets = args.datasets.split(",")
    if any(d != "hard" for d in datasets) and not DATA.is_dir():
        print(f"datasets not found at {DATA}; use --datasets hard", file=sys.stderr)
        return 1
    start = time.time()
    results = [check_scale(int(s), datasets, args.engines.split(","), args.threads) for s in args.scales.split(",")]
    rec = {"command": "python -m benchmarks.int8_check " + " ".join(sys.argv[1:]), "bar_db": args.bar,
           "wall_s": round(time.time() - start), "results": results}
    args.out.with_suffix(".json").write_text(json.dumps(rec, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(to_markdown(rec))
    print(to_markdown(rec))
    return 0


if __name__ == "__main__":
    sys.exit(main())
