"""TIFF structures, the body of EXIF blocks and of TIFF files: read, patch in place, write.

EXIF is copied between files of the same kind as the original bytes, patched in place
(orientation, pixel dimensions), so that maker notes, whose internal offsets point into
the block, stay valid. Only a move into or out of a TIFF file re-lays the IFDs out
(:func:`pack_node`); entries keep their raw value bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

ORIENTATION, WIDTH, LENGTH = 0x0112, 0x0100, 0x0101
EXIF_IFD, GPS_IFD, INTEROP_IFD = 0x8769, 0x8825, 0xA005
PIXEL_X, PIXEL_Y = 0xA002, 0xA003
XMP_TAG, IPTC_TAG, ICC_TAG = 700, 33723, 34675
POINTERS = frozenset({EXIF_IFD, GPS_IFD, INTEROP_IFD})
SHORT, LONG, UNDEFINED, BYTE = 3, 4, 7, 1
# Bytes per value, and the unit that a byte-order change swaps, per TIFF field type.
_SIZE = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_UNIT = {1: 1, 2: 1, 3: 2, 4: 4, 5: 4, 6: 1, 7: 1, 8: 2, 9: 4, 10: 4, 11: 4, 12: 8, 13: 4}
_MAGIC = {b"II*\x00": "<", b"MM\x00*": ">"}
_MAX_ENTRIES = 4096  # a corrupt count must not make us read megabytes of "entries"


class TiffError(ValueError):
    """A TIFF structure is corrupt; callers drop the metadata block rather than fail the image."""


@dataclass(frozen=True)
class Entry:
    """One IFD entry with its value as raw bytes in the structure's byte order."""

    tag: int
    kind: int
    count: int
    value: bytes


@dataclass
class Node:
    """An IFD: its plain entries, and the sub-IFDs (Exif, GPS, Interop) its pointer tags lead to."""

    entries: list[Entry] = field(default_factory=list)
    children: dict[int, Node] = field(default_factory=dict)


def header(data: bytes | bytearray) -> tuple[str, int]:
    """(byte order ``<``/``>``, offset of IFD0); TiffError for anything else (BigTIFF included)."""
    order = _MAGIC.get(bytes(data[:4]))
    if order is None or len(data) < 8:
        raise TiffError("not a classic TIFF structure")
    return order, struct.unpack(order + "I", data[4:8])[0]


def _entry_slots(data: bytes | bytearray, order: str, offset: int) -> tuple[list[int], int]:
    """Positions of the 12-byte entries of the IFD at ``offset``, and the next-IFD offset."""
    if offset + 2 > len(data):
        raise TiffError("IFD offset past the end")
    count = struct.unpack_from(order + "H", data, offset)[0]
    end = offset + 2 + 12 * count
    if count > _MAX_ENTRIES or end + 4 > len(data):
        raise TiffError("IFD runs past the end")
    return [offset + 2 + 12 * i for i in range(count)], struct.unpack_from(order + "I", data, end)[0]


def _value(data: bytes | bytearray, order: str, slot: int) -> Entry:
    tag, kind, count = struct.unpack_from(order + "HHI", data, slot)
    size = _SIZE.get(kind, 1) * count
    if size <= 4:
        return Entry(tag, kind, count, bytes(data[slot + 8 : slot + 8 + size]))
    start = struct.unpack_from(order + "I", data, slot + 8)[0]
    if start + size > len(data):
        raise TiffError(f"value of tag {tag} runs past the end")
    return Entry(tag, kind, count, bytes(data[start : start + size]))


def read_node(data: bytes | bytearray, order: str, offset: int, seen: frozenset[int] = frozenset()) -> Node:
    """The IFD at ``offset`` with its Exif/GPS/Interop sub-IFDs; a loop of pointers is refused."""
    if offset in seen or len(seen) > 4:
        raise TiffError("IFD pointers loop")
    node = Node()
    for slot in _entry_slots(data, order, offset)[0]:
        entry = _value(data, order, slot)
        if entry.tag in POINTERS and entry.kind in (LONG, 13) and entry.count == 1:
            child = struct.unpack(order + "I", entry.value)[0]
            node.children[entry.tag] = read_node(data, order, child, seen | {offset})
        else:
            node.entries.append(entry)
    return node


def find(node: Node, tag: int) -> Entry | None:
    """The entry ``tag`` of ``node`` (not of its children), if any."""
    return next((e for e in node.entries if e.tag == tag), None)


def number(entry: Entry | None, order: str) -> int | None:
    """The first value of a SHORT or LONG entry as an int; None otherwise."""
    if entry is None or entry.kind not in (SHORT, LONG) or not entry.value:
        return None
    return int(struct.unpack_from(order + ("H" if entry.kind == SHORT else "I"), entry.value)[0])


def orientation(blob: bytes) -> int:
    """EXIF orientation (1-8) of an EXIF TIFF block; 1 when absent or unusable."""
    try:
        order, ifd0 = header(blob)
        for slot in _entry_slots(blob, order, ifd0)[0]:
            tag, kind, count, value = struct.unpack_from(order + "HHIH", blob, slot)
            if tag == ORIENTATION and kind == SHORT:
                return value if 1 <= value <= 8 else 1
    except (TiffError, struct.error):
        return 1
    return 1


def patch_exif(blob: bytes, width: int, height: int) -> bytes:
    """``blob`` with orientation 1 and the new pixel size, changed in place (no offset moves).

    When the orientation was not 1, the thumbnail IFD (IFD1) is unlinked: it shows the old,
    unrotated picture. Raises TiffError for a corrupt block.
    """
    data = bytearray(blob)
    try:
        order, ifd0 = header(data)
        slots, _ = _entry_slots(data, order, ifd0)
        for slot in slots:
            tag, kind = struct.unpack_from(order + "HH", data, slot)
            if tag == ORIENTATION and kind == SHORT and struct.unpack_from(order + "H", data, slot + 8)[0] != 1:
                struct.pack_into(order + "HH", data, slot + 8, 1, 0)
                struct.pack_into(order + "I", data, ifd0 + 2 + 12 * len(slots), 0)
            _set_size(data, order, slot, {WIDTH: width, LENGTH: height})
            if tag == EXIF_IFD:
                for sub in _entry_slots(data, order, struct.unpack_from(order + "I", data, slot + 8)[0])[0]:
                    _set_size(data, order, sub, {PIXEL_X: width, PIXEL_Y: height})
    except struct.error as exc:
        raise TiffError(str(exc)) from exc
    return bytes(data)


def _set_size(data: bytearray, order: str, slot: int, sizes: dict[int, int]) -> None:
    tag, kind, count = struct.unpack_from(order + "HHI", data, slot)
    if tag in sizes and kind in (SHORT, LONG) and count == 1:  # LONG, count 1, still fits in the entry itself
        struct.pack_into(order + "HHII", data, slot, tag, LONG, 1, sizes[tag])


def swapped(entry: Entry, source: str, target: str) -> Entry:
    """``entry`` with its value bytes in byte order ``target`` (maker notes stay as they are)."""
    unit = _UNIT.get(entry.kind, 1)
    if source == target or unit == 1:
        return entry
    value = b"".join(entry.value[i : i + unit][::-1] for i in range(0, len(entry.value), unit))
    return Entry(entry.tag, entry.kind, entry.count, value)


def swapped_node(node: Node, source: str, target: str) -> Node:
    """``node`` and its children in byte order ``target``."""
    return Node([swapped(e, source, target) for e in node.entries],
                {tag: swapped_node(child, source, target) for tag, child in node.children.items()})


def pack_node(node: Node, order: str, at: int) -> bytes:
    """``node`` laid out at file offset ``at`` (even): the IFD, its values, then its children."""
    pointers = [Entry(tag, LONG, 1, b"") for tag in node.children]
    entries = sorted(node.entries + pointers, key=lambda e: e.tag)
    table_end = at + 2 + 12 * len(entries) + 4
    values = bytearray()
    for e in entries:
        if len(e.value) > 4:
            values += e.value + b"\x00" * (len(e.value) % 2)
    child_at, children = table_end + len(values), bytearray()
    offsets: dict[int, int] = {}
    for tag, child in node.children.items():
        offsets[tag] = child_at + len(children)
        children += pack_node(child, order, offsets[tag])
    table, value_at = bytearray(struct.pack(order + "H", len(entries))), table_end
    for e in entries:
        if e.tag in offsets and not e.value:
            field_bytes = struct.pack(order + "I", offsets[e.tag])
        elif len(e.value) <= 4:
            field_bytes = e.value.ljust(4, b"\x00")
        else:
            field_bytes, value_at = struct.pack(order + "I", value_at), value_at + len(e.value) + len(e.value) % 2
        table += struct.pack(order + "HHI", e.tag, e.kind, e.count) + field_bytes
    return bytes(table + struct.pack(order + "I", 0) + values + children)


def pack_exif(node: Node, order: str) -> bytes:
    """A self-contained EXIF TIFF block (header + IFD0 + sub-IFDs) for JPEG, PNG or WebP."""
    magic = b"II*\x00" if order == "<" else b"MM\x00*"
    return magic + struct.pack(order + "I", 8) + pack_node(node, order, 8)
