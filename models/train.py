"""Train LiteSRNet.

    python -m models.train --scale 4 --depth 19 --data ../shared/datasets/train --out runs/x4_d19

Resumable (``--out`` holds ``last.pt``, ``best.pt`` and ``log.csv``; run the
same command again to continue), seeded, channels_last, CUDA when present. bf16
autocast only where it is native (CUDA; CPUs with AVX512-BF16 or AMX, about 4x
faster than fp32 there); fp32 elsewhere, where emulated bf16 is slower.

Recipe options, each off by default (the old command trains as before): ``--loss``,
``--ema``, ``--patch-schedule``, ``--jpeg-hr``, ``--reparam``, ``--init-all``; see
docs/training.md. With ``--ema`` the checkpoints also hold the averaged weights
(``ema``), validation and ``best.pt`` use them, and so do ``from_checkpoint``/export.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from litesr_edge.quality.metrics import psnr_y

from .data import Pair, PatchSampler, list_images, make_pairs, split
from .litesrnet import LiteSRConfig, LiteSRNet, count_params, from_checkpoint, load_plain_into
from .perceptual import PerceptualLoss
from .recipe import (
    CHARBONNIER_EPS,
    EMA,
    LOSSES,
    hardware,
    lr_at,
    native_bf16,
    parse_patch_schedule,
    patch_at,
    pixel_loss,
)
from .reparam import BRANCH_SETS

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
    ap.add_argument("--init-all", action="store_true",
                    help="with --init-from: load the whole net (same scale), not just head + recurrent conv")
    ap.add_argument("--loss", choices=LOSSES, default="mse", help="pixel loss")
    ap.add_argument("--ema", type=float, default=0.0, metavar="DECAY",
                    help="keep an EMA of the weights (e.g. 0.999); validation, best.pt and export use it (0 = off)")
    ap.add_argument("--patch-schedule", default="", metavar="F:P,...",
                    help="LR patch size by fraction of --steps, e.g. 0:48,0.7:64 (default: --patch throughout)")
    ap.add_argument("--jpeg-hr", default="none", metavar="none|downscale2|weight:W",
                    help="the JPEG (BSDS400) HR images: as is, halved before making pairs, or loss weight W")
    ap.add_argument("--reparam", default="", choices=["", *BRANCH_SETS],
                    help="train head/recurrent/tail convs as multi-branch blocks (folded at export)")
    ap.add_argument("--session-min", type=float, default=0.0,
                    help="stop after this many minutes of THIS invocation (--time-limit-min counts resumed time too)")
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
    ap.add_argument("--fp32", action="store_true", help="disable bf16 autocast (CPU: it is on only where native)")
    return ap.parse_args(argv)


def seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@torch.no_grad()
def validate(model: nn.Module, pairs: list[Pair], scale: int, device: torch.device) -> float:
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


def warm_start(model: LiteSRNet, path: Path, everything: bool = False) -> None:
    """Start from a checkpoint's (EMA, folded) weights: head + recurrent conv, or ``everything``.

    Into a re-parameterised ``model`` they go to the main branches; the extra branches
    then add exactly zero, so with ``everything`` the start reproduces the checkpoint.
    """
    ck = torch.load(path, map_location="cpu", weights_only=False)
    state = from_checkpoint(ck).state_dict()
    load_plain_into(model, state, None if everything else ("head.", "body."))


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


@dataclass
class Run:
    """Everything a training run holds; ``payload`` is what a checkpoint stores."""

    args: argparse.Namespace
    model: LiteSRNet
    opt: torch.optim.Optimizer
    sampler: PatchSampler
    ema: EMA | None
    provenance: dict[str, Any]
    step: int = 0
    elapsed: float = 0.0
    best: float = -1.0

    @property
    def judged(self) -> LiteSRNet:
        """The weights validation, ``best.pt`` and export stand for: the EMA when kept."""
        if self.ema is None:
            return self.model
        net: LiteSRNet = self.ema.model  # type: ignore[assignment]
        return net

    def payload(self) -> dict[str, Any]:
        ck: dict[str, Any] = {
            "config": self.model.config.to_dict(),
            "model": {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()},
            "optimizer": self.opt.state_dict(),
            "sampler": self.sampler.state(),
            "torch_rng": torch.get_rng_state(),
            "step": self.step,
            "elapsed_s": self.elapsed,
            "best_val_psnr": self.best,
            "args": {k: str(v) for k, v in vars(self.args).items()},
            "provenance": self.provenance,
        }
        if self.ema is not None:
            ck["ema"], ck["ema_updates"] = self.ema.state_dict(), self.ema.updates
        return ck

    def resume(self, ck: dict[str, Any]) -> None:
        """Continue from a ``last.pt`` payload."""
        self.model.load_state_dict(ck["model"])
        self.opt.load_state_dict(ck["optimizer"])
        self.sampler.load_state(ck["sampler"])
        torch.set_rng_state(ck["torch_rng"])
        self.step, self.elapsed, self.best = ck["step"], ck["elapsed_s"], ck["best_val_psnr"]
        if self.ema is not None:
            if "ema" in ck:
                self.ema.load(ck["ema"], int(ck.get("ema_updates", self.step)))
            else:  # a run that gains --ema on resume starts its average here
                self.ema = EMA(self.model, self.ema.decay)


def recipe_of(args: argparse.Namespace) -> dict[str, Any]:
    """The training recipe, for provenance."""
    return {
        "loss": args.loss, "ema": args.ema, "patch": args.patch, "patch_schedule": args.patch_schedule or "none",
        "jpeg_hr": args.jpeg_hr, "reparam": args.reparam or "none", "lr": args.lr, "batch": args.batch,
        "steps": args.steps, "init_from": str(args.init_from), "init_all": args.init_all, "seed": args.seed,
    }


def loss_name(args: argparse.Namespace, perceptual: bool) -> str:
    name = {"mse": "MSE", "l1": "L1", "charbonnier": f"Charbonnier (eps {CHARBONNIER_EPS:g})"}[args.loss]
    if args.jpeg_hr.startswith("weight:"):
        name += f", JPEG patches weighted {args.jpeg_hr[7:]}"
    return f"{name} + {args.alpha if perceptual else 0} * VGG16 relu3_3"


def use_autocast(args: argparse.Namespace, device: torch.device) -> bool:
    """bf16 autocast on CUDA and on CPUs with native bf16, unless --fp32."""
    return not args.fp32 and (device.type == "cuda" or native_bf16())


def build(args: argparse.Namespace, device: torch.device, say: Callable[[str], None]
          ) -> tuple[Run, list[Pair], PerceptualLoss | None]:
    """The model, optimiser, sampler, EMA and validation pairs of a fresh run."""
    cfg = LiteSRConfig(scale=args.scale, depth=args.depth, channels=args.channels, reparam=args.reparam)
    model = LiteSRNet(cfg).to(device).to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # documented; missing from the stub
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    train_paths, val_paths = split(list_images(args.data), args.n_val)
    first_patch = parse_patch_schedule(args.patch_schedule, args.patch)[0][1]
    sampler = PatchSampler(make_pairs(train_paths, args.scale, args.jpeg_hr), args.scale, first_patch, args.seed)
    val_pairs = make_pairs(val_paths, args.scale)
    perceptual = None
    if args.alpha > 0 and args.vgg_weights is not None:
        perceptual = PerceptualLoss(args.vgg_weights).to(device)
    elif args.alpha > 0:
        say("no --vgg-weights file given: the perceptual term is off (alpha = 0)")
    provenance = {
        "data": f"{args.data} ({len(train_paths)} train / {len(val_paths)} val images; T91 + BSDS400, not DIV2K)",
        "val_images": [p.name for p in val_paths],
        "hardware": hardware(device),
        "loss": loss_name(args, perceptual is not None),
        "recipe": recipe_of(args),
        "autocast": "bf16" if use_autocast(args, device) else "fp32",
    }
    ema = EMA(model, args.ema) if args.ema > 0 else None
    return Run(args, model, opt, sampler, ema, provenance), val_pairs, perceptual


def start(run: Run, say: Callable[[str], None]) -> None:
    """Resume from ``last.pt`` if there is one, else warm-start from --init-from if given."""
    args, last = run.args, run.args.out / "last.pt"
    if last.exists():
        run.resume(torch.load(last, map_location="cpu", weights_only=False))
        say(f"resumed from {last} at step {run.step} ({run.elapsed / 60:.1f} min, best val {run.best:.3f} dB)")
    elif args.init_from is not None:
        warm_start(run.model, args.init_from, args.init_all)
        if run.ema is not None:
            run.ema = EMA(run.model, args.ema)
        what = "the whole net" if args.init_all else "head + recurrent conv"
        say(f"warm start: {what} from {args.init_from}")


def open_log(out: Path) -> tuple[Any, csv.DictWriter[str]]:
    new_log = not (out / "log.csv").exists()
    csv_file = (out / "log.csv").open("a", newline="")
    writer = csv.DictWriter(csv_file, fieldnames=LOG_FIELDS)
    if new_log:
        writer.writeheader()
    return csv_file, writer


def train_step(run: Run, device: torch.device, perceptual: PerceptualLoss | None, autocast: bool) -> float:
    """One optimiser step at the scheduled LR and patch size; returns the loss."""
    args = run.args
    run.sampler.patch = patch_at(run.step, args.steps, parse_patch_schedule(args.patch_schedule, args.patch))
    lr_np, hr_np, w_np = run.sampler.batch_weighted(args.batch)
    lr = torch.from_numpy(lr_np).to(device).contiguous(memory_format=torch.channels_last)
    hr = torch.from_numpy(hr_np).to(device).contiguous(memory_format=torch.channels_last)
    weights = None if bool((w_np == 1.0).all()) else torch.from_numpy(w_np).to(device)
    for g in run.opt.param_groups:
        g["lr"] = lr_at(run.step, args.steps, args.lr)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
        sr = run.model(lr)
        loss = pixel_loss(sr.float(), hr, args.loss, weights)
        if perceptual is not None:
            loss = loss + args.alpha * perceptual(sr.float(), hr)
    run.opt.zero_grad(set_to_none=True)
    loss.backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward unannotated
    torch.nn.utils.clip_grad_norm_(run.model.parameters(), 0.5)
    run.opt.step()
    if run.ema is not None:
        run.ema.update(run.model)
    run.step += 1
    return float(loss.item())


def should_stop(run: Run, session_start: float) -> bool:
    args = run.args
    return (
        run.step >= args.steps
        or run.step == args.stop_at
        or bool(args.time_limit_min and run.elapsed > args.time_limit_min * 60)
        or bool(args.session_min and time.time() - session_start > args.session_min * 60)
    )


def main(argv: list[str] | None = None) -> None:
    """Train (or continue training) as the command line says."""
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    seed_all(args.seed)
    say = run_logger(args.out)
    run, val_pairs, perceptual = build(args, device, say)
    start(run, say)
    autocast = use_autocast(args, device)
    say(f"{run.model.config} params={count_params(run.model)} device={device} {run.provenance['hardware']} "
        f"autocast={'bf16' if autocast else 'fp32'} recipe={run.provenance['recipe']}")
    csv_file, writer = open_log(args.out)
    if run.step == 0:
        v = validate(run.judged, val_pairs, args.scale, device)
        writer.writerow({"step": 0, "elapsed_s": 0, "loss": "", "lr": 0, "val_psnr": f"{v:.4f}"})
        say(f"step 0 val {v:.3f} dB (the starting weights)")
    loop(run, device, perceptual, autocast, val_pairs, writer, csv_file, say)


def loop(run: Run, device: torch.device, perceptual: PerceptualLoss | None, autocast: bool, val_pairs: list[Pair],
         writer: csv.DictWriter[str], csv_file: Any, say: Callable[[str], None]) -> None:
    """Train until --steps, --stop-at or a time limit; validate, log and checkpoint on the way."""
    args, last = run.args, run.args.out / "last.pt"
    session_start = time.time()
    t0, t_ck, run_loss, n_loss = time.time() - run.elapsed, time.time(), 0.0, 0
    while run.step < args.steps:
        run_loss += train_step(run, device, perceptual, autocast)
        n_loss += 1
        run.elapsed = time.time() - t0
        done = should_stop(run, session_start)
        if run.step % args.val_every == 0 or done:
            v = validate(run.judged, val_pairs, args.scale, device)
            writer.writerow({"step": run.step, "elapsed_s": f"{run.elapsed:.0f}", "loss": f"{run_loss / n_loss:.6f}",
                             "lr": f"{lr_at(run.step, args.steps, args.lr):.2e}", "val_psnr": f"{v:.4f}"})
            csv_file.flush()
            say(f"step {run.step} loss {run_loss / n_loss:.6f} val {v:.3f} dB patch {run.sampler.patch} "
                f"({run.elapsed / 60:.1f} min)")
            run_loss, n_loss = 0.0, 0
            if v > run.best:
                run.best = v
                save(args.out / "best.pt", run.payload())
        if run.step in args.snapshot_at:
            save(args.out / f"step_{run.step}.pt", run.payload())
        if done or time.time() - t_ck > args.ckpt_every_s:
            save(last, run.payload())
            t_ck = time.time()
        if done:
            break
    say(f"finished at step {run.step}, best val {run.best:.3f} dB, {run.elapsed / 60:.1f} min")


if __name__ == "__main__":
    main()
