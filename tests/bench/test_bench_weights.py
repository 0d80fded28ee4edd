"""The PyTorch row's weight reader: every graph form the exporter writes maps back to the same weights (no torch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from litesr_edge.bench.torch_weights import (
    LiteSRWeights,
    read_weights,
    recover_conv_after_shuffle,
    recover_convtranspose,
)
from litesr_edge.errors import ModelError
from litesr_edge.registry import list_models
from litesr_edge.registry.metadata import read_model_info


def _fast_graph():  # type: ignore[no-untyped-def]
    pytest.importorskip("onnx", reason="building graph forms needs the onnx package (dev extra)")
    return pytest.importorskip("export.fast_graph", reason="needs the exporter's fast_graph module (a checkout)")


def _arrays(w: LiteSRWeights) -> list[np.ndarray]:
    convs = (w.head, w.body, *w.upsample, w.tail)
    return [a for c in convs for a in (c.weight, c.bias)]


@pytest.mark.parametrize(("stride", "padding"), [(2, 1), (3, 0)])
def test_convtranspose_recovered_from_its_subpixel_conv(stride: int, padding: int) -> None:
    fast_graph = _fast_graph()
    rng = np.random.default_rng(stride)
    w = rng.standard_normal((5, 4, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    conv_w, conv_b, _, _ = fast_graph.subpixel_convtranspose_weights(w, b, stride, padding)
    got_w, got_b = recover_convtranspose(conv_w, conv_b, stride, 3, padding)
    np.testing.assert_array_equal(got_w, w)
    np.testing.assert_array_equal(got_b, b)


@pytest.mark.parametrize("block", [2, 3])
def test_conv_recovered_from_its_folded_form(block: int) -> None:
    fast_graph = _fast_graph()
    rng = np.random.default_rng(block)
    w = rng.standard_normal((3, 6, 3, 3)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    folded_w, folded_b, _ = fast_graph.conv_after_shuffle_weights(w, b, block, 1)
    got_w, got_b = recover_conv_after_shuffle(folded_w, folded_b, block, 3, 1)
    np.testing.assert_array_equal(got_w, w)
    np.testing.assert_array_equal(got_b, b)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_all_graph_forms_give_the_same_weights(tiny_model_factory, tmp_path: Path, scale: int) -> None:  # type: ignore[no-untyped-def]
    fast_graph = _fast_graph()
    import onnx

    plain = tiny_model_factory(scale=scale, depth=3)
    fast = tiny_model_factory(scale=scale, depth=3, fast=True)
    folded = tmp_path / "folded.onnx"
    folded.write_bytes(fast_graph.rewrite_for_speed(onnx.load(str(plain)), fold_shuffle=True).SerializeToString())
    want = read_weights(plain)
    assert (want.scale, want.depth, [s.stride for s in want.upsample]) == (scale, 3, [2, 2] if scale == 4 else [scale])
    for other in (fast, folded):
        got = read_weights(other)
        for a, b in zip(_arrays(got), _arrays(want), strict=True):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-7)


def test_bundled_models_read_with_their_parameter_count() -> None:
    fp32 = [m for m in list_models() if m.info.precision == "fp32"]
    if not fp32:
        pytest.skip("no bundled fp32 model")
    for model in fp32:
        weights = read_weights(model.path)
        assert weights.params == read_model_info(model.path).params, model.path


def test_int8_model_is_refused_with_the_fix() -> None:
    int8 = [m for m in list_models() if m.info.precision == "int8"]
    if not int8:
        pytest.skip("no bundled int8 model")
    with pytest.raises(ModelError, match="fp32 original"):
        read_weights(int8[0].path)


def test_depth_that_does_not_match_the_graph_is_refused(tiny_model_factory) -> None:  # type: ignore[no-untyped-def]
    path = tiny_model_factory(scale=2, depth=2, metadata={"depth": "5"})
    with pytest.raises(ModelError, match="expected 8 at depth 5"):
        read_weights(path)
