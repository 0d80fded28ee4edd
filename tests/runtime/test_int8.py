"""The int8 path: QDQ model files, precision rules, both engines, tiling, fallback, bench rows, counts."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from litesr_edge import Upscaler
from litesr_edge.bench.macs import count_macs
from litesr_edge.bench.onnx_graph import read_graph
from litesr_edge.cli import app
from litesr_edge.engines import create_engine
from litesr_edge.engines.onnxruntime import OrtEngine
from litesr_edge.errors import EngineFallbackWarning, EngineUnavailableError, InvalidInputError
from litesr_edge.registry import find_model, list_models
from litesr_edge.registry.metadata import read_model_info


@pytest.fixture(scope="module")
def int8_models(tiny_model_factory) -> dict[int, Path]:  # type: ignore[no-untyped-def]
    # Both int8 forms: x2 quantizes the recurrent weight itself, x3/x4 store W - identity.
    return {s: tiny_model_factory(scale=s, int8=True, residual=s > 2) for s in (2, 3, 4)}


def _needs_openvino_int8() -> None:
    pytest.importorskip("openvino", reason="the openvino extra is not installed")
    from litesr_edge.engines.openvino import int8_supported

    if not int8_supported():
        pytest.skip("OpenVINO reports no int8 kernels on this CPU, or LITESR_EDGE_HIDE_CPU hides them")


def _rgb8(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_int8_file_says_so_and_stores_int8_weights(int8_models: dict[int, Path], tiny_models: dict[int, Path]) -> None:
    assert read_model_info(int8_models[4]).precision == "int8"
    assert read_model_info(tiny_models[4]).precision == "fp32"  # no key: older files are fp32
    graph = read_graph(int8_models[4])
    kinds = {t.data_type for t in graph.initializers.values()}
    assert 3 in kinds and 6 in kinds  # int8 weights, int32 biases
    ops = [n.op_type for n in graph.nodes]
    assert ops.count("QuantizeLinear") == 2 + 2 + 1  # body inputs, decoder stages, tail (depth 2, x4)
    assert ops.count("Add") == 2 + 1  # the input added back after each recurrent step, the skip


def test_onnxruntime_runs_int8_close_to_the_float_graph(int8_models: dict[int, Path], tiny_model_factory) -> None:  # type: ignore[no-untyped-def]
    x = np.random.default_rng(0).random((1, 3, 9, 11), dtype=np.float32)
    q = OrtEngine(int8_models[2], ["cpu"], 1)
    assert q.precision == "int8"
    fp = OrtEngine(tiny_model_factory(scale=2, fast=True), ["cpu"], 1)
    diff = np.abs(q.run(x) - fp.run(x))
    assert 0 < diff.mean() < 0.01  # quantized (not identical), but the same network


def test_precision_must_match_the_file(int8_models: dict[int, Path], tiny_models: dict[int, Path]) -> None:
    with pytest.raises(InvalidInputError, match=r"is an int8 \(quantized\) model; it runs as precision='int8' only"):
        OrtEngine(int8_models[2], ["cpu"], 1, precision="fp32")
    with pytest.raises(EngineUnavailableError, match="is an fp32 model; precision='int8' needs an int8 model"):
        OrtEngine(tiny_models[2], ["cpu"], 1, precision="int8")
    with pytest.raises(EngineUnavailableError, match="not precision='bf16'"):
        OrtEngine(int8_models[2], ["cpu"], 1, precision="bf16")


def test_openvino_int8_agrees_with_onnxruntime_int8(int8_models: dict[int, Path]) -> None:
    _needs_openvino_int8()
    x = np.random.default_rng(1).random((1, 3, 13, 10), dtype=np.float32)
    for scale, path in int8_models.items():
        ov = create_engine("openvino", path, None, 1)
        assert ov.precision == "int8" and "int8" in ov.provider
        ref = OrtEngine(path, ["cpu"], 1).run(x)
        got = ov.run(x)
        assert got.shape == ref.shape == (1, 3, 13 * scale, 10 * scale)
        # Both run integer convolutions; OpenVINO keeps the float parts in bf16 where the CPU has
        # it, so a value near a rounding boundary may land one quantization step apart.
        assert np.abs(got - ref).mean() < 3e-3 and np.abs(got - ref).max() < 0.05


_UPSCALERS: dict[tuple[Path, str, int], Upscaler] = {}


def _upscaler(model: Path, engine: str, tile: int) -> Upscaler:
    if (model, engine, tile) not in _UPSCALERS:
        _UPSCALERS[model, engine, tile] = Upscaler(model=model, tile=tile, threads=1, engine=engine)
    return _UPSCALERS[model, engine, tile]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    engine=st.sampled_from(["onnxruntime", "openvino"]),
    scale=st.sampled_from([2, 3, 4]),
    shape=st.tuples(st.integers(1, 40), st.integers(1, 40)),
    tile=st.integers(2, 24),
    seed=st.integers(0, 2**16),
)
def test_int8_tiled_equals_whole_image(
    int8_models: dict[int, Path], engine: str, scale: int, shape: tuple[int, int], tile: int, seed: int
) -> None:
    # The quantization scales are fixed in the file (static), so every value is computed
    # the same way wherever its tile lies: tiling stays exact in int8 too.
    if engine == "openvino":
        _needs_openvino_int8()
    image = _rgb8(*shape, seed=seed)
    whole = _upscaler(int8_models[scale], engine, 0).upscale(image)
    tiled = _upscaler(int8_models[scale], engine, tile).upscale(image)
    np.testing.assert_array_equal(tiled, whole)


def test_int8_tiling_needs_the_margin(tiny_model_factory) -> None:  # type: ignore[no-untyped-def]
    liar = tiny_model_factory(scale=2, receptive_field=1, int8=True)  # true field is 4: seams must show
    image = _rgb8(40, 40, seed=3)
    whole = Upscaler(model=liar, tile=0, threads=1).upscale(image)
    tiled = Upscaler(model=liar, tile=8, threads=1).upscale(image)
    assert np.abs(tiled.astype(int) - whole).max() > 1


@pytest.fixture
def bundled_int8(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_model_factory) -> Path:  # type: ignore[no-untyped-def]
    """Bundled: x2 d2 fp32, x4 d2 fp32 and x4 d2 int8."""
    import litesr_edge.registry as models

    folder = tmp_path / "bundled"
    folder.mkdir()
    tiny_model_factory(scale=2, folder=folder, name="a.onnx")
    tiny_model_factory(scale=4, folder=folder, name="b.onnx")
    tiny_model_factory(scale=4, folder=folder, name="b_int8.onnx", int8=True)
    monkeypatch.setattr(models, "MODELS_DIR", folder)
    return folder


def test_bundled_int8_is_found_by_metadata(bundled_int8: Path) -> None:
    assert find_model(4, 2).path.name == "b.onnx"
    assert find_model(4, 2, precision="int8").path.name == "b_int8.onnx"
    with pytest.raises(EngineUnavailableError, match=r"no int8 model is bundled for x2 depth 2 \(int8 models: x4 d2\)"):
        find_model(2, 2, precision="int8")
    assert [m.info.precision for m in list_models()] == ["fp32", "fp32", "int8"]


def test_upscaler_int8_picks_the_int8_file_and_falls_back(bundled_int8: Path) -> None:
    up = Upscaler(scale=4, depth=2, engine="onnxruntime", precision="int8", threads=1)
    assert (up.model_path.name, up.engine, up.precision) == ("b_int8.onnx", "onnxruntime", "int8")
    assert Upscaler(scale=4, depth=2, threads=1).model_path.name == "b.onnx"
    with pytest.raises(EngineUnavailableError, match="no int8 model is bundled for x2"):
        Upscaler(scale=2, depth=2, precision="int8")
    with pytest.warns(EngineFallbackWarning, match="no int8 model is bundled for x2.*; using onnxruntime fp32"):
        fell = Upscaler(scale=2, depth=2, precision="int8", fallback=True)
    assert (fell.model_path.name, fell.engine, fell.precision) == ("a.onnx", "onnxruntime", "fp32")
    assert fell.fallback_reason is not None and "int8" in fell.fallback_reason


def test_upscaler_openvino_int8(bundled_int8: Path) -> None:
    _needs_openvino_int8()
    with warnings.catch_warnings():
        warnings.simplefilter("error", EngineFallbackWarning)
        up = Upscaler(scale=4, depth=2, engine="openvino", precision="int8", threads=1)
    assert (up.model_path.name, up.engine, up.precision) == ("b_int8.onnx", "openvino", "int8")
    ref = Upscaler(scale=4, depth=2, precision="int8", threads=1)
    image = _rgb8(12, 9, seed=4)
    diff = np.abs(up.upscale(image).astype(int) - ref.upscale(image))
    assert diff.max() <= 4 and diff.mean() < 0.2


def test_cli_upscale_and_info_with_int8(bundled_int8: Path, tmp_path: Path) -> None:
    from litesr_edge import read_image, write_image

    src = write_image(tmp_path / "in.png", _rgb8(10, 12))
    run = CliRunner().invoke(app, ["upscale", str(src), "-s", "4", "--depth", "2", "--precision", "int8",
                                   "-o", str(tmp_path / "out.png")])
    assert run.exit_code == 0, run.output
    assert read_image(tmp_path / "out.png").shape == (40, 48, 3)
    info = CliRunner().invoke(app, ["info"])
    assert info.exit_code == 0 and "b_int8.onnx" in info.stdout and "int8" in info.stdout


def test_bench_int8_rows(bundled_int8: Path) -> None:
    quick = ["--size", "32x24", "--runs", "1", "--warmup", "1", "--no-peak", "--threads", "1", "--json"]
    result = CliRunner().invoke(app, ["bench", "--depth", "2", "--precision", "fp32,int8", "--compare", "none",
                                      *quick])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    rows = [(r["scale"], r["engine"], r["precision"]) for r in data["rows"]]
    assert rows == [(2, "onnxruntime", "fp32"), (4, "onnxruntime", "fp32"), (4, "onnxruntime", "int8")]
    assert data["rows"][2]["speedup_vs_ort_fp32"] > 0
    assert data["rows"][2]["macs_g"] == data["rows"][1]["macs_g"]  # counted on the fp32 original
    assert any("onnxruntime int8 skipped" in n and "x2 depth 2" in n for n in data["notes"])


def test_bench_int8_row_for_an_unbundled_model_is_a_note(bundled_int8: Path, tiny_models: dict[int, Path]) -> None:
    quick = ["--size", "24x24", "--runs", "1", "--warmup", "1", "--no-peak", "--threads", "1", "--json"]
    result = CliRunner().invoke(app, ["bench", "--model", str(tiny_models[3]), "--precision", "fp32,int8",
                                      "--compare", "none", *quick])
    data = json.loads(result.stdout)
    assert [(r["engine"], r["precision"]) for r in data["rows"]] == [("onnxruntime", "fp32")]
    assert any("no int8 model for x3 depth 2" in n for n in data["notes"])


def test_bench_int8_comparison_row(bundled_int8: Path) -> None:
    _needs_openvino_int8()
    quick = ["--size", "32x24", "--runs", "1", "--warmup", "1", "--no-peak", "--threads", "1", "--json"]
    result = CliRunner().invoke(app, ["bench", "-s", "4", "--depth", "2", "--compare", "int8", *quick])
    data = json.loads(result.stdout)
    assert [(r["engine"], r["precision"]) for r in data["rows"]] == [("onnxruntime", "fp32"), ("openvino", "int8")]


def test_mac_count_reads_weights_through_dequantize(int8_models: dict[int, Path]) -> None:
    counts = count_macs(read_graph(int8_models[4]), (1, 3, 8, 8))
    # The int8 form keeps the decoder's ConvTranspose stages (export.fast_graph.rewrite_for_int8).
    assert counts.macs_by_op.keys() == {"Conv", "ConvTranspose"} and min(counts.macs_by_op.values()) > 0
    graph = read_graph(int8_models[4])
    int8_bytes = sum(t.size for t in graph.initializers.values() if t.data_type == 3)
    assert counts.weight_bytes < 4 * counts.stored_weights and int8_bytes > 0
