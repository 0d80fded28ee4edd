"""Image files in and out: checked decoding and atomic encoding.

Arrays are RGB(A) in memory (OpenCV's BGR order never leaks out), uint8 or
uint16 as stored. PNG and JPEG files are walked chunk by chunk / marker by
marker before decoding, because OpenCV silently returns the decoded part of a
truncated JPEG and prints libpng noise for a truncated PNG.
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from pathlib import Path
from typing import Any, cast

import cv2
import numpy as np
from numpy.typing import NDArray

from litesr_edge._atomic import atomic_write
from litesr_edge._headers import INPUT_FORMATS, Probe, png_frames, probe, require_still
from litesr_edge._metadata import read_metadata
from litesr_edge.errors import ImageReadError, ImageTooLargeError, ImageWriteError, InvalidInputError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "HIGH_DEPTH_SUFFIXES",
    "IMAGE_SUFFIXES",
    "check_output_path",
    "decode_image",
    "encode_image",
    "image_size",
    "load_bytes",
    "read_image",
    "write_image",
]

# Same threshold as Pillow's decompression-bomb error (2 x MAX_IMAGE_PIXELS).
DEFAULT_MAX_PIXELS = 178_956_970
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
HIGH_DEPTH_SUFFIXES = (".png", ".tif", ".tiff")

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SOI = b"\xff\xd8"
# Start-of-frame markers (they carry the image size); C4, C8 and CC are not frames.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Inside entropy-coded data 0xFF is followed by 0x00 (stuffing), RSTn or more
# 0xFF fill bytes; anything else starts the next marker.
_JPEG_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")

Image = NDArray[np.uint8] | NDArray[np.uint16]


def load_bytes(path: str | os.PathLike[str]) -> bytes:
    """The file's bytes; ImageReadError if it is missing, a folder or empty."""
    p = Path(path)
    if not p.exists():
        raise ImageReadError(f"input {p} does not exist; check the path")
    if p.is_dir():
        raise ImageReadError(f"input {p} is a folder, not an image file")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ImageReadError(f"cannot read {p}: {exc.strerror}; check its permissions") from exc
    if not data:
        raise ImageReadError(f"input {p} is empty (0 bytes); re-copy or re-export the image")
    return data


def image_size(data: bytes, source: str | os.PathLike[str]) -> tuple[int, int]:
    """(height, width) as stored, read from the header without decoding.

    Reads PNG, JPEG, BMP, TIFF, WebP and GIF headers, so that a pixel limit
    can be checked before OpenCV allocates anything. Raises ImageReadError for
    a truncated PNG or JPEG (walked to their end, so no partial image is
    decoded), a truncated header of the other formats, content in
    none of these formats, and for an animation or multi-page file (APNG,
    animated GIF or WebP, multi-page TIFF), of which only one frame would be
    upscaled.
    """
    if data.startswith(_PNG_SIGNATURE):
        height, width = _png_size(data, source)
        found = Probe("PNG", height, width, png_frames(data))
    elif data.startswith(_JPEG_SOI):
        height, width = _jpeg_size(data, source)
        found = Probe("JPEG", height, width)
    else:
        found = probe(data, source)
    require_still(found, source)
    return found.height, found.width


def _truncated(source: str | os.PathLike[str], kind: str) -> ImageReadError:
    return ImageReadError(f"input {source} is a truncated {kind} file (it ends early); re-copy or re-export it")


def _png_size(data: bytes, source: str | os.PathLike[str]) -> tuple[int, int]:
    pos, size = len(_PNG_SIGNATURE), (0, 0)
    while True:
        if pos + 8 > len(data):
            raise _truncated(source, "PNG")
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        end = pos + 12 + length  # length, type, data, CRC
        if end > len(data):
            raise _truncated(source, "PNG")
        # A bad CRC makes libpng print to stderr from C before failing: refuse it here instead.
        if zlib.crc32(data[pos + 4 : end - 4]) != struct.unpack(">I", data[end - 4 : end])[0]:
            name = kind.decode("latin-1", "replace")
            raise ImageReadError(f"input {source} is a corrupt PNG: bad CRC in chunk {name}; re-copy or re-export it")
        if kind == b"IHDR" and length >= 8:
            width, height = struct.unpack(">II", data[pos + 8 : pos + 16])
            size = (height, width)
        if kind == b"IEND":
            return size
        pos = end


def _jpeg_size(data: bytes, source: str | os.PathLike[str]) -> tuple[int, int]:
    pos, size, n = 2, (0, 0), len(data)
    while True:
        if pos >= n:
            raise _truncated(source, "JPEG")
        if data[pos] != 0xFF:  # not a marker where one must be: corrupt, the decoder will say so
            return size
        while pos < n and data[pos] == 0xFF:  # marker prefix and fill bytes
            pos += 1
        if pos >= n:
            raise _truncated(source, "JPEG")
        marker = data[pos]
        pos += 1
        if marker == 0xD9:  # EOI: the image is complete; trailing data is allowed
            return size
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            continue
        if pos + 2 > n or pos + struct.unpack(">H", data[pos : pos + 2])[0] > n:
            raise _truncated(source, "JPEG")
        length = struct.unpack(">H", data[pos : pos + 2])[0]
        if marker in _JPEG_SOF and length >= 7:
            height, width = struct.unpack(">HH", data[pos + 3 : pos + 7])
            size = (height, width)
        pos += length
        if marker == 0xDA:  # start of scan: skip the entropy-coded data
            found = _JPEG_NEXT_MARKER.search(data, pos)
            if found is None:
                raise _truncated(source, "JPEG")
            pos = found.start()


def decode_image(data: bytes, source: str | os.PathLike[str]) -> Image:
    """Decode to HxW, HxWx3 RGB or HxWx4 RGBA, uint8 or uint16 as stored.

    Images are rotated/flipped upright by their EXIF orientation: JPEG and TIFF by
    OpenCV (JPEG has no alpha, so the colour-preserving flags lose nothing), PNG and
    WebP (decoded unchanged, alpha included) here, from their eXIf / EXIF chunk.
    """
    is_jpeg = data.startswith(_JPEG_SOI)
    flags = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR if is_jpeg else cv2.IMREAD_UNCHANGED
    try:
        array = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    except cv2.error as exc:
        if "CV_IO_MAX_IMAGE_PIXELS" in exc.msg:
            raise ImageTooLargeError(
                f"input {source} is larger than OpenCV decodes (CV_IO_MAX_IMAGE_PIXELS); shrink it first"
            ) from exc
        raise ImageReadError(f"input {source} cannot be decoded: {exc.msg.strip()}; re-copy or re-export it") from exc
    if array is None:
        raise ImageReadError(
            f"input {source} is not a readable image (corrupt, or not an image at all); "
            f"supported formats: {', '.join(INPUT_FORMATS)}"
        )
    if array.dtype not in (np.uint8, np.uint16):
        raise ImageReadError(
            f"input {source} has {array.dtype} samples; litesr-edge reads 8- and 16-bit images, convert it first"
        )
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 3:
        code = cv2.COLOR_BGRA2RGBA if array.shape[2] == 4 else cv2.COLOR_BGR2RGB
        array = cv2.cvtColor(array, code)
    if data.startswith(_PNG_SIGNATURE) or data[8:12] == b"WEBP":  # OpenCV applies the others' orientation
        array = upright(array, read_metadata(data).orientation)
    return cast(Image, array)


def upright(image: NDArray[Any], orientation: int) -> NDArray[Any]:
    """``image`` turned/flipped as EXIF ``orientation`` (1-8) says a viewer shows it."""
    turns = {1: 0, 2: 0, 3: 2, 4: 2, 5: 3, 6: 3, 7: 1, 8: 1}.get(orientation, 0)  # 90-degree turns, counter-clockwise
    turned = np.rot90(image, turns) if turns else image
    if orientation in (2, 4, 5, 7):  # the mirrored ones: a left-right flip after the turn
        turned = turned[:, ::-1]
    return np.ascontiguousarray(turned)


def read_image(path: str | os.PathLike[str], max_pixels: int | None = None) -> Image:
    """Read an image file as a numpy array: HxW grey, HxWx3 RGB or HxWx4 RGBA.

    Samples stay uint8 or uint16 as stored; the EXIF orientation is applied.
    ``max_pixels`` bounds the stored pixel count before decoding: None means
    DEFAULT_MAX_PIXELS (Pillow's decompression-bomb error threshold), 0 means
    no limit of ours (OpenCV's own CV_IO_MAX_IMAGE_PIXELS still applies).
    Raises ImageReadError for a missing, empty, truncated or non-image file,
    InvalidInputError for a negative ``max_pixels`` and ImageTooLargeError
    past the limit.
    """
    if max_pixels is None:
        max_pixels = DEFAULT_MAX_PIXELS
    if max_pixels < 0:
        raise InvalidInputError(f"max_pixels={max_pixels} must be >= 0 (0: no limit, None: {DEFAULT_MAX_PIXELS:,})")
    data = load_bytes(path)
    size = image_size(data, path)
    if max_pixels and size[0] * size[1] > max_pixels:
        raise ImageTooLargeError(
            f"input {path} has {size[1]}x{size[0]} = {size[0] * size[1]:,} pixels, more than the limit "
            f"{max_pixels:,}; raise max_pixels if you trust this file"
        )
    return decode_image(data, path)


def check_output_path(
    path: str | os.PathLike[str],
    source: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    dtype: np.dtype[np.generic] | None = None,
) -> Path:
    """Raise ImageWriteError unless ``path`` can take a new image; return it as a Path.

    Checked before any work is done so that a doomed run fails fast.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise ImageWriteError(f"output {p} has an unsupported extension; use one of {', '.join(IMAGE_SUFFIXES)}")
    if dtype == np.uint16 and suffix not in HIGH_DEPTH_SUFFIXES:
        raise ImageWriteError(
            f"output {p}: {suffix} stores 8-bit samples only and the image is 16-bit; "
            f"write {', '.join(HIGH_DEPTH_SUFFIXES)} instead"
        )
    if source is not None and _same_file(p, Path(source)):
        raise ImageWriteError(f"output {p} is the input file; choose another output path")
    if p.is_dir():
        raise ImageWriteError(f"output {p} is a folder; give a file name")
    if p.exists() and not overwrite:
        raise ImageWriteError(f"output {p} already exists; pass overwrite=True (--overwrite) to replace it")
    parent = p.parent
    if not parent.is_dir():
        raise ImageWriteError(f"output folder {parent} does not exist (or is not a folder); create it first")
    if not os.access(parent, os.W_OK):
        raise ImageWriteError(f"output folder {parent} is not writable; choose another output path")
    return p


def _same_file(a: Path, b: Path) -> bool:
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


def write_image(
    path: str | os.PathLike[str],
    image: NDArray[np.generic],
    overwrite: bool = False,
    source: str | os.PathLike[str] | None = None,
) -> Path:
    """Write an RGB(A)/grey uint8 or uint16 array atomically; return the path.

    The encoded bytes go to an unnamed (or hidden, recognisable) temporary file in
    the destination folder that is linked into place when complete, so an
    interrupted or killed run leaves either no file or a complete one, and no
    temporary file survives the next write into that folder. Refuses to replace ``source`` (the
    input) and, unless ``overwrite``, an existing file.
    """
    if image.dtype not in (np.uint8, np.uint16):
        raise InvalidInputError(f"cannot write {image.dtype} samples; convert to uint8 or uint16 first")
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (1, 3, 4))):
        raise InvalidInputError(f"cannot write an array of shape {image.shape}; expected HxW, HxWx3 or HxWx4")
    p = check_output_path(path, source, overwrite, image.dtype)
    encoded = encode_image(p, image)
    atomic_write(p, encoded, overwrite)
    return p


def encode_image(path: Path, image: NDArray[Any], quality: int | None = None) -> bytes:
    """``image`` encoded in the format of ``path``'s suffix; ``quality`` (1-100) for JPEG and WebP.

    None keeps OpenCV's defaults (JPEG 95, WebP lossless); lossless formats ignore it.
    """
    if image.ndim == 3 and image.shape[2] in (3, 4):
        code = cv2.COLOR_RGBA2BGRA if image.shape[2] == 4 else cv2.COLOR_RGB2BGR
        image = cv2.cvtColor(image, code)
    suffix = path.suffix.lower()
    params: list[int] = []
    if quality is not None and suffix in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, quality]
    elif quality is not None and suffix == ".webp":
        params = [cv2.IMWRITE_WEBP_QUALITY, quality]
    try:
        ok, buffer = cv2.imencode(suffix, image, params)
    except cv2.error as exc:
        raise ImageWriteError(f"cannot encode {path}: {exc.msg}") from exc
    if not ok:
        raise ImageWriteError(f"cannot encode the image as {path.suffix}; try .png")
    return bytes(buffer)
