"""Pixels between the caller's arrays and the engine's batches: checks, layouts, dtypes, alpha."""

from __future__ import annotations

from typing import cast

import cv2
import numpy as np
from numpy.typing import NDArray

from litesr_edge.errors import InvalidInputError

# ITU-R BT.601 luma, as cv2.COLOR_RGB2GRAY: how a grey image's RGB result is folded back.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)
_MAX_VALUE = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}

Array = NDArray[np.uint8] | NDArray[np.uint16] | NDArray[np.float32]


def check_image(image: object) -> None:
    if not isinstance(image, np.ndarray):
        raise InvalidInputError(f"expected a numpy array, got {type(image).__name__}; use read_image() for files")
    if image.dtype not in (np.uint8, np.uint16, np.float32):
        raise InvalidInputError(
            f"image dtype {image.dtype} is not supported; convert to uint8, uint16 or float32 in [0, 1]"
        )
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (1, 3, 4))):
        raise InvalidInputError(
            f"image shape {image.shape} is not supported; expected HxW, HxWx1, HxWx3 (RGB) or HxWx4 (RGBA)"
        )
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise InvalidInputError(f"image shape {image.shape} is empty; it needs at least 1x1 pixels")
    if image.dtype == np.float32 and not (np.isfinite(image).all() and image.min() >= 0.0 and image.max() <= 1.0):
        raise InvalidInputError(
            "float32 image values must be finite and within [0, 1]; scale and np.clip the array first"
        )


def to_batch(crop: Array) -> NDArray[np.float32]:
    """HxW / HxWx1 / HxWx3 crop -> (1, 3, H, W) float32 in [0, 1]."""
    x = crop.astype(np.float32)
    scale = _MAX_VALUE.get(crop.dtype)
    if scale is not None:
        x /= np.float32(scale)
    if x.ndim == 3 and x.shape[2] == 3:
        return np.ascontiguousarray(x.transpose(2, 0, 1)[None])
    grey = x.reshape(x.shape[0], x.shape[1])
    return np.ascontiguousarray(np.broadcast_to(grey, (1, 3, *grey.shape)))


def store_output(result: NDArray[np.float32], dest: Array) -> None:
    """Clamp a (3, h, w) network output and write it into ``dest`` in dest's layout and dtype.

    Clamps ``result`` in place (callers pass the engine's own, discarded output). An RGB
    uint8 result is ``rint(value * 255)`` with OpenCV (saturating, round half to even, as
    np.rint), which is several times faster than numpy on a strided view, and one call
    when ``result`` is a view of interleaved RGB rows (the OpenVINO engine's NHWC output).
    """
    rgb = np.clip(result, 0.0, 1.0, out=result)
    if dest.ndim == 3 and dest.shape[2] == 3:
        if dest.dtype == np.uint8:
            dest[...] = _rgb_to_u8(rgb)
            return
        value = rgb.transpose(1, 2, 0)
    else:
        r, g, b = LUMA_WEIGHTS
        grey = np.clip(np.float32(r) * rgb[0] + np.float32(g) * rgb[1] + np.float32(b) * rgb[2], 0.0, 1.0)
        value = grey.reshape(dest.shape)
    scale = _MAX_VALUE.get(dest.dtype)
    dest[...] = value if scale is None else np.rint(value * np.float32(scale))


def _rgb_to_u8(rgb: NDArray[np.float32]) -> NDArray[np.uint8]:
    """(3, h, w) values in [0, 1] -> (h, w, 3) uint8."""
    hwc = rgb.transpose(1, 2, 0)
    if hwc.strides[1:] == (3 * hwc.itemsize, hwc.itemsize):
        return cast(NDArray[np.uint8], cv2.convertScaleAbs(hwc, alpha=255.0))
    return cast(NDArray[np.uint8], cv2.merge([cv2.convertScaleAbs(plane, alpha=255.0) for plane in rgb]))


def upscale_alpha(alpha: Array, scale: int) -> Array:
    """Alpha channel by OpenCV bicubic interpolation (it carries no detail worth a network)."""
    height, width = alpha.shape
    resized = cv2.resize(
        np.ascontiguousarray(alpha), (width * scale, height * scale), interpolation=cv2.INTER_CUBIC
    )
    if resized.dtype == np.float32:
        resized = np.clip(resized, 0.0, 1.0)
    return cast(Array, resized)
