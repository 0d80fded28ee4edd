"""Engine and model lookup: provider selection, bad model files, bundled-model discovery."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import litesr_edge.engines as engine_module
from litesr_edge import EngineUnavailableError, InvalidInputError, ModelError, ProviderError, available_providers
from litesr_edge.engines import create_engine
from litesr_edge.engines.onnxruntime import AUTO_PROVIDERS, CPU, OrtEngine, resolve_providers
from litesr_edge.registry import find_model, list_models
from litesr_edge.registry.metadata import read_model_info

CUDA = "CUDAExecutionProvider"


# ---- provider selection -------------------------------------------------------------------------------------------
def test_auto_prefers_gpu_providers_then_cpu() -> None:
    assert resolve_providers(None, [CPU]) == [CPU]
    assert resolve_providers(None, ["TensorrtExecutionProvider", CUDA, CPU]) == [CUDA, CPU]
    assert resolve_providers(None, ["CoreMLExecutionProvider", CPU]) == ["CoreMLExecutionProvider", CPU]
    assert resolve_providers(None, ["DmlExecutionProvider", CPU])[0] == "DmlExecutionProvider"
    assert AUTO_PROVIDERS[0] == CUDA


def test_explicit_providers_accept_short_names_and_add_cpu_fallback() -> None:
    assert resolve_providers(["cpu"], [CPU]) == [CPU]
    assert resolve_providers(["CUDA"], [CUDA, CPU]) == [CUDA, CPU]
    assert resolve_providers([CUDA, CPU], [CUDA, CPU]) == [CUDA, CPU]


def test_unavailable_provider_error_lists_available_ones() -> None:
    with pytest.raises(ProviderError) as err:
        resolve_providers(["cuda"], [CPU])
    message = str(err.value)
    assert CUDA in message and f"available: {CPU}" in message


def test_available_providers_has_cpu_and_no_remote_ones() -> None:
    providers = available_providers()
    assert CPU in providers and "AzureExecutionProvider" not in providers


def test_requesting_a_missing_gpu_provider_fails_clearly(tiny_models: dict[int, Path]) -> None:
    if CUDA in available_providers():
        pytest.skip("this machine has CUDA; the unavailable-provider path cannot be exercised")
    with pytest.raises(ProviderError, match="not available"):
        OrtEngine(tiny_models[2], providers=["cuda"])


def test_engine_runs_batches_and_reports_provider(tiny_models: dict[int, Path]) -> None:
    engine = create_engine("onnxruntime", tiny_models[3], ["cpu"], 1)
    out = engine.run(np.random.default_rng(0).random((2, 3, 5, 7), dtype=np.float32))
    assert out.shape == (2, 3, 15, 21) and out.dtype == np.float32
    assert engine.provider == CPU and engine.info.scale == 3


# ---- precision --------------------------------------------------------------------------------------------------
def test_onnxruntime_runs_fp32_by_default_and_on_request(tiny_models: dict[int, Path]) -> None:
    assert OrtEngine(tiny_models[2], ["cpu"], 1).precision == "fp32"
    assert OrtEngine(tiny_models[2], ["cpu"], 1, precision="fp32").precision == "fp32"
    assert create_engine("onnxruntime", tiny_models[2], ["cpu"], 1).precision == "fp32"
    assert create_engine("onnxruntime", tiny_models[2], ["cpu"], 1, "fp32").precision == "fp32"


def test_onnxruntime_refuses_bf16_and_names_the_fix(tiny_models: dict[int, Path]) -> None:
    with pytest.raises(EngineUnavailableError, match=r"\(and int8 models\), not precision='bf16'.*engine='openvino'"):
        OrtEngine(tiny_models[2], ["cpu"], 1, precision="bf16")
    with pytest.raises(EngineUnavailableError, match="engine='openvino'"):
        create_engine("onnxruntime", tiny_models[2], ["cpu"], 1, "bf16")


@pytest.mark.parametrize("kind", ["onnxruntime", "openvino", "missing"])
def test_unknown_precision_is_invalid_input_before_any_import(
    tiny_models: dict[int, Path], monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    # "missing" names a module that does not exist: the precision is still checked first,
    # so a typo is never reported as a missing package.
    monkeypatch.setitem(engine_module.ENGINES, "missing", "litesr_edge._no_such_engine:Nope")
    with pytest.raises(InvalidInputError, match=r"precision='int4' is unknown; choose one of fp32, bf16, int8"):
        create_engine(kind, tiny_models[2], None, 1, "int4")
    with pytest.raises(InvalidInputError, match="precision='FP32'"):
        OrtEngine(tiny_models[2], ["cpu"], 1, precision="FP32")


def test_none_precision_takes_the_constructors_default(
    tiny_models: dict[int, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[dict[str, object]] = []

    class Recorder(OrtEngine):
        def __init__(self, *args: object, **kwargs: object) -> None:
            seen.append(kwargs)
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(engine_module, "Recorder", Recorder, raising=False)
    monkeypatch.setitem(engine_module.ENGINES, "recorder", "litesr_edge.engines:Recorder")
    create_engine("recorder", tiny_models[2], ["cpu"], 1)
    create_engine("recorder", tiny_models[2], ["cpu"], 1, "fp32")
    assert seen == [{}, {"precision": "fp32"}]


# ---- bad model files ------------------------------------------------------------------------------------------------
def test_missing_model_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        OrtEngine(tmp_path / "nope.onnx")


@pytest.mark.parametrize("content", [b"", b"this is not a protobuf \x00\xff" * 8, b"\x08\x07" * 3])
def test_corrupt_model_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.onnx"
    path.write_bytes(content)
    with pytest.raises(ModelError, match="bad.onnx"):
        OrtEngine(path)


def test_foreign_onnx_without_litesr_metadata(tiny_model_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    onnx = pytest.importorskip("onnx")
    proto = onnx.load(tiny_model_factory(scale=2))
    del proto.metadata_props[:]
    path = tmp_path / "foreign.onnx"
    onnx.save(proto, path)
    with pytest.raises(ModelError, match="not a litesr-edge model"):
        OrtEngine(path)


def test_model_with_wrong_io_is_rejected(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    meta = {"format_version": "1", "arch": "LiteSRNet", "scale": "2", "depth": "1", "channels": "4",
            "receptive_field": "3", "params": "0", "input": "x", "output": "y", "trained": "false"}
    helper.set_model_props(model, {f"litesr.{k}": v for k, v in meta.items()})
    path = tmp_path / "flat.onnx"
    onnx.save(model, path)
    with pytest.raises(ModelError, match="NCHW"):
        read_model_info(path)


# ---- bundled models: found by metadata -----------------------------------------------------------------------------
def test_bundled_models_found_by_metadata_not_name(bundled_dir: Path, tiny_model_factory) -> None:  # type: ignore[no-untyped-def]
    # A file named like an x4 model that is really x3 depth 5.
    tiny_model_factory(scale=3, depth=5, folder=bundled_dir, name="litesrnet_x4_d19.onnx")
    found = [(m.info.scale, m.info.depth) for m in list_models()]
    assert found == [(2, 2), (3, 5), (4, 2)]
    assert find_model(3, 5).path.name == "litesrnet_x4_d19.onnx"
    assert find_model(4, 2).path.name == "b.onnx"


def test_unsupported_scale_lists_available_scales(bundled_dir: Path) -> None:
    with pytest.raises(InvalidInputError, match="available scales: 2, 4"):
        find_model(3, 2)


def test_missing_depth_lists_available_depths(bundled_dir: Path) -> None:
    with pytest.raises(InvalidInputError, match="available depths: 2"):
        find_model(2, 19)


def test_no_bundled_models_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no bundled models"):
        find_model(4, 19, folder=tmp_path)


def test_broken_bundled_file_is_reported(bundled_dir: Path) -> None:
    (bundled_dir / "broken.onnx").write_bytes(b"garbage")
    with pytest.raises(ModelError, match="broken.onnx"):
        list_models()
