"""Training data: HR photos, their MATLAB-bicubic LR versions, random patches."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from litesr_edge.quality.bicubic import imresize

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp"}
U8 = npt.NDArray[np.uint8]


def list_images(root: Path) -> list[Path]:
    """Every image below ``root``, sorted so that splits are reproducible."""
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"no images under {root}; pass --data ../shared/datasets/train")
    return files


def read_rgb(path: Path) -> U8:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise OSError(f"cannot read image {path}")
    return np.ascontiguousarray(img[:, :, ::-1])


def mod_crop(img: U8, scale: int) -> U8:
    h, w = img.shape[:2]
    return img[: h - h % scale, : w - w % scale]


@dataclass
class Pair:
    name: str
    hr: U8
    lr: U8


def make_pairs(paths: list[Path], scale: int) -> list[Pair]:
    """HR (mod-cropped) and its MATLAB-bicubic LR, as the test sets are made."""
    pairs = []
    for p in paths:
        hr = mod_crop(read_rgb(p), scale)
        pairs.append(Pair(p.name, hr, imresize(hr, 1 / scale)))
    return pairs


def split(paths: list[Path], n_val: int) -> tuple[list[Path], list[Path]]:
    """Hold out every k-th image for validation (never used for reported numbers)."""
    step = max(1, len(paths) // n_val)
    val = paths[::step][:n_val]
    held = set(val)
    train = [p for p in paths if p not in held]
    return train, val


class PatchSampler:
    """Random aligned LR/HR patches with flips and 90-degree rotations."""

    def __init__(self, pairs: list[Pair], scale: int, patch: int, seed: int) -> None:
        self.pairs = [p for p in pairs if min(p.lr.shape[:2]) >= patch]
        self.scale, self.patch = scale, patch
        areas = np.array([p.lr.shape[0] * p.lr.shape[1] for p in self.pairs], dtype=np.float64)
        self.weights = areas / areas.sum()
        self.rng = np.random.default_rng(seed)

    def batch(self, n: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        s, ps = self.scale, self.patch
        lrs, hrs = [], []
        for i in self.rng.choice(len(self.pairs), size=n, p=self.weights):
            pr = self.pairs[i]
            y = int(self.rng.integers(0, pr.lr.shape[0] - ps + 1))
            x = int(self.rng.integers(0, pr.lr.shape[1] - ps + 1))
            lr = pr.lr[y : y + ps, x : x + ps]
            hr = pr.hr[y * s : (y + ps) * s, x * s : (x + ps) * s]
            k = int(self.rng.integers(0, 4))
            flip = bool(self.rng.integers(0, 2))
            lr, hr = np.rot90(lr, k), np.rot90(hr, k)
            if flip:
                lr, hr = lr[:, ::-1], hr[:, ::-1]
            lrs.append(lr)
            hrs.append(hr)
        to_nchw = lambda xs: np.stack(xs).transpose(0, 3, 1, 2).astype(np.float32) / 255.0  # noqa: E731
        return to_nchw(lrs), to_nchw(hrs)

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def load_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state
