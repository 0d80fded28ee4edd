"""The public API's contract: keyword-only, typed arguments, progress, out-of-memory, lazy imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from litesr_edge import InvalidInputError, OutOfMemoryError, Upscaler
from litesr_edge.registry import list_models


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scale": "4"}, r"scale='4' must be an int >= 1 \(2, 3 or 4\) or None, not str"),
        ({"scale": 4.0}, r"scale=4.0 must be an int"),
        ({"scale": True}, r"scale=True must be an int"),
        ({"depth": "19"}, r"depth='19' must be an int"),
        ({"tile": 2.5}, r"tile=2.5 must be an int >= 0"),
        ({"tile": -1}, r"tile=-1 must be >= 0"),
        ({"max_memory_mb": "big"}, r"max_memory_mb='big' must be a number > 0"),
        ({"max_memory_mb": 0}, r"max_memory_mb=0 must be > 0"),
        ({"max_memory_mb": float("nan")}, r"max_memory_mb=nan must be > 0"),
        ({"threads": 1.5}, r"threads=1.5 must be an int >= 1"),
        ({"max_pixels": 0}, r"max_pixels=0 must be >= 1"),
        ({"engine": "tensorflow"}, r"engine='tensorflow' is unknown; choose one of auto, onnxruntime, openvino"),
        ({"engine": 3}, r"engine=3 must be one of auto, onnxruntime, openvino"),
        ({"precision": "fp16"}, r"precision='fp16' is unknown; choose one of fp32, bf16, int8"),
        ({"fallback": "yes"}, r"fallback='yes' must be True or False"),
        ({"model": 42}, r"model=42 must be a file path"),
        ({"providers": "cpu"}, r"providers='cpu' must be a list"),
        ({"providers": [1]}, r"providers=\[1\] must be a list of provider names"),
    ],
)
def test_wrong_types_and_values_are_named(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        Upscaler(**kwargs)  # type: ignore[arg-type]


def test_arguments_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        Upscaler(4)  # type: ignore[misc]


def test_progress_counts_every_tile(tiny_models: dict[int, Path]) -> None:
    up = Upscaler(model=tiny_models[2], tile=8, threads=1)
    image = np.random.default_rng(0).integers(0, 256, (20, 17, 3), dtype=np.uint8)
    calls: list[tuple[int, int]] = []
    out = up.upscale(image, progress=lambda done, total: calls.append((done, total)))
    total = len(up.plan(20, 17))
    assert total == 9 and calls == [(i, total) for i in range(total + 1)]
    np.testing.assert_array_equal(out, up.upscale(image))


def test_progress_on_files(tmp_path: Path, tiny_models: dict[int, Path]) -> None:
    import cv2

    src = tmp_path / "a.png"
    cv2.imwrite(str(src), np.zeros((10, 10, 3), np.uint8))
    calls: list[tuple[int, int]] = []
    Upscaler(model=tiny_models[2], tile=4, threads=1).upscale_file(
        src, tmp_path / "b.png", progress=lambda d, t: calls.append((d, t))
    )
    assert calls[0] == (0, 9) and calls[-1] == (9, 9)


def test_output_that_does_not_fit_is_out_of_memory(
    monkeypatch: pytest.MonkeyPatch, tiny_models: dict[int, Path]
) -> None:
    up = Upscaler(model=tiny_models[2], threads=1)
    real_empty = np.empty

    def no_memory(shape: object, dtype: object = None) -> object:
        if shape == (40, 40, 3):
            raise MemoryError
        return real_empty(shape, dtype)  # type: ignore[call-overload]

    monkeypatch.setattr(np, "empty", no_memory)
    with pytest.raises(OutOfMemoryError, match=r"40x40 output of a 20x20 image at x2 \(0 MB\)") as info:
        up.upscale(np.zeros((20, 20, 3), np.uint8))
    assert info.value.exit_code == 10


def test_tile_that_does_not_fit_names_the_memory_and_tile_options(tiny_models: dict[int, Path]) -> None:
    up = Upscaler(model=tiny_models[2], tile=8, threads=1)

    class Full:
        info, provider, precision = up.info, "fake", "fp32"

        def run(self, batch: np.ndarray) -> np.ndarray:
            raise MemoryError

    up._engine = Full()  # type: ignore[assignment]
    with pytest.raises(OutOfMemoryError, match=r"max_memory_mb \(--max-memory\) or tile \(--tile, now 8\)"):
        up.upscale(np.zeros((20, 20, 3), np.uint8))


def test_the_model_list_is_read_once_and_again_when_a_file_changes(
    tmp_path: Path, tiny_models: dict[int, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    import litesr_edge.registry as registry

    copy = tmp_path / "a.onnx"
    shutil.copy(tiny_models[2], copy)
    first = list_models(tmp_path)
    reads: list[Path] = []
    real = registry.read_model_info

    def counting(path: Path) -> object:
        reads.append(path)
        return real(path)

    monkeypatch.setattr(registry, "read_model_info", counting)
    assert list_models(tmp_path) == first and reads == []  # cached
    shutil.copy(tiny_models[3], copy)
    assert list_models(tmp_path)[0].info.scale == 3 and reads == [copy]


def test_import_loads_no_engine_and_no_tooling() -> None:
    code = (
        "import sys, litesr_edge; litesr_edge.Upscaler; "
        "print(sorted(m for m in sys.modules if m.startswith(('litesr_edge', 'onnxruntime', 'openvino', 'torch'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = eval(out)  # noqa: S307 - our own printed list
    assert not [m for m in loaded if m.startswith(("onnxruntime", "openvino", "torch"))], loaded
    assert not [m for m in loaded if m.startswith(("litesr_edge.quality", "litesr_edge.bench", "litesr_edge.cli"))]


def test_bundled_models_need_no_onnxruntime_to_list() -> None:
    code = (
        "import sys; sys.modules['onnxruntime'] = None; import litesr_edge; "
        "print(len(litesr_edge.list_models()))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert int(out) >= 1


def test_tta_is_the_mean_of_the_eight_transforms(tiny_models: dict[int, Path]) -> None:
    from litesr_edge.engines.onnxruntime import OrtEngine

    image = np.random.default_rng(1).random((9, 12, 3), dtype=np.float32)
    up = Upscaler(model=tiny_models[2], tile=0, threads=1, tta=True)
    assert up.tta and "tta=True" in repr(up)
    engine = OrtEngine(tiny_models[2], ["cpu"], 1)
    outs = []
    for k in range(4):
        for flip in (False, True):
            x = np.rot90(image, k)
            x = x[:, ::-1] if flip else x
            y = engine.run(np.ascontiguousarray(x.transpose(2, 0, 1)[None]))[0].transpose(1, 2, 0)
            y = y[:, ::-1] if flip else y
            outs.append(np.rot90(y, -k))
    want = np.clip(np.mean(outs, axis=0), 0, 1)
    np.testing.assert_allclose(up.upscale(image), want, atol=2e-6)
    plain = Upscaler(model=tiny_models[2], tile=0, threads=1).upscale(image)
    assert np.abs(up.upscale(image) - plain).max() > 1e-4


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_tta_tiled_equals_tta_whole(tiny_model_factory, scale: int) -> None:  # type: ignore[no-untyped-def]
    model = tiny_model_factory(scale=scale, fast=True)
    image = np.random.default_rng(scale).integers(0, 256, (23, 30, 3), dtype=np.uint8)
    whole = Upscaler(model=model, tile=0, threads=1, tta=True).upscale(image)
    for tile in (5, 11):
        np.testing.assert_array_equal(Upscaler(model=model, tile=tile, threads=1, tta=True).upscale(image), whole)


def test_a_real_memory_limit_gives_out_of_memory_not_a_traceback(tiny_models: dict[int, Path]) -> None:
    # The whole image in one tile (tile=0) under an address-space limit: the engine's or
    # numpy's allocation fails, and the caller gets OutOfMemoryError naming the options.
    resource = pytest.importorskip("resource", reason="needs POSIX resource limits")
    del resource
    code = f"""
import resource, sys
import numpy as np
from litesr_edge import OutOfMemoryError, Upscaler
up = Upscaler(model={str(tiny_models[4])!r}, tile=0, threads=1)
up.upscale(np.zeros((8, 8, 3), np.uint8))  # engine warmed up before the limit
with open("/proc/self/status") as f:
    vm = next(int(l.split()[1]) for l in f if l.startswith("VmSize")) * 1024
resource.setrlimit(resource.RLIMIT_AS, (vm + 256 * 2**20, resource.RLIM_INFINITY))
try:
    up.upscale(np.zeros((1500, 1500, 3), np.uint8))
except OutOfMemoryError as exc:
    print("OOM", exc.exit_code, exc)
    sys.exit(0)
sys.exit("no OutOfMemoryError")
"""
    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc/self/status (Linux)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("OOM 10 not enough memory") and "--max-memory" in proc.stdout
    assert "Traceback" not in proc.stderr
