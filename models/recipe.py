"""Training-recipe pieces shared by ``models.train`` and ``models.gpu_burst`` (torch + numpy only).

Losses (MSE / L1 / Charbonnier, optionally weighted per patch), an exponential moving
average of the weights, the LR patch-size schedule, the learning-rate schedule, and the
choice of bf16 autocast (only where the CPU computes bf16 natively).
"""

from __future__ import annotations

import copy
import math
import platform

import torch
from torch import nn

LOSSES = ("mse", "l1", "charbonnier")
CHARBONNIER_EPS = 1e-3


def pixel_loss(sr: torch.Tensor, hr: torch.Tensor, kind: str, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean ``kind`` loss; with ``weights`` (one per sample) the weighted mean over samples."""
    diff = sr - hr
    if kind == "mse":
        per = diff * diff
    elif kind == "l1":
        per = diff.abs()
    elif kind == "charbonnier":
        per = torch.sqrt(diff * diff + CHARBONNIER_EPS**2)
    else:
        raise ValueError(f"loss must be one of {LOSSES}, got {kind!r}")
    if weights is None:
        return per.mean()
    per_sample = per.flatten(1).mean(1)
    return (per_sample * weights).sum() / weights.sum().clamp_min(1e-12)


class EMA:
    """An exponential moving average of a model's parameters (buffers copied), kept as a model.

    The decay ramps up as min(decay, (1 + n) / (10 + n)) over the first updates so that the
    average is not dominated by the starting weights of a short run.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.decay, self.updates = decay, 0
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average towards ``model``'s current weights."""
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for e, p in zip(self.model.parameters(), model.parameters(), strict=True):
            e.lerp_(p.detach(), 1.0 - d)
        for eb, b in zip(self.model.buffers(), model.buffers(), strict=True):
            eb.copy_(b)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The averaged weights, on the CPU."""
        return {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}

    def load(self, state: dict[str, torch.Tensor], updates: int) -> None:
        """Continue from a saved average."""
        self.model.load_state_dict(state)
        self.updates = updates


def parse_patch_schedule(spec: str, default: int) -> list[tuple[float, int]]:
    """``"0:48,0.7:64"`` -> [(0.0, 48), (0.7, 64)]: from this fraction of --steps on, this LR patch."""
    if not spec:
        return [(0.0, default)]
    try:
        points = sorted((float(f), int(p)) for f, p in (item.split(":") for item in spec.split(",")))
    except ValueError as exc:
        raise ValueError(f"--patch-schedule must look like 0:48,0.7:64, got {spec!r}") from exc
    if points[0][0] != 0.0 or any(not 0.0 <= f < 1.0 or p < 1 for f, p in points):
        raise ValueError(f"--patch-schedule needs fractions in [0, 1) starting at 0 and sizes >= 1, got {spec!r}")
    return points


def patch_at(step: int, total: int, schedule: list[tuple[float, int]]) -> int:
    """The LR patch size for optimiser step ``step`` (0-based) of ``total``."""
    size = schedule[0][1]
    for frac, p in schedule:
        if step >= math.ceil(frac * total):
            size = p
    return size


def lr_at(step: int, total: int, base: float, warm: int = 200) -> float:
    """Short linear warm-up, then cosine decay to 5% of ``base``."""
    if step < warm:
        return base * (step + 1) / warm
    t = min(1.0, (step - warm) / max(1, total - warm))
    return base * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * t)))


def native_bf16() -> bool:
    """True when this CPU computes bf16 in hardware (AVX512-BF16 or AMX); emulated bf16 is slower than fp32."""
    cpu = torch.cpu
    return bool(cpu._is_avx512_bf16_supported() or cpu._is_amx_tile_supported())


def hardware(device: torch.device) -> str:
    """A one-line description of where training runs (for checkpoint provenance)."""
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda}), torch {torch.__version__}"
    cap = torch.backends.cpu.get_cpu_capability()
    return (f"{platform.processor() or platform.machine()} CPU ({cap}, native bf16: {native_bf16()}), "
            f"{torch.get_num_threads()} threads, torch {torch.__version__}")
