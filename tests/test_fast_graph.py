"""export/fast_graph.py: the sub-pixel rewrite computes the same function as the exported graph."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

onnx = pytest.importorskip("onnx", reason="the rewrite works on onnx protos (dev/maintainer extra)")
fast_graph = pytest.importorskip("export.fast_graph", reason="needs the exporter package (repository checkout)")

from conftest import build_tiny_model  # noqa: E402


def _run(proto: object, x: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])  # type: ignore[attr-defined]
    return np.asarray(sess.run(None, {"lr": x})[0])


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("shape", [(1, 3, 1, 1), (2, 3, 9, 14), (1, 3, 30, 3)])
def test_rewrite_matches_original(scale: int, shape: tuple[int, int, int, int]) -> None:
    proto = build_tiny_model(scale, depth=2, channels=6, seed=scale)
    fast = fast_graph.rewrite_for_speed(proto)
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


def test_cubic_phase_kernels_sum_to_one() -> None:
    for s in (2, 3, 4):
        kern, begin, end = fast_graph.cubic_phase_kernels(s, -0.75)
        np.testing.assert_allclose(kern.sum(axis=1), 1.0, atol=1e-12)
        assert (begin, end) == (2, 2)
