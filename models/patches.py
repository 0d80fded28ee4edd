"""LR/HR pairs and the random patch sampler (numpy only: no OpenCV, so the GPU burst can use it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]


@dataclass
class Pair:
    """An HR image, its bicubic LR, and the weight of its patches in the loss."""

    name: str
    hr: U8
    lr: U8
    weight: float = 1.0


class PatchSampler:
    """Random aligned LR/HR patches with flips and 90-degree rotations.

    ``patch`` (LR pixels) may be changed between batches (a patch-size schedule); an
    image is drawn with probability proportional to its LR area among the images that
    fit the current patch. The random state is the only state (``state``/``load_state``).
    """

    def __init__(self, pairs: list[Pair], scale: int, patch: int, seed: int) -> None:
        self.all_pairs = pairs
        self.scale = scale
        self.rng = np.random.default_rng(seed)
        self.patch = patch
        self._eligible()  # fail early when no image fits the first patch size

    def _eligible(self) -> tuple[list[Pair], npt.NDArray[np.float64]]:
        pairs = [p for p in self.all_pairs if min(p.lr.shape[:2]) >= self.patch]
        if not pairs:
            raise ValueError(f"no training image has an LR side >= {self.patch} px at x{self.scale}")
        areas = np.array([p.lr.shape[0] * p.lr.shape[1] for p in pairs], dtype=np.float64)
        return pairs, areas / areas.sum()

    @property
    def pairs(self) -> list[Pair]:
        """The images that fit the current patch size."""
        return self._eligible()[0]

    def batch(self, n: int) -> tuple[F32, F32]:
        """``n`` LR patches and their HR patches, NCHW float32 in [0, 1]."""
        lr, hr, _ = self.batch_weighted(n)
        return lr, hr

    def batch_weighted(self, n: int) -> tuple[F32, F32, F32]:
        """As ``batch``, plus each patch's loss weight (its image's ``Pair.weight``)."""
        pairs, weights = self._eligible()
        lrs, hrs, ws = [], [], []
        for i in self.rng.choice(len(pairs), size=n, p=weights):
            lr, hr = self._crop(pairs[i])
            lrs.append(lr)
            hrs.append(hr)
            ws.append(pairs[i].weight)
        return _to_nchw(lrs), _to_nchw(hrs), np.array(ws, dtype=np.float32)

    def _crop(self, pr: Pair) -> tuple[U8, U8]:
        s, ps = self.scale, self.patch
        y = int(self.rng.integers(0, pr.lr.shape[0] - ps + 1))
        x = int(self.rng.integers(0, pr.lr.shape[1] - ps + 1))
        lr = pr.lr[y : y + ps, x : x + ps]
        hr = pr.hr[y * s : (y + ps) * s, x * s : (x + ps) * s]
        k = int(self.rng.integers(0, 4))
        flip = bool(self.rng.integers(0, 2))
        lr, hr = np.rot90(lr, k), np.rot90(hr, k)
        if flip:
            lr, hr = lr[:, ::-1], hr[:, ::-1]
        return lr, hr

    def state(self) -> dict[str, Any]:
        """The random generator's state (with the step, all a resume needs)."""
        return dict(self.rng.bit_generator.state)

    def load_state(self, state: dict[str, Any]) -> None:
        """Continue from ``state()``."""
        self.rng.bit_generator.state = state


def _to_nchw(xs: list[U8]) -> F32:
    return np.stack(xs).transpose(0, 3, 1, 2).astype(np.float32) / 255.0
