"""File to file: decode, upscale, resize to the size asked for, encode, carry the metadata over.

The body of :meth:`litesr_edge.Upscaler.upscale_file`. Every check (input complete,
output path usable, pixel limits of the network output and of the final size) runs
before inference, and nothing is written on failure.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from litesr_edge._args import check_bool, check_int
from litesr_edge._atomic import atomic_write
from litesr_edge._embed import embed
from litesr_edge._metadata import Metadata, read_metadata
from litesr_edge._pixels import Array
from litesr_edge.errors import InvalidInputError
from litesr_edge.io import (
    HIGH_DEPTH_SUFFIXES,
    check_output_path,
    decode_image,
    encode_image,
    image_size,
    load_bytes,
)
from litesr_edge.resize import Size, check_target, resize_to, target_size

if TYPE_CHECKING:
    from litesr_edge.upscaler import Progress, Upscaler

# EXIF orientations that swap width and height once the image is turned upright.
_TURNED = (5, 6, 7, 8)


def check_quality(quality: object) -> None:
    """``quality`` is None or an int 1-100."""
    check_int("quality", quality, minimum=1, optional=True, hint="1-100, for JPEG and WebP")
    if isinstance(quality, int) and quality > 100:
        raise InvalidInputError(f"quality={quality} must be <= 100 (1-100, for JPEG and WebP)")


def upscale_file(
    upscaler: Upscaler,
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    overwrite: bool,
    progress: Progress | None,
    size: Size,
    quality: int | None,
    strip_metadata: bool,
) -> Path:
    """Read ``src``, upscale it to ``size``, write ``dst`` atomically with the metadata; return ``dst``."""
    check_quality(quality)
    check_bool("strip_metadata", strip_metadata)
    data = load_bytes(src)
    height, width = image_size(data, src)
    path = check_output_path(dst, src, overwrite)
    stored = read_metadata(data)
    if stored.orientation in _TURNED:  # decode_image turns these upright
        height, width = width, height
    meta = Metadata() if strip_metadata else stored
    target = target_size(size, height, width)
    if target is not None:
        check_target(size, target, upscaler.max_pixels, f"input {src}")
    upscaler.check_size(height, width, f"input {src}")  # from the header, before any decode
    image = decode_image(data, src)
    result: Array = upscaler.upscale(image, progress=progress)
    if target is not None:
        result = resize_to(result, *target)
    result = _storable(result, path)
    encoded = encode_image(path, result, quality)
    if not strip_metadata:
        out_h, out_w = result.shape[:2]
        kept = meta.for_output(out_w, out_h, grey=result.ndim == 2 or result.shape[2] == 1)
        encoded = embed(encoded, path.suffix.lower(), kept, out_w, out_h)
    atomic_write(path, encoded, overwrite)
    return path


def _storable(image: Array, path: Path) -> Array:
    """16-bit samples kept where the format holds them (PNG, TIFF), else rounded to 8 bits."""
    if image.dtype == np.uint16 and path.suffix.lower() not in HIGH_DEPTH_SUFFIXES:
        return np.rint(image / np.float32(257.0)).astype(np.uint8)
    return image
