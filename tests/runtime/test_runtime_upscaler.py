"""Upscaler: dtypes, channels, validation, limits, engines, thread safety."""

from __future__ import annotations

import threading
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

import litesr_edge.engines as engine_module
from litesr_edge import (
    EngineFallbackWarning,
    EngineUnavailableError,
    ImageTooLargeError,
    InvalidInputError,
    ModelError,
    Upscaler,
)
from litesr_edge._pixels import LUMA_WEIGHTS, store_output


@pytest.fixture(scope="module")
def up2(tiny_models: dict[int, Path]) -> Upscaler:
    return Upscaler(model=tiny_models[2], tile=7, threads=1, engine="onnxruntime")  # the exact reference


def _rgb(h: int = 9, w: int = 11, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((h, w, 3), dtype=np.float32)


def _expected_int(float_result: np.ndarray, top: int) -> np.ndarray:
    return np.rint(np.clip(float_result, 0, 1) * np.float32(top))


def test_float_result_is_clamped_and_shaped(up2: Upscaler) -> None:
    out = up2.upscale(_rgb())
    assert out.shape == (18, 22, 3) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert ((out == 0) | (out == 1)).any()  # the tiny model overshoots: the clamp is exercised


def test_uint8_matches_float_path_rounded(up2: Upscaler) -> None:
    x8 = np.rint(_rgb() * 255).astype(np.uint8)
    out = up2.upscale(x8)
    assert out.dtype == np.uint8 and out.shape == (18, 22, 3)
    ref = up2.upscale(x8.astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(out, _expected_int(ref, 255))


def test_uint16_keeps_16_bits(up2: Upscaler) -> None:
    x16 = np.rint(_rgb() * 65535).astype(np.uint16)
    out = up2.upscale(x16)
    assert out.dtype == np.uint16
    ref = up2.upscale(x16.astype(np.float32) / np.float32(65535))
    np.testing.assert_array_equal(out, _expected_int(ref, 65535))
    assert (out % 257 != 0).mean() > 0.9  # not an 8-bit result scaled up


@pytest.mark.parametrize("shape", [(9, 11), (9, 11, 1)])
def test_grey_is_replicated_and_folded_back_with_luma(up2: Upscaler, shape: tuple[int, ...]) -> None:
    grey = np.random.default_rng(1).random(shape, dtype=np.float32)
    out = up2.upscale(grey)
    assert out.shape == (18, 22, *shape[2:]) and out.dtype == np.float32
    rgb = up2.upscale(np.repeat(grey.reshape(9, 11, 1), 3, axis=2))
    r, g, b = LUMA_WEIGHTS
    luma = r * rgb[..., 0] + g * rgb[..., 1] + b * rgb[..., 2]
    np.testing.assert_allclose(out.reshape(18, 22), luma, atol=1e-6)


def test_rgb_channel_order_is_kept(up2: Upscaler) -> None:
    # A pure red image stays red-dominant: channels are not swapped (BGR) anywhere.
    red = np.zeros((8, 8, 3), np.uint8)
    red[..., 0] = 220
    out = up2.upscale(red).astype(int)
    assert out[..., 0].mean() > out[..., 2].mean() + 100


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
def test_rgba_colour_through_model_alpha_bicubic(up2: Upscaler, dtype: str) -> None:
    rng = np.random.default_rng(2)
    rgba = rng.random((9, 11, 4), dtype=np.float32)
    if dtype != "float32":
        rgba = np.rint(rgba * (255 if dtype == "uint8" else 65535)).astype(dtype)
    out = up2.upscale(rgba)
    assert out.shape == (18, 22, 4) and out.dtype == rgba.dtype
    np.testing.assert_array_equal(out[..., :3], up2.upscale(np.ascontiguousarray(rgba[..., :3])))
    alpha = cv2.resize(np.ascontiguousarray(rgba[..., 3]), (22, 18), interpolation=cv2.INTER_CUBIC)
    if dtype == "float32":
        alpha = np.clip(alpha, 0, 1)
    np.testing.assert_array_equal(out[..., 3], alpha)


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((4, 4, 3), np.float64),
        np.zeros((4, 4, 3), np.int32),
        np.zeros((4, 4, 2), np.uint8),
        np.zeros((1, 4, 4, 3), np.uint8),
        np.zeros((0, 4, 3), np.uint8),
        np.full((4, 4, 3), 1.5, np.float32),
        np.full((4, 4, 3), -0.1, np.float32),
        np.full((4, 4, 3), np.nan, np.float32),
        [[0, 1], [1, 0]],
    ],
    ids=["float64", "int32", "2ch", "4d", "empty", "above1", "below0", "nan", "list"],
)
def test_bad_arrays_are_rejected(up2: Upscaler, image: object) -> None:
    with pytest.raises(InvalidInputError):
        up2.upscale(image)  # type: ignore[arg-type]


def test_pixel_limit_is_on_the_output(tiny_models: dict[int, Path]) -> None:
    up = Upscaler(model=tiny_models[2], max_pixels=20 * 2 * 30 * 2)
    assert up.upscale(np.zeros((20, 30, 3), np.uint8)).shape == (40, 60, 3)
    with pytest.raises(ImageTooLargeError, match="max_pixels"):
        up.upscale(np.zeros((20, 31, 3), np.uint8))


@pytest.mark.parametrize(
    "kwargs",
    [{"tile": -1}, {"max_memory_mb": 0}, {"threads": 0}, {"max_pixels": 0}, {"scale": 3}, {"depth": 5},
     {"providers": "cpu"}, {"providers": []}, {"engine": "nope"}],
)
def test_bad_arguments_are_rejected(tiny_models: dict[int, Path], kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError):
        Upscaler(model=tiny_models[2], **kwargs)  # type: ignore[arg-type]


def test_custom_model_sets_scale_and_metadata(tiny_models: dict[int, Path]) -> None:
    up = Upscaler(model=tiny_models[3], tile=0)
    assert (up.scale, up.info.depth, up.info.receptive_field, up.tile) == (3, 2, 4, 0)
    assert up.provider == "CPUExecutionProvider" or "CPU" in up.provider  # ORT or OpenVINO (auto)
    assert up.model_path == tiny_models[3]
    assert "scale=3" in repr(up)


def test_wrong_scale_metadata_is_a_model_error(tiny_model_factory) -> None:  # type: ignore[no-untyped-def]
    liar = tiny_model_factory(scale=2, metadata={"scale": "4"})
    with pytest.raises(ModelError, match="scale"):
        Upscaler(model=liar).upscale(np.zeros((5, 5, 3), np.uint8))


def test_missing_engine_module_is_engine_unavailable(
    tiny_models: dict[int, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(engine_module.ENGINES, "fake", "litesr_edge._no_such_engine:FakeEngine")
    with pytest.raises(EngineUnavailableError, match="fake"):
        Upscaler(model=tiny_models[2], engine="fake")


def test_onnxruntime_defaults_to_fp32_without_fallback(up2: Upscaler) -> None:
    assert (up2.engine, up2.precision, up2.fallback_reason, up2.choice) == ("onnxruntime", "fp32", None, None)
    assert "engine='onnxruntime', precision='fp32'" in repr(up2) and "fallback" not in repr(up2)


def test_the_default_engine_is_auto(tiny_models: dict[int, Path]) -> None:
    up = Upscaler(model=tiny_models[2], tile=7, threads=1)  # tests/runtime/test_engine_auto.py pins the rule
    assert up.choice is not None and up.choice.startswith(f"engine auto -> {up.engine} {up.precision}:")
    assert up.fallback_reason is None


def test_fallback_true_is_silent_when_nothing_falls_back(tiny_models: dict[int, Path]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        up = Upscaler(model=tiny_models[2], engine="onnxruntime", precision="fp32", fallback=True)
    assert (up.engine, up.precision, up.fallback_reason) == ("onnxruntime", "fp32", None)


def test_missing_engine_package_falls_back_to_onnxruntime_fp32(
    tiny_models: dict[int, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Simulate `openvino` not installed: its registry entry points at a module that does not exist.
    monkeypatch.setitem(engine_module.ENGINES, "openvino", "litesr_edge._no_such_engine:OpenVinoEngine")
    with pytest.warns(EngineFallbackWarning, match=r"not installed.*; using onnxruntime fp32$") as record:
        up = Upscaler(model=tiny_models[2], tile=5, engine="openvino", precision="bf16", fallback=True)
    assert len(record) == 1 and record[0].filename == __file__  # stacklevel points at the caller
    assert (up.engine, up.precision) == ("onnxruntime", "fp32")
    assert up.fallback_reason is not None and "litesr-edge[openvino]" in up.fallback_reason
    assert "engine='onnxruntime', precision='fp32'" in repr(up) and "fallback=True" in repr(up)
    image = np.rint(_rgb(13, 10, seed=3) * 255).astype(np.uint8)
    reference = Upscaler(model=tiny_models[2], tile=5, engine="onnxruntime")
    np.testing.assert_array_equal(up.upscale(image), reference.upscale(image))


def test_without_fallback_a_missing_engine_package_raises(
    tiny_models: dict[int, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(engine_module.ENGINES, "openvino", "litesr_edge._no_such_engine:OpenVinoEngine")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(EngineUnavailableError, match=r"pip install 'litesr-edge\[openvino\]'"):
            Upscaler(model=tiny_models[2], engine="openvino", precision="bf16")


def test_bf16_on_onnxruntime_raises_or_falls_back(tiny_models: dict[int, Path]) -> None:
    with pytest.raises(EngineUnavailableError, match="engine='openvino'"):
        Upscaler(model=tiny_models[2], engine="onnxruntime", precision="bf16")
    with pytest.warns(EngineFallbackWarning, match="not precision='bf16'"):
        up = Upscaler(model=tiny_models[2], engine="onnxruntime", precision="bf16", fallback=True)
    assert (up.engine, up.precision) == ("onnxruntime", "fp32")


@pytest.mark.parametrize("kwargs", [{"precision": "int4"}, {"engine": "nope"}, {"precision": "BF16"}])
def test_fallback_never_hides_a_bad_argument(tiny_models: dict[int, Path], kwargs: dict[str, str]) -> None:
    with pytest.raises(InvalidInputError, match="is unknown; choose one of"):
        Upscaler(model=tiny_models[2], fallback=True, **kwargs)  # type: ignore[arg-type]


def test_one_upscaler_serves_many_threads(up2: Upscaler) -> None:
    images = [np.rint(_rgb(13 + i, 17 - i, seed=i) * 255).astype(np.uint8) for i in range(6)]
    expected = [up2.upscale(im) for im in images]
    state_before = dict(vars(up2))
    results: dict[tuple[int, int], np.ndarray] = {}
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for rep in range(3):
                for i, im in enumerate(images):
                    results[worker, rep * 10 + i] = up2.upscale(im)
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 4 * 3 * 6
    for (_, key), out in results.items():
        np.testing.assert_array_equal(out, expected[key % 10])
    assert vars(up2) == state_before  # no per-call state stored on the object


@pytest.mark.parametrize("layout", ["planes", "interleaved"])
def test_uint8_output_is_rint_of_the_clamped_value(layout: str) -> None:
    # store_output's OpenCV path: planar (ONNX Runtime) and interleaved (OpenVINO's NHWC)
    # results, cropped as tiles are, round half to even and saturate like numpy.
    rng = np.random.default_rng(1)
    values = rng.uniform(-0.2, 1.2, (1, 30, 41, 3)).astype(np.float32)
    values[0, 0, :4, 0] = np.array([0.5, 1.5, 2.5, 254.5], np.float32) / 255  # ties
    full = np.ascontiguousarray(values.transpose(0, 3, 1, 2)) if layout == "planes" else values.transpose(0, 3, 1, 2)
    crop = full[0, :, 0:27, 2:39]
    want = np.rint(np.clip(crop, 0, 1).transpose(1, 2, 0) * np.float32(255)).astype(np.uint8)
    dest = np.zeros((27, 37, 3), np.uint8)
    store_output(crop.copy() if layout == "planes" else crop, dest)
    np.testing.assert_array_equal(dest, want)
