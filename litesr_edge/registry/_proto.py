"""Protobuf wire-format decoding for ONNX files, with neither ``onnx`` nor protobuf installed.

ONNX never renumbers its fields (onnx.proto3 guarantees wire compatibility), so a few
field numbers are enough: the registry reads a model's metadata and input/output shapes
here without building an inference session, and ``litesr_edge.bench.onnx_graph`` decodes
whole graphs with the same helpers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

# ModelProto fields
MODEL_GRAPH, MODEL_METADATA = 7, 14
# GraphProto fields
GRAPH_NODE, GRAPH_INITIALIZER, GRAPH_INPUT, GRAPH_OUTPUT = 1, 5, 11, 12

Field = tuple[int, int, "int | bytes"]


@dataclass(frozen=True)
class ValueInfo:
    """A graph input or output: name and shape (ints, or strings for symbolic dims)."""

    name: str
    dims: tuple[int | str, ...]


def varint(buf: bytes, pos: int) -> tuple[int, int]:
    """(value, next position) of the base-128 varint at ``pos``."""
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def signed(value: int) -> int:
    """An int64 field's value: two's complement in a 10-byte varint."""
    return value - (1 << 64) if value >= 1 << 63 else value


def fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) for each field of one message."""
    pos = 0
    while pos < len(buf):
        key, pos = varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = varint(buf, pos)
            yield number, wire, value
            continue
        if wire == 2:
            length, pos = varint(buf, pos)
        elif wire in (1, 5):
            length = 8 if wire == 1 else 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        if pos + length > len(buf):
            raise ValueError("truncated field")
        yield number, wire, buf[pos : pos + length]
        pos += length


def text(value: int | bytes) -> str:
    """A string field's value."""
    if isinstance(value, int):
        raise ValueError("string field with varint encoding")
    return value.decode("utf-8")


def submessage(buf: bytes, wanted: int) -> bytes:
    """The first length-delimited field numbered ``wanted``, or b""."""
    for number, _wire, value in fields(buf):
        if number == wanted and isinstance(value, bytes):
            return value
    return b""


def shape_of_type(type_buf: bytes) -> list[int | str]:
    """The dims of a TypeProto's tensor_type.shape."""
    shape = submessage(submessage(type_buf, 1), 2)
    dims: list[int | str] = []
    for number, _wire, dim in fields(shape):
        if number == 1 and isinstance(dim, bytes):
            value: int | str = "?"
            for n, _w, v in fields(dim):
                if n == 1 and isinstance(v, int):
                    value = signed(v)
                elif n == 2:
                    value = text(v)
            dims.append(value)
    return dims


def value_info(buf: bytes) -> ValueInfo:
    """Decode a ValueInfoProto."""
    name = ""
    dims: list[int | str] = []
    for number, _wire, value in fields(buf):
        if number == 1:
            name = text(value)
        elif number == 2 and isinstance(value, bytes):
            dims = shape_of_type(value)
    return ValueInfo(name, tuple(dims))


def metadata_entry(buf: bytes) -> tuple[str, str]:
    """Decode a StringStringEntryProto (metadata_props)."""
    key = value = ""
    for number, _wire, v in fields(buf):
        if number == 1:
            key = text(v)
        elif number == 2:
            value = text(v)
    return key, value
