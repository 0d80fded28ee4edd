"""Any output size: the network's fixed factor, then a high-quality resize to the exact size.

As Real-ESRGAN's ``--outscale`` does: the network upscales by its own factor (2, 3 or 4)
and OpenCV resizes the result to ``round(outscale * width)`` x ``round(outscale * height)``,
with INTER_AREA when shrinking (no aliasing) and Lanczos when enlarging.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from typing import cast

import cv2
import numpy as np

from litesr_edge._args import check_int, check_number
from litesr_edge._pixels import Array
from litesr_edge.errors import ImageTooLargeError, InvalidInputError

__all__ = ["Size", "network_scale", "resize_to", "target_size"]


@dataclass(frozen=True)
class Size:
    """A requested output size: ``outscale`` (a factor) or ``width``/``height`` (aspect kept); all None: as is."""

    outscale: float | None = None
    width: int | None = None
    height: int | None = None

    def __post_init__(self) -> None:
        if self.outscale is not None:
            check_number("outscale", self.outscale, hint="the output/input size ratio, e.g. 2.5")
            if self.width is not None or self.height is not None:
                raise InvalidInputError("outscale and width/height exclude each other; give one of them")
        check_int("width", self.width, minimum=1, optional=True, hint="output width in pixels")
        check_int("height", self.height, minimum=1, optional=True, hint="output height in pixels")

    @property
    def given(self) -> bool:
        """Whether any size was asked for."""
        return self != Size()

    def factor(self, height: int, width: int) -> float:
        """Output/input size ratio for a ``height`` x ``width`` input (1.0 when none was asked for)."""
        if self.outscale is not None:
            return float(self.outscale)
        ratios = [r for r in (None if self.width is None else self.width / width,
                              None if self.height is None else self.height / height) if r is not None]
        return min(ratios) if ratios else 1.0


def target_size(size: Size, height: int, width: int) -> tuple[int, int] | None:
    """(height, width) of the output for a ``height`` x ``width`` input, or None for the network's own.

    ``outscale``: ``round(outscale * h)`` x ``round(outscale * w)``. ``width`` and/or
    ``height``: the aspect ratio is kept and the image fits inside both; the limiting side
    gets exactly the value asked for.
    """
    if not size.given:
        return None
    if size.outscale is not None:
        return max(1, round(size.outscale * height)), max(1, round(size.outscale * width))
    factor = size.factor(height, width)
    out_h = size.height if size.height is not None and factor == size.height / height else round(factor * height)
    out_w = size.width if size.width is not None and factor == size.width / width else round(factor * width)
    return max(1, out_h), max(1, out_w)


def check_target(size: Size, target: tuple[int, int], max_pixels: int, what: str) -> None:
    """ImageTooLargeError naming the size option when ``target`` exceeds ``max_pixels``."""
    pixels = target[0] * target[1]
    if pixels > max_pixels:
        asked = ", ".join(f"{name}={value:g}" for name, value in
                          (("outscale", size.outscale), ("width", size.width), ("height", size.height))
                          if value is not None)
        raise ImageTooLargeError(
            f"{what}: {asked} asks for a {target[1]}x{target[0]} output = {pixels:,} pixels, over the limit of "
            f"{max_pixels:,}; ask for a smaller size or raise max_pixels (--max-pixels)"
        )


def network_scale(factor: float, available: Collection[int]) -> int:
    """The network factor for a wanted ``factor``: the smallest available one at least as large
    (the resize then shrinks, which keeps detail), else the largest."""
    if not available:
        raise InvalidInputError("no bundled model is installed; give a model file (--model)")
    larger = [s for s in available if s >= factor - 1e-9]
    return min(larger) if larger else max(available)


def resize_to(image: Array, height: int, width: int) -> Array:
    """``image`` resized to ``height`` x ``width``: INTER_AREA when shrinking, Lanczos-4 when enlarging.

    Integer samples saturate; float32 samples are clipped to [0, 1] (Lanczos overshoots).
    """
    if image.shape[:2] == (height, width):
        return image
    shrinking = height * width < image.shape[0] * image.shape[1]
    method = cv2.INTER_AREA if shrinking else cv2.INTER_LANCZOS4
    resized = cv2.resize(np.ascontiguousarray(image), (width, height), interpolation=method)
    if resized.ndim == 2 and image.ndim == 3:  # OpenCV drops a single channel axis
        resized = resized[..., None]
    if resized.dtype == np.float32:
        resized = np.clip(resized, 0.0, 1.0)
    return cast(Array, resized)


def exact_factor(value: float) -> str:
    """``value`` as a name part: ``2.5``, ``3`` (no trailing zeros)."""
    return f"{value:g}" if math.isfinite(value) else str(value)
