"""Shared fixtures: tiny random LiteSRNet-shaped ONNX models built with onnx.helper (no torch).

The graphs use the real architecture's ops: head Conv+ReLU, ONE shared Conv+ReLU
initializer applied ``depth`` times, ConvTranspose decoder (+ReLU), tail Conv,
plus a cubic Resize skip of the input (half_pixel, a=-0.75, as torch exports
bicubic), with ``litesr.*`` metadata. ``tiny_model_factory(scale=..., ...)``
returns the path of a cached ``.onnx``; other test modules may reuse it. With
``fast=True`` the graph goes through the exporter's ``export.fast_graph`` rewrite
(ConvTranspose and Resize become Conv + DepthToSpace), the form whose float
results do not depend on where a tile sits (see test_runtime_tiling.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ModelFactory = Callable[..., Path]


def _decoder_plan(scale: int, channels: int, width: int) -> list[tuple[int, int, int, int, int, int]]:
    """(in, out, kernel, stride, pad, output_pad) per ConvTranspose; mirrors models/litesrnet.py."""
    if scale == 3:
        return [(channels, width, 3, 3, 0, 0)]
    plan = [(channels, width, 3, 2, 1, 1)]
    if scale == 4:
        plan.append((width, max(2, width // 2), 3, 2, 1, 1))
    return plan


def build_tiny_model(
    scale: int,
    depth: int = 2,
    channels: int = 4,
    seed: int = 0,
    receptive_field: int | None = None,
    metadata: dict[str, str] | None = None,
) -> Any:
    """A random-weight LiteSRNet graph (onnx.ModelProto), input "lr" (N,3,H,W) -> "sr" (N,3,sH,sW).

    ``receptive_field`` defaults to the true one, depth + 2 (as models/litesrnet.py);
    ``metadata`` overrides or adds ``litesr.*`` keys.
    """
    onnx = pytest.importorskip("onnx", reason="building test models needs the onnx package (dev extra)")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    inits: list[Any] = []

    def init(name: str, shape: tuple[int, ...], std: float) -> str:
        inits.append(numpy_helper.from_array((rng.standard_normal(shape) * std).astype(np.float32), name))
        return name

    c = channels
    # Weights big enough that every layer mixes neighbours visibly (so a too-small
    # tile margin shows), small enough that outputs stay near [0, 1].
    nodes = [
        helper.make_node("Conv", ["lr", init("head.w", (c, 3, 3, 3), 0.3), init("head.b", (c,), 0.05)], ["h"],
                         pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["h"], ["f0"]),
    ]
    body_w = rng.standard_normal((c, c, 3, 3)).astype(np.float32) * np.float32(0.6 / np.sqrt(9 * c))
    body_w[np.arange(c), np.arange(c), 1, 1] += 0.5
    inits.append(numpy_helper.from_array(body_w, "body.w"))
    init("body.b", (c,), 0.02)
    for i in range(depth):  # the recurrence, unrolled: every node reads the SAME initializer
        nodes.append(helper.make_node("Conv", [f"f{i}", "body.w", "body.b"], [f"b{i}"], pads=[1, 1, 1, 1]))
        nodes.append(helper.make_node("Relu", [f"b{i}"], [f"f{i + 1}"]))
    feat = f"f{depth}"
    plan = _decoder_plan(scale, c, width=max(2, c))
    for j, (cin, cout, k, s, p, op) in enumerate(plan):
        nodes.append(helper.make_node(
            "ConvTranspose", [feat, init(f"up{j}.w", (cin, cout, k, k), 0.4), init(f"up{j}.b", (cout,), 0.02)],
            [f"u{j}"], kernel_shape=[k, k], strides=[s, s], pads=[p, p, p, p], output_padding=[op, op],
        ))
        nodes.append(helper.make_node("Relu", [f"u{j}"], [f"d{j}"]))
        feat = f"d{j}"
    inits.append(numpy_helper.from_array(np.array([1, 1, scale, scale], np.float32), "resize.scales"))
    nodes += [
        helper.make_node("Conv", [feat, init("tail.w", (3, plan[-1][1], 3, 3), 0.1), init("tail.b", (3,), 0.02)],
                         ["t"], pads=[1, 1, 1, 1]),
        helper.make_node("Resize", ["lr", "", "resize.scales"], ["bic"], mode="cubic", cubic_coeff_a=-0.75,
                         coordinate_transformation_mode="half_pixel"),
        helper.make_node("Add", ["t", "bic"], ["sr"]),
    ]
    graph = helper.make_graph(
        nodes, f"tiny_x{scale}_d{depth}",
        [helper.make_tensor_value_info("lr", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("sr", TensorProto.FLOAT, ["N", 3, "sH", "sW"])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="litesr-tests")
    model.ir_version = 8
    params = sum(int(np.prod(t.dims)) for t in inits if t.name != "resize.scales")
    meta = {
        "format_version": "1", "arch": "LiteSRNet", "scale": str(scale), "depth": str(depth),
        "channels": str(c), "receptive_field": str(depth + 2 if receptive_field is None else receptive_field),
        "params": str(params), "input": "NCHW float32 RGB [0,1]", "output": "NCHW float32 RGB [0,1]",
        "trained": "false", "train_data": "none (tiny random test model)",
    }
    meta.update(metadata or {})
    helper.set_model_props(model, {f"litesr.{k}": v for k, v in meta.items()})
    onnx.checker.check_model(model)
    return model


@pytest.fixture(scope="session")
def tiny_model_factory(tmp_path_factory: pytest.TempPathFactory) -> ModelFactory:
    """``make(scale=4, depth=2, channels=4, seed=0, receptive_field=None, metadata=None, folder=None,
    name=None, fast=False, int8=False)``.

    Returns the path of the saved model; identical requests share one file
    unless ``folder`` is given (then the model is written there). ``int8`` (implies
    ``fast``) quantizes the graph as the exporter does for a QAT checkpoint
    (``export.fast_graph.rewrite_for_int8`` + ``export.quantize``), with post-training
    scales: every activation 4/255, weights max|w|/127 per channel; ``residual`` stores the
    recurrent weight as W - identity and adds the input back (the form of the bundled int8 models).
    """
    root = tmp_path_factory.mktemp("tiny_models")
    cache: dict[tuple[object, ...], Path] = {}

    def make(
        scale: int = 4,
        depth: int = 2,
        channels: int = 4,
        seed: int = 0,
        receptive_field: int | None = None,
        metadata: dict[str, str] | None = None,
        folder: Path | None = None,
        name: str | None = None,
        fast: bool = False,
        int8: bool = False,
        residual: bool = False,
    ) -> Path:
        if int8:
            metadata = {**(metadata or {}), "precision": "int8"}
        key = (scale, depth, channels, seed, receptive_field, tuple(sorted((metadata or {}).items())), fast or int8,
               residual)
        if folder is None and key in cache:
            return cache[key]
        filename = name or f"tiny_{len(cache)}_x{scale}_d{depth}.onnx"
        path = (folder or root) / filename
        proto = build_tiny_model(scale, depth, channels, seed, receptive_field, metadata)
        if fast or int8:
            fast_graph = pytest.importorskip("export.fast_graph", reason="needs the exporter's fast_graph module")
            proto = fast_graph.rewrite_for_int8(proto) if int8 else fast_graph.rewrite_for_speed(proto)
        if int8:
            from export.quantize import graph_weight_scales, quantize_graph

            points = depth + len(_decoder_plan(scale, channels, channels)) + 1
            proto = quantize_graph(proto, np.full(points, 4 / 255, np.float32),
                                   graph_weight_scales(proto, residual), residual)
        path.write_bytes(proto.SerializeToString())
        if folder is None:
            cache[key] = path
        return path

    return make


@pytest.fixture(scope="session")
def tiny_models(tiny_model_factory: ModelFactory) -> dict[int, Path]:
    """One tiny model per scale 2, 3, 4."""
    return {s: tiny_model_factory(scale=s) for s in (2, 3, 4)}


@pytest.fixture
def bundled_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_model_factory: ModelFactory) -> Path:
    """A temporary 'bundled models' folder (x2 and x4, depth 2) that the runtime looks in."""
    import litesr_edge.registry as models

    folder = tmp_path / "bundled"
    folder.mkdir()
    tiny_model_factory(scale=2, depth=2, folder=folder, name="a.onnx")
    tiny_model_factory(scale=4, depth=2, folder=folder, name="b.onnx")
    monkeypatch.setattr(models, "MODELS_DIR", folder)
    return folder
