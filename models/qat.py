"""int8 quantization of a trained LiteSRNet: calibration, and optional quantization-aware fine-tuning.

    # what makes the bundled x3/x4 int8 models: calibrate only, on the rich set (models/calibration.py), at the maximum
    python -m models.qat --checkpoint models/checkpoints/x4_d19.pt --out runs/ptq_x4 --steps 0 \
        --calib-set rich --percentiles 100
    # the bundled x2 int8 model: the same start, then fine-tuning on half photo patches, half rich crops,
    # with the fp32 model as the only target
    python -m models.qat --checkpoint models/checkpoints/x2_d19.pt --out runs/qat_x2_rich --steps 600 \
        --calib-set rich --percentiles 100 --distill 1 --hr-weight 0 --rich-mix 0.5 --threads 2
    # fine-tune through the quantizer (LSQ scales, optional distillation from the fp32 model)
    python -m models.qat --checkpoint models/checkpoints/x4_d19.pt --out runs/qat_x4 --steps 2000 --distill 1

The quantizer is the one the exported int8 model uses (``export/quantize.py``):

* every Conv/ConvTranspose except the head reads an int8-quantized input: uint8, zero
  point 0 (its input is a ReLU output), one scale per tensor, from a calibration
  percentile; fine-tuning learns it further (LSQ: straight-through rounding, gradient to
  the scale; parametrised by its log so Adam's steps are relative);
* weights are int8, symmetric, one scale per output channel = max|w| / 127, recomputed
  from the current weights on every step (so the exporter recomputes the same scales);
  the recurrent weight is quantized as W - identity, its input added back
  (``export/quantize.py`` says why; ``--plain-body`` quantizes W itself);
* the head conv (3 -> 64, 0.3% of the Multi-Adds) reads the image in float, and the
  bicubic skip and final Add stay float: quantizing them would re-quantize the image.

Fine-tuning the plain form (``--plain-body``) recovered most but not all of its loss (x4: -0.06 dB
on Set5); the W - identity form needs none on photos, and its worst images are set by the
calibration set (docs/int8.md).

Rounding is half to even, as ONNX QuantizeLinear. The checkpoint (``best.pt``) holds the
weights in ``model`` (a plain LiteSRNet state dict), the activation scales in
``act_scales`` and the form in ``residual_body``; ``python -m export --checkpoint
runs/ptq_x4/best.pt`` then writes the QDQ int8 model (``export/quantize.py``).
"""

from __future__ import annotations

import argparse
import copy
import csv
import math
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from export.quantize import ACT_LEVELS, WEIGHT_MAX, identity_kernel

from .calibration import activation_stats, quantized_inputs, rich_calibration_set
from .data import PatchSampler, list_images, make_pairs, split
from .litesrnet import LiteSRConfig, LiteSRNet, fold, from_checkpoint
from .train import run_logger, save, seed_all, validate

__all__ = ["QuantLiteSRNet", "act_quant", "calibrate", "n_act_points", "weight_quant", "weight_scales"]


def n_act_points(config: LiteSRConfig) -> int:
    """Quantized activations: the inputs of the ``depth`` body convs, of each decoder stage and of the tail."""
    stages = 1 if config.scale == 3 else int(math.log2(config.scale))
    return config.depth + stages + 1


def _round_ste(v: torch.Tensor) -> torch.Tensor:
    return v + (torch.round(v) - v).detach()


def act_quant(x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """uint8 fake quantization (zero point 0) in fp32, straight-through, gradient to ``scale`` (LSQ)."""
    v = x.float() / scale
    return torch.clamp(_round_ste(v), 0.0, float(ACT_LEVELS)) * scale


def weight_scales(w: torch.Tensor, axis: int) -> torch.Tensor:
    """Per-output-channel symmetric scale max|w| / 127 (``axis``: the output-channel axis)."""
    dims = [d for d in range(w.dim()) if d != axis]
    return (w.detach().abs().amax(dim=dims) / WEIGHT_MAX).clamp_min(1e-12)


def weight_quant(w: torch.Tensor, axis: int) -> torch.Tensor:
    """int8 per-channel fake quantization, straight-through."""
    shape = [1] * w.dim()
    shape[axis] = -1
    s = weight_scales(w, axis).view(shape)
    return torch.clamp(_round_ste(w / s), -WEIGHT_MAX, WEIGHT_MAX) * s


def bias_quant(b: torch.Tensor | None, x_scale: torch.Tensor, w_scale: torch.Tensor) -> torch.Tensor | None:
    """int32 fake quantization of a bias at ``x_scale * w_scale`` per channel, as the QDQ graph stores it."""
    if b is None:
        return None
    s = x_scale * w_scale
    return _round_ste(b / s) * s


class QuantLiteSRNet(nn.Module):
    """A LiteSRNet run as the int8 model runs: quantized conv inputs and weights, float head and skip."""

    def __init__(self, net: LiteSRNet, act_scales: torch.Tensor, residual_body: bool = True,
                 float_identity: int = 0) -> None:
        super().__init__()
        if act_scales.numel() != n_act_points(net.config):
            raise ValueError(f"need {n_act_points(net.config)} activation scales, got {act_scales.numel()}")
        if not 0 <= float_identity <= net.config.depth:
            raise ValueError(f"float_identity {float_identity}: give a number of steps in 0..{net.config.depth}")
        if float_identity and not residual_body:
            raise ValueError("float_identity adds the float input back to Conv(x, W - I): it needs residual_body")
        # The int8 file holds plain 3x3 kernels, so a re-parameterised net is quantized folded.
        self.net = fold(net) if net.config.reparam else net
        self.config = self.net.config
        self.residual_body = residual_body
        self.float_identity = float_identity
        self.log_scales = nn.Parameter(act_scales.detach().float().log())

    def act_scales(self) -> torch.Tensor:
        return self.log_scales.exp()

    def body_weight(self) -> torch.Tensor:
        """The recurrent weight as the int8 model holds it: int8 W, or identity + int8 (W - identity)."""
        w = self.net.main_conv("body").weight
        if not self.residual_body:
            return weight_quant(w, 0)
        eye = torch.from_numpy(identity_kernel(tuple(w.shape))).to(w)
        return eye + weight_quant(w - eye, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = F.relu(self.net.head(x))
        for i in range(self.config.depth):
            feat = self.body_step(i, feat)
        return self.decode(feat, x)

    def body_step(self, i: int, feat: torch.Tensor) -> torch.Tensor:
        """Recurrent step ``i`` (0-based) from the state before it."""
        s, conv = self.act_scales(), self.net.main_conv("body")
        w = conv.weight
        eye = torch.from_numpy(identity_kernel(tuple(w.shape))).to(w)
        w_scale = weight_scales(w - eye if self.residual_body else w, 0)
        bias = bias_quant(conv.bias, s[i], w_scale)
        xq = act_quant(feat, s[i])
        # In the last ``float_identity`` steps the identity path skips the quantizer: only
        # Conv(x, W - I), whose weights are small, sees the rounding of x, so the rounding of
        # the coarse late steps no longer piles up along the state.
        if i >= self.config.depth - self.float_identity:
            return F.relu(F.conv2d(xq, weight_quant(w - eye, 0), bias, padding=1) + feat)
        return F.relu(F.conv2d(xq, self.body_weight(), bias, padding=1))

    def decode(self, feat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The decoder and the skip, from the last recurrent state and the input."""
        n, s, k = self.net, self.act_scales(), self.config.depth
        for m in n.upsample:
            if isinstance(m, nn.ConvTranspose2d):
                bias = bias_quant(m.bias, s[k], weight_scales(m.weight, 1))
                feat = F.conv_transpose2d(act_quant(feat, s[k]), weight_quant(m.weight, 1), bias,
                                          m.stride, cast(tuple[int, ...], m.padding), m.output_padding)
                k += 1
            else:
                feat = F.relu(feat)
        tail = n.main_conv("tail")
        bias = bias_quant(tail.bias, s[k], weight_scales(tail.weight, 0))
        out = F.conv2d(act_quant(feat, s[k]), weight_quant(tail.weight, 0), bias, padding=1)
        if n.config.global_skip:
            out = out + F.interpolate(x, scale_factor=n.config.scale, mode="bicubic", align_corners=False)
        return out


@torch.no_grad()
def calibrate(net: LiteSRNet, batches: list[torch.Tensor], percentile: float = 99.99) -> torch.Tensor:
    """Initial activation scales: the ``percentile`` of each quantized tensor over ``batches``, / 255."""
    seen: list[list[torch.Tensor]] = [[] for _ in range(n_act_points(net.config))]
    device = next(net.parameters()).device
    for x in batches:
        for k, t in enumerate(quantized_inputs(net, x.to(device))):
            seen[k].append(t.flatten())
    q = [float(np.percentile(torch.cat(v).cpu().numpy(), percentile)) for v in seen]
    return torch.tensor(q).clamp_min(1e-6) / ACT_LEVELS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m models.qat", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--checkpoint", type=Path, required=True,
                    help="trained fp32 checkpoint to start from, or a QAT checkpoint to continue (keeps its scales)")
    ap.add_argument("--teacher", type=Path, default=None,
                    help="fp32 checkpoint for --distill (default: --checkpoint, or the one a QAT checkpoint came from)")
    ap.add_argument("--data", type=Path, default=Path("../shared/datasets/train"))
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--patch", type=int, default=48)
    ap.add_argument("--lr", type=float, default=2e-5, help="weights; the log-scales use 50x this")
    ap.add_argument("--n-val", type=int, default=10)
    ap.add_argument("--val-every", type=int, default=250)
    ap.add_argument("--calib-batches", type=int, default=8, help="--calib-set patches: batches of --batch patches")
    ap.add_argument("--calib-set", choices=("patches", "rich"), default="patches",
                    help="patches: random training patches (the first int8 models); rich: whole photos, each photo's "
                    "most edge-dense window and synthetic hard content (models/calibration.py; the bundled models)")
    ap.add_argument("--calib-full", type=int, default=24, help="--calib-set rich: whole training photos")
    ap.add_argument("--calib-variants", type=int, default=3, help="--calib-set rich: draws of each hard case")
    ap.add_argument("--percentiles", default="99.99",
                    help="calibration percentiles to try (comma-separated); the best by validation PSNR starts "
                    "the fine-tuning (--steps 0: post-training quantization only)")
    ap.add_argument("--distill", type=float, default=0.0,
                    help="weight of an extra MSE to the fp32 model's output (distillation)")
    ap.add_argument("--hr-weight", type=float, default=1.0,
                    help="weight of the MSE to the HR patch (0 with --distill: the fp32 model is the only target)")
    ap.add_argument("--rich-mix", type=float, default=0.0,
                    help="fraction of each batch cut from the rich calibration images (edge windows, whole photos, "
                    "synthetic hard content; no HR: distillation only), so fine-tuning sees what calibration sees")
    ap.add_argument("--db-weighted", action="store_true",
                    help="weight each photo patch's distillation error by 1 / its fp32 error (PSNR terms)")
    ap.add_argument("--freeze-scales", action="store_true",
                    help="keep the calibrated activation scales (no LSQ): only the weights learn")
    ap.add_argument("--cuda-bf16", action="store_true",
                    help="bf16 autocast on CUDA too (4x faster steps there; default is fp32 on CUDA)")
    ap.add_argument("--float-identity", type=int, default=0, metavar="K",
                    help="the last K recurrent steps add their float input x back to Conv(x, W - I), not the "
                    "dequantized int8 x: the rounding of x then reaches the state only through W - I (each such "
                    "step costs int8 speed on OpenVINO: docs/int8.md)")
    ap.add_argument("--plain-body", action="store_true",
                    help="quantize the recurrent weight W itself, not W - identity (worse: see the module doc)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0)
    return ap.parse_args(argv)


def _cosine(step: int, total: int, base: float) -> float:
    return base * 0.5 * (1 + math.cos(math.pi * min(1.0, step / max(1, total))))


def _payload(model: QuantLiteSRNet, source: dict[str, Any], step: int, elapsed: float, best: float,
             args: argparse.Namespace, provenance: dict[str, Any]) -> dict[str, Any]:
    return {
        "config": model.config.to_dict(),
        "model": {k: v.detach().cpu().clone() for k, v in model.net.state_dict().items()},
        "act_scales": model.act_scales().detach().cpu().clone(),
        "residual_body": model.residual_body,
        "float_identity": model.float_identity,
        "step": step,
        "elapsed_s": elapsed,
        "best_val_psnr": best,
        "args": {k: str(v) for k, v in vars(args).items()},
        "provenance": provenance,
        "qat_from": source["qat_from"] if "qat_from" in source else {
            "checkpoint": str(args.checkpoint), "step": source.get("step"),
            "args": source.get("args", {}), "best_val_psnr": source.get("best_val_psnr")},
        "qat_history": [*_history(source),
                        {"from": str(args.checkpoint), "steps": args.steps, "lr": args.lr, "batch": args.batch,
                         "distill": args.distill, "device": str(next(model.parameters()).device)}],
    }


def _history(source: dict[str, Any]) -> list[dict[str, Any]]:
    """The QAT stages a checkpoint went through (a first-stage checkpoint only has its args)."""
    if "act_scales" not in source:
        return []
    return list(source.get("qat_history") or [{"stage_args": source.get("args", {}), "step": source.get("step")}])


def _teacher(args: argparse.Namespace, source: dict[str, Any], net: LiteSRNet) -> LiteSRNet:
    """The fp32 model to distil from: --teacher, the QAT source's own origin, or a copy of ``net``."""
    path = args.teacher
    if path is None and "act_scales" in source:
        path = Path(source["qat_from"]["checkpoint"])
    if path is None:
        teacher = copy.deepcopy(net)
    else:
        ck = torch.load(path, map_location="cpu", weights_only=False)
        teacher = from_checkpoint(ck)
    return teacher.eval().requires_grad_(False)


def _loss(model: QuantLiteSRNet, teacher: LiteSRNet, lr: torch.Tensor, hr: torch.Tensor,
          weights: tuple[float, float], autocast: bool, db_weighted: bool = False) -> torch.Tensor:
    """``weights[0]`` x MSE to the HR patches (the first ``len(hr)`` of ``lr``; the rest have no HR) plus
    ``weights[1]`` x MSE to the fp32 teacher's output on all of ``lr`` (per patch in dB terms with
    ``db_weighted``, see ``_db_weights``)."""
    hr_weight, distill = weights
    with torch.autocast(lr.device.type, dtype=torch.bfloat16, enabled=autocast):
        sr = model(lr).float()
        loss = hr_weight * F.mse_loss(sr[:len(hr)], hr) if hr_weight > 0 else sr.new_zeros(())
        if distill > 0:
            with torch.no_grad():
                target = teacher(lr).float()
            per = (sr - target).square().mean(dim=(1, 2, 3))
            loss = loss + distill * (per * _db_weights(target, hr) if db_weighted else per).mean()
    return loss


def _db_weights(target: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    """Per-patch weights that make the distillation MSE count in dB: a PSNR change is about
    ``mse(int8, fp32) / mse(fp32, HR)``, so a smooth patch the fp32 model gets nearly right must
    be kept closer. Patches with HR get ``mean error / own error`` (at most 20); rich crops 1."""
    err = (target[:len(hr)] - hr).square().mean(dim=(1, 2, 3)) + 1e-6
    w = (err.mean() / err).clamp(max=20.0)
    return torch.cat([w, w.new_ones(len(target) - len(hr))])


class RichCrops:
    """Random ``patch`` x ``patch`` LR crops of the rich calibration images, flipped and rotated at random."""

    def __init__(self, images: list[torch.Tensor], patch: int, seed: int) -> None:
        self.images = [im for im in images if min(im.shape[-2:]) >= patch]
        if not self.images:
            raise ValueError(f"no rich calibration image has a side >= {patch} px")
        self.patch = patch
        self.rng = np.random.default_rng(seed + 1)

    def batch(self, n: int) -> torch.Tensor:
        """``n`` crops, NCHW float32 in [0, 1]."""
        out = []
        for i in self.rng.integers(0, len(self.images), size=n):
            im = self.images[int(i)]
            y = int(self.rng.integers(0, im.shape[-2] - self.patch + 1))
            x = int(self.rng.integers(0, im.shape[-1] - self.patch + 1))
            crop = im[..., y:y + self.patch, x:x + self.patch]
            if self.rng.random() < 0.5:
                crop = crop.flip(-1)
            out.append(torch.rot90(crop, int(self.rng.integers(0, 4)), (-2, -1)))
        return torch.cat(out)


def _batch(sampler: PatchSampler, rich: RichCrops | None, args: argparse.Namespace,
           device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """One training batch: photo patches with HR, then ``--rich-mix`` of the batch as rich crops (LR only)."""
    n_rich = round(args.batch * args.rich_mix) if rich is not None else 0
    lr_np, hr_np = sampler.batch(args.batch - n_rich)
    lr, hr = torch.from_numpy(lr_np), torch.from_numpy(hr_np)
    if rich is not None and n_rich:
        lr = torch.cat([lr, rich.batch(n_rich)])
    return (lr.to(device).contiguous(memory_format=torch.channels_last),
            hr.to(device).contiguous(memory_format=torch.channels_last))


def _calibrated(net: LiteSRNet, scales_for: Callable[[float], torch.Tensor], percentiles: list[float],
                form: tuple[bool, int], score: Callable[[QuantLiteSRNet], float], say: Callable[[str], None]
                ) -> tuple[QuantLiteSRNet, dict[str, Any]]:
    """The QuantLiteSRNet whose calibration percentile scores best (validation PSNR), and a record."""
    best: tuple[float, float, QuantLiteSRNet] | None = None
    tried: dict[str, float] = {}
    for pct in percentiles:
        model = QuantLiteSRNet(net, scales_for(pct), *form)
        tried[str(pct)] = value = score(model) if len(percentiles) > 1 else float("nan")
        say(f"calibration at percentile {pct}: val int8 {value:.4f} dB")
        if best is None or not value <= best[0]:
            best = (value, pct, model)
    if best is None:  # an empty --percentiles
        raise ValueError("--percentiles lists no value")
    return best[2], {"percentile": best[1], "val_psnr_by_percentile": tried}


def _scales_for(args: argparse.Namespace, net: LiteSRNet, sampler: PatchSampler,
                train_paths: list[Path]) -> tuple[Callable[[float], torch.Tensor], dict[str, Any]]:
    """Activation scales by percentile from the chosen calibration set, and what the set was."""
    if args.calib_set == "patches":
        calib = [torch.from_numpy(sampler.batch(args.batch)[0]) for _ in range(args.calib_batches)]
        return (lambda pct: calibrate(net.eval(), calib, pct)), {
            "set": "patches", "patches": args.calib_batches * args.batch, "patch": args.patch}
    images = rich_calibration_set(train_paths, net.config.scale, args.calib_full, args.patch, args.calib_variants,
                                  args.seed)
    stats = activation_stats(net, images, n_act_points(net.config))
    return stats.scales, {"set": "rich", "whole_photos": args.calib_full, "edge_windows": 2 * args.calib_full,
                          "edge_window": args.patch, "hard_case_variants": args.calib_variants, "images": len(images)}


def _form(args: argparse.Namespace, source: dict[str, Any]) -> tuple[bool, int]:
    """(residual_body, float_identity): a QAT checkpoint keeps its own form, a fresh calibration takes the flags."""
    if "act_scales" in source:
        return bool(source.get("residual_body", False)), int(source.get("float_identity", 0))
    if args.plain_body and args.float_identity:
        raise ValueError("--plain-body has no identity to add back: drop --float-identity")
    return not args.plain_body, args.float_identity


def _check_loss_args(args: argparse.Namespace) -> None:
    """Refuse loss options that cannot train, before any calibration work is spent."""
    if not 0.0 <= args.rich_mix < 1.0:
        raise ValueError(f"--rich-mix {args.rich_mix}: give a fraction in [0, 1)")
    if args.rich_mix > 0 and args.distill <= 0:
        raise ValueError("--rich-mix needs --distill > 0: the rich crops have no HR, the fp32 model is their target")
    if args.steps and args.hr_weight <= 0 and args.distill <= 0:
        raise ValueError("--hr-weight 0 without --distill leaves nothing to learn: give one of them > 0")


def _rich_crops(args: argparse.Namespace, net: LiteSRNet, train_paths: list[Path]) -> RichCrops | None:
    """The rich-content sampler of ``--rich-mix``, or None."""
    if args.rich_mix == 0:
        return None
    images = rich_calibration_set(train_paths, net.config.scale, args.calib_full, args.patch, args.calib_variants,
                                  args.seed)
    return RichCrops(images, args.patch, args.seed)


def _loss_text(args: argparse.Namespace) -> str:
    terms = [f"{args.hr_weight} * MSE to HR"] if args.hr_weight > 0 else []
    if args.distill > 0:
        terms.append(f"{args.distill} * MSE to the fp32 model")
    if args.distill > 0 and args.db_weighted:
        terms[-1] += " (photo patches weighted by 1 / their fp32 error)"
    mix = f", {args.rich_mix:.0%} of each batch rich calibration crops (distillation only)" if args.rich_mix else ""
    frozen = ", activation scales frozen" if args.freeze_scales else ""
    return " + ".join(terms) + mix + frozen + " (quantization-aware fine-tuning)"


def _optimizer(model: QuantLiteSRNet, lr: float, freeze_scales: bool) -> torch.optim.Adam:
    groups: list[dict[str, Any]] = [{"params": list(model.net.parameters()), "base": lr}]
    if freeze_scales:
        model.log_scales.requires_grad_(False)
    else:
        groups.append({"params": [model.log_scales], "base": lr * 50})
    return torch.optim.Adam(groups)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    _check_loss_args(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    # bf16 autocast on CPU for speed (AMX); full fp32 on CUDA unless --cuda-bf16, so the
    # fake quantization sees the same products as the int8 kernels.
    autocast = device.type == "cpu" or args.cuda_bf16
    seed_all(args.seed)
    say = run_logger(args.out)
    source = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    net = from_checkpoint(source)
    cfg = net.config
    train_paths, val_paths = split(list_images(args.data), args.n_val)
    sampler = PatchSampler(make_pairs(train_paths, cfg.scale), cfg.scale, args.patch, args.seed)
    val_pairs = make_pairs(val_paths, cfg.scale)
    teacher = _teacher(args, source, net).to(device)
    form = _form(args, source)
    if "act_scales" in source:
        model = QuantLiteSRNet(net, source["act_scales"], *form).to(device)
        calibration = source.get("calibration", {})
    else:
        scales_for, calib_set = _scales_for(args, net, sampler, train_paths)
        model, calibration = _calibrated(net, scales_for, [float(p) for p in args.percentiles.split(",")], form,
                                         lambda m: validate(m.to(device), val_pairs, cfg.scale, device), say)
        calibration.update(calib_set)
    model = model.to(device).to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # documented; missing from the stub
    opt = _optimizer(model, args.lr, args.freeze_scales)
    provenance = {
        "data": f"{args.data} ({len(train_paths)} train / {len(val_paths)} val images; T91 + BSDS400, not DIV2K)",
        "val_images": [p.name for p in val_paths],
        "hardware": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, {device}",
        "loss": _loss_text(args) if args.steps else "none (post-training calibration only)",
        "calibration": calibration,
    }
    fp32_val = validate(teacher, val_pairs, cfg.scale, device)
    best = validate(model, val_pairs, cfg.scale, device)
    say(f"{cfg} from {args.checkpoint}: val fp32 teacher {fp32_val:.3f} dB, int8 at start {best:.3f} dB")
    csv_file = (args.out / "log.csv").open("w", newline="")
    writer = csv.DictWriter(csv_file, fieldnames=["step", "elapsed_s", "loss", "lr", "val_psnr"])
    writer.writeheader()
    writer.writerow({"step": 0, "elapsed_s": 0, "loss": "", "lr": 0, "val_psnr": f"{best:.4f}"})
    save(args.out / "best.pt", _payload(model, source, 0, 0.0, best, args, provenance))
    rich = _rich_crops(args, net, train_paths)
    t0, run_loss = time.time(), 0.0
    for step in range(1, args.steps + 1):
        lr, hr = _batch(sampler, rich, args, device)
        for g in opt.param_groups:
            g["lr"] = _cosine(step, args.steps, g["base"])
        loss = _loss(model, teacher, lr, hr, (args.hr_weight, args.distill), autocast, args.db_weighted)
        opt.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward unannotated
        torch.nn.utils.clip_grad_norm_(model.net.parameters(), 0.5)
        opt.step()
        run_loss += loss.item()
        if step % args.val_every == 0 or step == args.steps:
            v, elapsed = validate(model, val_pairs, cfg.scale, device), time.time() - t0
            writer.writerow({"step": step, "elapsed_s": f"{elapsed:.0f}", "loss": f"{run_loss / args.val_every:.6f}",
                             "lr": f"{_cosine(step, args.steps, args.lr):.2e}", "val_psnr": f"{v:.4f}"})
            csv_file.flush()
            say(f"step {step} loss {run_loss / args.val_every:.6f} val int8 {v:.3f} dB ({elapsed / 60:.1f} min)")
            run_loss = 0.0
            if v > best:
                best = v
                save(args.out / "best.pt", _payload(model, source, step, elapsed, best, args, provenance))
    # The last weights too: validation is a mean over photos, and the per-image worst case
    # (benchmarks/int8_check.py) may prefer another step than the best mean.
    save(args.out / "last.pt", _payload(model, source, args.steps, time.time() - t0, best, args, provenance))
    say(f"finished: best val int8 {best:.3f} dB (fp32 teacher {fp32_val:.3f} dB); last.pt holds the last step")

if __name__ == "__main__":
    main()
