"""Metadata blocks written into OpenCV's encoded output, per container.

OpenCV's encoders write pixels only; the blocks read by ``litesr_edge._metadata`` go back
in as bytes: JPEG APP1 (Exif, XMP) / APP2 (ICC, in chunks) / APP13 (IPTC) segments after
the JFIF header; PNG eXIf / iCCP / iTXt chunks after IHDR; WebP ICCP / EXIF / XMP chunks
with a VP8X header; TIFF tags in a new IFD0 appended to the file.
"""

from __future__ import annotations

import struct
import zlib

from litesr_edge import _tiff
from litesr_edge._metadata import (
    EXIF_PREFIX,
    ICC_PREFIX,
    IPTC_RESOURCE,
    PHOTOSHOP_PREFIX,
    XMP_KEYWORD,
    XMP_PREFIX,
    Metadata,
    png_chunks,
    riff_chunks,
    tiff_entries,
)
from litesr_edge.errors import ImageWriteError

_SEGMENT_MAX = 65533  # a JPEG segment's payload: 16-bit length, which counts itself
_ICC_CHUNK = _SEGMENT_MAX - len(ICC_PREFIX) - 2


def embed(encoded: bytes, suffix: str, meta: Metadata, width: int, height: int) -> bytes:
    """``encoded`` (OpenCV's output, format from ``suffix``) with ``meta`` written in.

    BMP holds none of these blocks; it is returned unchanged. ImageWriteError if a block does
    not fit the format (an EXIF or XMP block over 64 KB in a JPEG).
    """
    if meta == Metadata():
        return encoded
    if suffix in (".jpg", ".jpeg"):
        return _into_jpeg(encoded, meta)
    if suffix == ".png":
        return _into_png(encoded, meta)
    if suffix == ".webp":
        return _into_webp(encoded, meta, width, height)
    if suffix in (".tif", ".tiff"):
        return _into_tiff(encoded, meta)
    return encoded


def _segment(marker: int, payload: bytes, what: str) -> bytes:
    if len(payload) > _SEGMENT_MAX:
        raise ImageWriteError(
            f"the {what} block ({len(payload):,} bytes) is larger than a JPEG segment holds (64 KB); "
            "write PNG, WebP or TIFF (--format) or drop the metadata (strip_metadata=True)"
        )
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def _into_jpeg(encoded: bytes, meta: Metadata) -> bytes:
    segments = b""
    if meta.exif:
        segments += _segment(0xE1, EXIF_PREFIX + meta.exif, "EXIF")
    if meta.xmp:
        segments += _segment(0xE1, XMP_PREFIX + meta.xmp, "XMP")
    if meta.icc:
        chunks = [meta.icc[i : i + _ICC_CHUNK] for i in range(0, len(meta.icc), _ICC_CHUNK)]
        if len(chunks) > 255:
            raise ImageWriteError(f"the ICC profile ({len(meta.icc):,} bytes) is too large for a JPEG")
        for seq, chunk in enumerate(chunks, 1):
            segments += _segment(0xE2, ICC_PREFIX + bytes([seq, len(chunks)]) + chunk, "ICC")
    if meta.iptc:
        resource = b"8BIM" + struct.pack(">HHI", IPTC_RESOURCE, 0, len(meta.iptc)) + meta.iptc
        segments += _segment(0xED, PHOTOSHOP_PREFIX + resource + b"\x00" * (len(meta.iptc) % 2), "IPTC")
    pos = 2  # after SOI, and after OpenCV's JFIF APP0 if it wrote one (JFIF must come first)
    if encoded[2:4] == b"\xff\xe0" and encoded[6:11] == b"JFIF\x00":
        pos = 4 + struct.unpack_from(">H", encoded, 4)[0]
    return encoded[:pos] + segments + encoded[pos:]


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    body = kind + payload
    return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))


def _into_png(encoded: bytes, meta: Metadata) -> bytes:
    added = b""
    if meta.icc:  # iCCP: name, NUL, compression method 0, zlib data
        added += _png_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(meta.icc))
    if meta.exif:
        added += _png_chunk(b"eXIf", meta.exif)
    if meta.xmp:  # iTXt: keyword, NUL, not compressed, method 0, no language, no translation
        added += _png_chunk(b"iTXt", XMP_KEYWORD + b"\x00\x00\x00\x00\x00" + meta.xmp)
    view = memoryview(encoded)  # slices of a view are not copies: the image data is copied once, by join
    parts: list[bytes | memoryview] = [view[:8]]
    for kind, start, end in png_chunks(encoded):  # copied as they are, CRCs included
        if kind in (b"iCCP", b"sRGB") and meta.icc:
            continue  # the profile replaces any colour-space chunk OpenCV wrote
        parts.append(view[start:end])
        if kind == b"IHDR":
            parts.append(added)
    return b"".join(parts)


def _riff_chunk(fourcc: bytes, payload: bytes) -> bytes:
    return struct.pack("<4sI", fourcc, len(payload)) + payload + b"\x00" * (len(payload) % 2)


def _has_alpha(chunks: list[tuple[bytes, bytes]]) -> bool:
    for fourcc, payload in chunks:
        if fourcc == b"ALPH":
            return True
        if fourcc == b"VP8L" and len(payload) >= 5:  # bit 28 after the 0x2F signature: alpha_is_used
            return bool(struct.unpack_from("<I", payload, 1)[0] >> 28 & 1)
    return False


def _into_webp(encoded: bytes, meta: Metadata, width: int, height: int) -> bytes:
    chunks = [c for c in riff_chunks(encoded) if c[0] not in (b"VP8X", b"ICCP", b"EXIF", b"XMP ")]
    flags = (0x20 if meta.icc else 0) | (0x10 if _has_alpha(chunks) else 0)
    flags |= (0x08 if meta.exif else 0) | (0x04 if meta.xmp else 0)
    canvas = struct.pack("<I", flags) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    body = _riff_chunk(b"VP8X", canvas)
    if meta.icc:
        body += _riff_chunk(b"ICCP", meta.icc)
    body += b"".join(_riff_chunk(fourcc, payload) for fourcc, payload in chunks)
    if meta.exif:
        body += _riff_chunk(b"EXIF", meta.exif)
    if meta.xmp:
        body += _riff_chunk(b"XMP ", meta.xmp)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def _into_tiff(encoded: bytes, meta: Metadata) -> bytes:
    """A new IFD0 (OpenCV's entries + the metadata tags) appended; the header points to it.

    OpenCV's own IFD stays in the file, unreferenced (a few hundred bytes): rewriting the
    file in place would move its strips, whose offsets the entries hold.
    """
    try:
        order, ifd0 = _tiff.header(encoded)
        own = _tiff.read_node(encoded, order, ifd0)
    except _tiff.TiffError as exc:
        raise ImageWriteError(f"cannot add metadata to the TIFF written ({exc}); pass strip_metadata=True") from exc
    extra = tiff_entries(meta, order)
    tags = {e.tag for e in own.entries}
    own.entries += [e for e in extra.entries if e.tag not in tags]  # the file's structure wins
    own.children = {**extra.children, **own.children}
    at = len(encoded) + len(encoded) % 2
    tail = b"\x00" * (at - len(encoded)) + _tiff.pack_node(own, order, at)
    view = memoryview(encoded)  # no copy of the image data before join
    return b"".join((view[:4], struct.pack(order + "I", at), view[8:], tail))  # the header points to the new IFD
