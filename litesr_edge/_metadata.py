"""Photo metadata read from the original bytes: EXIF, ICC profile, XMP, IPTC.

OpenCV decodes pixels but drops every metadata block, so the blocks are found here by
walking the container (JPEG markers, PNG chunks, WebP RIFF chunks, TIFF tags) and kept
as bytes, to be written into the output by ``litesr_edge._embed``. A corrupt block is
dropped, never a reason to fail the image.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass, replace

from litesr_edge import _tiff
from litesr_edge._tiff import Entry, Node, TiffError

EXIF_PREFIX = b"Exif\x00\x00"
XMP_PREFIX = b"http://ns.adobe.com/xap/1.0/\x00"
ICC_PREFIX = b"ICC_PROFILE\x00"
PHOTOSHOP_PREFIX = b"Photoshop 3.0\x00"
XMP_KEYWORD = b"XML:com.adobe.xmp"
IPTC_RESOURCE = 0x0404
_MAX_BLOCK = 64 * 2**20  # no real profile or XMP packet comes near this
# TIFF IFD0 tags that describe the photo, not the pixel layout: what moves between a TIFF
# file and an EXIF block. Structure (size, strips, compression...) belongs to each file.
DESCRIPTIVE_TAGS = frozenset({
    270, 271, 272, 274, 282, 283, 296, 305, 306, 315, 316, 318, 319, 33432, 18246, 18249,
    0x9C9B, 0x9C9C, 0x9C9D, 0x9C9E, 0x9C9F,
})


@dataclass(frozen=True)
class Metadata:
    """The metadata blocks of one image file, as raw bytes (None where absent).

    ``exif`` is an EXIF TIFF block (from ``II*``/``MM``, without the ``Exif`` prefix),
    ``icc`` an ICC profile, ``xmp`` an XMP packet, ``iptc`` IPTC-IIM records.
    """

    exif: bytes | None = None
    icc: bytes | None = None
    xmp: bytes | None = None
    iptc: bytes | None = None

    @property
    def orientation(self) -> int:
        """EXIF orientation 1-8 (1: upright, or no EXIF)."""
        return 1 if self.exif is None else _tiff.orientation(self.exif)

    def for_output(self, width: int, height: int, grey: bool) -> Metadata:
        """The blocks for an upright ``width`` x ``height`` output: orientation 1, sizes updated.

        An ICC profile of another colour space than the output's (``grey`` or RGB; a CMYK JPEG
        is decoded to RGB) is dropped: it would make viewers show wrong colours.
        """
        icc = self.icc if self.icc is None or self.icc[16:20] == (b"GRAY" if grey else b"RGB ") else None
        exif = self.exif
        if exif is not None:
            try:
                exif = _tiff.patch_exif(exif, width, height)
            except TiffError:
                exif = None  # we cannot tell its orientation: a wrong one would turn the picture
        xmp = None if self.xmp is None else patch_xmp(self.xmp, width, height)
        return replace(self, exif=exif, icc=icc, xmp=xmp)


def read_metadata(data: bytes) -> Metadata:
    """The metadata blocks of an encoded image (JPEG, PNG, WebP, TIFF); empty for other formats."""
    try:
        if data.startswith(b"\xff\xd8"):
            return _from_jpeg(data)
        if data.startswith(b"\x89PNG\r\n\x1a\n"):
            return _from_png(data)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return _from_webp(data)
        if data[:4] in (b"II*\x00", b"MM\x00*"):
            return _from_tiff(data)
    except (struct.error, zlib.error, ValueError, IndexError):  # TiffError is a ValueError
        return Metadata()
    return Metadata()


def jpeg_segments(data: bytes) -> list[tuple[int, bytes]]:
    """(marker, payload) of a JPEG's segments before its first scan."""
    pos, found = 2, []
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        length = struct.unpack_from(">H", data, pos + 2)[0]
        found.append((marker, data[pos + 4 : pos + 2 + length]))
        if marker in (0xDA, 0xD9):
            break
        pos += 2 + length
    return found


def _from_jpeg(data: bytes) -> Metadata:
    exif = xmp = iptc = None
    icc: dict[int, bytes] = {}
    for marker, payload in jpeg_segments(data):
        if marker == 0xE1 and payload.startswith(EXIF_PREFIX) and exif is None:
            exif = payload[len(EXIF_PREFIX):]
        elif marker == 0xE1 and payload.startswith(XMP_PREFIX) and xmp is None:
            xmp = payload[len(XMP_PREFIX):]
        elif marker == 0xE2 and payload.startswith(ICC_PREFIX) and len(payload) > 14:
            icc[payload[12]] = payload[14:]  # sequence number (from 1), chunk count, data
        elif marker == 0xED and payload.startswith(PHOTOSHOP_PREFIX) and iptc is None:
            iptc = photoshop_iptc(payload[len(PHOTOSHOP_PREFIX):])
    profile = b"".join(icc[i] for i in sorted(icc)) if icc else None
    return Metadata(exif, profile, xmp, iptc)


def photoshop_iptc(irb: bytes) -> bytes | None:
    """The IPTC-IIM records of a Photoshop image resource block (resource 0x0404)."""
    pos = 0
    while pos + 12 <= len(irb) and irb[pos : pos + 4] == b"8BIM":
        resource = struct.unpack_from(">H", irb, pos + 4)[0]
        name_len = irb[pos + 6]
        pos += 6 + name_len + 1 + (name_len + 1) % 2  # Pascal name padded to even
        size = struct.unpack_from(">I", irb, pos)[0]
        if resource == IPTC_RESOURCE:
            return irb[pos + 4 : pos + 4 + size]
        pos += 4 + size + size % 2
    return None


def png_chunks(data: bytes) -> list[tuple[bytes, int, int]]:
    """(type, start, end) of every PNG chunk, the whole chunk from its length to its CRC
    (positions, not copies: IDAT data can be large; CRCs were checked when the size was read)."""
    pos, found = 8, []
    while pos + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        found.append((kind, pos, pos + 12 + length))
        if kind == b"IEND":
            break
        pos += 12 + length
    return found


def _from_png(data: bytes) -> Metadata:
    exif = icc = xmp = None
    for kind, start, end in png_chunks(data):
        if kind not in (b"eXIf", b"iCCP", b"iTXt"):
            continue
        payload = data[start + 8 : end - 4]
        if kind == b"eXIf" and exif is None:
            exif = payload[len(EXIF_PREFIX):] if payload.startswith(EXIF_PREFIX) else payload
        elif kind == b"iCCP" and icc is None:
            name_end = payload.index(b"\x00")
            icc = _inflate(payload[name_end + 2 :])  # after the name: NUL, method 0, zlib
        elif kind == b"iTXt" and payload.startswith(XMP_KEYWORD + b"\x00") and xmp is None:
            xmp = _itxt_text(payload[len(XMP_KEYWORD) + 1 :])
    return Metadata(exif, icc, xmp)


def _itxt_text(rest: bytes) -> bytes:
    compressed = rest[0] == 1
    language_end = rest.index(b"\x00", 2)
    translated_end = rest.index(b"\x00", language_end + 1)
    text = rest[translated_end + 1 :]
    return _inflate(text) if compressed else text


def _inflate(data: bytes) -> bytes:
    """zlib data inflated, refused past _MAX_BLOCK: a few KB must not expand to gigabytes (a zip bomb)."""
    inflater = zlib.decompressobj()
    out = inflater.decompress(data, _MAX_BLOCK)
    if inflater.unconsumed_tail:
        raise ValueError("metadata block larger than we keep")
    return out


def riff_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(fourcc, payload) of the chunks of a WebP (RIFF) file."""
    pos, end, found = 12, min(len(data), 8 + struct.unpack_from("<I", data, 4)[0]), []
    while pos + 8 <= end:
        fourcc, size = struct.unpack_from("<4sI", data, pos)
        found.append((fourcc, data[pos + 8 : pos + 8 + size]))
        pos += 8 + size + size % 2
    return found


def _from_webp(data: bytes) -> Metadata:
    chunks = dict(reversed(riff_chunks(data)))  # the first of each kind
    exif = chunks.get(b"EXIF")
    if exif is not None and exif.startswith(EXIF_PREFIX):  # some writers keep the JPEG prefix
        exif = exif[len(EXIF_PREFIX):]
    return Metadata(exif, chunks.get(b"ICCP"), chunks.get(b"XMP "))


def _from_tiff(data: bytes) -> Metadata:
    order, ifd0 = _tiff.header(data)
    node = _tiff.read_node(data, order, ifd0)
    kept = Node([e for e in node.entries if e.tag in DESCRIPTIVE_TAGS],
                {t: c for t, c in node.children.items() if t in (_tiff.EXIF_IFD, _tiff.GPS_IFD)})
    exif = _tiff.pack_exif(kept, order) if kept.entries or kept.children else None
    blocks = {e.tag: e.value for e in node.entries}
    return Metadata(exif, blocks.get(_tiff.ICC_TAG), blocks.get(_tiff.XMP_TAG), blocks.get(_tiff.IPTC_TAG))


def tiff_entries(meta: Metadata, order: str) -> Node:
    """IFD0 entries (and Exif/GPS sub-IFDs) that put ``meta`` into a TIFF file of byte order ``order``."""
    node = Node()
    if meta.exif is not None:
        try:
            source, ifd0 = _tiff.header(meta.exif)
            exif = _tiff.swapped_node(_tiff.read_node(meta.exif, source, ifd0), source, order)
        except (TiffError, struct.error):
            exif = Node()
        node.entries = [e for e in exif.entries if e.tag in DESCRIPTIVE_TAGS]
        node.children = {t: c for t, c in exif.children.items() if t in (_tiff.EXIF_IFD, _tiff.GPS_IFD)}
    for tag, kind, value in ((_tiff.ICC_TAG, _tiff.UNDEFINED, meta.icc), (_tiff.XMP_TAG, _tiff.BYTE, meta.xmp),
                             (_tiff.IPTC_TAG, _tiff.UNDEFINED, meta.iptc)):
        if value:
            node.entries.append(Entry(tag, kind, len(value), value))
    return node


_XMP_FIELDS = {"tiff:Orientation": None, "exif:PixelXDimension": "w", "exif:PixelYDimension": "h",
               "tiff:ImageWidth": "w", "tiff:ImageLength": "h"}


def patch_xmp(packet: bytes, width: int, height: int) -> bytes:
    """XMP with ``tiff:Orientation`` 1 and the pixel dimensions updated (attribute or element form)."""
    values = {None: b"1", "w": str(width).encode(), "h": str(height).encode()}
    for name, which in _XMP_FIELDS.items():
        key = re.escape(name.encode())
        new = values[which]  # digits only: nothing to escape in a replacement
        packet = re.sub(rb"(" + key + rb"\s*=\s*[\"'])\d+([\"'])", rb"\g<1>" + new + rb"\g<2>", packet)
        packet = re.sub(rb"(<" + key + rb">)\s*\d+\s*(</" + key + rb">)", rb"\g<1>" + new + rb"\g<2>", packet)
    return packet
