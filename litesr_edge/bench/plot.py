"""Small charts drawn with OpenCV (a runtime dependency), so plotting needs no matplotlib.

Three chart kinds cover the benchmark charts: horizontal bars (latency per row),
lines on log-log axes (scaling with input size) and labelled bubbles (PSNR vs
Multi-Adds, bubble area proportional to parameters).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from litesr_edge.errors import ImageWriteError, InvalidInputError

__all__ = ["Bubble", "bar_chart", "bubble_chart", "line_chart"]

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_PALETTE = [(180, 119, 31), (14, 127, 255), (44, 160, 44), (40, 39, 214), (189, 103, 148), (75, 86, 140),
            (194, 119, 227), (127, 127, 127), (34, 189, 188), (207, 190, 23)]  # BGR, tab10
_W, _H, _LEFT, _RIGHT, _TOP, _BOTTOM = 1100, 680, 110, 40, 60, 80


@dataclass(frozen=True)
class Bubble:
    """One labelled point: x, y, and a size value (bubble area is proportional to it)."""

    label: str
    x: float
    y: float
    size: float
    group: str = ""


def _canvas(height: int = _H) -> NDArray[np.uint8]:
    return np.full((height, _W, 3), 255, np.uint8)


def _text(img: NDArray[np.uint8], text: str, xy: tuple[int, int], scale: float = 0.5,
          color: tuple[int, int, int] = (30, 30, 30)) -> None:
    cv2.putText(img, text, xy, _FONT, scale, color, 1, cv2.LINE_AA)


def _save(img: NDArray[np.uint8], path: Path) -> Path:
    path = Path(path)
    if path.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise InvalidInputError(f"plot file {path} must end in .png or .jpg")
    if not cv2.imwrite(str(path), img):
        raise ImageWriteError(f"cannot write plot {path}; check that the folder exists and is writable")
    return path


class _Axis:
    """Maps data values to pixels, linear or log10."""

    def __init__(self, lo: float, hi: float, pix_lo: int, pix_hi: int, log: bool) -> None:
        if log and lo <= 0:
            raise InvalidInputError("log axes need positive values")
        self.log = log
        f = math.log10 if log else float
        self.lo, self.hi = f(lo), f(hi)
        if self.hi == self.lo:
            self.lo, self.hi = self.lo - 0.5, self.hi + 0.5
        self.pix_lo, self.pix_hi = pix_lo, pix_hi

    def __call__(self, v: float) -> int:
        t = ((math.log10(v) if self.log else v) - self.lo) / (self.hi - self.lo)
        return int(round(self.pix_lo + t * (self.pix_hi - self.pix_lo)))

    def ticks(self) -> list[float]:
        if self.log:
            mantissas = (1.0, 2.0, 5.0) if self.hi - self.lo < 2.5 else (1.0,)
            found = [m * 10.0**e for e in range(math.floor(self.lo) - 1, math.ceil(self.hi) + 1) for m in mantissas
                     if self.lo - 1e-9 <= math.log10(m * 10.0**e) <= self.hi + 1e-9]
            return found or [10.0**self.lo]
        raw = (self.hi - self.lo) / 6
        power = 10.0 ** math.floor(math.log10(raw))
        step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
        start = math.ceil(self.lo / step) * step
        return [round(start + i * step, 10) for i in range(int((self.hi - start) / step + 1e-9) + 1)]


def _frame(img: NDArray[np.uint8], xa: _Axis, ya: _Axis, title: str, xlabel: str, ylabel: str) -> None:
    cv2.rectangle(img, (_LEFT, _TOP), (_W - _RIGHT, img.shape[0] - _BOTTOM), (0, 0, 0), 1)
    for v in xa.ticks():
        x = xa(v)
        cv2.line(img, (x, img.shape[0] - _BOTTOM), (x, img.shape[0] - _BOTTOM + 5), (0, 0, 0), 1)
        _text(img, f"{v:g}", (x - 18, img.shape[0] - _BOTTOM + 22), 0.45)
    for v in ya.ticks():
        y = ya(v)
        cv2.line(img, (_LEFT - 5, y), (_W - _RIGHT, y), (225, 225, 225), 1)
        _text(img, f"{v:g}", (8, y + 5), 0.45)
    _text(img, title, (_LEFT, 35), 0.7)
    _text(img, xlabel, (_W // 2 - 8 * len(xlabel) // 2, img.shape[0] - 25), 0.55)
    _text(img, ylabel, (8, _TOP - 12), 0.5)


def _span(values: Sequence[float], log: bool, pad: float = 0.08) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    if log:
        return lo / (1 + 3 * pad), hi * (1 + 3 * pad)
    margin = (hi - lo) * pad or abs(hi) * pad or 1.0
    return lo - margin, hi + margin


def line_chart(series: Mapping[str, Sequence[tuple[float, float]]], path: Path, title: str, xlabel: str,
               ylabel: str, logx: bool = True, logy: bool = True) -> Path:
    """One polyline with markers per series; log axes by default."""
    points = [p for pts in series.values() for p in pts]
    if not points:
        raise InvalidInputError("nothing to plot")
    img = _canvas()
    xa = _Axis(*_span([p[0] for p in points], logx), _LEFT, _W - _RIGHT, logx)
    ya = _Axis(*_span([p[1] for p in points], logy), _H - _BOTTOM, _TOP, logy)
    _frame(img, xa, ya, title, xlabel, ylabel)
    for i, (name, pts) in enumerate(series.items()):
        color = _PALETTE[i % len(_PALETTE)]
        pix = [(xa(x), ya(y)) for x, y in sorted(pts)]
        for a, b in zip(pix, pix[1:], strict=False):
            cv2.line(img, a, b, color, 2, cv2.LINE_AA)
        for p in pix:
            cv2.circle(img, p, 4, color, -1, cv2.LINE_AA)
        _text(img, name, (_LEFT + 12, _TOP + 22 + 20 * i), 0.5, color)
    return _save(img, path)


def bar_chart(labels: Sequence[str], values: Sequence[float], path: Path, title: str, xlabel: str) -> Path:
    """Horizontal bars, one per label, with the value printed at the end."""
    if not values or len(labels) != len(values):
        raise InvalidInputError("bar_chart needs as many labels as values (at least one)")
    bar, gap = 24, 10
    height = _TOP + _BOTTOM + len(values) * (bar + gap)
    img = _canvas(height)
    left = 430
    top = max(values) * 1.15 or 1.0
    _text(img, title, (20, 35), 0.7)
    for i, (label, v) in enumerate(zip(labels, values, strict=True)):
        y = _TOP + i * (bar + gap)
        x1 = left + int((_W - _RIGHT - left - 60) * v / top)
        cv2.rectangle(img, (left, y), (max(left + 1, x1), y + bar), _PALETTE[i % len(_PALETTE)], -1)
        _text(img, label[:58], (10, y + 17), 0.42)
        _text(img, f"{v:.3g}", (x1 + 6, y + 17), 0.45)
    _text(img, xlabel, (left, height - 30), 0.55)
    return _save(img, path)


def bubble_chart(bubbles: Sequence[Bubble], path: Path, title: str, xlabel: str, ylabel: str,
                 logx: bool = True) -> Path:
    """Labelled bubbles; area proportional to ``size`` (largest bubble 40 px radius); colour by group."""
    if not bubbles:
        raise InvalidInputError("nothing to plot")
    img = _canvas()
    xs = [b.x for b in bubbles]
    xa = _Axis(*_span(xs, logx, 0.15), _LEFT, _W - _RIGHT, logx)
    ya = _Axis(*_span([b.y for b in bubbles], False, 0.12), _H - _BOTTOM, _TOP, False)
    _frame(img, xa, ya, title, xlabel, ylabel)
    biggest = max(b.size for b in bubbles) or 1.0
    groups = list(dict.fromkeys(b.group for b in bubbles))
    for b in sorted(bubbles, key=lambda b: -b.size):
        color = _PALETTE[groups.index(b.group) % len(_PALETTE)]
        radius = max(3, int(round(40 * math.sqrt(max(b.size, 0.0) / biggest))))
        center = (xa(b.x), ya(b.y))
        overlay = img.copy()
        cv2.circle(overlay, center, radius, color, -1, cv2.LINE_AA)
        cv2.addWeighted(overlay, 0.45, img, 0.55, 0, img)
        cv2.circle(img, center, radius, color, 1, cv2.LINE_AA)
        _text(img, b.label, (center[0] + radius // 2 + 4, center[1] - 4), 0.42)
    for i, g in enumerate(groups):  # legend bottom-right, where small/cheap/bad models rarely sit
        y = _H - _BOTTOM - 12 - 20 * (len(groups) - 1 - i)
        _text(img, g or "-", (_W - _RIGHT - 260, y), 0.5, _PALETTE[i % len(_PALETTE)])
    return _save(img, path)
