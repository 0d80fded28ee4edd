"""Test-time augmentation: PSNR gain and time cost of ``Upscaler(tta=True)`` per scale.

    python -m benchmarks.tta [--sets Set5 Set14] [--threads 2]

Paper protocol (Y channel, border = scale, MATLAB bicubic LR from ../shared/datasets/test),
bundled depth-19 fp32 models on ONNX Runtime. Writes benchmarks/results/tta.{json,md}.
Time is the whole-dataset wall time of the upscale calls (median of the image times is
not meaningful across sizes), plain and TTA in the same run, so the ratio is fair.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from litesr_edge import Upscaler
from litesr_edge.quality.evaluate import DatasetScore, evaluate, find_dataset

ROOT = Path(__file__).resolve().parents[1]
TEST_SETS = ROOT.parent / "shared" / "datasets" / "test"
OUT = ROOT / "benchmarks" / "results"


def _timed(dataset_path: Path, scale: int, up: Upscaler) -> tuple[DatasetScore, float]:
    dataset = find_dataset(dataset_path, scale)
    start = time.perf_counter()
    score = evaluate(dataset, up.upscale)
    return score, time.perf_counter() - start


Timed = tuple[DatasetScore, float]


def _row(name: str, scale: int, plain: Timed, tta: Timed) -> dict[str, object]:
    gains = [b.psnr - a.psnr for a, b in zip(plain[0].images, tta[0].images, strict=True)]
    return {
        "set": name, "scale": scale, "psnr": round(plain[0].psnr, 4), "psnr_tta": round(tta[0].psnr, 4),
        "gain_db": round(tta[0].psnr - plain[0].psnr, 4), "worst_image_gain_db": round(min(gains), 4),
        "ssim": round(plain[0].ssim, 4), "ssim_tta": round(tta[0].ssim, 4),
        "seconds": round(plain[1], 2), "seconds_tta": round(tta[1], 2), "cost_x": round(tta[1] / plain[1], 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.tta", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", nargs="+", default=["Set5", "Set14"])
    ap.add_argument("--scales", nargs="+", type=int, default=[2, 3, 4])
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    rows = []
    for scale in args.scales:
        plain = Upscaler(scale=scale, threads=args.threads)
        tta = Upscaler(scale=scale, threads=args.threads, tta=True)
        for name in args.sets:
            rows.append(_row(name, scale, _timed(TEST_SETS / name, scale, plain), _timed(TEST_SETS / name, scale, tta)))
            print(json.dumps(rows[-1]), flush=True)
    record = {"cpu": platform.processor() or platform.machine(), "threads": args.threads, "rows": rows,
              "models": "bundled depth-19 fp32, ONNX Runtime CPU", "note": "taken while training ran at nice 19"}
    (OUT / "tta.json").write_text(json.dumps(record, indent=2) + "\n")
    lines = ["| set | scale | PSNR | PSNR TTA | gain (dB) | worst image gain | SSIM | SSIM TTA | time (s) "
             "| TTA time (s) | cost |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['set']} | x{r['scale']} | {r['psnr']:.2f} | {r['psnr_tta']:.2f} | {r['gain_db']:+.3f} | "
              f"{r['worst_image_gain_db']:+.3f} | {r['ssim']:.4f} | {r['ssim_tta']:.4f} | {r['seconds']} | "
              f"{r['seconds_tta']} | {r['cost_x']}x |" for r in rows]
    (OUT / "tta.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
