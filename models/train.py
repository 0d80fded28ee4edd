"""Train LiteSRNet.

    python -m models.train --scale 4 --depth 19 --data ../shared/datasets/train --out runs/x4_d19

Resumable (``--out`` holds ``last.pt``, ``best.pt`` and ``log.csv``; run the
same command again to continue), seeded, bf16 autocast + channels_last on CPU
(about 4x faster than fp32 with AMX), CUDA when present.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import platform
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from litesr_edge.quality.metrics import psnr_y

from .data import Pair, PatchSampler, list_images, make_pairs, split
from .litesrnet import LiteSRConfig, LiteSRNet, count_params
from .perceptual import PerceptualLoss

LOG_FIELDS = ["step", "elapsed_s", "loss", "lr", "val_psnr"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m models.train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--scale", type=int, required=True, choices=[2, 3, 4])
    ap.add_argument("--depth", type=int, default=19)
    ap.add_argument("--channels", type=int, default=64)
    ap.add_argument("--data", type=Path, default=Path("../shared/datasets/train"))
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--steps", type=int, default=20_000, help="total optimiser steps (sets the LR schedule)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--patch", type=int, default=48, help="LR patch size (the paper's 48)")
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--alpha", type=float, default=0.0, help="weight of the VGG16 perceptual term")
    ap.add_argument(
        "--vgg-weights",
        type=Path,
        default=None,
        help="local torchvision vgg16 state dict; without it the perceptual term is off",
    )
    ap.add_argument(
        "--init-from",
        type=Path,
        default=None,
        help="checkpoint whose head + recurrent conv start this run (warm start)",
    )
    ap.add_argument("--n-val", type=int, default=10)
    ap.add_argument("--val-every", type=int, default=250)
    ap.add_argument("--ckpt-every-s", type=float, default=120.0)
    ap.add_argument(
        "--stop-at",
        type=int,
        default=0,
        help="stop at this step while keeping the --steps schedule (equal-budget ablations)",
    )
    ap.add_argument(
        "--time-limit-min", type=float, default=0.0, help="stop after this much wall time (0 = none)"
    )
    ap.add_argument(
        "--snapshot-at",
        type=int,
        nargs="*",
        default=[],
        help="also keep step_N.pt at these steps (equal-budget ablations)",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--fp32", action="store_true", help="disable bf16 autocast")
    return ap.parse_args(argv)


def seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def lr_at(step: int, total: int, base: float) -> float:
    """Short linear warm-up, then cosine decay to 5% of ``base``."""
    warm = 200
    if step < warm:
        return base * (step + 1) / warm
    t = min(1.0, (step - warm) / max(1, total - warm))
    return base * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * t)))


@torch.no_grad()
def validate(model: LiteSRNet, pairs: list[Pair], scale: int, device: torch.device) -> float:
    """Mean Y-PSNR (border = scale) on held-out training-folder images, in fp32."""
    model.eval()
    scores = []
    for p in pairs:
        x = torch.from_numpy(p.lr.transpose(2, 0, 1)[None].astype(np.float32) / 255.0).to(device)
        y = model(x.contiguous(memory_format=torch.channels_last)).clamp(0, 1)
        sr = (y[0].permute(1, 2, 0).cpu().numpy() * 255.0).round().astype(np.uint8)
        scores.append(psnr_y(sr, p.hr, scale))
    model.train()
    return float(np.mean(scores))


def warm_start(model: LiteSRNet, path: Path) -> None:
    state = torch.load(path, map_location="cpu", weights_only=False)["model"]
    keep = {k: v for k, v in state.items() if k.startswith(("head.", "body."))}
    model.load_state_dict(keep, strict=False)


def run_logger(out: Path) -> Callable[[str], None]:
    """``say(msg)``: print a timestamped line and append it to ``out/train.log``."""
    out.mkdir(parents=True, exist_ok=True)
    log = (out / "train.log").open("a")

    def say(msg: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {msg}"
        print(line, flush=True)
        log.write(line + "\n")
        log.flush()

    return say


def save(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def checkpoint(
    model: LiteSRNet,
    opt: torch.optim.Optimizer,
    sampler: PatchSampler,
    step: int,
    elapsed: float,
    best: float,
    args: argparse.Namespace,
    provenance: dict[str, Any],
) -> dict[str, Any]:
    return {
        "config": model.config.to_dict(),
        "model": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "optimizer": opt.state_dict(),
        "sampler": sampler.state(),
        "torch_rng": torch.get_rng_state(),
        "step": step,
        "elapsed_s": elapsed,
        "best_val_psnr": best,
        "args": {k: str(v) for k, v in vars(args).items()},
        "provenance": provenance,
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    seed_all(args.seed)
    say = run_logger(args.out)
    cfg = LiteSRConfig(scale=args.scale, depth=args.depth, channels=args.channels)
    model = LiteSRNet(cfg).to(device).to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    paths = list_images(args.data)
    train_paths, val_paths = split(paths, args.n_val)
    sampler = PatchSampler(make_pairs(train_paths, args.scale), args.scale, args.patch, args.seed)
    val_pairs = make_pairs(val_paths, args.scale)
    perceptual = None
    if args.alpha > 0 and args.vgg_weights is not None:
        perceptual = PerceptualLoss(args.vgg_weights).to(device)
    elif args.alpha > 0:
        say("no --vgg-weights file given: the perceptual term is off (alpha = 0), loss is MSE only")
    provenance = {
        "data": f"{args.data} ({len(train_paths)} train / {len(val_paths)} val images; T91 + BSDS400, not DIV2K)",
        "val_images": [p.name for p in val_paths],
        "hardware": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, {device}",
        "loss": f"MSE + {args.alpha if perceptual else 0} * VGG16 relu3_3",
    }

    step, elapsed, best = 0, 0.0, -1.0
    last = args.out / "last.pt"
    if last.exists():
        ck = torch.load(last, map_location="cpu", weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sampler.load_state(ck["sampler"])
        torch.set_rng_state(ck["torch_rng"])
        step, elapsed, best = ck["step"], ck["elapsed_s"], ck["best_val_psnr"]
        say(f"resumed from {last} at step {step} ({elapsed / 60:.1f} min, best val {best:.3f} dB)")
    elif args.init_from is not None:
        warm_start(model, args.init_from)
        say(f"warm start: head + recurrent conv from {args.init_from}")
    say(
        f"{cfg} params={count_params(model)} device={device} threads={torch.get_num_threads()} "
        f"bf16={not args.fp32 and device.type == 'cpu'}"
    )

    new_log = not (args.out / "log.csv").exists()
    csv_file = (args.out / "log.csv").open("a", newline="")
    writer = csv.DictWriter(csv_file, fieldnames=LOG_FIELDS)
    if new_log:
        writer.writeheader()
    if step == 0:
        v = validate(model, val_pairs, args.scale, device)
        writer.writerow({"step": 0, "elapsed_s": 0, "loss": "", "lr": 0, "val_psnr": f"{v:.4f}"})
        say(f"step 0 val {v:.3f} dB (the bicubic start)")

    t0, t_ck, run_loss, n_loss = time.time() - elapsed, time.time(), 0.0, 0
    autocast = device.type == "cpu" and not args.fp32
    while step < args.steps:
        lr_np, hr_np = sampler.batch(args.batch)
        lr = torch.from_numpy(lr_np).to(device).contiguous(memory_format=torch.channels_last)
        hr = torch.from_numpy(hr_np).to(device).contiguous(memory_format=torch.channels_last)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args.steps, args.lr)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast or device.type == "cuda"):
            sr = model(lr)
            loss = F.mse_loss(sr.float(), hr)
            if perceptual is not None:
                loss = loss + args.alpha * perceptual(sr.float(), hr)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        opt.step()
        step += 1
        run_loss += loss.item()
        n_loss += 1
        elapsed = time.time() - t0
        done = (
            step >= args.steps
            or step == args.stop_at
            or bool(args.time_limit_min and elapsed > args.time_limit_min * 60)
        )
        if step % args.val_every == 0 or done:
            v = validate(model, val_pairs, args.scale, device)
            writer.writerow(
                {
                    "step": step,
                    "elapsed_s": f"{elapsed:.0f}",
                    "loss": f"{run_loss / n_loss:.6f}",
                    "lr": f"{lr_at(step, args.steps, args.lr):.2e}",
                    "val_psnr": f"{v:.4f}",
                }
            )
            csv_file.flush()
            say(f"step {step} loss {run_loss / n_loss:.6f} val {v:.3f} dB ({elapsed / 60:.1f} min)")
            run_loss, n_loss = 0.0, 0
            if v > best:
                best = v
                save(
                    args.out / "best.pt",
                    checkpoint(model, opt, sampler, step, elapsed, best, args, provenance),
                )
        if step in args.snapshot_at:
            save(
                args.out / f"step_{step}.pt",
                checkpoint(model, opt, sampler, step, elapsed, best, args, provenance),
            )
        if done or time.time() - t_ck > args.ckpt_every_s:
            save(last, checkpoint(model, opt, sampler, step, elapsed, best, args, provenance))
            t_ck = time.time()
        if done:
            break
    say(f"finished at step {step}, best val {best:.3f} dB, {elapsed / 60:.1f} min")


if __name__ == "__main__":
    main()
