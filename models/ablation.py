"""The fixed-budget recipe ablation: one change per row against the shipped recipe.

    python -m models.ablation --out runs/abl_x4 [--rows base,l1,...] [--steps 3000]

Each row trains x4 d19 from scratch for the same number of steps with the same seed
(``python -m models.train``, resumable: rerunning continues an unfinished row), exports
its final weights and measures them with ``litesr-edge eval`` (paper protocol) on
Set5 / Set14 / BSD100. ``<out>/ablation.json`` collects each row's command, wall time,
hardware and per-set mean and worst PSNR; ``--table`` prints it as Markdown.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BASE = ["--scale", "4", "--depth", "19", "--loss", "mse", "--batch", "16", "--patch", "48",
        "--lr", "5e-4", "--seed", "0", "--val-every", "500", "--threads", "2"]

# One change each against BASE (argparse keeps the last value of a repeated option).
ROWS: dict[str, list[str]] = {
    "base": [],
    "l1": ["--loss", "l1"],
    "charbonnier": ["--loss", "charbonnier"],
    "ema": ["--ema", "0.999"],
    "patch64": ["--patch-schedule", "0:48,0.7:64"],
    "jpeg_w05": ["--jpeg-hr", "weight:0.5"],
    "lr1e-3": ["--lr", "1e-3"],
    "batch32": ["--batch", "32", "--lr", "7e-4"],
    "reparam": ["--reparam", "ecb"],
}
SETS = ("Set5", "Set14", "BSD100")


def train_cmd(row: str, out: Path, steps: int, data: Path) -> list[str]:
    """The training command of one row."""
    return [sys.executable, "-m", "models.train", *BASE, *ROWS[row], "--steps", str(steps),
            "--data", str(data), "--out", str(out / row)]


def evaluate(ckpt: Path, test_root: Path, scale: int) -> dict[str, Any]:
    """Export ``ckpt`` and run ``litesr-edge eval --json`` on the three test sets."""
    onnx = ckpt.with_suffix(".onnx")
    subprocess.run([sys.executable, "-m", "export", "--checkpoint", str(ckpt), "--output", str(onnx)],
                   check=True, capture_output=True)
    dirs = [str(test_root / s) for s in SETS]
    res = subprocess.run(
        ["litesr-edge", "eval", *dirs, "-s", str(scale), "-m", str(onnx), "--engine", "onnxruntime",
         "--precision", "fp32", "--json", "-q"], check=True, capture_output=True, text=True)
    doc = json.loads(res.stdout)
    return {r["dataset"]: {"psnr": r["psnr"], "ssim": r["ssim"],
                           "worst": min(i["psnr"] for i in r["images"])} for r in doc["results"]}


def run_row(row: str, args: argparse.Namespace) -> dict[str, Any]:
    """Train (or resume) one row, then evaluate its last weights."""
    cmd = train_cmd(row, args.out, args.steps, args.data)
    # The last --threads wins (argparse), so this overrides BASE's; the record shows what ran.
    cmd_run = [*cmd, "--threads", str(args.threads)] if args.threads else cmd
    t0 = time.time()
    subprocess.run(cmd_run, check=True)
    wall = time.time() - t0
    last = args.out / row / "last.pt"
    return {"row": row, "command": shlex.join(["python", *cmd_run[1:]]), "train_wall_s_this_call": round(wall),
            "eval": evaluate(last, args.test, 4)}


def table(results: list[dict[str, Any]]) -> str:
    """Markdown: mean (worst) PSNR per set and the delta against the base row."""
    base = next((r for r in results if r["row"] == "base"), None)
    head = "| row | change | " + " | ".join(f"{s} mean (worst)" for s in SETS) + " | Δ Set5 / Set14 / BSD100 |"
    lines = [head, "|" + "---|" * (len(SETS) + 3)]
    for r in results:
        cells = [f"{r['eval'][s]['psnr']:.2f} ({r['eval'][s]['worst']:.2f})" for s in SETS]
        delta = "—" if base is None else " / ".join(
            f"{r['eval'][s]['psnr'] - base['eval'][s]['psnr']:+.3f}" for s in SETS)
        change = " ".join(ROWS[r["row"]]) or "(shipped recipe)"
        lines.append(f"| {r['row']} | `{change}` | " + " | ".join(cells) + f" | {delta} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m models.ablation", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--rows", default=",".join(ROWS))
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--threads", type=int, default=0, help="torch threads of each training run (0: BASE's 2)")
    ap.add_argument("--data", type=Path, default=Path("../shared/datasets/train"))
    ap.add_argument("--test", type=Path, default=Path("../shared/datasets/test"))
    ap.add_argument("--table", action="store_true", help="print the Markdown table of <out>/ablation.json")
    args = ap.parse_args(argv)
    path = args.out / "ablation.json"
    done: list[dict[str, Any]] = json.loads(path.read_text()) if path.exists() else []
    if args.table:
        print(table(done))
        return
    for row in args.rows.split(","):
        if row not in ROWS:
            raise SystemExit(f"unknown row {row!r}; rows: {', '.join(ROWS)}")
        if any(r["row"] == row for r in done):
            continue
        done.append(run_row(row, args))
        args.out.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(done, indent=1) + "\n")


if __name__ == "__main__":
    main()
