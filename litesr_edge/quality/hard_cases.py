"""Synthetic hard cases for super-resolution: content that natural-photo test sets under-sample.

Dense high-contrast edges (rendered text, manga-style line art, thin lines, checkerboards,
a zone plate, window grids, halftone dots) are where a quantized model loses most: their
recurrent feature maps reach values that smooth photos never do. Every image is drawn in
code, deterministically (fixed seeds, no fonts or files beyond OpenCV's built-in Hershey
fonts), so tests and accuracy checks can use them on any machine:

    from litesr_edge.quality.hard_cases import hard_case_pairs
    for pair in hard_case_pairs(scale=4):   # litesr_edge.quality.evaluate.Pair: HR + MATLAB-bicubic LR
        ...

Each HR image is ``size`` x ``size`` RGB uint8 (default 192, a multiple of 2, 3 and 4), and
its LR is :func:`litesr_edge.quality.bicubic.imresize` of it, the downscaler of training
and of the benchmark sets' canonical LR files.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import numpy.typing as npt

from litesr_edge.errors import InvalidInputError
from litesr_edge.quality.bicubic import imresize
from litesr_edge.quality.evaluate import Pair

__all__ = ["DEFAULT_SIZE", "HARD_CASES", "hard_case", "hard_case_pairs"]

DEFAULT_SIZE = 192
Image = npt.NDArray[np.uint8]
_FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_PLAIN, cv2.FONT_HERSHEY_DUPLEX,
          cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_SCRIPT_SIMPLEX)
_WORDS = ("Quantize", "SUPER", "resolution", "int8", "AVX2", "edge", "0123456789", "WXYZ", "kanji?", "line")


def _canvas(size: int, value: int = 255) -> Image:
    return np.full((size, size, 3), value, np.uint8)


def _text(size: int, rng: np.random.Generator, colour: bool) -> Image:
    """Lines of small rendered text in several fonts (black on white, or random colours)."""
    img = _canvas(size) if not colour else np.tile(rng.integers(0, 256, 3, dtype=np.uint8), (size, size, 1))
    y = 10
    while y < size:
        scale = float(rng.choice([0.3, 0.4, 0.5, 0.7]))
        ink = (0, 0, 0) if not colour else tuple(int(v) for v in rng.integers(0, 256, 3))
        words = " ".join(str(w) for w in rng.choice(_WORDS, 4))
        cv2.putText(img, words, (2, y), int(rng.choice(_FONTS)), scale, ink, 1, cv2.LINE_AA)
        y += int(10 + 22 * scale)
    return img


def _line_art(size: int, rng: np.random.Generator) -> Image:
    """Manga-style ink: curves, circles and hatching in black on white, anti-aliased."""
    img = _canvas(size)
    for _ in range(10):
        start = rng.integers(0, size, 2)
        pts = (start + np.cumsum(rng.integers(-size // 5, size // 5 + 1, (4, 2)), axis=0)).astype(np.int32)
        cv2.polylines(img, [np.vstack([start, pts]).astype(np.int32)], False, (0, 0, 0),
                      int(rng.integers(1, 3)), cv2.LINE_AA)
    for _ in range(6):
        centre = tuple(int(v) for v in rng.integers(0, size, 2))
        cv2.circle(img, centre, int(rng.integers(4, size // 4)), (0, 0, 0), 1, cv2.LINE_AA)
    x0, y0 = (int(v) for v in rng.integers(0, size // 2, 2))
    for k in range(0, size // 3, 3):  # a hatched patch: parallel strokes 3 px apart
        cv2.line(img, (x0 + k, y0), (x0 + k + 20, y0 + size // 3), (0, 0, 0), 1, cv2.LINE_AA)
    return img


def _checkerboard(size: int, cell: int) -> Image:
    yy, xx = np.mgrid[:size, :size]
    board = (((yy // cell) + (xx // cell)) % 2 * 255).astype(np.uint8)
    return np.repeat(board[..., None], 3, axis=2)


def _thin_lines(size: int, rng: np.random.Generator) -> Image:
    """1-px black lines at many angles on white: aliasing-prone sub-LR-pixel detail."""
    img = _canvas(size)
    for angle in np.linspace(0.0, np.pi, 24, endpoint=False) + rng.uniform(0, 0.1):
        c, s = np.cos(angle), np.sin(angle)
        half = size * 0.45
        p = (int(size / 2 - half * c), int(size / 2 - half * s))
        q = (int(size / 2 + half * c), int(size / 2 + half * s))
        cv2.line(img, p, q, (0, 0, 0), 1, cv2.LINE_8)
    for y in range(4, size // 4, 3):  # a block of dense horizontal lines
        cv2.line(img, (0, y), (size - 1, y), (0, 0, 0), 1, cv2.LINE_8)
    return img


def _zone_plate(size: int) -> Image:
    """cos(k r^2): every spatial frequency up to Nyquist, every orientation."""
    yy, xx = np.mgrid[:size, :size].astype(np.float64) - size / 2
    plate = 0.5 + 0.5 * np.cos(np.pi * (xx * xx + yy * yy) / size)
    return np.repeat(np.rint(255 * plate).astype(np.uint8)[..., None], 3, axis=2)


def _windows(size: int, rng: np.random.Generator) -> Image:
    """An urban facade: a grid of small dark windows with bright frames, slightly rotated."""
    img = _canvas(size, 200)
    for y in range(0, size, 8):
        for x in range(0, size, 6):
            shade = int(rng.integers(0, 60))
            cv2.rectangle(img, (x + 1, y + 1), (x + 4, y + 6), (shade, shade, shade + 20), -1)
    rot = cv2.getRotationMatrix2D((size / 2, size / 2), 7.0, 1.1)
    warped = cv2.warpAffine(img, rot, (size, size), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    return np.asarray(warped, dtype=np.uint8)


def _halftone(size: int) -> Image:
    """Screentone: black dots on a 4-px grid with a radial size ramp (manga shading)."""
    img = _canvas(size)
    for y in range(2, size, 4):
        for x in range(2, size, 4):
            r = 0.6 + 1.4 * np.hypot(x - size / 2, y - size / 2) / size
            cv2.circle(img, (x, y), int(round(r)), (0, 0, 0), -1, cv2.LINE_AA)
    return img


def _colour_edges(size: int, rng: np.random.Generator) -> Image:
    """Saturated random-colour rectangles with hard edges (UI, signs, flags)."""
    img = _canvas(size, 0)
    for _ in range(40):
        x, y = (int(v) for v in rng.integers(0, size, 2))
        w, h = (int(v) for v in rng.integers(2, size // 4, 2))
        colour = tuple(int(v) for v in rng.choice([0, 255], 3))
        cv2.rectangle(img, (x, y), (x + w, y + h), colour, -1)
    return img


HARD_CASES: dict[str, Callable[[int, np.random.Generator], Image]] = {
    "text_black_on_white": lambda n, r: _text(n, r, colour=False),
    "text_colour": lambda n, r: _text(n, r, colour=True),
    "line_art": _line_art,
    "checker_1px": lambda n, r: _checkerboard(n, 1),
    "checker_3px": lambda n, r: _checkerboard(n, 3),
    "checker_5px": lambda n, r: _checkerboard(n, 5),
    "thin_lines": _thin_lines,
    "zone_plate": lambda n, r: _zone_plate(n),
    "windows": _windows,
    "halftone": lambda n, r: _halftone(n),
    "colour_edges": _colour_edges,
}
"""Name -> generator(size, rng) of each hard case, in a fixed order."""


def hard_case(name: str, size: int = DEFAULT_SIZE, variant: int = 0) -> Image:
    """The HR image (``size`` x ``size`` x 3 uint8 RGB) of the hard case ``name``; deterministic.

    ``variant`` > 0 draws other random strokes, words and colours of the same kind (the
    calibration of ``models/qat.py`` uses them, so the test images, variant 0, stay unseen).
    """
    if name not in HARD_CASES:
        raise InvalidInputError(f"unknown hard case {name!r}; choose one of {', '.join(HARD_CASES)}")
    if size < 24:
        raise InvalidInputError(f"hard case size {size} is too small; use size >= 24")
    seed = sum(ord(c) for c in name) + 7919 * variant  # not Python's hash(): that is salted per process
    return np.ascontiguousarray(HARD_CASES[name](size, np.random.default_rng(seed)))


def hard_case_pairs(scale: int, size: int = DEFAULT_SIZE, names: tuple[str, ...] | None = None) -> list[Pair]:
    """HR + MATLAB-bicubic LR of each hard case (``names``: a subset, default all), mod-cropped to ``scale``."""
    if scale not in (2, 3, 4):
        raise InvalidInputError(f"scale must be 2, 3 or 4, got {scale}")
    pairs = []
    for name in names if names is not None else tuple(HARD_CASES):
        hr = hard_case(name, size)
        crop = size - size % scale
        hr = np.ascontiguousarray(hr[:crop, :crop])
        pairs.append(Pair(name, hr, imresize(hr, 1.0 / scale)))
    return pairs
