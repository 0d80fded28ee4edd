"""LiteSRNet's PyTorch parameters read back from an exported ONNX file, in any of its graph forms.

The PyTorch row of ``litesr-edge bench`` runs the network eagerly on the same weights
as the ONNX file. The exporter writes the network in one of three forms:

* as traced: head Conv, the recurrent Conv (one initializer read ``depth`` times),
  ConvTranspose decoder stages, tail Conv, cubic Resize skip;
* sub-pixel: each ConvTranspose as [Pad] -> Conv -> DepthToSpace (the output phases
  as channels) and the Resize as a depthwise Conv -> DepthToSpace;
* folded: the sub-pixel form with the tail Conv also moved before the last pixel
  shuffle, onto the low-resolution grid.

Both rewrites place every original weight once and fill the rest with structural
zeros, so the inverse maps here recover the original tensors exactly. The skip has
no learned weights. The file is read with :mod:`litesr_edge.bench.onnx_graph`:
numpy only, neither ``onnx`` nor ``torch``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from litesr_edge.bench.onnx_graph import Graph, Node, read_graph
from litesr_edge.errors import ModelError

__all__ = ["ConvWeights", "LiteSRWeights", "read_weights", "recover_conv_after_shuffle", "recover_convtranspose"]

Weights = NDArray[np.float32]
# LiteSRNet's decoder: ConvTranspose stages of 3x3 kernels whose strides multiply to the scale.
KERNEL = 3
STRIDES = {2: (2,), 3: (3,), 4: (2, 2)}
_FLOAT = 1  # TensorProto.FLOAT


@dataclass(frozen=True)
class ConvWeights:
    """One convolution as PyTorch defines it: weight, bias and geometry."""

    weight: Weights  # Conv: (out, in, k, k); ConvTranspose: (in, out, k, k)
    bias: Weights
    stride: int = 1
    padding: int = 1
    output_padding: int = 0
    transposed: bool = False

    @property
    def size(self) -> int:
        """Number of parameters."""
        return int(self.weight.size + self.bias.size)


@dataclass(frozen=True)
class LiteSRWeights:
    """Everything the eager network needs: head, recurrent body, decoder stages, tail."""

    scale: int
    depth: int
    head: ConvWeights
    body: ConvWeights
    upsample: tuple[ConvWeights, ...]
    tail: ConvWeights

    @property
    def params(self) -> int:
        """Parameters of the network (the recurrent conv counted once)."""
        return sum(c.size for c in (self.head, self.body, *self.upsample, self.tail))


def read_weights(path: str | os.PathLike[str]) -> LiteSRWeights:
    """The LiteSRNet weights of the ONNX file at ``path``; ModelError if it is not such a graph."""
    graph = read_graph(path)
    try:
        return _weights(graph)
    except _Mismatch as exc:
        raise ModelError(f"{Path(path)} is not a LiteSRNet graph the PyTorch row can rebuild: {exc}") from None


class _Mismatch(Exception):
    """The graph does not have the shape of an exported LiteSRNet (message says where)."""


def _weights(graph: Graph) -> LiteSRWeights:
    scale, depth = _meta_int(graph, "scale"), _meta_int(graph, "depth")
    if scale not in STRIDES:
        raise _Mismatch(f"litesr.scale {scale} is not 2, 3 or 4")
    convs = [n for n in graph.nodes if n.op_type in ("Conv", "ConvTranspose") and n.attrs.get("group", 1) == 1]
    strides = STRIDES[scale]
    if len(convs) != depth + 2 + len(strides):
        raise _Mismatch(f"{len(convs)} full convolutions, expected {depth + 2 + len(strides)} at depth {depth}")
    head, body, stages, tail = convs[0], convs[1 : 1 + depth], convs[1 + depth : -1], convs[-1]
    if len({n.inputs[1] for n in body}) != 1:
        raise _Mismatch(f"the {depth} recurrent convolutions do not share one weight")
    weights = LiteSRWeights(
        scale=scale, depth=depth, head=_conv(graph, head), body=_conv(graph, body[0]),
        upsample=tuple(_stage(graph, n, s) for n, s in zip(stages, strides, strict=True)),
        tail=_tail(graph, tail),
    )
    _check_widths(weights)
    return weights


def _meta_int(graph: Graph, key: str) -> int:
    text = graph.metadata.get(f"litesr.{key}", "")
    if not text.isdigit():
        raise _Mismatch(f"metadata litesr.{key} is {text or 'missing'!r}, not an integer")
    return int(text)


def _array(graph: Graph, name: str) -> Weights:
    tensor = graph.initializers.get(name)
    if tensor is None or tensor.values is None or tensor.data_type != _FLOAT:
        raise _Mismatch(f"{name!r} is not a float32 initializer (a quantized model? use its fp32 original)")
    return np.array(tensor.values, dtype=np.float32)


def _conv(graph: Graph, node: Node) -> ConvWeights:
    """A plain 3x3 'same' Conv (head, body, unfolded tail)."""
    weight = _array(graph, node.inputs[1])
    if weight.ndim != 4 or weight.shape[2:] != (KERNEL, KERNEL) or len(node.inputs) < 3:
        raise _Mismatch(f"convolution {node.name or node.outputs[0]!r} is not a 3x3 Conv with bias")
    return ConvWeights(weight, _array(graph, node.inputs[2]))


def _geometry(stride: int) -> tuple[int, int]:
    """(padding, output_padding) of a stage: the smallest padding with k - 2p + op = stride."""
    padding = (KERNEL - stride + 1) // 2
    return padding, stride - KERNEL + 2 * padding


def _stage(graph: Graph, node: Node, stride: int) -> ConvWeights:
    """A decoder stage: a ConvTranspose, or its sub-pixel Conv."""
    padding, out_pad = _geometry(stride)
    weight, bias = _array(graph, node.inputs[1]), _array(graph, node.inputs[2])
    if node.op_type == "Conv":
        if weight.shape[0] % (stride * stride) or bias.size != weight.shape[0]:
            raise _Mismatch(f"stage {node.outputs[0]!r}: {weight.shape[0]} outputs, not {stride}x{stride} phases")
        weight, bias = recover_convtranspose(weight, bias, stride, KERNEL, padding)
    elif node.attrs.get("strides") != (stride, stride):
        raise _Mismatch(f"ConvTranspose {node.outputs[0]!r} has strides {node.attrs.get('strides')!r}, not {stride}")
    return ConvWeights(weight, bias, stride, padding, out_pad, transposed=True)


def _tail(graph: Graph, node: Node) -> ConvWeights:
    """The tail Conv; in the folded form, recovered from its low-resolution equivalent."""
    shuffle = next((n for n in graph.nodes if node.outputs[0] in n.inputs and n.op_type == "DepthToSpace"), None)
    if shuffle is None:
        return _conv(graph, node)
    block = shuffle.attrs.get("blocksize")
    if not isinstance(block, int):
        raise _Mismatch(f"DepthToSpace {shuffle.outputs[0]!r} has no blocksize")
    weight, bias = recover_conv_after_shuffle(
        _array(graph, node.inputs[1]), _array(graph, node.inputs[2]), block, KERNEL, 1
    )
    return ConvWeights(weight, bias)


def _phase_offsets(s: int, k: int, p: int) -> list[list[tuple[int, int]]]:
    """Per output phase a: (input offset d, kernel tap) pairs with out[s*q+a] += x[q+d] * w[tap]."""
    return [[((a + p - t) // s, t) for t in range(k) if (a + p - t) % s == 0] for a in range(s)]


def recover_convtranspose(conv_w: Weights, conv_b: Weights, s: int, k: int, p: int) -> tuple[Weights, Weights]:
    """ConvTranspose (Cin, Cout, k, k) weight and bias from its sub-pixel Conv (Cout*s*s, Cin, K, K).

    Inverse of the exporter's sub-pixel rewrite (channel order DepthToSpace CRD).
    """
    phases = _phase_offsets(s, k, p)
    dmin = min(d for ph in phases for d, _ in ph)
    size = conv_w.shape[2]
    cout, cin = conv_w.shape[0] // (s * s), conv_w.shape[1]
    blocks = conv_w.reshape(cout, s, s, cin, size, size)
    w = np.zeros((cin, cout, k, k), np.float32)
    for ah, ph_h in enumerate(phases):
        for aw, ph_w in enumerate(phases):
            for dh, th in ph_h:
                for dw, tw in ph_w:
                    w[:, :, th, tw] = blocks[:, ah, aw, :, dh - dmin, dw - dmin].T
    return w, conv_b.reshape(cout, s * s)[:, 0].astype(np.float32)


def _shuffle_taps(b: int, k: int, p: int) -> tuple[list[list[tuple[int, int, int]]], int]:
    """Per output phase a: (kernel tap t, input phase a', grid offset d); and the low pad the offsets need.

    HR position b*q + a + (t - p) = b*(q + d) + a'.
    """
    taps = [[(t, (a + t - p) % b, (a + t - p) // b) for t in range(k)] for a in range(b)]
    return taps, -min(d for ph in taps for _, _, d in ph)


def recover_conv_after_shuffle(w2: Weights, bias2: Weights, b: int, k: int, p: int) -> tuple[Weights, Weights]:
    """Conv (Cout, Cin, k, k) weight and bias from Conv' with Conv o DepthToSpace(b) == DepthToSpace(b) o Conv'.

    Inverse of the exporter's fold of a Conv past a pixel shuffle: phase 0's taps hold every weight.
    """
    taps, pad_lo = _shuffle_taps(b, k, p)
    size = w2.shape[2]
    cout, cin = w2.shape[0] // (b * b), w2.shape[1] // (b * b)
    blocks = w2.reshape(cout, b, b, cin, b, b, size, size)
    w = np.zeros((cout, cin, k, k), np.float32)
    for ty, iy, dy in taps[0]:
        for tx, ix, dx in taps[0]:
            w[:, :, ty, tx] = blocks[:, 0, 0, :, iy, ix, dy + pad_lo, dx + pad_lo]
    return w, bias2.reshape(cout, b * b)[:, 0].astype(np.float32)


def _check_widths(weights: LiteSRWeights) -> None:
    """Consecutive layers' channel counts must chain: 3 -> C -> C -> stages -> 3."""
    head, body, tail = weights.head.weight.shape, weights.body.weight.shape, weights.tail.weight.shape
    feed, fits = head[0], head[1] == 3 and body[:2] == (head[0], head[0]) and tail[0] == 3
    for stage in weights.upsample:  # ConvTranspose weights are (in, out, k, k)
        fits = fits and stage.weight.shape[0] == feed
        feed = stage.weight.shape[1]
    if not fits or tail[1] != feed:
        raise _Mismatch(f"layer widths do not chain (head {head}, body {body}, tail {tail})")
