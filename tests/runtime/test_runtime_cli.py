"""``litesr-edge upscale`` and ``info``: results, every bad input, folder mode."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner, Result

import litesr_edge.engines as engine_module
from litesr_edge import (
    ImageReadError,
    ImageTooLargeError,
    ImageWriteError,
    InvalidInputError,
    ModelError,
    ProviderError,
    available_providers,
    read_image,
    write_image,
)
from litesr_edge.cli import app

REPO = Path(__file__).resolve().parents[2]


def run(*args: object) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def _image(h: int = 10, w: int = 12, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3)).astype(np.uint8)


def _tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _assert_one_line_error(result: Result, code: int, *fragments: str) -> None:
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture
def x2(tiny_models: dict[int, Path]) -> Path:
    return tiny_models[2]


# ---- happy paths --------------------------------------------------------------------------------------------------
def test_upscale_writes_default_name_beside_input(tmp_path: Path, x2: Path) -> None:
    src = write_image(tmp_path / "photo.png", _image())
    result = run("upscale", src, "--model", x2)
    assert result.exit_code == 0, result.output
    assert "wrote" in result.stdout
    assert read_image(tmp_path / "photo_x2.png").shape == (20, 24, 3)


def test_upscale_to_given_file_and_into_given_folder(tmp_path: Path, x2: Path) -> None:
    src = write_image(tmp_path / "p.png", _image())
    assert run("upscale", src, "--model", x2, "-o", tmp_path / "big.png", "-q").exit_code == 0
    (tmp_path / "out").mkdir()
    assert run("upscale", src, "--model", x2, "-o", tmp_path / "out", "--quiet").exit_code == 0
    assert read_image(tmp_path / "big.png").shape == read_image(tmp_path / "out" / "p_x2.png").shape == (20, 24, 3)


def test_upscale_options_reach_the_upscaler(tmp_path: Path, x2: Path) -> None:
    src = write_image(tmp_path / "p.png", _image(30, 31))
    args = ("--model", x2, "--device", "cpu", "--threads", "1", "--max-memory", "64")
    assert run("upscale", src, *args, "--tile", "7", "-o", tmp_path / "a.png").exit_code == 0
    assert run("upscale", src, *args, "--tile", "0", "-o", tmp_path / "b.png").exit_code == 0
    np.testing.assert_array_equal(read_image(tmp_path / "a.png"), read_image(tmp_path / "b.png"))


def test_exif_rotated_jpeg_comes_out_upright(tmp_path: Path, x2: Path) -> None:
    from test_runtime_io import with_exif_orientation

    bgr = np.zeros((16, 24, 3), np.uint8)
    ok, buf = cv2.imencode(".jpg", bgr)
    (tmp_path / "r.jpg").write_bytes(with_exif_orientation(buf.tobytes(), 6))
    assert run("upscale", tmp_path / "r.jpg", "--model", x2).exit_code == 0
    assert cv2.imread(str(tmp_path / "r_x2.jpg")).shape == (48, 32, 3)


def test_sixteen_bit_png_stays_sixteen_bit(tmp_path: Path, x2: Path) -> None:
    src = write_image(tmp_path / "deep.png", (_image().astype(np.uint16) * 257 + 3))
    assert run("upscale", src, "--model", x2).exit_code == 0
    assert read_image(tmp_path / "deep_x2.png").dtype == np.uint16


def test_bundled_model_lookup_by_scale(tmp_path: Path, bundled_dir: Path) -> None:
    src = write_image(tmp_path / "p.png", _image())
    assert run("upscale", src, "-s", "4", "--depth", "2").exit_code == 0
    assert read_image(tmp_path / "p_x4.png").shape == (40, 48, 3)


# ---- every bad input: one-line error, its exit code, nothing written ---------------------------------------------
def _cut(data: bytes) -> bytes:
    return data[: len(data) * 2 // 3]


def _make_bad_input(case: str, folder: Path) -> Path:
    path = folder / {"missing": "nope.png", "empty-folder": "empty", "zero-byte": "z.png", "truncated-png": "t.png",
                     "truncated-jpeg": "t.jpg", "text-as-png": "notes.png"}[case]
    if case == "empty-folder":
        path.mkdir()
    elif case == "zero-byte":
        path.write_bytes(b"")
    elif case.startswith("truncated"):
        path.write_bytes(_cut(cv2.imencode(path.suffix, _image(40, 40))[1].tobytes()))
    elif case == "text-as-png":
        path.write_text("just some text\n")
    return path


BAD_INPUTS = {
    "missing": (ImageReadError, "does not exist"),
    "empty-folder": (InvalidInputError, "no images"),
    "zero-byte": (ImageReadError, "empty"),
    "truncated-png": (ImageReadError, "truncated"),
    "truncated-jpeg": (ImageReadError, "truncated"),
    "text-as-png": (ImageReadError, "not a readable image"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_files(tmp_path: Path, x2: Path, case: str) -> None:
    error, fragment = BAD_INPUTS[case]
    src = _make_bad_input(case, tmp_path)
    before = _tree(tmp_path)
    _assert_one_line_error(run("upscale", src, "--model", x2), error.exit_code, fragment)
    assert _tree(tmp_path) == before


def test_unsupported_scale_lists_available_ones(tmp_path: Path, bundled_dir: Path) -> None:
    src = write_image(tmp_path / "p.png", _image())
    before = _tree(tmp_path)
    _assert_one_line_error(run("upscale", src, "-s", "3"), InvalidInputError.exit_code, "available scales: 2, 4")
    assert _tree(tmp_path) == before


def test_pixel_limit(tmp_path: Path, x2: Path) -> None:
    src = write_image(tmp_path / "p.png", _image(10, 12))
    before = _tree(tmp_path)
    result = run("upscale", src, "--model", x2, "--max-pixels", 479)
    _assert_one_line_error(result, ImageTooLargeError.exit_code, "24x20 = 480 pixels", "--max-pixels")
    assert _tree(tmp_path) == before
    assert run("upscale", src, "--model", x2, "--max-pixels", 480).exit_code == 0


@pytest.mark.parametrize(
    "output,fragment",
    [("p.png", "is the input"), ("exists.png", "already exists"), ("file.txt/out.png", "does not exist"),
     ("missing/out.png", "does not exist")],
)
def test_bad_outputs(tmp_path: Path, x2: Path, output: str, fragment: str) -> None:
    src = write_image(tmp_path / "p.png", _image())
    (tmp_path / "exists.png").write_bytes(b"keep me")
    (tmp_path / "file.txt").write_text("x")
    before = _tree(tmp_path)
    result = run("upscale", src, "--model", x2, "-o", tmp_path / output)
    _assert_one_line_error(result, ImageWriteError.exit_code, fragment)
    assert _tree(tmp_path) == before
    assert (tmp_path / "exists.png").read_bytes() == b"keep me"


def test_overwrite_replaces_existing_output(tmp_path: Path, x2: Path) -> None:
    src = write_image(tmp_path / "p.png", _image())
    (tmp_path / "p_x2.png").write_bytes(b"old")
    assert run("upscale", src, "--model", x2, "--overwrite").exit_code == 0
    assert read_image(tmp_path / "p_x2.png").shape == (20, 24, 3)


@pytest.mark.parametrize("content,fragment", [(b"not onnx at all", "not a loadable ONNX"), (b"", "not a loadable")])
def test_corrupt_model(tmp_path: Path, content: bytes, fragment: str) -> None:
    src = write_image(tmp_path / "p.png", _image())
    (tmp_path / "m.onnx").write_bytes(content)
    before = _tree(tmp_path)
    _assert_one_line_error(run("upscale", src, "--model", tmp_path / "m.onnx"), ModelError.exit_code, fragment)
    assert _tree(tmp_path) == before


def test_foreign_model(tmp_path: Path, tiny_model_factory) -> None:  # type: ignore[no-untyped-def]
    onnx = pytest.importorskip("onnx")
    proto = onnx.load(tiny_model_factory(scale=2))
    del proto.metadata_props[:]
    onnx.save(proto, tmp_path / "foreign.onnx")
    src = write_image(tmp_path / "p.png", _image())
    result = run("upscale", src, "--model", tmp_path / "foreign.onnx")
    _assert_one_line_error(result, ModelError.exit_code, "not a litesr-edge model")
    assert not (tmp_path / "p_x2.png").exists()


def test_unavailable_device(tmp_path: Path, x2: Path) -> None:
    if "CUDAExecutionProvider" in available_providers():
        pytest.skip("CUDA is available here")
    src = write_image(tmp_path / "p.png", _image())
    _assert_one_line_error(run("upscale", src, "--model", x2, "--device", "cuda"), ProviderError.exit_code,
                           "available: CPUExecutionProvider")
    assert not (tmp_path / "p_x2.png").exists()


# ---- folder mode --------------------------------------------------------------------------------------------------
def _mixed_folder(root: Path) -> Path:
    folder = root / "in"
    folder.mkdir()
    write_image(folder / "a.png", _image(seed=1))
    write_image(folder / "b.jpg", _image(seed=2))
    (folder / "c.png").write_text("text")
    (folder / "d.png").write_bytes(_cut(cv2.imencode(".png", _image(30, 30))[1].tobytes()))
    (folder / "readme.txt").write_text("not an image suffix: ignored")
    (folder / "sub").mkdir()
    return folder


def test_folder_reports_bad_files_and_finishes_the_others(tmp_path: Path, x2: Path) -> None:
    folder = _mixed_folder(tmp_path)
    result = run("upscale", folder, "--model", x2)
    assert result.exit_code == 1
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 2 and all(line.startswith("error: ") for line in errors)
    assert "c.png" in errors[0] and "d.png" in errors[1] and "truncated" in errors[1]
    assert "upscaled 2, skipped 0, failed 2 of 4 inputs" in result.stdout
    assert read_image(folder / "a_x2.png").shape == (20, 24, 3)
    assert read_image(folder / "b_x2.jpg").shape == (20, 24, 3)
    assert not (folder / "c_x2.png").exists() and not (folder / "d_x2.png").exists()


def test_folder_rerun_skips_own_outputs(tmp_path: Path, x2: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    write_image(folder / "a.png", _image())
    assert run("upscale", folder, "--model", x2).exit_code == 0
    again = run("upscale", folder, "--model", x2, "--overwrite")
    assert again.exit_code == 0 and "upscaled 1, skipped 0, failed 0 of 1 inputs" in again.stdout
    assert _tree(folder) == ["a.png", "a_x2.png"]


def test_folder_into_output_folder_and_quiet(tmp_path: Path, x2: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        write_image(folder / f"{i}.png", _image(seed=i))
    result = run("upscale", folder, "--model", x2, "-o", tmp_path / "out" / "deep", "-q")
    assert result.exit_code == 0 and result.stdout == "" and result.stderr == ""
    assert _tree(tmp_path / "out" / "deep") == ["0_x2.png", "1_x2.png", "2_x2.png"]


def test_several_inputs_with_colliding_outputs(tmp_path: Path, x2: Path) -> None:
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        write_image(tmp_path / sub / "same.png", _image())
    result = run("upscale", tmp_path / "a" / "same.png", tmp_path / "b" / "same.png", "--model", x2,
                 "-o", tmp_path / "out")
    assert result.exit_code == 1 and "would both write" in result.stderr
    assert _tree(tmp_path / "out") == ["same_x2.png"]


def test_single_empty_folder_uses_its_own_exit_code(tmp_path: Path, x2: Path) -> None:
    (tmp_path / "empty").mkdir()
    _assert_one_line_error(run("upscale", tmp_path / "empty", "--model", x2, "-o", tmp_path / "out"), 2, "no images")
    assert not (tmp_path / "out").exists()


# ---- engines and precision ----------------------------------------------------------------------------------------
def _hide_openvino(monkeypatch: pytest.MonkeyPatch) -> None:
    # As if the openvino extra were not installed: its registry entry names a module that does not exist.
    monkeypatch.setitem(engine_module.ENGINES, "openvino", "litesr_edge._no_such_engine:OpenVinoEngine")


def test_upscale_with_openvino_bf16(tmp_path: Path, x2: Path) -> None:
    pytest.importorskip("openvino", reason="the openvino extra is not installed (pip install 'litesr-edge[openvino]')")
    from litesr_edge.engines.openvino import bf16_supported

    src = write_image(tmp_path / "p.png", _image(21, 17))
    result = run("upscale", src, "--model", x2, "--engine", "openvino", "--precision", "bf16", "--tile", "6")
    assert result.exit_code == 0, result.output
    assert read_image(tmp_path / "p_x2.png").shape == (42, 34, 3)
    if bf16_supported():
        assert "OpenVINO CPU bf16" in result.stdout and result.stderr == ""
    else:
        assert result.stderr.startswith("note: this CPU has no native bfloat16")
        assert result.stderr.strip().endswith("; using onnxruntime fp32")


def test_upscale_without_openvino_notes_the_fallback_and_still_writes(
    tmp_path: Path, x2: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = write_image(tmp_path / "p.png", _image(21, 17))
    assert run("upscale", src, "--model", x2, "-o", tmp_path / "ref.png", "-q").exit_code == 0
    _hide_openvino(monkeypatch)
    ov_args = ("--engine", "openvino", "--precision", "bf16")
    result = run("upscale", src, "--model", x2, *ov_args, "-o", tmp_path / "ov.png")
    assert result.exit_code == 0, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("note: engine 'openvino' needs") and "litesr-edge[openvino]" in lines[0]
    assert lines[0].endswith("; using onnxruntime fp32") and "Warning" not in result.output
    assert "CPUExecutionProvider" in result.stdout
    np.testing.assert_array_equal(read_image(tmp_path / "ov.png"), read_image(tmp_path / "ref.png"))


def test_upscale_default_engine_prints_no_note(tmp_path: Path, x2: Path) -> None:
    src = write_image(tmp_path / "p.png", _image())
    result = run("upscale", src, "--model", x2, "--precision", "fp32")
    assert result.exit_code == 0 and result.stderr == "", result.output


@pytest.mark.parametrize(
    ("args", "fragment"),
    [(["--precision", "int4"], "--precision int4 is unknown"),
     (["--engine", "tensorflow"], "--engine tensorflow is unknown")],
)
def test_unknown_engine_or_precision_is_a_one_line_error(
    tmp_path: Path, x2: Path, args: list[str], fragment: str
) -> None:
    src = write_image(tmp_path / "p.png", _image())
    _assert_one_line_error(run("upscale", src, "--model", x2, *args), InvalidInputError.exit_code, fragment)
    assert not (tmp_path / "p_x2.png").exists()


def test_info_lists_engines_even_without_openvino(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openvino", None)  # `import openvino` now fails
    monkeypatch.delitem(sys.modules, "litesr_edge.engines.openvino", raising=False)
    result = run("info")
    assert result.exit_code == 0, result.output
    assert "onnxruntime: fp32 usable" in result.stdout
    assert "openvino: not installed" in result.stdout and "litesr-edge[openvino]" in result.stdout


def test_info_says_whether_bf16_runs_here(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("openvino", reason="the openvino extra is not installed")
    from litesr_edge.engines import openvino as ov_engine

    for supported, expected in ((True, "bf16 usable"), (False, "bf16 NOT usable")):
        monkeypatch.setattr(ov_engine, "bf16_supported", lambda core=None, s=supported: s)
        result = run("info")
        assert result.exit_code == 0, result.output
        assert f"openvino: fp32 usable; {expected}" in result.stdout


# ---- info -----------------------------------------------------------------------------------------------------------
def test_info_lists_bundled_models_and_providers(bundled_dir: Path) -> None:
    result = run("info")
    assert result.exit_code == 0, result.output
    assert "a.onnx" in result.stdout and "b.onnx" in result.stdout and "x4" in result.stdout
    assert "NO (untrained)" in result.stdout and "train_data=none" in result.stdout
    assert "CPUExecutionProvider" in result.stdout


def test_info_with_no_models_and_a_corrupt_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import litesr_edge.registry as models

    monkeypatch.setattr(models, "MODELS_DIR", tmp_path)
    assert "No bundled models" in run("info").stdout
    (tmp_path / "x.txt").write_bytes(b"junk")
    _assert_one_line_error(run("info", "--model", tmp_path / "x.txt"), ModelError.exit_code, "x.txt")


# ---- the installed entry point, without torch -------------------------------------------------------------------
def test_cli_runs_without_torch_or_onnx(tmp_path: Path, x2: Path) -> None:
    src = write_image(tmp_path / "p.png", _image())
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from litesr_edge.cli import main\n"
        f"sys.argv = ['litesr-edge', 'upscale', {str(src)!r}, '--model', {str(x2)!r}, '-q']\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "assert sys.modules['torch'] is None and 'onnx' not in sys.modules, 'heavy import'\n"
        "print('ok')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
    assert (tmp_path / "p_x2.png").exists()


def test_sample_image_is_bundled_small_and_readable() -> None:
    from litesr_edge import SAMPLE_IMAGE

    assert SAMPLE_IMAGE.stat().st_size < 100_000
    assert read_image(SAMPLE_IMAGE).shape == (150, 225, 3)
    assert (SAMPLE_IMAGE.parent / "README.md").read_text().count("CC0") >= 1
