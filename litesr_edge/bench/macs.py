"""Multi-Adds and parameters counted from an ONNX graph, for a given input size.

Convention (stated in every report):

* ``Conv``: Cout * Cin/groups * kh * kw MACs per output pixel; ``ConvTranspose``:
  Cin * Cout/groups * kh * kw per INPUT pixel (each input pixel scatters the full kernel).
  Weights that are exactly zero are not counted: the exporter's sub-pixel form of a
  ConvTranspose (export/fast_graph.py) pads its kernels with structural zeros, and
  counting them would make the same network 1.8x "bigger" in its faster form. For
  dense weights this is the textbook formula.
* cubic ``Resize``: one MAC per non-zero cubic tap (4 x 4 per output value at x2/x4;
  fewer at x3, where one phase falls on input pixels); linear 2 x 2; nearest 0.
* ``Gemm``/``MatMul``: M * N * K.
* Element-wise ops (Relu, Add, ...) and data movement (Pad, DepthToSpace) are not
  Multi-Adds; they are reported separately as ``elementwise`` value counts.
* int8 (QDQ) models: a weight read through DequantizeLinear counts as its stored int8
  tensor (its zeros too are skipped); Quantize/DequantizeLinear are conversions, not MACs.

Shapes are inferred here for the operators LiteSRNet exports use; any other operator
is a ModelError naming it, rather than a silently wrong count.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from litesr_edge.bench.onnx_graph import Graph, Node, Tensor
from litesr_edge.errors import InvalidInputError, ModelError

__all__ = ["CONVENTION", "MacReport", "count_macs", "cubic_taps_per_output"]

CONVENTION = (
    "Multi-Adds = multiply-accumulates of Conv/ConvTranspose/Gemm/MatMul (non-zero weights only) and cubic "
    "Resize (non-zero taps), for one image; element-wise ops counted separately"
)
_ELEMENTWISE = frozenset({"Relu", "Add", "Sub", "Mul", "Div", "Clip", "Sigmoid", "LeakyRelu", "PRelu", "Max", "Min"})
_WEIGHT_OPS = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul"})
_QDQ = frozenset({"QuantizeLinear", "DequantizeLinear"})
# Bytes per element of ONNX data types (TensorProto.DataType); others are taken as 4.
_ITEM_BYTES = {2: 1, 3: 1, 4: 2, 5: 2, 7: 8, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2}
Shape = tuple[int, ...]


@dataclass(frozen=True)
class MacReport:
    """Counts for one input size."""

    input_shape: Shape
    output_shape: Shape
    macs: int
    macs_by_op: Mapping[str, int]
    elementwise: int
    stored_weights: int
    weight_bytes: int
    convention: str = CONVENTION
    nodes_by_op: Mapping[str, int] = field(default_factory=dict)


def _ints(node: Node, key: str, default: Sequence[int]) -> list[int]:
    value = node.attrs.get(key, tuple(default))
    if not isinstance(value, tuple):
        raise ModelError(f"attribute {key} of {node.op_type} node {node.name!r} is not a list of ints")
    return [int(v) for v in value]


def _nnz(weight: Tensor | None, dense: int) -> int:
    if weight is None or weight.values is None:
        return dense
    return int(np.count_nonzero(weight.values))


def _conv(node: Node, shapes: Mapping[str, Shape], inits: Mapping[str, Tensor]) -> tuple[Shape, int]:
    n, _cin, h, w = shapes[node.inputs[0]]
    cout, _cin_g, kh, kw = shapes[node.inputs[1]]
    strides = _ints(node, "strides", [1, 1])
    dil = _ints(node, "dilations", [1, 1])
    pads = _ints(node, "pads", [0, 0, 0, 0])
    if node.attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", b"VALID"):
        raise ModelError(f"Conv node {node.name!r} uses auto_pad SAME_*, which the MAC counter does not handle")
    ho = (h + pads[0] + pads[2] - dil[0] * (kh - 1) - 1) // strides[0] + 1
    wo = (w + pads[1] + pads[3] - dil[1] * (kw - 1) - 1) // strides[1] + 1
    weight = inits.get(node.inputs[1])
    dense = int(np.prod(shapes[node.inputs[1]]))
    return (n, cout, ho, wo), _nnz(weight, dense) * n * ho * wo


def _conv_transpose(node: Node, shapes: Mapping[str, Shape], inits: Mapping[str, Tensor]) -> tuple[Shape, int]:
    n, _cin, h, w = shapes[node.inputs[0]]
    _cin_w, cout_g, kh, kw = shapes[node.inputs[1]]
    group = int(node.attrs.get("group", 1))  # type: ignore[arg-type]
    s = _ints(node, "strides", [1, 1])
    d = _ints(node, "dilations", [1, 1])
    p = _ints(node, "pads", [0, 0, 0, 0])
    op = _ints(node, "output_padding", [0, 0])
    if "output_shape" in node.attrs:
        ho, wo = _ints(node, "output_shape", [])[-2:]
    else:
        ho = s[0] * (h - 1) + op[0] + (kh - 1) * d[0] + 1 - p[0] - p[2]
        wo = s[1] * (w - 1) + op[1] + (kw - 1) * d[1] + 1 - p[1] - p[3]
    dense = int(np.prod(shapes[node.inputs[1]]))
    return (n, cout_g * group, ho, wo), _nnz(inits.get(node.inputs[1]), dense) * n * h * w


def _cubic_weights(t: float, a: float) -> list[float]:
    def k(x: float) -> float:
        x = abs(x)
        if x <= 1:
            return ((a + 2) * x - (a + 3)) * x * x + 1
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a if x < 2 else 0.0

    return [k(t + 1), k(t), k(1 - t), k(2 - t)]


def cubic_taps_per_output(scale: float, a: float = -0.75) -> float:
    """Mean number of non-zero 2-D cubic taps per output value for a half-pixel resize by ``scale``."""
    if scale == int(scale) and scale >= 1:
        phases = range(int(scale))
        taps = [sum(1 for wt in _cubic_weights((p + 0.5) / scale - 0.5 - math.floor((p + 0.5) / scale - 0.5), a)
                    if abs(wt) > 1e-12) for p in phases]
        per_axis = sum(taps) / len(taps)
        return per_axis * per_axis
    return 16.0  # non-integer scales: every phase differs; count the full 4x4 window


def _resize(node: Node, shapes: Mapping[str, Shape], consts: Mapping[str, np.ndarray]) -> tuple[Shape, int]:
    shape = shapes[node.inputs[0]]
    scales_name = node.inputs[2] if len(node.inputs) > 2 else ""
    sizes_name = node.inputs[3] if len(node.inputs) > 3 else ""
    if sizes_name:
        if sizes_name not in consts:
            raise ModelError(f"Resize node {node.name!r} has non-constant sizes; cannot count it")
        out = tuple(int(v) for v in consts[sizes_name])
        scales = [o / i for o, i in zip(out, shape, strict=True)]
    elif scales_name in consts:
        scales = [float(v) for v in consts[scales_name]]
        out = tuple(int(math.floor(i * s)) for i, s in zip(shape, scales, strict=True))
    else:
        raise ModelError(f"Resize node {node.name!r} has non-constant scales; cannot count it")
    mode = node.attrs.get("mode", b"nearest")
    values = int(np.prod(out))
    if mode == b"cubic":
        a = float(node.attrs.get("cubic_coeff_a", -0.75))  # type: ignore[arg-type]
        per = cubic_taps_per_output(scales[-1], a) if scales[-1] == scales[-2] else 16.0
        return out, int(round(values * per))
    return out, values * 4 if mode == b"linear" else 0


def _pad(node: Node, shapes: Mapping[str, Shape], consts: Mapping[str, np.ndarray]) -> Shape:
    shape = shapes[node.inputs[0]]
    if len(node.inputs) < 2 or node.inputs[1] not in consts:
        raise ModelError(f"Pad node {node.name!r} has non-constant pads; cannot count it")
    pads = [int(v) for v in consts[node.inputs[1]]]
    rank = len(shape)
    return tuple(d + pads[i] + pads[i + rank] for i, d in enumerate(shape))


def _broadcast(a: Shape, b: Shape) -> Shape:
    rank = max(len(a), len(b))
    a, b = (1,) * (rank - len(a)) + a, (1,) * (rank - len(b)) + b
    return tuple(max(x, y) for x, y in zip(a, b, strict=True))


def _matmul(node: Node, shapes: Mapping[str, Shape]) -> tuple[Shape, int]:
    a, b = shapes[node.inputs[0]], shapes[node.inputs[1]]
    if node.op_type == "Gemm":
        m, k = (a[1], a[0]) if node.attrs.get("transA", 0) else (a[0], a[1])
        n = b[0] if node.attrs.get("transB", 0) else b[1]
        return (m, n), m * n * k
    batch = _broadcast(a[:-2], b[:-2])
    out = (*batch, a[-2], b[-1])
    return out, int(np.prod(out)) * a[-1]


def _infer(node: Node, shapes: Mapping[str, Shape], inits: Mapping[str, Tensor],
           consts: Mapping[str, np.ndarray]) -> tuple[Shape, int]:
    """Output shape and MACs of one node."""
    op = node.op_type
    if op == "Conv":
        return _conv(node, shapes, inits)
    if op == "ConvTranspose":
        return _conv_transpose(node, shapes, inits)
    if op in ("Gemm", "MatMul"):
        return _matmul(node, shapes)
    if op == "Resize":
        return _resize(node, shapes, consts)
    if op == "Pad":
        return _pad(node, shapes, consts), 0
    if op in ("DepthToSpace", "SpaceToDepth"):
        n, c, h, w = shapes[node.inputs[0]]
        b = int(node.attrs.get("blocksize", 1))  # type: ignore[arg-type]
        return ((n, c // (b * b), h * b, w * b) if op == "DepthToSpace" else (n, c * b * b, h // b, w // b)), 0
    if op in _QDQ:
        return shapes[node.inputs[0]], 0
    if op in _ELEMENTWISE or op == "Identity":
        shape = shapes[node.inputs[0]]
        for other in node.inputs[1:]:
            if other:
                shape = _broadcast(shape, shapes[other])
        return shape, 0
    raise ModelError(f"the MAC counter does not know operator {op} (node {node.name!r}); extend litesr_edge/_macs.py")


def _constants(graph: Graph) -> dict[str, np.ndarray]:
    consts = {name: t.values for name, t in graph.initializers.items() if t.values is not None}
    for node in graph.nodes:
        value = node.attrs.get("value")
        if node.op_type == "Constant" and isinstance(value, Tensor) and value.values is not None:
            consts[node.outputs[0]] = value.values
    return consts


def _stored(graph: Graph) -> dict[str, Tensor]:
    """Initializers by name, plus each DequantizeLinear output of an initializer -> that (int8) initializer."""
    inits = dict(graph.initializers)
    for node in graph.nodes:
        if node.op_type == "DequantizeLinear" and node.inputs[0] in graph.initializers:
            inits[node.outputs[0]] = graph.initializers[node.inputs[0]]
    return inits


def _weights(graph: Graph, stored: Mapping[str, Tensor]) -> tuple[int, int]:
    """(elements, bytes) of the stored weights and biases of weight ops, each counted once."""
    tensors = {stored[i].name: stored[i] for n in graph.nodes if n.op_type in _WEIGHT_OPS
               for i in n.inputs[1:] if i in stored}
    values = [tensors[k] for k in sorted(tensors)]
    return sum(t.size for t in values), sum(t.size * _ITEM_BYTES.get(t.data_type, 4) for t in values)


def count_macs(graph: Graph, input_shape: Shape) -> MacReport:
    """Multi-Adds of one run of ``graph`` on an input of ``input_shape`` (N, C, H, W)."""
    if len(graph.inputs) != 1:
        raise ModelError(f"expected one graph input, found {len(graph.inputs)}")
    if len(input_shape) != len(graph.inputs[0].dims) or min(input_shape) < 1:
        raise InvalidInputError(f"input shape {input_shape} does not fit the model input {graph.inputs[0].dims}")
    consts = _constants(graph)
    shapes: dict[str, Shape] = {graph.inputs[0].name: tuple(input_shape)}
    shapes.update({name: t.dims for name, t in graph.initializers.items()})
    shapes.update({name: tuple(v.shape) for name, v in consts.items()})
    by_op: dict[str, int] = {}
    nodes_by_op: dict[str, int] = {}
    elementwise = 0
    stored = _stored(graph)
    for node in graph.nodes:
        if node.op_type == "Constant":
            continue
        shape, macs = _infer(node, shapes, stored, consts)
        shapes[node.outputs[0]] = shape
        nodes_by_op[node.op_type] = nodes_by_op.get(node.op_type, 0) + 1
        if node.op_type in _ELEMENTWISE:
            elementwise += int(np.prod(shape))
        elif macs:
            by_op[node.op_type] = by_op.get(node.op_type, 0) + macs
    elements, nbytes = _weights(graph, stored)
    out_shape = shapes[graph.outputs[0].name]
    return MacReport(tuple(input_shape), out_shape, sum(by_op.values()), by_op, elementwise, elements, nbytes,
                     nodes_by_op=nodes_by_op)
