"""Small synthetic datasets for the evaluation tests (benchmark layout and HR folders)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from litesr_edge.quality.bicubic import imresize


def rgb_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = cv2.resize(rng.integers(0, 256, (h // 4 + 1, w // 4 + 1, 3), dtype=np.uint8), (w, h))
    return np.asarray(base, np.uint8)


def write_rgb(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    bgr = rgb if rgb.ndim == 2 else rgb[..., [2, 1, 0, 3][: rgb.shape[2]]]
    assert cv2.imwrite(str(path), bgr)


def make_pairs(root: Path, scale: int, n: int = 2, grey_index: int | None = None) -> Path:
    """A Set5-like folder: image_SRF_<s>/img_NNN_SRF_<s>_{HR,LR}.png."""
    for i in range(1, n + 1):
        hr = rgb_image(12 * scale, 10 * scale, seed=i)
        if i == grey_index:
            hr = hr[..., 1].copy()
        stem = root / f"image_SRF_{scale}" / f"img_{i:03d}_SRF_{scale}"
        write_rgb(Path(f"{stem}_HR.png"), hr)
        write_rgb(Path(f"{stem}_LR.png"), imresize(hr, 1 / scale))
    return root
