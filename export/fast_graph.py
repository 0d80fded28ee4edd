"""Rewrite two slow ONNX Runtime CPU ops of the LiteSRNet graph into fast, equivalent ones.

Profiled with ONNX Runtime 1.32 on the x4/depth-19 model at 320x180 (2 threads), the
cubic ``Resize`` (~0.29 s) and the two ``ConvTranspose`` stages (~0.29 s for 3.2 GMAC,
~11 GMAC/s) cost as much as the 21 ``Conv`` nodes' 41 GMAC together: ORT's CPU kernels
for both are generic loops, while ``Conv`` runs on its blocked (NCHWc) AVX-512 path.
Both ops are linear filters with a fixed phase per output pixel, so each becomes a
``Conv`` that computes every phase as a channel, followed by ``DepthToSpace``
(sub-pixel convolution):

* ``ConvTranspose`` (stride s, kernel k, pads p, output_padding op with k - 2p + op = s)
  -> [Pad zeros] -> Conv(Cin -> Cout*s*s) -> DepthToSpace(s). Exact: every product of
  the original appears once; the rest of the kernel is structural zeros.
* cubic ``Resize`` by an integer scale s (half_pixel / pytorch_half_pixel,
  exclude_outside=0) -> Pad(edge) -> depthwise Conv(C -> C*s*s) -> DepthToSpace(s).
  Edge padding reproduces Resize's clamping of out-of-range taps.

* optional (``fold_shuffle=True``): ``Conv`` (k x k, "same" padding) reading a
  ``DepthToSpace(b)`` -> a Conv on the low-resolution grid that computes all b*b output
  phases, then ``DepthToSpace(b)``. This moves the pixel shuffle from the decoder's wide
  features (16-48 channels at the output size) to the 3-channel result: ORT 1.09x /
  1.25x / 1.24x faster at x2 / x3 / x4 (OpenVINO unchanged), same Multi-Adds (non-zero
  weights), but the folded tail stores structural zeros: the file grows to 1.65x / 2.6x /
  1.5x of 4 bytes per parameter. Off by default here; the exporter turns it on (``--no-fold``
  turns it off), because it is what puts ONNX Runtime ahead of PyTorch eager.

Results match the original graph to float rounding (~1e-6); nodes that do not fit
these patterns are left unchanged. Used by the exporter::

    from export.fast_graph import rewrite_for_speed
    proto = rewrite_for_speed(proto)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from litesr_edge.bench.torch_weights import recover_conv_after_shuffle as _recover_after_shuffle
from litesr_edge.bench.torch_weights import recover_convtranspose

__all__ = [
    "conv_after_shuffle_weights",
    "cubic_phase_kernels",
    "recover_conv_after_shuffle",
    "recover_convtranspose_weights",
    "rewrite_for_int8",
    "rewrite_for_speed",
    "subpixel_convtranspose_weights",
]


def _attrs(node: onnx.NodeProto) -> dict[str, Any]:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _constants(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            consts[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    return consts


def _phase_offsets(s: int, k: int, p: int) -> list[list[tuple[int, int]]]:
    """Per output phase a: (input offset d, kernel tap) pairs with out[s*q+a] += x[q+d] * w[tap]."""
    return [[((a + p - t) // s, t) for t in range(k) if (a + p - t) % s == 0] for a in range(s)]


def subpixel_convtranspose_weights(
    w: np.ndarray, b: np.ndarray, s: int, p: int
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Conv weight (Cout*s*s, Cin, K, K), bias, pad_begin, pad_end equivalent to ConvTranspose(w, b).

    ``w`` is the ConvTranspose weight (Cin, Cout, k, k); channel order is DepthToSpace CRD.
    """
    cin, cout, k, _ = w.shape
    phases = _phase_offsets(s, k, p)
    ds = [d for ph in phases for d, _ in ph]
    dmin, dmax = min(ds), max(ds)
    size = dmax - dmin + 1
    out = np.zeros((cout, s, s, cin, size, size), np.float32)
    for ah, ph_h in enumerate(phases):
        for aw, ph_w in enumerate(phases):
            for dh, th in ph_h:
                for dw, tw in ph_w:
                    out[:, ah, aw, :, dh - dmin, dw - dmin] = w[:, :, th, tw].T
    bias = np.repeat(b.astype(np.float32), s * s)
    return out.reshape(cout * s * s, cin, size, size), bias, -dmin, dmax


def recover_convtranspose_weights(
    conv_w: np.ndarray, conv_b: np.ndarray, s: int, k: int, p: int
) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`subpixel_convtranspose_weights` (the runtime's bench reads weights this way)."""
    return recover_convtranspose(conv_w, conv_b, s, k, p)


def _shuffle_taps(b: int, k: int, p: int) -> tuple[list[list[tuple[int, int, int]]], int, int]:
    """Per output phase a: (kernel tap t, input phase a', grid offset d); and the pads the offsets need.

    HR position b*q + a + (t - p) = b*(q + d) + a'.
    """
    taps = [[(t, (a + t - p) % b, (a + t - p) // b) for t in range(k)] for a in range(b)]
    offsets = [d for ph in taps for _, _, d in ph]
    return taps, -min(offsets), max(offsets)


def conv_after_shuffle_weights(w: np.ndarray, bias: np.ndarray, b: int, p: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Weights of Conv' with Conv(w, pad p) o DepthToSpace_CRD(b) == DepthToSpace_CRD(b) o Conv'.

    ``w`` is (Cout, Cin, k, k); Conv' is (Cout*b*b, Cin*b*b, K, K) with pad P on the LR grid.
    """
    cout, cin, k, _ = w.shape
    taps, pad_lo, pad_hi = _shuffle_taps(b, k, p)
    size = pad_lo + pad_hi + 1
    out = np.zeros((cout, b, b, cin, b, b, size, size), np.float32)
    for ay, row in enumerate(taps):
        for ax, col in enumerate(taps):
            for ty, iy, dy in row:
                for tx, ix, dx in col:
                    out[:, ay, ax, :, iy, ix, dy + pad_lo, dx + pad_lo] = w[:, :, ty, tx]
    return out.reshape(cout * b * b, cin * b * b, size, size), np.repeat(bias.astype(np.float32), b * b), pad_lo


def recover_conv_after_shuffle(
    w2: np.ndarray, bias2: np.ndarray, b: int, k: int, p: int
) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`conv_after_shuffle_weights` (for tools that rebuild the PyTorch model)."""
    return _recover_after_shuffle(w2, bias2, b, k, p)


def _cubic(x: float, a: float) -> float:
    x = abs(x)
    if x <= 1:
        return ((a + 2) * x - (a + 3)) * x * x + 1
    if x < 2:
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return 0.0


def cubic_phase_kernels(s: int, a: float) -> tuple[np.ndarray, int, int]:
    """1-D taps (s, K) of half-pixel cubic upsampling by s, and the pads (begin, end) they need."""
    taps: list[dict[int, float]] = []
    for phase in range(s):
        src = (phase + 0.5) / s - 0.5
        base = math.floor(src)
        t = src - base
        weights = (_cubic(t + 1, a), _cubic(t, a), _cubic(1 - t, a), _cubic(2 - t, a))
        taps.append({base - 1 + i: wt for i, wt in enumerate(weights)})
    dmin = min(min(t) for t in taps)
    dmax = max(max(t) for t in taps)
    kern = np.zeros((s, dmax - dmin + 1), np.float64)
    for phase, tap in enumerate(taps):
        for d, wt in tap.items():
            kern[phase, d - dmin] += wt
    return kern, -dmin, dmax


class _Builder:
    """Makes initializers and value names that do not clash with the graph's (it may be rewritten twice)."""

    def __init__(self, graph: onnx.GraphProto) -> None:
        self.graph = graph
        self.new_inits: list[onnx.TensorProto] = []
        self.used = {t.name for t in graph.initializer} | {o for n in graph.node for o in n.output}
        self.count = 0

    def name(self, stem: str) -> str:
        while True:
            self.count += 1
            name = f"{stem}__fast{self.count}"
            if name not in self.used:
                self.used.add(name)
                return name

    def init(self, stem: str, arr: np.ndarray) -> str:
        name = self.name(stem)
        self.new_inits.append(numpy_helper.from_array(arr, name))
        return name


def _pad_node(bld: _Builder, src: str, begin: int, end: int, mode: str) -> tuple[list[onnx.NodeProto], str]:
    if begin == 0 and end == 0:
        return [], src
    pads = bld.init("pads", np.array([0, 0, begin, begin, 0, 0, end, end], np.int64))
    out = bld.name(f"{src}_pad")
    return [helper.make_node("Pad", [src, pads], [out], mode=mode)], out


def _rewrite_convtranspose(
    node: onnx.NodeProto, consts: dict[str, np.ndarray], bld: _Builder, relu_output: str | None
) -> list[onnx.NodeProto] | None:
    """Sub-pixel Conv for ``node``; with ``relu_output`` the following Relu is applied before
    DepthToSpace (a permutation, so equivalent) where ORT fuses it into the Conv."""
    at = _attrs(node)
    if (
        node.input[1] not in consts
        or at.get("group", 1) != 1
        or any(d != 1 for d in at.get("dilations", [1, 1]))
    ):
        return None
    w = consts[node.input[1]]
    strides = list(at.get("strides", [1, 1]))
    pads = list(at.get("pads", [0, 0, 0, 0]))
    opad = list(at.get("output_padding", [0, 0]))
    s, k, p = strides[0], w.shape[2], pads[0]
    same = strides == [s, s] and pads == [p] * 4 and opad == [opad[0]] * 2 and w.shape[2] == w.shape[3]
    if w.ndim != 4 or not same or "output_shape" in at or at.get("auto_pad", b"NOTSET") != b"NOTSET":
        return None
    if k - 2 * p + opad[0] != s:
        return None
    b = consts[node.input[2]] if len(node.input) > 2 and node.input[2] else np.zeros(w.shape[1], np.float32)
    cw, cb, pb, pe = subpixel_convtranspose_weights(w, b, s, p)
    nodes, src = _pad_node(bld, node.input[0], pb, pe, "constant")
    conv_out = bld.name(f"{node.output[0]}_phases")
    nodes.append(helper.make_node("Conv", [src, bld.init("w", cw), bld.init("b", cb)], [conv_out]))
    if relu_output is not None:
        nodes.append(helper.make_node("Relu", [conv_out], [conv_out + "_relu"]))
        conv_out += "_relu"
    final = relu_output if relu_output is not None else node.output[0]
    nodes.append(helper.make_node("DepthToSpace", [conv_out], [final], blocksize=s, mode="CRD"))
    return nodes


def _rewrite_resize(
    node: onnx.NodeProto, consts: dict[str, np.ndarray], bld: _Builder, channels: int
) -> list[onnx.NodeProto] | None:
    at = _attrs(node)
    ctm = at.get("coordinate_transformation_mode", b"half_pixel")
    if (
        at.get("mode") != b"cubic"
        or ctm not in (b"half_pixel", b"pytorch_half_pixel")
        or at.get("exclude_outside", 0)
    ):
        return None
    if len(node.input) < 3 or node.input[2] not in consts or (len(node.input) > 3 and node.input[3]):
        return None
    scales = consts[node.input[2]].tolist()
    s = int(round(scales[2])) if len(scales) == 4 else 0
    if len(scales) != 4 or scales[:2] != [1.0, 1.0] or scales[2] != scales[3] or s != scales[2] or s < 2:
        return None
    kern, pb, pe = cubic_phase_kernels(s, float(at.get("cubic_coeff_a", -0.75)))
    k2 = np.einsum("ai,bj->abij", kern, kern).reshape(1, s * s, *kern.shape[1:] * 2)
    weight = np.repeat(k2, channels, axis=0).reshape(channels * s * s, 1, kern.shape[1], kern.shape[1])
    nodes, src = _pad_node(bld, node.input[0], pb, pe, "edge")
    conv_out = bld.name(f"{node.output[0]}_phases")
    nodes.append(
        helper.make_node(
            "Conv", [src, bld.init("bicubic_w", weight.astype(np.float32))], [conv_out], group=channels
        )
    )
    nodes.append(helper.make_node("DepthToSpace", [conv_out], [node.output[0]], blocksize=s, mode="CRD"))
    return nodes


def _input_channels(graph: onnx.GraphProto, name: str) -> int | None:
    for vi in graph.input:
        if vi.name == name:
            dims = vi.type.tensor_type.shape.dim
            return dims[1].dim_value if len(dims) == 4 and dims[1].dim_value > 0 else None
    return None


def rewrite_for_speed(
    model: onnx.ModelProto, convtranspose: bool = True, resize: bool = True, fold_shuffle: bool = False
) -> onnx.ModelProto:
    """A copy of ``model`` with ConvTranspose and/or integer-scale cubic Resize as sub-pixel Convs,
    and (``fold_shuffle``) Convs after a pixel shuffle moved before it."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    consts = _constants(graph)
    bld = _Builder(graph)
    relus = _sole_relu_consumers(graph)
    absorbed: set[str] = set()
    new_nodes: list[onnx.NodeProto] = []
    for node in graph.node:
        repl = None
        if node.op_type == "Relu" and node.output[0] in absorbed:
            continue
        if node.op_type == "ConvTranspose" and convtranspose:
            relu = relus.get(node.output[0])
            repl = _rewrite_convtranspose(node, consts, bld, relu.output[0] if relu else None)
            if repl is not None and relu is not None:
                absorbed.add(relu.output[0])
        elif node.op_type == "Resize" and resize:
            ch = _input_channels(graph, node.input[0])
            repl = _rewrite_resize(node, consts, bld, ch) if ch else None
        new_nodes.extend(repl if repl is not None else [node])
    del graph.node[:]
    graph.node.extend(new_nodes)
    graph.initializer.extend(bld.new_inits)
    if fold_shuffle:
        _fold_conv_after_shuffle(graph)
    _drop_unused(graph)
    onnx.checker.check_model(out)
    return out


def rewrite_for_int8(model: onnx.ModelProto) -> onnx.ModelProto:
    """The graph form the int8 exporter quantizes: only the skip's cubic Resize rewritten.

    The decoder keeps its ConvTranspose stages and the tail Conv stays at full resolution.
    OpenVINO runs an int8 ConvTranspose as one AMX kernel, whereas the sub-pixel form needs
    an int8 DepthToSpace that its CPU plugin runs slowly: in paired runs the network is
    1.12-1.18x faster at x4, 1.08x at x3 and the same at x2, with identical uint8 output
    (``python -m benchmarks.int8_forms``, benchmarks/results/int8_forms.md). The skip keeps
    the rewrite: ONNX Runtime, which runs int8 files too, is not translation-exact with the
    cubic Resize at x3 (see the module docstring).
    """
    return rewrite_for_speed(model, convtranspose=False, resize=True, fold_shuffle=False)


def _fold_conv_after_shuffle(graph: onnx.GraphProto) -> None:
    """Rewrite Conv(DepthToSpace_CRD(y)) as DepthToSpace_CRD(Conv'(y)) where the pattern fits."""
    consts = _constants(graph)
    bld = _Builder(graph)
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    producer = {o: n for n in graph.node for o in n.output}
    replaced: dict[int, list[onnx.NodeProto]] = {}
    dropped: set[int] = set()
    for node in graph.node:
        shuffle = producer.get(node.input[0]) if node.op_type == "Conv" else None
        if shuffle is None or shuffle.op_type != "DepthToSpace" or len(consumers[shuffle.output[0]]) != 1:
            continue
        repl = _folded(node, shuffle, consts, bld)
        if repl is not None:
            replaced[id(node)] = repl
            dropped.add(id(shuffle))
    nodes = [n for node in graph.node if id(node) not in dropped for n in replaced.get(id(node), [node])]
    del graph.node[:]
    graph.node.extend(nodes)
    graph.initializer.extend(bld.new_inits)


def _folded(conv: onnx.NodeProto, shuffle: onnx.NodeProto, consts: dict[str, np.ndarray],
            bld: _Builder) -> list[onnx.NodeProto] | None:
    at, sat = _attrs(conv), _attrs(shuffle)
    if sat.get("mode", b"DCR") != b"CRD" or conv.input[1] not in consts:
        return None
    w = consts[conv.input[1]]
    k = w.shape[2]
    pads = [int(v) for v in at.get("pads", [0, 0, 0, 0])]
    unit = [int(v) for v in [*at.get("strides", [1, 1]), *at.get("dilations", [1, 1])]]
    same = w.shape[3] == k and k % 2 == 1 and pads == [(k - 1) // 2] * 4
    if at.get("group", 1) != 1 or unit != [1] * 4 or not same or at.get("auto_pad", b"NOTSET") != b"NOTSET":
        return None
    b = int(sat["blocksize"])
    bias = consts[conv.input[2]] if len(conv.input) > 2 and conv.input[2] else np.zeros(w.shape[0], np.float32)
    w2, b2, pad = conv_after_shuffle_weights(w, bias, b, (k - 1) // 2)
    phases = bld.name(f"{conv.output[0]}_phases")
    return [
        helper.make_node("Conv", [shuffle.input[0], bld.init("w", w2), bld.init("b", b2)], [phases],
                         pads=[pad] * 4),
        helper.make_node("DepthToSpace", [phases], [conv.output[0]], blocksize=b, mode="CRD"),
    ]


def _sole_relu_consumers(graph: onnx.GraphProto) -> dict[str, onnx.NodeProto]:
    """ConvTranspose output name -> the Relu that is its only consumer."""
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    outputs = {o.name for o in graph.output}
    found = {}
    for node in graph.node:
        users = consumers.get(node.output[0], [])
        single_relu = len(users) == 1 and users[0].op_type == "Relu"
        if node.op_type == "ConvTranspose" and single_relu and node.output[0] not in outputs:
            found[node.output[0]] = users[0]
    return found


def _drop_unused(graph: onnx.GraphProto) -> None:
    used = {i for n in graph.node for i in n.input} | {o.name for o in graph.output}
    keep_nodes = [n for n in graph.node if n.op_type != "Constant" or n.output[0] in used]
    del graph.node[:]
    graph.node.extend(keep_nodes)
    keep = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)
