"""A time-boxed training burst on a bare CUDA machine (its own PyTorch, no package index).

Here (CPU side), pack the training data and a starting checkpoint into an ignored folder::

    python -m models.gpu_burst pack --scale 4 --checkpoint models/checkpoints/x4_d19.pt

On the device machine (the working tree travels, plus ``data/train_pack`` as a carried path)::

    python -m models.gpu_burst run --out "$OUT" --minutes 8

``run`` imports only torch, numpy and the standard library (plus OpenCV or Pillow when present,
to decode the BSDS400 JPEGs; without either it trains on T91 only and says so). The pack holds:
the T91 PNGs decoded to uint8 and stored losslessly (left-neighbour delta + zlib), the BSDS400
JPEG files as they are, and the MATLAB-bicubic LR of every image made here with the project's
``imresize`` (so LR/HR pairs are the ones ``models.train`` uses), in one ``pack.npz`` <= 64 MiB
together with ``start.pt``. The learning-rate and patch-size schedules run on the fraction of the
time budget used, so the cosine decay completes whatever the machine's speed. ``--dry-run`` runs
a few steps on the CPU (the test suite does). The result, ``burst_x{scale}.pt`` (model + EMA +
optimiser, <= 16 MiB) and ``burst.log`` / ``burst_log.csv``, goes to ``--out``; continue on the CPU
with ``python -m models.train ... --init-from burst_x4.pt --init-all``.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import shutil
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from .litesrnet import LiteSRConfig, LiteSRNet, count_params, from_checkpoint, load_plain_into
from .patches import Pair, PatchSampler
from .recipe import EMA, hardware, lr_at, parse_patch_schedule, patch_at, pixel_loss

U8 = npt.NDArray[np.uint8]
PACK_CAP = 64 * 2**20
CKPT_CAP = 16 * 2**20
PACK_DIR = Path("data/train_pack")
# The recipe a burst trains: see docs/training.md.
RECIPE = {"loss": "l1", "ema": 0.999, "reparam": "ecb", "patch_schedule": "0:48,0.7:64", "lr": 2e-4, "batch": 32}


# ---------------------------------------------------------------- packing (CPU side)

def encode(img: U8) -> U8:
    """Lossless: left-neighbour differences (mod 256), zlib; decoded by ``decode``."""
    delta = np.diff(img.astype(np.int16), axis=1, prepend=0).astype(np.uint8)
    return np.frombuffer(zlib.compress(delta.tobytes(), 9), dtype=np.uint8)


def decode(blob: U8, shape: tuple[int, ...]) -> U8:
    """Inverse of ``encode``."""
    delta = np.frombuffer(zlib.decompress(blob.tobytes()), dtype=np.uint8).reshape(shape)
    return np.cumsum(delta, axis=1, dtype=np.uint8)


def pack(data: Path, scale: int, out: Path, checkpoint: Path | None, n_val: int) -> int:
    """Write ``out/pack.npz`` (+ ``start.pt``); returns the total bytes. Raises past PACK_CAP."""
    from .data import list_images, make_pairs, split  # OpenCV: CPU side only

    train_paths, val_paths = split(list_images(data), n_val)
    arrays: dict[str, U8] = {}
    entries = []
    for i, (path, pair) in enumerate(zip([*train_paths, *val_paths],
                                         make_pairs([*train_paths, *val_paths], scale), strict=True)):
        jpeg = path.suffix.lower() in (".jpg", ".jpeg")
        arrays[f"lr{i}"] = encode(pair.lr)
        arrays[f"hr{i}"] = np.frombuffer(path.read_bytes(), np.uint8) if jpeg else encode(pair.hr)
        entries.append({"name": path.name, "jpeg": jpeg, "lr": list(pair.lr.shape), "hr": list(pair.hr.shape),
                        "val": i >= len(train_paths)})
    manifest = {"scale": scale, "data": str(data), "images": entries}
    arrays["manifest"] = np.frombuffer(json.dumps(manifest).encode(), np.uint8)
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "pack.npz", **arrays)  # type: ignore[arg-type]
    if checkpoint is not None:
        shutil.copyfile(checkpoint, out / "start.pt")
    total = sum(f.stat().st_size for f in out.iterdir() if f.is_file())
    if total > PACK_CAP:
        raise ValueError(f"pack is {total / 2**20:.1f} MiB > {PACK_CAP / 2**20:.0f} MiB (x2/x3 LR is larger: "
                         "pack fewer images or x4)")
    return total


# ---------------------------------------------------------------- unpacking (device side)

def decode_jpeg(data: bytes) -> U8 | None:
    """RGB uint8 from JPEG bytes with OpenCV or Pillow, whichever exists; None without both."""
    try:
        import cv2

        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError("a training image in the pack cannot be decoded")
        return np.ascontiguousarray(img[:, :, ::-1])
    except ImportError:
        pass
    try:
        from PIL import Image

        return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    except ImportError:
        return None


def load_pack(folder: Path) -> tuple[int, list[Pair], list[Pair], str]:
    """(scale, train pairs, val pairs, note) from ``folder/pack.npz``."""
    with np.load(folder / "pack.npz", allow_pickle=False) as z:
        manifest = json.loads(z["manifest"].tobytes().decode())
        train: list[Pair] = []
        val: list[Pair] = []
        skipped = 0
        for i, e in enumerate(manifest["images"]):
            hr = decode_jpeg(z[f"hr{i}"].tobytes()) if e["jpeg"] else decode(z[f"hr{i}"], tuple(e["hr"]))
            if hr is None:
                skipped += 1
                continue
            h, w = e["hr"][:2]
            pair = Pair(e["name"], np.ascontiguousarray(hr[:h, :w]), decode(z[f"lr{i}"], tuple(e["lr"])))
            (val if e["val"] else train).append(pair)
    note = f"{len(train)} train / {len(val)} val images from {manifest['data']} (T91 + BSDS400, not DIV2K)"
    if skipped:
        note += f"; {skipped} JPEGs skipped (no OpenCV or Pillow to decode them)"
    return int(manifest["scale"]), train, val, note


# ---------------------------------------------------------------- training

def psnr_y(sr: U8, hr: U8, border: int) -> float:
    """Y-channel PSNR (BT.601, border cropped), as litesr_edge.quality.metrics.psnr_y, numpy only."""
    coef = np.array([65.481, 128.553, 24.966]) / 255.0
    ys, yh = (16.0 + a[border:-border, border:-border].astype(np.float64) @ coef for a in (sr, hr))
    mse = float(np.mean((ys - yh) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


@torch.no_grad()
def validate(model: torch.nn.Module, pairs: list[Pair], scale: int, device: torch.device) -> float:
    """Mean Y-PSNR on the held-out pack images, fp32."""
    model.eval()
    scores = []
    for p in pairs:
        x = torch.from_numpy(p.lr.transpose(2, 0, 1)[None].astype(np.float32) / 255.0).to(device)
        y = model(x).clamp(0, 1)[0].permute(1, 2, 0).cpu().numpy()
        scores.append(psnr_y((y * 255.0).round().astype(np.uint8), p.hr, scale))
    model.train()
    return float(np.mean(scores))


class Burst:
    """Model, EMA, optimiser and sampler of one burst; the schedules follow the time budget."""

    def __init__(self, args: argparse.Namespace, scale: int, train: list[Pair], device: torch.device) -> None:
        self.args, self.device = args, device
        self.schedule = parse_patch_schedule(args.patch_schedule, 48)
        cfg = LiteSRConfig(scale=scale, depth=args.depth, reparam=str(RECIPE["reparam"]))
        self.model = LiteSRNet(cfg).to(device)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=args.lr)
        self.sampler = PatchSampler(train, scale, self.schedule[0][1], args.seed)
        self.ema = EMA(self.model, args.ema)
        self.step, self.prior_steps, self.start_note = 0, 0, "fresh IRNN init"

    def start_from(self, path: Path) -> None:
        """A plain checkpoint warm-starts the main branches; an earlier burst's checkpoint resumes."""
        ck = torch.load(path, map_location="cpu", weights_only=False)
        if ck.get("burst") and ck["config"] == self.model.config.to_dict():
            self.model.load_state_dict(ck["model"])
            self.opt.load_state_dict(ck["optimizer"])
            self.ema.load(ck["ema"], int(ck["ema_updates"]))
            self.prior_steps = int(ck["step"])
            self.start_note = f"continued from burst checkpoint {path.name} (step {self.prior_steps})"
        else:
            load_plain_into(self.model, from_checkpoint(ck).state_dict())
            self.ema = EMA(self.model, self.args.ema)
            self.prior_steps = int(ck.get("step", 0))
            self.start_note = f"warm start (whole net) from {path.name}, trained {self.prior_steps} steps"

    def train_step(self, progress: float, autocast: bool) -> float:
        """One step at the LR / patch size of ``progress`` (fraction of the budget used)."""
        args, total = self.args, 10_000
        at = int(progress * total)
        self.sampler.patch = patch_at(at, total, self.schedule)
        lr_np, hr_np = self.sampler.batch(args.batch)
        lr, hr = torch.from_numpy(lr_np).to(self.device), torch.from_numpy(hr_np).to(self.device)
        # Warm-up by steps (Adam's first steps move every branch by ~lr), cosine decay by time.
        lr_now = lr_at(at, total, args.lr, warm=0) * min(1.0, (self.step + 1) / 300)
        for g in self.opt.param_groups:
            g["lr"] = lr_now
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=autocast):
            loss = pixel_loss(self.model(lr).float(), hr, args.loss)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward unannotated
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 0.5)
        self.opt.step()
        self.ema.update(self.model)
        self.step += 1
        return float(loss.item())

    def payload(self, best: float, elapsed: float, provenance: dict[str, Any]) -> dict[str, Any]:
        """A checkpoint ``from_checkpoint`` / export read (EMA weights, folded) and a burst resumes."""
        return {
            "config": self.model.config.to_dict(),
            "model": {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()},
            "ema": self.ema.state_dict(), "ema_updates": self.ema.updates,
            "optimizer": self.opt.state_dict(),
            "step": self.prior_steps + self.step, "burst_steps": self.step, "elapsed_s": elapsed,
            "best_val_psnr": best, "burst": True,
            "args": {k: str(v) for k, v in vars(self.args).items()}, "provenance": provenance,
        }


def logger(out: Path) -> Callable[[str], None]:
    out.mkdir(parents=True, exist_ok=True)
    log = (out / "burst.log").open("a")

    def say(msg: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {msg}"
        print(line, flush=True)
        log.write(line + "\n")
        log.flush()

    return say


def save(path: Path, payload: dict[str, Any]) -> int:
    """Write atomically; without the optimiser state if the file would pass CKPT_CAP."""
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    if tmp.stat().st_size > CKPT_CAP:
        torch.save({k: v for k, v in payload.items() if k != "optimizer"}, tmp)
    os.replace(tmp, path)
    return path.stat().st_size


def run(args: argparse.Namespace) -> Path:
    """Train for ``--minutes`` (or ``--max-steps``); returns the checkpoint path."""
    device = torch.device("cuda" if torch.cuda.is_available() and not args.dry_run else "cpu")
    if args.dry_run and not args.max_steps:
        args.max_steps = 3
    torch.manual_seed(args.seed)
    torch.backends.cudnn.benchmark = True
    say = logger(args.out)
    scale, train, val, note = load_pack(args.pack)
    burst = Burst(args, scale, train, device)
    if (args.pack / "start.pt").exists():
        burst.start_from(args.pack / "start.pt")
    autocast = device.type == "cuda" and not args.fp32
    provenance = {"data": note, "val_images": [p.name for p in val], "hardware": hardware(device),
                  "loss": {"l1": "L1", "mse": "MSE", "charbonnier": "Charbonnier (eps 0.001)"}[args.loss],
                  "recipe": {**RECIPE, **{k: getattr(args, k) for k in RECIPE if k != "reparam"},
                             "minutes": args.minutes, "max_steps": args.max_steps},
                  "autocast": "bf16" if autocast else "fp32", "start": burst.start_note}
    say(f"{burst.model.config} params={count_params(burst.model)} on {provenance['hardware']}; {note}; "
        f"{burst.start_note}; autocast {provenance['autocast']}; recipe {provenance['recipe']}")
    best = loop(burst, val, scale, autocast, provenance, say)
    say(f"finished: {burst.step} steps, best val EMA {best:.3f} dB")
    return Path(args.out) / f"burst_x{scale}.pt"


def loop(burst: Burst, val: list[Pair], scale: int, autocast: bool, provenance: dict[str, Any],
         say: Callable[[str], None]) -> float:
    """Steps until the budget is used; validates (step 0, every --val-every-s, the end) and keeps the best EMA."""
    args = burst.args
    budget, t0, t_val, best = args.minutes * 60.0, time.time(), -math.inf, -math.inf
    losses: list[float] = []
    ck_path, csv_path = args.out / f"burst_x{scale}.pt", args.out / "burst_log.csv"
    if not csv_path.exists():
        csv_path.write_text("step,elapsed_s,loss,patch,val_psnr\n")
    while True:
        elapsed = time.time() - t0
        done = elapsed >= budget or (args.max_steps and burst.step >= args.max_steps)
        if done or time.time() - t_val >= args.val_every_s:  # t_val starts at -inf: step 0 too
            v = validate(burst.ema.model, val, scale, burst.device)
            mean = float(np.mean(losses)) if losses else math.nan
            with csv_path.open("a") as f:
                f.write(f"{burst.step},{elapsed:.0f},{mean:.6f},{burst.sampler.patch},{v:.4f}\n")
            say(f"step {burst.step} ({burst.step / max(elapsed, 1e-9):.1f} steps/s) loss {mean:.5f} "
                f"val EMA {v:.3f} dB patch {burst.sampler.patch}")
            losses, t_val = [], time.time()
            if v > best:  # the checkpoint holds the best-scoring EMA weights (maybe the start's)
                best = v
                size = save(ck_path, burst.payload(best, elapsed, provenance))
                say(f"saved {ck_path.name} ({size / 2**20:.1f} MiB, best val {best:.3f} dB)")
        if done:
            return best
        losses.append(burst.train_step(min(1.0, elapsed / budget), autocast))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m models.gpu_burst", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack", help="pack the training data (+ a starting checkpoint) into --out")
    p.add_argument("--data", type=Path, default=Path("../shared/datasets/train"))
    p.add_argument("--scale", type=int, default=4, choices=[2, 3, 4])
    p.add_argument("--checkpoint", type=Path, default=None, help="warm start (plain) or an earlier burst_x*.pt")
    p.add_argument("--out", type=Path, default=PACK_DIR)
    p.add_argument("--n-val", type=int, default=10)
    r = sub.add_parser("run", help="train on the pack for --minutes; write the checkpoint and log to --out")
    r.add_argument("--pack", type=Path, default=PACK_DIR)
    r.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "runs/burst")))
    r.add_argument("--minutes", type=float, default=8.0, help="training wall time (saving comes after)")
    r.add_argument("--max-steps", type=int, default=0, help="also stop at this many steps (0 = none)")
    r.add_argument("--depth", type=int, default=19)
    r.add_argument("--val-every-s", type=float, default=60.0)
    r.add_argument("--dry-run", action="store_true", help="CPU, for a few steps (tests)")
    r.add_argument("--fp32", action="store_true", help="no bf16 autocast on CUDA")
    r.add_argument("--seed", type=int, default=0)
    for key in ("loss", "ema", "patch_schedule", "lr", "batch"):
        r.add_argument(f"--{key.replace('_', '-')}", type=type(RECIPE[key]), default=RECIPE[key])
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """``pack`` or ``run``, as the command line says."""
    args = parse_args(argv)
    if args.cmd == "pack":
        total = pack(args.data, args.scale, args.out, args.checkpoint, args.n_val)
        print(f"packed {args.out} ({total / 2**20:.1f} MiB)")
    else:
        print(f"wrote {run(args)}")


if __name__ == "__main__":
    main()
