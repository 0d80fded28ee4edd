"""MATLAB-compatible bicubic resize (``imresize(img, scale, 'bicubic')``).

The super-resolution literature makes its low-resolution inputs with MATLAB's
``imresize``: Keys cubic kernel (a = -0.5), widened by ``1/scale`` when
shrinking (antialiasing), height resized before width in float64, and for
uint8 images a rounding to uint8 after each axis (MATLAB keeps the class
between the two passes). At the borders the canonical LR files of the
benchmark sets (Set5, Set14, ...) are reproduced bit-exactly with edge-replicate
padding, while MATLAB's symmetric padding misses some of their border
pixels, so replicate is what this module does. Training, evaluation and the
``--bicubic`` baseline all use this one function.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt

from litesr_edge.errors import InvalidInputError

__all__ = ["imresize", "imresize_float"]


def _cubic(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    ax = np.abs(x)
    ax2 = ax * ax
    ax3 = ax2 * ax
    near = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
    far = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))
    return near + far


@lru_cache(maxsize=64)
def _weight_matrix(in_len: int, out_len: int, scale: float) -> npt.NDArray[np.float64]:
    """Dense (out_len, in_len) matrix of MATLAB's contributions along one axis."""
    width = 4.0
    antialias = scale < 1
    if antialias:
        width /= scale
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    taps = int(np.ceil(width)) + 2
    idx = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]  # 1-based
    dist = u[:, None] - idx
    w = scale * _cubic(scale * dist) if antialias else _cubic(dist)
    w /= w.sum(axis=1, keepdims=True)
    src = np.clip(idx.astype(np.int64) - 1, 0, in_len - 1)
    mat = np.zeros((out_len, in_len), dtype=np.float64)
    np.add.at(mat, (np.repeat(np.arange(out_len), taps), src.ravel()), w.ravel())
    return mat


def _out_len(in_len: int, scale: float) -> int:
    return int(np.ceil(in_len * scale))


def _check(image: npt.NDArray[np.generic], scale: float) -> None:
    if scale <= 0:
        raise InvalidInputError(f"scale must be positive, got {scale}; use e.g. 0.25 or 4")
    if image.ndim not in (2, 3) or image.shape[0] < 1 or image.shape[1] < 1:
        raise InvalidInputError(f"image must be HxW or HxWxC with H, W >= 1, got shape {image.shape}")


def _resize_rows(img: npt.NDArray[np.float64], scale: float) -> npt.NDArray[np.float64]:
    h = img.shape[0]
    return np.tensordot(_weight_matrix(h, _out_len(h, scale), float(scale)), img, axes=(1, 0))


def _resize_cols(img: npt.NDArray[np.float64], scale: float) -> npt.NDArray[np.float64]:
    w = img.shape[1]
    mat = _weight_matrix(w, _out_len(w, scale), float(scale))
    return np.moveaxis(np.tensordot(mat, img, axes=(1, 1)), 0, 1)


def _round_u8(img: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    # MATLAB rounds half away from zero; values here are >= 0.
    return np.clip(np.floor(img + 0.5), 0, 255)


def imresize_float(image: npt.NDArray[np.floating], scale: float) -> npt.NDArray[np.float64]:
    """Resize an HxW or HxWxC float image by ``scale`` with no rounding.

    Returns float64 in the input's value range.
    """
    _check(image, scale)
    return _resize_cols(_resize_rows(np.asarray(image, dtype=np.float64), scale), scale)


def imresize(image: npt.NDArray[np.uint8], scale: float) -> npt.NDArray[np.uint8]:
    """MATLAB ``imresize(image, scale, 'bicubic')`` for uint8 images.

    ``scale`` < 1 shrinks (with antialiasing), > 1 enlarges. The output size is
    ``ceil(H * scale) x ceil(W * scale)``, as MATLAB computes it.
    """
    if image.dtype != np.uint8:
        raise InvalidInputError(
            f"imresize expects uint8, got {image.dtype}; use imresize_float for float images"
        )
    _check(image, scale)
    rows = _round_u8(_resize_rows(image.astype(np.float64), scale))
    return _round_u8(_resize_cols(rows, scale)).astype(np.uint8)
