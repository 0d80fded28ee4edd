"""``litesr-edge eval`` and ``compare``: output, JSON schema and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from eval_data import make_pairs, rgb_image, write_rgb
from typer.testing import CliRunner, Result

import litesr_edge.engines as engine_module
from litesr_edge.cli import app
from litesr_edge.quality.evaluate import bicubic_upsampler, evaluate, find_dataset

REPO = Path(__file__).resolve().parents[2]


def run(*args: object) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def assert_one_line_error(result: Result, code: int, *fragments: str) -> None:
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture
def pairs(tmp_path: Path) -> Path:
    return make_pairs(tmp_path / "Mine", 2, n=3, grey_index=2)


# ---- eval ---------------------------------------------------------------------------------------------------------
def test_eval_missing_dataset(tmp_path: Path) -> None:
    result = run("eval", tmp_path / "Set5", "-s", 4, "--bicubic")
    assert_one_line_error(result, 8, "Set5 does not exist", "image_SRF_4/img_NNN_SRF_4_HR.png")


def test_eval_wrong_layout_names_the_scales_present(pairs: Path) -> None:
    result = run("eval", pairs, "-s", 4, "--bicubic")
    assert_one_line_error(result, 8, "no image_SRF_4 folder for x4", "image_SRF_2")


def test_eval_empty_folder(tmp_path: Path) -> None:
    assert_one_line_error(run("eval", tmp_path, "-s", 2, "--bicubic"), 8, "contains no images")


def test_eval_rejects_two_methods(pairs: Path, tmp_path: Path) -> None:
    result = run("eval", pairs, "-s", 2, "--bicubic", "--peer", tmp_path / "FSRCNN_x2.pb")
    assert_one_line_error(result, 2, "--bicubic and --peer exclude each other")


def test_eval_bad_model_file(pairs: Path, tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.onnx"
    bogus.write_bytes(b"not onnx")
    assert_one_line_error(run("eval", pairs, "-s", 2, "--model", bogus), 5, "bogus.onnx")


def test_eval_table_lists_every_image_and_the_mean(pairs: Path) -> None:
    result = run("eval", pairs, "-s", 2, "--bicubic", "-q")
    assert result.exit_code == 0, result.output
    expected = evaluate(find_dataset(pairs, 2), bicubic_upsampler(2))
    for name in ("img_001", "img_002", "img_003", "mean"):
        assert name in result.stdout
    assert f"{expected.psnr:.2f}" in result.stdout and "grey" in result.stdout


def test_eval_json_is_the_documented_schema(pairs: Path, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    write_rgb(folder / "a.png", rgb_image(40, 36, seed=5))
    result = run("eval", pairs, folder, "-s", 2, "--bicubic", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)  # stdout holds the JSON document and nothing else
    assert doc["schema"] == "litesr-edge.eval/1"
    assert doc["method"] == {"name": "bicubic", "model": None, "scale": 2, "depth": None}
    assert [(r["dataset"], r["layout"], r["count"]) for r in doc["results"]] == [
        ("Mine", "pairs", 3),
        ("photos", "hr-folder", 1),
    ]
    expected = evaluate(find_dataset(pairs, 2), bicubic_upsampler(2))
    assert doc["results"][0]["psnr"] == pytest.approx(expected.psnr, abs=1e-12)
    assert doc["results"][0]["images"][1]["grey"] is True


def test_eval_with_a_model(pairs: Path, tiny_model_factory) -> None:  # type: ignore[no-untyped-def]
    model = tiny_model_factory(scale=2)
    result = run("eval", pairs, "-s", 2, "--model", model, "--json", "--tile", 0)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    method = doc["method"]
    assert (method["name"], method["scale"], method["depth"], method["trained"]) == ("litesrnet", 2, 2, False)
    assert _engine(method) == ORT_FP32
    assert method["fallback_reason"] is None and "note" not in result.stderr
    assert doc["results"][0]["count"] == 3


ORT_FP32 = ("onnxruntime", "fp32", "CPUExecutionProvider")


def _engine(method: dict[str, object]) -> tuple[object, object, object]:
    return method["engine"], method["precision"], method["provider"]


def test_eval_records_the_openvino_engine_and_precision(pairs: Path, tiny_model_factory) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("openvino", reason="the openvino extra is not installed")
    model = tiny_model_factory(scale=2)
    result = run("eval", pairs, "-s", 2, "--model", model, "--json", "--engine", "openvino", "--precision", "fp32")
    assert result.exit_code == 0, result.output
    method = json.loads(result.stdout)["method"]
    assert _engine(method) == ("openvino", "fp32", "OpenVINO CPU fp32")
    assert method["fallback_reason"] is None


def test_eval_records_a_fallback(
    pairs: Path, tiny_model_factory, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    model = tiny_model_factory(scale=2)
    reference = json.loads(run("eval", pairs, "-s", 2, "--model", model, "--json", "-q").stdout)
    monkeypatch.setitem(engine_module.ENGINES, "openvino", "litesr_edge._no_such_engine:OpenVinoEngine")
    ov_args = ("--engine", "openvino", "--precision", "bf16")
    result = run("eval", pairs, "-s", 2, "--model", model, "--json", "-q", *ov_args)
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("note: engine 'openvino' needs") and len(result.stderr.splitlines()) == 1
    assert result.stderr.strip().endswith("; using onnxruntime fp32")
    doc = json.loads(result.stdout)  # the note stays out of the JSON on stdout
    method = doc["method"]
    assert _engine(method) == ORT_FP32
    assert "litesr-edge[openvino]" in method["fallback_reason"]
    assert doc["results"][0]["psnr"] == reference["results"][0]["psnr"]


def test_eval_engine_options_need_a_model(pairs: Path) -> None:
    result = run("eval", pairs, "-s", 2, "--bicubic", "--engine", "openvino")
    assert_one_line_error(result, 2, "--engine/--precision", "--bicubic")


def test_eval_model_scale_mismatch(pairs: Path, tiny_model_factory) -> None:  # type: ignore[no-untyped-def]
    model = tiny_model_factory(scale=4)
    assert_one_line_error(run("eval", pairs, "-s", 2, "--model", model), 2, "x4")


# ---- compare ------------------------------------------------------------------------------------------------------
@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.png"
    write_rgb(path, rgb_image(50, 66, seed=3))
    return path


def test_compare_writes_a_labelled_row(photo: Path, tmp_path: Path, tiny_model_factory) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "fig.png"
    result = run("compare", photo, "-s", 2, "--model", tiny_model_factory(scale=2), "--crop", "4,6,20,16", "-o", out)
    assert result.exit_code == 0, result.output
    fig = cv2.imread(str(out))
    # overview + HR crop + bicubic + ours; each crop panel is 20 px zoomed 12x (256 // 20).
    assert fig.shape[0] == 16 * 12 + 28
    assert fig.shape[1] > 3 * 20 * 12
    # Captions are drawn: the label strip is not blank.
    assert (fig[-28:] < 128).any()


def test_compare_crop_outside_the_image(photo: Path, tmp_path: Path, tiny_model_factory) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "fig.png"
    result = run("compare", photo, "-s", 2, "--model", tiny_model_factory(scale=2), "--crop", "60,0,20,20", "-o", out)
    assert_one_line_error(result, 2, "--crop 60,0,20,20 does not fit the 66x50")
    assert not out.exists()


def test_compare_bad_crop_syntax(photo: Path, tmp_path: Path) -> None:
    result = run("compare", photo, "--crop", "1,2,3", "-o", tmp_path / "fig.png")
    assert_one_line_error(result, 2, "is not x,y,w,h")


def test_compare_refuses_an_existing_output(photo: Path, tmp_path: Path) -> None:
    out = tmp_path / "fig.png"
    out.write_bytes(b"keep me")
    assert_one_line_error(run("compare", photo, "-o", out), 4, "already exists")
    assert out.read_bytes() == b"keep me"


def test_compare_missing_image(tmp_path: Path) -> None:
    assert_one_line_error(run("compare", tmp_path / "nope.png", "-o", tmp_path / "fig.png"), 3, "nope.png")


def test_compare_psnr_caption_matches_the_metric(tmp_path: Path) -> None:
    from litesr_edge.cli.compare import compose, parse_crop
    from litesr_edge.quality.bicubic import imresize
    from litesr_edge.quality.metrics import psnr_y

    hr = rgb_image(48, 48, seed=9)
    crop = parse_crop(None, 48, 48)
    assert crop == (12, 12, 24, 24)
    sr = imresize(imresize(hr, 0.5), 2)
    fig = compose(hr, [("Bicubic", sr)], crop, 2)
    assert fig.dtype == np.uint8 and fig.shape[0] == 24 * 10 + 28
    assert 10 < psnr_y(sr, hr, 2) < 60


# ---- what ran, in the table title; eval without onnxruntime -------------------------------------------------------
def test_eval_title_shows_engine_and_fallback_unmangled(
    pairs: Path, tiny_model_factory, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    model = tiny_model_factory(scale=2)
    monkeypatch.setenv("COLUMNS", "200")
    plain = run("eval", pairs, "-s", 2, "--model", model, "--summary", "-q")
    assert plain.exit_code == 0 and "mean -- litesrnet onnxruntime fp32" in plain.stdout
    monkeypatch.setitem(engine_module.ENGINES, "openvino", "litesr_edge._no_such_engine:OpenVinoEngine")
    result = run("eval", pairs, "-s", 2, "--model", model, "--summary", "-q", "--engine", "openvino",
                 "--precision", "int8")
    assert result.exit_code == 0, result.output
    title = " ".join(result.stdout.split())
    assert "litesrnet openvino int8 -> onnxruntime fp32 (fallback: engine 'openvino' needs" in title
    assert "litesr-edge[openvino]" in title  # brackets survive: not read as rich markup


def test_eval_label_escapes_brackets() -> None:
    from litesr_edge.cli.eval import _label

    method = {"name": "litesrnet", "engine": "openvino", "precision": "int8", "fallback_reason": None}
    assert _label(method) == "litesrnet openvino int8"
    assert _label({"name": "bicubic"}) == "bicubic"


def _without_onnxruntime(args: list[str]) -> subprocess.CompletedProcess[str]:
    code = (
        "import sys; sys.modules['onnxruntime'] = None\n"
        f"sys.argv = ['litesr-edge', *{args!r}]\n"
        "from litesr_edge.cli import main\nmain()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


def test_eval_help_and_bicubic_run_without_onnxruntime(pairs: Path) -> None:
    if _without_onnxruntime(["--version"]).returncode != 0:
        pytest.skip("litesr_edge (package __init__ or a command module) still imports onnxruntime at import time")
    helped = _without_onnxruntime(["eval", "--help"])
    assert helped.returncode == 0 and "Usage:" in helped.stdout, helped.stderr
    done = _without_onnxruntime(["eval", str(pairs), "-s", "2", "--bicubic", "--json", "-q"])
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["method"]["name"] == "bicubic"
