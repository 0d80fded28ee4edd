"""Turn an exported fp32 LiteSRNet graph into the int8 QDQ model of a ``models/qat.py`` checkpoint.

``models/qat.py`` calibrates the activation scales (and, with ``--steps``, fine-tunes the
weights through fake quantization); this module writes the same quantization into the ONNX
graph as QuantizeLinear/DequantizeLinear (QDQ) pairs, which ONNX Runtime and OpenVINO both run as int8 convolutions:

* the input of every network Conv but the head is quantized to uint8 (zero point 0,
  the checkpoint's per-tensor scale) where it is produced, at the ReLU output, so the
  Pad / DepthToSpace between a ReLU and its Conv run on int8 data;
* every such Conv's weight is stored as int8 (per output channel, max|w| / 127, exactly
  as in QAT) with a DequantizeLinear; the bias as int32 with scale x_scale * w_scale
  (the usual QDQ form, one bias copy per Conv since the 19 body Convs read different
  inputs);
* the head Conv, the bicubic skip and the final Add stay float;
* ``residual_body`` (models/qat.py's default, and the bundled int8 models' form): the recurrent weight is stored
  as W - identity and each step adds its input back, Conv(x, W) = Conv(x,
  W - I) + x; with ``float_identity`` K, in the last K steps the x added back is the float
  tensor, not the dequantized one, so the rounding of x reaches the state only through the
  small W - I and does not pile up along those steps (docs/int8.md). A trained
  LiteSRNet's recurrent conv is close to the identity (centre taps ~1.0, the rest
  ~0.01-0.1), so max|W| per channel is set by the ~1 centre tap and the other weights land
  on one or two int8 steps. Post-training int8 of the x4 model (before
  any fine-tuning) loses 0.19 dB on Set5 with W quantized, 0.15 of it from W alone, and
  0.04 dB with W - I.

The exporter quantizes ``fast_graph.rewrite_for_int8``'s form: ConvTranspose stages stay
(weights quantized per output channel on axis 1) and only the skip is rewritten. A graph
with the sub-pixel decoder (``rewrite_for_speed``) quantizes too: that rewrite turns output
channel ``c`` of a ConvTranspose / tail Conv into channels ``c * b*b + phase`` of a Conv whose
weights are copies of the original taps (plus structural zeros), so the per-channel scales
are the original ones repeated ``b*b`` times. Either way the int8 weights are the checkpoint's, exactly.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

__all__ = ["ACT_LEVELS", "WEIGHT_MAX", "graph_weight_scales", "identity_kernel", "quantize_graph"]

# The int8 format (models/qat.py trains through exactly this): activations uint8 in
# [0, ACT_LEVELS] with zero point 0, weights int8 in [-WEIGHT_MAX, WEIGHT_MAX], zero point 0.
ACT_LEVELS = 255
WEIGHT_MAX = 127


def _network_convs(graph: onnx.GraphProto) -> list[onnx.NodeProto]:
    """Conv nodes downstream of the head, in graph order (the skip's depthwise Conv is not one)."""
    source = graph.input[0].name
    head = next(n for n in graph.node if n.op_type == "Conv" and n.input[0] == source)
    reach = set(head.output)
    convs = [head]
    for node in graph.node:
        if node is not head and any(i in reach for i in node.input):
            reach.update(node.output)
            if node.op_type in ("Conv", "ConvTranspose"):
                convs.append(node)
    return convs


def graph_weight_scales(proto: onnx.ModelProto, residual_body: bool = False) -> list[np.ndarray]:
    """Per-channel scales max|w| / 127 of the graph's own quantizable Conv weights (one per rewritten
    channel, body first; of W - identity with ``residual_body``): post-training scales for
    ``quantize_graph``, with no torch model at hand."""
    inits = {i.name: i for i in proto.graph.initializer}
    kinds = {c.input[1]: c.op_type for c in _network_convs(proto.graph)[1:]}
    out = []
    for k, (name, op_type) in enumerate(kinds.items()):
        w = numpy_helper.to_array(inits[name]).astype(np.float32)
        if k == 0 and residual_body:
            w = w - identity_kernel(w.shape)
        if op_type == "ConvTranspose":
            w = w.swapaxes(0, 1)  # its output channels are axis 1
        out.append(np.maximum(np.abs(w).reshape(w.shape[0], -1).max(axis=1) / WEIGHT_MAX, 1e-12).astype(np.float32))
    return out


def _producer_relu(graph: onnx.GraphProto, tensor: str) -> str:
    """The ReLU output a Conv input comes from, through Pad / DepthToSpace."""
    producers = {o: n for n in graph.node for o in n.output}
    node = producers[tensor]
    while node.op_type in ("Pad", "DepthToSpace"):
        node = producers[node.input[0]]
    if node.op_type != "Relu":
        raise ValueError(f"Conv input {tensor} does not come from a ReLU (found {node.op_type})")
    return str(node.output[0])


def _round_even(x: np.ndarray) -> np.ndarray:
    rounded: np.ndarray = np.rint(x)  # numpy rounds half to even, as QuantizeLinear and torch.round
    return rounded


class _Edit:
    def __init__(self, graph: onnx.GraphProto) -> None:
        self.graph = graph
        self.inits = {i.name: i for i in graph.initializer}
        self.nodes: dict[str, list[onnx.NodeProto]] = {}  # new nodes to place after a tensor's producer
        self.new_inits: list[onnx.TensorProto] = []

    def const(self, name: str, value: np.ndarray) -> str:
        self.new_inits.append(numpy_helper.from_array(value, name))
        return name

    def quantize_activation(self, tensor: str, scale: float) -> str:
        s = self.const(f"{tensor}_q_scale", np.array(scale, np.float32))
        z = self.const(f"{tensor}_q_zero", np.array(0, np.uint8))
        q = helper.make_node("QuantizeLinear", [tensor, s, z], [f"{tensor}_q"], name=f"{tensor}_Quantize")
        dq = helper.make_node("DequantizeLinear", [f"{tensor}_q", s, z], [f"{tensor}_dq"], name=f"{tensor}_Dequantize")
        self.nodes[tensor] = [q, dq]
        return f"{tensor}_dq"

    def quantize_weight(
        self, name: str, scales: np.ndarray, residual: bool = False, axis: int = 0
    ) -> tuple[str, np.ndarray]:
        """int8 weight + DequantizeLinear; ``axis``: output channels (0 for Conv, 1 for ConvTranspose)."""
        w = numpy_helper.to_array(self.inits[name]).astype(np.float32)
        if residual:
            w = w - identity_kernel(w.shape)
        reps, rem = divmod(w.shape[axis], scales.size)
        if rem:
            raise ValueError(f"{name}: {w.shape[axis]} output channels is not a multiple of {scales.size} scales")
        s = np.repeat(scales, reps).astype(np.float32)
        shape = [1] * w.ndim
        shape[axis] = -1
        q = _round_even(w / s.reshape(shape))
        if np.abs(q).max() > WEIGHT_MAX:
            raise ValueError(f"{name}: weights exceed their QAT range; was the graph built from these weights?")
        out = f"{name}_dq"
        self.const(f"{name}_int8", q.astype(np.int8))
        self.const(f"{name}_scale", s)
        self.const(f"{name}_zero", np.zeros(s.size, np.int8))
        self.nodes.setdefault(name, []).append(helper.make_node(
            "DequantizeLinear", [f"{name}_int8", f"{name}_scale", f"{name}_zero"], [out], name=f"{name}_Dequantize",
            axis=axis,
        ))
        return out, s

    def quantize_bias(self, name: str, tag: str, scale: np.ndarray) -> str:
        b = numpy_helper.to_array(self.inits[name]).astype(np.float64)
        q = _round_even(b / scale.astype(np.float64)).astype(np.int32)
        out = f"{name}_{tag}_dq"
        self.const(f"{name}_{tag}_int32", q)
        self.const(f"{name}_{tag}_scale", scale.astype(np.float32))
        self.const(f"{name}_{tag}_zero", np.zeros(scale.size, np.int32))
        self.nodes.setdefault(name, []).append(helper.make_node(
            "DequantizeLinear", [f"{name}_{tag}_int32", f"{name}_{tag}_scale", f"{name}_{tag}_zero"], [out],
            name=f"{name}_{tag}_Dequantize", axis=0,
        ))
        return out


def identity_kernel(shape: tuple[int, ...]) -> np.ndarray:
    """The (C, C, k, k) kernel of the identity map: 1 at each channel's own centre tap."""
    c, cin, kh, kw = shape
    if c != cin or kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(f"no identity kernel of shape {shape}")
    eye = np.zeros(shape, np.float32)
    eye[np.arange(c), np.arange(c), kh // 2, kw // 2] = 1.0
    return eye


def quantize_graph(
    proto: onnx.ModelProto, act_scales: np.ndarray, weight_scales_: list[np.ndarray], residual_body: bool = False,
    float_identity: int = 0,
) -> onnx.ModelProto:
    """A copy of the exported fp32 ``proto`` with QDQ int8 quantization (see the module docstring).

    ``act_scales``: one per quantized Conv input in graph order (``models.qat``);
    ``weight_scales_``: per-output-channel scales of the body, each decoder stage and the tail, for
    the original layers (each is repeated over the sub-pixel phases of its rewritten Conv);
    ``residual_body``: store the recurrent weight as W - identity and add the step's input back
    (``Conv(x, W) = Conv(x, W - I) + x``), see the module docstring; ``float_identity``: in
    that many last steps the x added back is the float tensor before its QuantizeLinear, not the
    dequantized one.
    """
    if float_identity and not residual_body:
        raise ValueError("float_identity adds the float input back to Conv(x, W - I): it needs residual_body")
    out = onnx.ModelProto()
    out.CopyFrom(proto)
    graph = out.graph
    convs = _network_convs(graph)[1:]
    if len(convs) != act_scales.size:
        raise ValueError(f"graph has {len(convs)} quantizable Convs but {act_scales.size} activation scales")
    edit = _Edit(graph)
    body_weight = convs[0].input[1]
    rest = iter(range(1, len(weight_scales_)))
    layer = [0 if c.input[1] == body_weight else next(rest) for c in convs]
    rewired: dict[str, str] = {}
    weights: dict[str, tuple[str, np.ndarray]] = {}
    body_steps, first_float = 0, layer.count(0) - float_identity
    for i, conv in enumerate(convs):
        relu = _producer_relu(graph, conv.input[0])
        if relu not in rewired:
            rewired[relu] = edit.quantize_activation(relu, float(act_scales[i]))
        residual = residual_body and layer[i] == 0
        if conv.input[1] not in weights:
            axis = 1 if conv.op_type == "ConvTranspose" else 0
            weights[conv.input[1]] = edit.quantize_weight(conv.input[1], weight_scales_[layer[i]], residual, axis)
        w_dq, w_scale = weights[conv.input[1]]
        conv.input[1] = w_dq
        if len(conv.input) > 2:
            conv.input[2] = edit.quantize_bias(conv.input[2], f"c{i}", np.float32(act_scales[i]) * w_scale)
        if residual:
            body_steps += 1
            float_x = body_steps > first_float
            _add_input_back(edit, conv, relu if float_x else rewired[relu])
    _rewire(graph, edit, rewired)
    return out


def _add_input_back(edit: _Edit, conv: onnx.NodeProto, x_dq: str) -> None:
    """Conv -> Add(Conv, ``x``) under the Conv's old output name; ``_rewire`` leaves ``x`` as given."""
    result = conv.output[0]
    conv.output[0] = f"{result}_residual"
    edit.nodes[conv.output[0]] = [
        helper.make_node("Add", [conv.output[0], x_dq], [result], name=f"{result}_AddInput")
    ]


def _rewire(graph: onnx.GraphProto, edit: _Edit, rewired: dict[str, str]) -> None:
    """Point consumers at the dequantized tensors and insert the new nodes in topological order."""
    quant_nodes = {n.name for ns in edit.nodes.values() for n in ns}
    for node in graph.node:
        for k, name in enumerate(node.input):
            if name in rewired and node.op_type != "QuantizeLinear":
                node.input[k] = rewired[name]
    ordered: list[onnx.NodeProto] = [n for t in edit.inits if t in edit.nodes for n in edit.nodes[t]]
    for node in graph.node:
        if node.name in quant_nodes:
            continue
        ordered.append(node)
        for o in node.output:
            ordered.extend(edit.nodes.get(o, []))
    used = {i for n in ordered for i in n.input}
    keep = [t for t in graph.initializer if t.name in used]
    del graph.node[:]
    graph.node.extend(ordered)
    del graph.initializer[:]
    graph.initializer.extend(keep + [t for t in edit.new_inits if t.name in used])

