"""Calibration data and statistics for the int8 activation scales (``models/qat.py``).

The first int8 models were calibrated on 256 random 48x48 training patches. Such patches are
mostly smooth, and the recurrent state grows step by step on dense high-contrast edges
(text, line art, checkerboards, facades): on those images the activations of the later steps
reached 2.4x the calibrated range, 2.5% of them were clipped, and single images lost up to
1.2 dB (docs/int8.md). The "rich" calibration set here holds what such images do:

* whole training photos (LR, as the test sets are made), not patches;
* each training photo's most edge-dense window (largest mean squared Sobel gradient);
* synthetic hard content from ``litesr_edge.quality.hard_cases`` with ``variant >= 1`` (other
  strokes, words and colours than the test images, variant 0) and checkerboards of cell sizes
  the test set does not use.

Statistics are kept as a running top-k per quantized tensor, so percentiles up to
1 - k / N (and the maximum) cost k values of memory, whatever the number of pixels.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from export.quantize import ACT_LEVELS
from litesr_edge.quality.bicubic import imresize
from litesr_edge.quality.hard_cases import HARD_CASES, hard_case

from .data import mod_crop, read_rgb
from .litesrnet import LiteSRNet

__all__ = ["TopK", "activation_stats", "edge_window", "rich_calibration_set", "synthetic_lr"]

CALIB_CHECKER_CELLS = (2, 4, 6, 7)  # the test set's checkerboards use 1, 3 and 5


def to_tensor(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)[None], dtype=np.float32) / 255)


def edge_window(lr: np.ndarray, side: int) -> np.ndarray:
    """The ``side`` x ``side`` window of ``lr`` with the largest mean squared Sobel gradient (luma)."""
    grey = cv2.cvtColor(lr, cv2.COLOR_RGB2GRAY).astype(np.float32)
    energy = cv2.Sobel(grey, cv2.CV_32F, 1, 0) ** 2 + cv2.Sobel(grey, cv2.CV_32F, 0, 1) ** 2
    if min(lr.shape[:2]) <= side:
        return lr
    box = cv2.boxFilter(energy, -1, (side, side), normalize=True, borderType=cv2.BORDER_CONSTANT)
    h2 = side // 2
    inner = box[h2:lr.shape[0] - side + h2 + 1, h2:lr.shape[1] - side + h2 + 1]
    y, x = np.unravel_index(int(np.argmax(inner)), inner.shape)
    return np.ascontiguousarray(lr[y:y + side, x:x + side])


def synthetic_lr(scale: int, variants: int, size: int = 192) -> list[np.ndarray]:
    """LR of ``variants`` draws (1..variants) of each random hard case, plus calibration checkerboards."""
    hrs = [hard_case(name, size, v) for v in range(1, variants + 1) for name in HARD_CASES
           if not name.startswith("checker")]
    yy, xx = np.mgrid[:size, :size]
    for cell in CALIB_CHECKER_CELLS:
        board = (((yy // cell) + (xx // cell)) % 2 * 255).astype(np.uint8)
        hrs.append(np.repeat(board[..., None], 3, axis=2))
    return [imresize(mod_crop(hr, scale), 1.0 / scale) for hr in hrs]


def rich_calibration_set(paths: list[Path], scale: int, n_full: int, edge_side: int, variants: int,
                         seed: int = 0) -> list[torch.Tensor]:
    """Whole LR photos (the first ``n_full`` of a seeded shuffle), the edge windows of the first ``2 * n_full``
    and synthetic LR. The maximum grows with the number of values seen, so the set is kept small."""
    order = np.random.default_rng(seed).permutation(len(paths))[:2 * n_full]
    images = []
    for k, i in enumerate(order):
        lr = imresize(mod_crop(read_rgb(paths[int(i)]), scale), 1.0 / scale)
        if k < n_full:
            images.append(lr)
        images.append(edge_window(lr, edge_side))
    images += synthetic_lr(scale, variants)
    return [to_tensor(im) for im in images]


class TopK:
    """The ``k`` largest values seen of each of ``n`` tensors, and how many values were seen."""

    def __init__(self, n: int, k: int = 8192) -> None:
        self.k = k
        self.top = [torch.zeros(0) for _ in range(n)]
        self.count = [0] * n

    def add(self, tensors: Iterable[torch.Tensor]) -> None:
        for i, t in enumerate(tensors):
            v = t.detach().flatten().float().cpu()
            self.count[i] += v.numel()
            both = torch.cat([self.top[i], torch.topk(v, min(self.k, v.numel())).values])
            self.top[i] = torch.topk(both, min(self.k, both.numel())).values

    def scales(self, percentile: float) -> torch.Tensor:
        """Per-tensor ``percentile`` / 255; past the kept top-k it is the smallest kept value (a lower bound)."""
        out = []
        for top, n in zip(self.top, self.count, strict=True):
            rank = int((1.0 - percentile / 100.0) * n)
            out.append(float(top[min(rank, top.numel() - 1)]))
        return torch.tensor(out).clamp_min(1e-6) / ACT_LEVELS


@torch.no_grad()
def quantized_inputs(net: LiteSRNet, x: torch.Tensor) -> list[torch.Tensor]:
    """The fp32 values of every quantized Conv input (``models.qat.n_act_points``), in graph order."""
    feat = F.relu(net.head(x))
    seen = []
    for _ in range(net.config.depth):
        seen.append(feat)
        feat = F.relu(net.body(feat))
    for m in net.upsample:
        if isinstance(m, nn.ConvTranspose2d):
            seen.append(feat)
        feat = m(feat)
    seen.append(feat)
    return seen


def activation_stats(net: LiteSRNet, images: list[torch.Tensor], n_points: int, k: int = 8192) -> TopK:
    """Running top-k of every quantized tensor over ``images`` (any sizes, one at a time)."""
    stats = TopK(n_points, k)
    device = next(net.parameters()).device
    for x in images:
        stats.add(quantized_inputs(net.eval(), x.to(device)))
    return stats
