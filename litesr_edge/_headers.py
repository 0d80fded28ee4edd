"""Image sizes and frame counts read from file headers, without decoding.

OpenCV picks its decoder by content and allocates the full image before it
looks at a pixel, so a tiny file that declares a huge size (a "decompression
bomb") would be decoded before any pixel limit could be checked. These
walkers read only headers and block lengths: BMP, TIFF, WebP, GIF and the
APNG animation chunk. PNG and JPEG sizes are walked in ``litesr_edge.io``.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

from litesr_edge.errors import ImageReadError

INPUT_FORMATS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif")
# A TIFF's page list is a linked list in the file: bound the walk so that a crafted chain cannot spin.
_MAX_TIFF_PAGES = 10_000
_BMP_INFO_SIZES = frozenset({40, 52, 56, 64, 108, 124})
_TIFF_MAGIC = {b"II*\x00": ("<", False), b"MM\x00*": (">", False), b"II+\x00": ("<", True), b"MM\x00+": (">", True)}
_TIFF_SUBFILE, _TIFF_WIDTH, _TIFF_LENGTH = 254, 256, 257
_GIF_IMAGE, _GIF_EXTENSION, _GIF_TRAILER = 0x2C, 0x21, 0x3B

Source = str | os.PathLike[str]


@dataclass(frozen=True)
class Probe:
    """What a header declares: format name, stored size and number of frames (pages)."""

    format: str
    height: int
    width: int
    frames: int = 1


def unreadable(source: Source, why: str) -> ImageReadError:
    """The error for content litesr-edge does not read, listing the formats it does."""
    return ImageReadError(
        f"input {source} is not a readable image ({why}); supported formats: {', '.join(INPUT_FORMATS)}"
    )


def _truncated(source: Source, kind: str) -> ImageReadError:
    return ImageReadError(f"input {source} is a truncated {kind} file (it ends early); re-copy or re-export it")


def probe(data: bytes, source: Source) -> Probe:
    """Size and frame count of a BMP, TIFF, WebP or GIF from its header.

    Raises ImageReadError for a truncated header and for content that is none
    of these formats (PNG and JPEG are walked by the caller).
    """
    if data.startswith(b"BM"):
        return _bmp(data, source)
    if data[:4] in _TIFF_MAGIC:
        return _tiff(data, source)
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return _webp(data, source)
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return _gif(data, source)
    raise unreadable(source, "its content is not PNG, JPEG, BMP, TIFF, WebP or GIF")


def require_still(found: Probe, source: Source) -> None:
    """Raise ImageReadError for an animation or a multi-page file: only one frame would be upscaled."""
    if found.frames <= 1:
        return
    if found.format == "TIFF":
        raise ImageReadError(
            f"input {source} has {found.frames} pages; litesr-edge upscales still images: "
            f"extract one page first (e.g. tiffsplit {source} page-)"
        )
    raise ImageReadError(
        f"input {source} has {found.frames} frames; litesr-edge upscales still images: "
        f"extract one frame first (e.g. ffmpeg -i {source} frame%03d.png)"
    )


def png_frames(data: bytes) -> int:
    """Frames an APNG declares in its acTL chunk (1 for a plain PNG).

    The chunks must already have been walked (lengths and CRCs checked).
    """
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind == b"acTL" and length >= 8:
            return int(struct.unpack(">I", data[pos + 8 : pos + 12])[0])
        if kind in (b"IDAT", b"IEND"):  # acTL must come before the image data
            return 1
        pos += 12 + length
    return 1


def _bmp(data: bytes, source: Source) -> Probe:
    if len(data) < 18:
        raise _truncated(source, "BMP")
    header = struct.unpack("<I", data[14:18])[0]
    if header == 12:  # BITMAPCOREHEADER: unsigned 16-bit width and height
        if len(data) < 22:
            raise _truncated(source, "BMP")
        width, height = struct.unpack("<HH", data[18:22])
    elif header in _BMP_INFO_SIZES:  # BITMAPINFOHEADER and later: signed, negative height = top-down
        if len(data) < 26:
            raise _truncated(source, "BMP")
        width, height = struct.unpack("<ii", data[18:26])
    else:
        raise unreadable(source, f"a BMP with an unknown {header}-byte header")
    return Probe("BMP", abs(height), abs(width))


def _tiff(data: bytes, source: Source) -> Probe:
    order, big = _TIFF_MAGIC[data[:4]]
    if len(data) < (16 if big else 8):
        raise _truncated(source, "TIFF")
    offset = struct.unpack(order + "Q", data[8:16])[0] if big else struct.unpack(order + "I", data[4:8])[0]
    size: tuple[int, int] | None = None
    pages, seen = 0, set[int]()
    while offset:
        if offset in seen:
            raise ImageReadError(f"input {source} is a corrupt TIFF (its page list loops); re-copy or re-export it")
        if len(seen) >= _MAX_TIFF_PAGES:
            break
        seen.add(offset)
        tags, offset = _tiff_ifd(data, offset, order, big, source)
        if size is None:
            size = (tags.get(_TIFF_LENGTH, 0), tags.get(_TIFF_WIDTH, 0))
        if not tags.get(_TIFF_SUBFILE, 0) & 1:  # bit 0 marks a reduced-resolution copy, not a page
            pages += 1
    if size is None:
        raise unreadable(source, "a TIFF without any image directory")
    return Probe("TIFF", size[0], size[1], max(pages, 1))


def _tiff_ifd(data: bytes, offset: int, order: str, big: bool, source: Source) -> tuple[dict[int, int], int]:
    """The size tags of the image file directory at ``offset``, and the next one's offset (0: none)."""
    count_fmt, entry_len, next_fmt = ("Q", 20, "Q") if big else ("H", 12, "I")
    count_len = struct.calcsize(count_fmt)
    if offset + count_len > len(data):
        raise _truncated(source, "TIFF")
    count = struct.unpack(order + count_fmt, data[offset : offset + count_len])[0]
    start = offset + count_len
    end = start + count * entry_len
    if end + struct.calcsize(next_fmt) > len(data):
        raise _truncated(source, "TIFF")
    tags: dict[int, int] = {}
    for pos in range(start, end, entry_len):
        tag, kind = struct.unpack(order + "HH", data[pos : pos + 4])
        if tag in (_TIFF_SUBFILE, _TIFF_WIDTH, _TIFF_LENGTH):
            value = data[pos + entry_len - (8 if big else 4) :]
            # SHORT (3), LONG (4) or LONG8 (16), left-justified in the value field.
            fmt = {3: "H", 4: "I", 16: "Q"}.get(kind)
            if fmt is not None:
                tags[tag] = int(struct.unpack(order + fmt, value[: struct.calcsize(fmt)])[0])
    return tags, int(struct.unpack(order + next_fmt, data[end : end + struct.calcsize(next_fmt)])[0])


def _webp(data: bytes, source: Source) -> Probe:
    if len(data) < 20:
        raise _truncated(source, "WebP")
    kind = data[12:16]
    if kind == b"VP8 ":  # lossy: 3-byte frame tag, start code, 14-bit width and height
        if len(data) < 30:
            raise _truncated(source, "WebP")
        if data[23:26] != b"\x9d\x01\x2a":
            raise unreadable(source, "a WebP whose VP8 data has no start code")
        width, height = struct.unpack("<HH", data[26:30])
        return Probe("WebP", height & 0x3FFF, width & 0x3FFF)
    if kind == b"VP8L":  # lossless: signature byte, then 14-bit width-1 and height-1
        if len(data) < 25:
            raise _truncated(source, "WebP")
        if data[20] != 0x2F:
            raise unreadable(source, "a WebP whose VP8L data has no signature")
        bits = struct.unpack("<I", data[21:25])[0]
        return Probe("WebP", ((bits >> 14) & 0x3FFF) + 1, (bits & 0x3FFF) + 1)
    if kind == b"VP8X":
        return _webp_extended(data, source)
    raise unreadable(source, f"a WebP with an unknown {kind!r} chunk")


def _webp_extended(data: bytes, source: Source) -> Probe:
    """VP8X: 24-bit canvas width-1 and height-1; frames are ANMF chunks when animated."""
    if len(data) < 30:
        raise _truncated(source, "WebP")
    width = int.from_bytes(data[24:27], "little") + 1
    height = int.from_bytes(data[27:30], "little") + 1
    animated, frames, pos = bool(data[20] & 0x02), 0, 12
    while pos < len(data):
        if pos + 8 > len(data):
            raise _truncated(source, "WebP")
        kind, length = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        animated = animated or kind == b"ANIM"
        frames += kind == b"ANMF"
        pos += 8 + length + (length & 1)  # chunks are padded to an even length
        if pos > len(data) + 1:  # a missing final pad byte is tolerated, as libwebp does
            raise _truncated(source, "WebP")
    return Probe("WebP", height, width, max(frames, 1) if animated else 1)


def _gif(data: bytes, source: Source) -> Probe:
    """Logical screen size, grown to any frame that reaches past it, and the number of frames."""
    if len(data) < 13:
        raise _truncated(source, "GIF")
    width, height = struct.unpack("<HH", data[6:10])
    pos, frames = 13 + _gif_table(data[10]), 0
    while True:
        if pos >= len(data):
            if frames and pos == len(data):  # a missing trailer after whole blocks: giflib reads it
                break
            raise _truncated(source, "GIF")
        block = data[pos]
        if block == _GIF_TRAILER:
            break
        if block == _GIF_EXTENSION:
            pos = _gif_sub_blocks(data, pos + 2, source)
        elif block == _GIF_IMAGE:
            if pos + 10 > len(data):
                raise _truncated(source, "GIF")
            left, top, w, h, flags = struct.unpack("<HHHHB", data[pos + 1 : pos + 10])
            width, height, frames = max(width, left + w), max(height, top + h), frames + 1
            # The table is followed by the LZW minimum code size byte, then the data sub-blocks.
            pos = _gif_sub_blocks(data, pos + 10 + _gif_table(flags) + 1, source)
        else:
            raise ImageReadError(f"input {source} is a corrupt GIF (unknown block 0x{block:02x}); re-export it")
    return Probe("GIF", height, width, max(frames, 1))


def _gif_table(flags: int) -> int:
    """Bytes of the colour table a screen or image descriptor's flags announce."""
    return 3 << ((flags & 0x07) + 1) if flags & 0x80 else 0


def _gif_sub_blocks(data: bytes, pos: int, source: Source) -> int:
    """The position after the data sub-blocks starting at ``pos`` (each: length byte, bytes; 0 ends)."""
    while True:
        if pos >= len(data):
            raise _truncated(source, "GIF")
        length = data[pos]
        pos += 1 + length
        if length == 0:
            return pos
