"""Multi-Adds and the torch/onnx-free graph reader, against hand counts on tiny graphs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from litesr_edge.bench.macs import count_macs, cubic_taps_per_output
from litesr_edge.bench.onnx_graph import parse_model, read_graph
from litesr_edge.errors import InvalidInputError, ModelError

onnx = pytest.importorskip("onnx", reason="building test graphs needs the onnx package (dev extra)")
from make_fixtures import build_tiny_model  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def _model(nodes: list[Any], inits: list[Any], cin: int = 3) -> bytes:
    graph = helper.make_graph(
        nodes, "t", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", cin, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return bytes(model.SerializeToString())


def _w(name: str, *shape: int, zero_first: int = 0) -> Any:
    arr = np.random.default_rng(0).uniform(0.5, 1.0, shape).astype(np.float32)
    arr.reshape(-1)[:zero_first] = 0.0
    return numpy_helper.from_array(arr, name)


def test_conv_hand_count_with_stride_padding_and_groups() -> None:
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["a"], pads=[1, 1, 1, 1]),                # 3->6, 3x3, same
        helper.make_node("Conv", ["a", "w2"], ["b"], strides=[2, 2], pads=[0, 0, 0, 0]),      # 6->4, 3x3, s2, valid
        helper.make_node("Conv", ["b", "w3"], ["y"], group=2, kernel_shape=[1, 1]),           # 4->2, 1x1, g2
    ]
    data = _model(nodes, [_w("w1", 6, 3, 3, 3), _w("b1", 6), _w("w2", 4, 6, 3, 3), _w("w3", 2, 2, 1, 1)])
    rep = count_macs(parse_model(data), (1, 3, 11, 13))
    h2, w2 = (11 - 3) // 2 + 1, (13 - 3) // 2 + 1
    assert rep.output_shape == (1, 2, h2, w2)
    assert rep.macs == 6 * 3 * 9 * 11 * 13 + 4 * 6 * 9 * h2 * w2 + 2 * 2 * 1 * h2 * w2
    assert rep.stored_weights == 6 * 27 + 6 + 4 * 54 + 4
    assert rep.weight_bytes == 4 * rep.stored_weights


def test_batch_multiplies_macs() -> None:
    data = _model([helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])], [_w("w", 2, 3, 3, 3)])
    one = count_macs(parse_model(data), (1, 3, 5, 7)).macs
    assert count_macs(parse_model(data), (3, 3, 5, 7)).macs == 3 * one == 3 * 2 * 27 * 35


def test_conv_transpose_counts_per_input_pixel() -> None:
    node = helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], strides=[2, 2], pads=[1, 1, 1, 1],
                            output_padding=[1, 1], kernel_shape=[3, 3])
    rep = count_macs(parse_model(_model([node], [_w("w", 3, 5, 3, 3), _w("b", 5)])), (1, 3, 4, 6))
    assert rep.output_shape == (1, 5, 8, 12)
    assert rep.macs == 3 * 5 * 9 * 4 * 6


def test_zero_weights_are_not_counted() -> None:
    node = helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])
    rep = count_macs(parse_model(_model([node], [_w("w", 2, 3, 3, 3, zero_first=10)])), (1, 3, 4, 4))
    assert rep.macs == (54 - 10) * 16


@pytest.mark.parametrize(("scale", "taps"), [(2, 16.0), (3, 9.0), (4, 16.0)])
def test_cubic_resize_counts_nonzero_taps(scale: int, taps: float) -> None:
    assert cubic_taps_per_output(scale) == taps
    scales = numpy_helper.from_array(np.array([1, 1, scale, scale], np.float32), "s")
    node = helper.make_node("Resize", ["x", "", "s"], ["y"], mode="cubic", cubic_coeff_a=-0.75,
                            coordinate_transformation_mode="half_pixel")
    rep = count_macs(parse_model(_model([node], [scales])), (1, 3, 5, 6))
    assert rep.output_shape == (1, 3, 5 * scale, 6 * scale)
    assert rep.macs == round(taps * 3 * 5 * scale * 6 * scale)
    assert rep.stored_weights == 0  # a Resize's scales are not weights


def test_elementwise_counted_apart_and_gemm() -> None:
    nodes = [
        helper.make_node("Relu", ["x"], ["r"]),
        helper.make_node("Add", ["r", "x"], ["a"]),
        helper.make_node("MatMul", ["a", "m"], ["y"]),
    ]
    rep = count_macs(parse_model(_model(nodes, [_w("m", 4, 5)])), (2, 3, 6, 4))
    assert rep.elementwise == 2 * 2 * 3 * 6 * 4
    assert rep.macs == rep.macs_by_op["MatMul"] == 2 * 3 * 6 * 5 * 4
    assert rep.output_shape == (2, 3, 6, 5)


def test_constant_node_feeds_resize_scales() -> None:
    const = helper.make_node("Constant", [], ["s"], value=numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32)))
    resize = helper.make_node("Resize", ["x", "", "s"], ["y"], mode="linear")
    rep = count_macs(parse_model(_model([const, resize], [])), (1, 3, 4, 4))
    assert rep.output_shape == (1, 3, 8, 8)
    assert rep.macs == 4 * 3 * 64


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_litesrnet_hand_count(scale: int) -> None:
    c, depth, h, w = 4, 3, 10, 7
    rep = count_macs(parse_model(build_tiny_model(scale, depth, c).SerializeToString()), (1, 3, h, w))
    width = c  # conftest's decoder width for channels=4
    decoder = (c * width * 9 * h * w) if scale != 4 else (c * width * 9 * h * w + width * 2 * 9 * 4 * h * w)
    last = width if scale != 4 else 2
    expected = (c * 3 * 9 + depth * c * c * 9) * h * w + decoder + 3 * last * 9 * h * w * scale**2
    expected += round(cubic_taps_per_output(scale) * 3 * h * w * scale**2)
    assert rep.macs == expected
    assert rep.output_shape == (1, 3, h * scale, w * scale)


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("fold", [False, True])
def test_fast_graph_rewrite_keeps_the_count(scale: int, fold: bool) -> None:
    fast_graph = pytest.importorskip("export.fast_graph", reason="needs the exporter's export/fast_graph.py")
    proto = build_tiny_model(scale, depth=2, channels=4)
    plain = count_macs(parse_model(proto.SerializeToString()), (1, 3, 9, 8))
    rewritten = parse_model(fast_graph.rewrite_for_speed(proto, fold_shuffle=fold).SerializeToString())
    fast = count_macs(rewritten, (1, 3, 9, 8))
    assert "DepthToSpace" in {n.op_type for n in rewritten.nodes}
    assert fast.macs == plain.macs and fast.output_shape == plain.output_shape


def test_reader_matches_onnx_load(tmp_path: Any) -> None:
    proto = build_tiny_model(4, depth=2, channels=4)
    path = tmp_path / "m.onnx"
    path.write_bytes(proto.SerializeToString())
    graph = read_graph(path)
    assert [n.op_type for n in graph.nodes] == [n.op_type for n in proto.graph.node]
    for ours, theirs in zip(graph.nodes, proto.graph.node, strict=True):
        assert ours.inputs == tuple(theirs.input) and ours.outputs == tuple(theirs.output)
        for attr in theirs.attribute:
            value = helper.get_attribute_value(attr)
            assert ours.attrs[attr.name] == (tuple(value) if isinstance(value, list) else value)
    for tensor in proto.graph.initializer:
        np.testing.assert_array_equal(graph.initializers[tensor.name].values, numpy_helper.to_array(tensor))
    assert graph.inputs[0].dims == ("N", 3, "H", "W")
    assert graph.metadata["litesr.scale"] == "4"


def test_reader_rejects_garbage(tmp_path: Any) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\xff\xff\xff\xff not a protobuf")
    with pytest.raises(ModelError, match="not a readable ONNX model"):
        read_graph(bad)
    with pytest.raises(ModelError, match="cannot read model"):
        read_graph(tmp_path / "missing.onnx")


def test_unknown_operator_is_named() -> None:
    data = _model([helper.make_node("Softmax", ["x"], ["y"])], [])
    with pytest.raises(ModelError, match="Softmax"):
        count_macs(parse_model(data), (1, 3, 4, 4))


def test_bad_input_shape() -> None:
    data = _model([helper.make_node("Relu", ["x"], ["y"])], [])
    with pytest.raises(InvalidInputError):
        count_macs(parse_model(data), (1, 3, 4))
