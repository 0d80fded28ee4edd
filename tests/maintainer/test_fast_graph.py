"""export/fast_graph.py: the sub-pixel rewrite computes the same function as the exported graph."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

onnx = pytest.importorskip("onnx", reason="the rewrite works on onnx protos (dev/maintainer extra)")
fast_graph = pytest.importorskip("export.fast_graph", reason="needs the exporter package (repository checkout)")

from make_fixtures import build_tiny_model  # noqa: E402


def _run(proto: object, x: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])  # type: ignore[attr-defined]
    return np.asarray(sess.run(None, {"lr": x})[0])


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("shape", [(1, 3, 1, 1), (2, 3, 9, 14), (1, 3, 30, 3)])
@pytest.mark.parametrize("fold", [False, True])
def test_rewrite_matches_original(scale: int, shape: tuple[int, int, int, int], fold: bool) -> None:
    proto = build_tiny_model(scale, depth=2, channels=6, seed=scale)
    fast = fast_graph.rewrite_for_speed(proto, fold_shuffle=fold)
    ops = [n.op_type for n in fast.graph.node]
    assert "ConvTranspose" not in ops and "Resize" not in ops
    x = np.random.default_rng(0).random(shape, dtype=np.float32)
    want, got = _run(proto, x), _run(fast, x)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=2e-5, rtol=0)


def test_relu_is_fused_before_depth_to_space() -> None:
    fast = fast_graph.rewrite_for_speed(build_tiny_model(4, depth=1, channels=4))
    producers = {o: n for n in fast.graph.node for o in n.output}
    for node in fast.graph.node:
        if node.op_type == "DepthToSpace" and producers[node.input[0]].op_type == "Relu":
            assert producers[producers[node.input[0]].input[0]].op_type == "Conv"
    assert sum(n.op_type == "Relu" for n in fast.graph.node) == 1 + 1 + 2  # head, body, two decoder stages


def test_partial_rewrites_and_untouched_patterns() -> None:
    proto = build_tiny_model(2, depth=1, channels=4)
    only_resize = fast_graph.rewrite_for_speed(proto, convtranspose=False)
    ops = [n.op_type for n in only_resize.graph.node]
    assert "ConvTranspose" in ops and "Resize" not in ops
    # A linear Resize is not a cubic one: left as it is.
    for node in proto.graph.node:
        if node.op_type == "Resize":
            for attr in node.attribute:
                if attr.name == "mode":
                    attr.s = b"linear"
    assert "Resize" in [n.op_type for n in fast_graph.rewrite_for_speed(proto).graph.node]


@pytest.mark.parametrize(("s", "k", "p"), [(2, 3, 1), (3, 3, 0), (2, 4, 1)])
def test_recover_weights_inverts_the_rewrite(s: int, k: int, p: int) -> None:
    rng = np.random.default_rng(1)
    w, b = rng.random((5, 3, k, k), dtype=np.float32), rng.random(3, dtype=np.float32)
    cw, cb, _, _ = fast_graph.subpixel_convtranspose_weights(w, b, s, p)
    w2, b2 = fast_graph.recover_convtranspose_weights(cw, cb, s, k, p)
    np.testing.assert_array_equal(w2, w)
    np.testing.assert_array_equal(b2, b)


@pytest.mark.parametrize(("b", "k"), [(2, 3), (3, 3), (4, 5)])
def test_conv_after_shuffle_fold_is_exact_and_invertible(b: int, k: int) -> None:
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(b)
    w, bias = rng.standard_normal((3, 5, k, k)).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("DepthToSpace", ["lr"], ["hr"], blocksize=b, mode="CRD"),
         helper.make_node("Conv", ["hr", "w", "b"], ["sr"], pads=[(k - 1) // 2] * 4)],
        "g", [helper.make_tensor_value_info("lr", TensorProto.FLOAT, [1, 5 * b * b, "H", "W"])],
        [helper.make_tensor_value_info("sr", TensorProto.FLOAT, [1, 3, "h", "w"])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(bias, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    assert [n.op_type for n in fast_graph.rewrite_for_speed(model).graph.node] == ["DepthToSpace", "Conv"]
    folded = fast_graph.rewrite_for_speed(model, fold_shuffle=True)
    assert [n.op_type for n in folded.graph.node] == ["Conv", "DepthToSpace"]
    x = rng.random((1, 5 * b * b, 4, 7), dtype=np.float32)
    np.testing.assert_allclose(_run(folded, x), _run(model, x), atol=1e-5, rtol=0)
    w2, b2, _ = fast_graph.conv_after_shuffle_weights(w, bias, b, (k - 1) // 2)
    w3, b3 = fast_graph.recover_conv_after_shuffle(w2, b2, b, k, (k - 1) // 2)
    np.testing.assert_array_equal(w3, w)
    np.testing.assert_array_equal(b3, bias)


def test_cubic_phase_kernels_sum_to_one() -> None:
    for s in (2, 3, 4):
        kern, begin, end = fast_graph.cubic_phase_kernels(s, -0.75)
        np.testing.assert_allclose(kern.sum(axis=1), 1.0, atol=1e-12)
        assert (begin, end) == (2, 2)


def test_rewriting_a_rewritten_graph_folds_without_name_clashes() -> None:
    # Bundled models are already rewritten; folding them later must still be exact.
    proto = build_tiny_model(4, depth=2, channels=4)
    twice = fast_graph.rewrite_for_speed(fast_graph.rewrite_for_speed(proto), fold_shuffle=True)
    x = np.random.default_rng(5).random((1, 3, 11, 9), dtype=np.float32)
    np.testing.assert_allclose(_run(twice, x), _run(proto, x), atol=2e-5, rtol=0)
    assert len({t.name for t in twice.graph.initializer}) == len(twice.graph.initializer)
