"""A minimal, read-only ONNX graph reader that needs neither the ``onnx`` package nor protobuf.

``litesr-edge bench`` counts Multi-Adds from the model graph. ONNX Runtime (a runtime
dependency) runs graphs but does not expose their nodes, and the ``onnx`` package is
not a runtime dependency (it brings protobuf for one feature). An ONNX file
is a protobuf message whose field numbers the ONNX project never changes (onnx.proto3
guarantees wire compatibility), so this module decodes just the fields the MAC counter
needs: nodes (op type, inputs, outputs, attributes), initializers (dims and values),
graph inputs/outputs with their shapes, and metadata. Anything else is skipped.
Tested against ``onnx.load`` on the same files (the repository's tests/bench/test_bench_macs.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

import numpy as np
from numpy.typing import NDArray

from litesr_edge.errors import ModelError
from litesr_edge.registry import _proto as pb
from litesr_edge.registry._proto import ValueInfo

__all__ = ["AttrValue", "Graph", "Node", "Tensor", "ValueInfo", "parse_model", "read_graph"]

# TensorProto.DataType -> numpy dtype, for the types whose values we decode.
_DTYPES = {1: np.float32, 2: np.uint8, 3: np.int8, 6: np.int32, 7: np.int64, 11: np.float64}
_FLOAT, _INT32, _INT64, _DOUBLE = 1, 6, 7, 11


@dataclass(frozen=True)
class Tensor:
    """An initializer or constant: name, dims, ONNX data type, values (None if not decoded)."""

    name: str
    dims: tuple[int, ...]
    data_type: int
    values: NDArray[np.generic] | None = field(default=None, compare=False)

    @property
    def size(self) -> int:
        """Number of elements."""
        return int(np.prod(self.dims, dtype=np.int64))


AttrValue = Union[int, float, bytes, Tensor, tuple[int, ...], tuple[float, ...]]  # noqa: UP007 (runtime alias, py3.10)


@dataclass(frozen=True)
class Node:
    """One graph node."""

    op_type: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: Mapping[str, AttrValue]
    name: str = ""
    domain: str = ""


@dataclass(frozen=True)
class Graph:
    """What the MAC counter needs from a model."""

    nodes: tuple[Node, ...]
    initializers: Mapping[str, Tensor]
    inputs: tuple[ValueInfo, ...]
    outputs: tuple[ValueInfo, ...]
    metadata: Mapping[str, str]


_varint, _signed, _fields, _text = pb.varint, pb.signed, pb.fields, pb.text


def _ints(wire: int, value: int | bytes) -> list[int]:
    """A repeated int64 field entry: packed (bytes) or one varint."""
    if isinstance(value, int):
        return [_signed(value)]
    out: list[int] = []
    pos = 0
    while pos < len(value):
        v, pos = _varint(value, pos)
        out.append(_signed(v))
    return out


def _floats(value: int | bytes) -> list[float]:
    if isinstance(value, int):
        raise ValueError("float field with varint encoding")
    return [float(v) for v in np.frombuffer(value, dtype="<f4")]


def _tensor(buf: bytes) -> Tensor:
    dims: list[int] = []
    name, dtype = "", 0
    raw: bytes | None = None
    typed: list[float | int] = []
    for number, wire, value in _fields(buf):
        if number == 1:
            dims += _ints(wire, value)
        elif number == 2 and isinstance(value, int):
            dtype = value
        elif number == 8:
            name = _text(value)
        elif number == 9 and isinstance(value, bytes):
            raw = value
        elif number == 4:
            typed += _floats(value)
        elif number in (5, 7):
            typed += _ints(wire, value)
        elif number == 10 and isinstance(value, bytes):
            typed += [float(v) for v in np.frombuffer(value, dtype="<f8")]
    return Tensor(name, tuple(dims), dtype, _values(dtype, tuple(dims), raw, typed))


def _values(
    dtype: int, dims: tuple[int, ...], raw: bytes | None, typed: list[float | int]
) -> NDArray[np.generic] | None:
    np_type = _DTYPES.get(dtype)
    if np_type is None:
        return None
    if raw is not None:
        arr = np.frombuffer(raw, dtype=np.dtype(np_type).newbyteorder("<"))
    elif typed or not dims or 0 in dims:
        arr = np.asarray(typed, dtype=np_type)
    else:
        return None  # external data: dims are known, values are not needed for counting
    if arr.size != int(np.prod(dims, dtype=np.int64)):
        raise ValueError(f"tensor has {arr.size} values for dims {dims}")
    return arr.reshape(dims)


def _attribute(buf: bytes) -> tuple[str, AttrValue]:
    name = ""
    single: AttrValue | None = None
    ints: list[int] = []
    floats: list[float] = []
    for number, wire, value in _fields(buf):
        if number == 1:
            name = _text(value)
        elif number == 2 and isinstance(value, bytes):
            single = float(np.frombuffer(value, dtype="<f4")[0])
        elif number == 3 and isinstance(value, int):
            single = _signed(value)
        elif number == 4 and isinstance(value, bytes):
            single = value
        elif number == 5 and isinstance(value, bytes):
            single = _tensor(value)
        elif number == 7:
            floats += _floats(value)
        elif number == 8:
            ints += _ints(wire, value)
    if single is not None:
        return name, single
    return name, tuple(ints) if ints or not floats else tuple(floats)


def _node(buf: bytes) -> Node:
    inputs: list[str] = []
    outputs: list[str] = []
    attrs: dict[str, AttrValue] = {}
    op_type = name = domain = ""
    for number, _wire, value in _fields(buf):
        if number == 1:
            inputs.append(_text(value))
        elif number == 2:
            outputs.append(_text(value))
        elif number == 3:
            name = _text(value)
        elif number == 4:
            op_type = _text(value)
        elif number == 5 and isinstance(value, bytes):
            key, attr = _attribute(value)
            attrs[key] = attr
        elif number == 7:
            domain = _text(value)
    return Node(op_type, tuple(inputs), tuple(outputs), attrs, name, domain)


_value_info, _metadata = pb.value_info, pb.metadata_entry


def _graph(buf: bytes, metadata: Mapping[str, str]) -> Graph:
    nodes: list[Node] = []
    inits: dict[str, Tensor] = {}
    inputs: list[ValueInfo] = []
    outputs: list[ValueInfo] = []
    for number, _wire, value in _fields(buf):
        if not isinstance(value, bytes):
            continue
        if number == 1:
            nodes.append(_node(value))
        elif number == 5:
            tensor = _tensor(value)
            inits[tensor.name] = tensor
        elif number == 11:
            inputs.append(_value_info(value))
        elif number == 12:
            outputs.append(_value_info(value))
    init_names = set(inits)
    real_inputs = tuple(v for v in inputs if v.name not in init_names)  # IR < 4 lists initializers as inputs
    return Graph(tuple(nodes), inits, real_inputs, tuple(outputs), metadata)


def parse_model(data: bytes) -> Graph:
    """Decode a serialized ONNX ModelProto; raises ValueError on malformed bytes."""
    graph_buf: bytes | None = None
    metadata: dict[str, str] = {}
    for number, _wire, value in _fields(data):
        if number == 7 and isinstance(value, bytes):
            graph_buf = value
        elif number == 14 and isinstance(value, bytes):
            key, val = _metadata(value)
            metadata[key] = val
    if graph_buf is None:
        raise ValueError("no graph in the model")
    return _graph(graph_buf, metadata)


def read_graph(path: str | os.PathLike[str]) -> Graph:
    """The graph of an ONNX file; ModelError if it is missing or not ONNX."""
    model_path = Path(path)
    try:
        data = model_path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read model {model_path} ({exc.strerror}); check the path") from exc
    try:
        return parse_model(data)
    except (ValueError, UnicodeDecodeError, IndexError) as exc:
        raise ModelError(f"{model_path} is not a readable ONNX model ({exc}); re-export it") from exc
