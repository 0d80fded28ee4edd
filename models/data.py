"""Training data: HR photos, their MATLAB-bicubic LR versions, random patches."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from litesr_edge.quality.bicubic import imresize

from .patches import Pair, PatchSampler

__all__ = ["IMAGE_SUFFIXES", "Pair", "PatchSampler", "list_images", "make_pairs", "mod_crop", "read_rgb", "split"]

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


def make_pairs(paths: list[Path], scale: int, jpeg_hr: str = "none") -> list[Pair]:
    """HR (mod-cropped) and its MATLAB-bicubic LR, as the test sets are made.

    ``jpeg_hr`` treats the JPEG photos (BSDS400, with visible block artefacts): ``none``
    as is; ``downscale2``: HR halved first with the same antialiased bicubic (which
    averages the artefacts away; the images get 4x fewer pixels); ``weight:W``: their
    patches weigh W in the loss.
    """
    how, weight = jpeg_policy(jpeg_hr)
    pairs = []
    for p in paths:
        img, w = read_rgb(p), 1.0
        if p.suffix.lower() in (".jpg", ".jpeg"):
            w = weight
            if how == "downscale2":
                img = imresize(mod_crop(img, 2), 0.5)
        hr = mod_crop(img, scale)
        pairs.append(Pair(p.name, hr, imresize(hr, 1 / scale), w))
    return pairs


def jpeg_policy(spec: str) -> tuple[str, float]:
    """``none`` / ``downscale2`` / ``weight:W`` -> (kind, loss weight of JPEG patches)."""
    if spec in ("none", "downscale2"):
        return spec, 1.0
    kind, _, value = spec.partition(":")
    if kind == "weight":
        try:
            return kind, float(value)
        except ValueError:
            pass
    raise ValueError(f"--jpeg-hr must be none, downscale2 or weight:W, got {spec!r}")


def split(paths: list[Path], n_val: int) -> tuple[list[Path], list[Path]]:
    """Hold out every k-th image for validation (never used for reported numbers)."""
    step = max(1, len(paths) // n_val)
    val = paths[::step][:n_val]
    held = set(val)
    train = [p for p in paths if p not in held]
    return train, val
