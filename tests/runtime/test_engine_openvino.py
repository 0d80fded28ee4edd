"""The optional OpenVINO engine: same answers as ONNX Runtime, exact tiling, clean fallbacks."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from litesr_edge import EngineFallbackWarning, EngineUnavailableError, InvalidInputError, ProviderError, Upscaler
from litesr_edge.engines import create_engine
from litesr_edge.engines.onnxruntime import OrtEngine


def test_missing_openvino_is_engine_unavailable(monkeypatch: pytest.MonkeyPatch, tiny_models: dict[int, Path]) -> None:
    # Runs whether or not openvino is installed: hide it.
    monkeypatch.setitem(sys.modules, "openvino", None)
    monkeypatch.delitem(sys.modules, "litesr_edge.engines.openvino", raising=False)
    with pytest.raises(EngineUnavailableError, match=r"pip install 'litesr-edge\[openvino\]'"):
        create_engine("openvino", tiny_models[2], None, 1)


ov = pytest.importorskip("openvino", reason="the openvino extra is not installed (pip install 'litesr-edge[openvino]')")
from litesr_edge.engines import openvino as ov_engine  # noqa: E402
from litesr_edge.engines.openvino import OpenVinoEngine, bf16_supported, split_skip  # noqa: E402

needs_bf16 = pytest.mark.skipif(
    not bf16_supported(), reason="this CPU has no native bfloat16 (AVX512_BF16/AMX), or LITESR_EDGE_HIDE_CPU hides it"
)


@pytest.fixture(scope="module")
def forms(tiny_model_factory) -> dict[tuple[str, int], Path]:  # type: ignore[no-untyped-def]
    pytest.importorskip("export.fast_graph", reason="needs the exporter's export/fast_graph.py and onnx")
    return {(f, s): tiny_model_factory(scale=s, fast=f == "fast") for f in ("resize", "fast") for s in (2, 3, 4)}


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_fp32_matches_onnxruntime(tiny_models: dict[int, Path], scale: int) -> None:
    x = np.random.default_rng(scale).random((2, 3, 13, 17), dtype=np.float32)
    want = OrtEngine(tiny_models[scale], ["cpu"], 1).run(x)
    got = OpenVinoEngine(tiny_models[scale], None, 1, precision="fp32").run(x)
    assert got.shape == want.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)


@needs_bf16
def test_bf16_is_close_to_fp32_but_not_identical(tiny_models: dict[int, Path]) -> None:
    x = np.random.default_rng(0).random((1, 3, 16, 16), dtype=np.float32)
    fp32 = OrtEngine(tiny_models[4], ["cpu"], 1).run(x)
    eng = OpenVinoEngine(tiny_models[4], ["cpu"], 1)
    bf16 = eng.run(x)
    assert eng.precision == "bf16" and eng.provider == "OpenVINO CPU bf16 (skip fp32)"
    assert 0 < np.abs(bf16 - fp32).max() < 0.05


def test_skip_is_split_off_and_kept_fp32(tiny_models: dict[int, Path]) -> None:
    parts = split_skip(ov.Core().read_model(str(tiny_models[2])))
    assert parts is not None
    net, skip = parts
    ops = {n.get_type_name() for n in skip.get_ops()}
    assert "Interpolate" in ops and "Convolution" not in ops  # the bicubic branch only
    assert sum(n.get_type_name() == "Convolution" for n in net.get_ops()) >= 3
    # A graph that does not end in Add(network, skip) (here: the network alone) is compiled whole.
    assert split_skip(ov.Model([net.get_results()[0].input_value(0)], net.get_parameters())) is None


@needs_bf16
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    form=st.sampled_from(["resize", "fast"]),
    scale=st.sampled_from([2, 3, 4]),
    shape=st.tuples(st.integers(1, 40), st.integers(1, 40)),
    tile=st.integers(2, 24),
    seed=st.integers(0, 2**16),
)
def test_bf16_tiled_equals_whole_image(
    forms: dict[tuple[str, int], Path], form: str, scale: int, shape: tuple[int, int], tile: int, seed: int
) -> None:
    # Same property as tests/test_runtime_tiling.py, on the OpenVINO bf16 engine: the
    # fast form is bit-exact; the Resize form at x3 has position-dependent cubic
    # weights (see there), which bf16 rounding can turn into a one-level difference.
    image = np.random.default_rng(seed).integers(0, 256, (*shape, 3), dtype=np.uint8)
    whole = _upscaler(forms[form, scale], 0).upscale(image)
    tiled = _upscaler(forms[form, scale], tile).upscale(image)
    slack = 1 if (form, scale) == ("resize", 3) else 0
    assert tiled.shape == whole.shape
    assert np.abs(tiled.astype(np.int64) - whole).max() <= slack


_UPSCALERS: dict[tuple[Path, int], Upscaler] = {}


def _upscaler(model: Path, tile: int) -> Upscaler:
    if (model, tile) not in _UPSCALERS:
        up = Upscaler(model=model, tile=tile, threads=1, engine="openvino", precision="bf16")
        assert (up.engine, up.precision, up.fallback_reason) == ("openvino", "bf16", None)
        _UPSCALERS[model, tile] = up
    return _UPSCALERS[model, tile]


@pytest.mark.parametrize("precision", ["fp32", pytest.param("bf16", marks=needs_bf16)])
def test_tiling_needs_the_margin_with_openvino(tiny_model_factory, precision: str) -> None:  # type: ignore[no-untyped-def]
    liar = tiny_model_factory(scale=2, receptive_field=1)  # true field is 4: seams must show
    image = np.random.default_rng(0).random((40, 40, 3), dtype=np.float32)
    whole = Upscaler(model=liar, tile=0, threads=1, engine="openvino", precision=precision).upscale(image)
    tiled = Upscaler(model=liar, tile=8, threads=1, engine="openvino", precision=precision).upscale(image)
    assert np.abs(tiled - whole).max() > 1e-3


def test_no_bf16_cpu_gives_a_clear_error(monkeypatch: pytest.MonkeyPatch, tiny_models: dict[int, Path]) -> None:
    monkeypatch.setattr(ov_engine, "bf16_supported", lambda core=None: False)
    with pytest.raises(EngineUnavailableError, match="no native bfloat16.*precision='fp32'"):
        OpenVinoEngine(tiny_models[2], None, 1, precision="bf16")
    assert OpenVinoEngine(tiny_models[2], None, 1, precision="fp32").precision == "fp32"


def test_upscaler_precision_default_and_choice(tiny_models: dict[int, Path]) -> None:
    fp32 = Upscaler(model=tiny_models[2], threads=1, engine="openvino", precision="fp32")
    assert (fp32.engine, fp32.precision, fp32.fallback_reason) == ("openvino", "fp32", None)
    assert fp32.provider == "OpenVINO CPU fp32" and "precision='fp32'" in repr(fp32)
    # The default is bf16 where the CPU runs it natively, else fp32 (never an error).
    default = Upscaler(model=tiny_models[2], threads=1, engine="openvino")
    want = "bf16" if bf16_supported() else "fp32"
    assert default.precision == want and default.provider.startswith(f"OpenVINO CPU {want}")


def test_hiding_bf16_makes_the_default_fp32(monkeypatch: pytest.MonkeyPatch, tiny_models: dict[int, Path]) -> None:
    monkeypatch.setenv("LITESR_EDGE_HIDE_CPU", "bf16")
    assert not bf16_supported()
    assert OpenVinoEngine(tiny_models[2], None, 1).precision == "fp32"
    with pytest.raises(EngineUnavailableError, match="no native bfloat16"):
        OpenVinoEngine(tiny_models[2], None, 1, precision="bf16")


def test_no_bf16_cpu_falls_back_to_onnxruntime_fp32(
    monkeypatch: pytest.MonkeyPatch, tiny_models: dict[int, Path]
) -> None:
    monkeypatch.setattr(ov_engine, "bf16_supported", lambda core=None: False)
    with pytest.raises(EngineUnavailableError, match="no native bfloat16"):
        Upscaler(model=tiny_models[3], engine="openvino", precision="bf16")
    with pytest.warns(EngineFallbackWarning, match="no native bfloat16.*; using onnxruntime fp32$"):
        up = Upscaler(model=tiny_models[3], tile=6, threads=1, engine="openvino", precision="bf16", fallback=True)
    assert (up.engine, up.precision, up.provider) == ("onnxruntime", "fp32", "CPUExecutionProvider")
    assert up.fallback_reason is not None and "AVX512_BF16" in up.fallback_reason
    image = np.random.default_rng(5).integers(0, 256, (11, 14, 3), dtype=np.uint8)
    np.testing.assert_array_equal(up.upscale(image), Upscaler(model=tiny_models[3], tile=6).upscale(image))


def test_bad_arguments(tiny_models: dict[int, Path]) -> None:
    with pytest.raises(InvalidInputError, match="precision='int4'"):
        OpenVinoEngine(tiny_models[2], None, 1, precision="int4")
    with pytest.raises(ProviderError, match="CPU only"):
        OpenVinoEngine(tiny_models[2], ["cuda"], 1, precision="fp32")
    with pytest.raises(InvalidInputError, match="threads=0"):
        OpenVinoEngine(tiny_models[2], None, 0, precision="fp32")


@pytest.mark.parametrize("precision", ["fp32", pytest.param("bf16", marks=needs_bf16)])
def test_registered_and_thread_safe(tiny_models: dict[int, Path], precision: str) -> None:
    engine = create_engine("openvino", tiny_models[3], None, 1, precision)
    assert engine.info.scale == 3
    rng = np.random.default_rng(3)
    inputs = [rng.random((1, 3, 8 + i, 9), dtype=np.float32) for i in range(8)]
    alone = [engine.run(x) for x in inputs]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(engine.run, inputs))
    for a, b in zip(alone, together, strict=True):
        np.testing.assert_array_equal(a, b)



@pytest.mark.parametrize("form", ["resize", "fast"])
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_opencv_reproduces_the_bicubic_skip(forms: dict[tuple[str, int], Path], form: str, scale: int) -> None:
    # The split-off skip runs as OpenCV's bicubic resize only where it matches the file's own
    # skip sub-graph (here both the Resize form and the exporter's Conv + DepthToSpace form).
    parts = split_skip(ov.Core().read_model(str(forms[form, scale])))
    assert parts is not None
    skip = ov.Core().compile_model(ov_engine._nhwc_output(parts[1]), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    x = np.random.default_rng(scale).random((2, 3, 11, 6), dtype=np.float32)
    want = skip.create_infer_request().infer({0: x})[0]
    np.testing.assert_allclose(ov_engine.bicubic_nhwc(x, scale), want, atol=1e-5, rtol=0)
    assert ov_engine._skip_runner(skip, scale) is None


@needs_bf16
def test_a_skip_opencv_does_not_reproduce_runs_in_openvino(tmp_path: Path, tiny_models: dict[int, Path]) -> None:
    onnx = pytest.importorskip("onnx", reason="editing a test model needs onnx")
    proto = onnx.load(str(tiny_models[2]))
    resize = next(n for n in proto.graph.node if n.op_type == "Resize")
    for attr in resize.attribute:
        if attr.name == "mode":
            attr.s = b"linear"
    path = tmp_path / "bilinear_skip.onnx"
    onnx.save(proto, str(path))
    eng = OpenVinoEngine(path, None, 1, precision="bf16")
    assert eng._skip is not None  # the model's own skip, compiled in fp32
    x = np.random.default_rng(5).random((2, 3, 9, 12), dtype=np.float32)
    want = OrtEngine(path, ["cpu"], 1).run(x)
    got = eng.run(x)
    assert got.shape == want.shape and np.abs(got - want).max() < 0.05


@needs_bf16
def test_split_engine_batches_and_layout(tiny_models: dict[int, Path]) -> None:
    # With the skip split off, run() returns an (N, 3, sH, sW) view of NHWC data; each
    # image of a batch equals its own run.
    eng = OpenVinoEngine(tiny_models[4], None, 1, precision="bf16")
    x = np.random.default_rng(7).random((2, 3, 10, 7), dtype=np.float32)
    both = eng.run(x)
    assert both.shape == (2, 3, 40, 28) and both.dtype == np.float32
    assert both.transpose(0, 2, 3, 1).flags.c_contiguous
    for i in range(2):
        np.testing.assert_array_equal(both[i], eng.run(x[i : i + 1])[0])
