"""Golden outputs: every bundled model on a fixed crop of the bundled sample image.

tests/fixtures/golden/ holds each model's uint8 output (ONNX Runtime, CPU, one thread)
and a manifest with the sha256 of the weight file it came from. A changed weight file
fails here first, by hash, asking for the goldens to be regenerated; a changed runtime
(tiling, conversion, engine options) fails on the output. The tolerance allows for
float rounding between CPUs (AVX2 vs AVX-512 kernels, int8 with or without VNNI);
why it is what it is: GOLDEN_TOLERANCE in tests/make_fixtures.py.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from make_fixtures import GOLDEN_CROP, GOLDEN_DIR, MANIFEST, REGENERATE, golden_output

from litesr_edge import SAMPLE_IMAGE
from litesr_edge.io import read_image
from litesr_edge.registry import BundledModel, list_models

BUNDLED = list_models()


def _manifest() -> dict[str, Any]:
    return dict(json.loads(MANIFEST.read_text(encoding="utf-8")))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def check_weights(path: Path, entry: dict[str, Any]) -> None:
    if _sha256(path) != entry["weights_sha256"]:
        pytest.fail(
            f"weight file {path.name} changed (its sha256 is not the one in tests/fixtures/golden/manifest.json): "
            f"if the change is intended, run {REGENERATE}, look at the new PNGs and commit them"
        )


def compare(out: np.ndarray, want: np.ndarray, entry: dict[str, Any]) -> None:
    assert out.shape == want.shape and out.dtype == want.dtype == np.uint8, (out.shape, out.dtype, want.shape)
    worst = int(np.abs(out.astype(np.int16) - want.astype(np.int16)).max())
    assert worst <= entry["max_abs_diff"], f"max |diff| {worst} > {entry['max_abs_diff']} levels"
    assert psnr(out, want) >= entry["psnr_floor"], f"PSNR {psnr(out, want):.1f} dB < {entry['psnr_floor']} dB"


def test_every_bundled_model_has_a_golden_and_no_golden_is_stale() -> None:
    assert BUNDLED, "no bundled models found: is the package data installed?"
    entries = _manifest()["models"]
    missing = sorted(m.path.name for m in BUNDLED if m.path.name not in entries)
    stale = sorted(set(entries) - {m.path.name for m in BUNDLED})
    assert not missing, f"bundled models without a golden: {missing}; run {REGENERATE}"
    assert not stale, f"goldens for models no longer bundled: {stale}; run {REGENERATE}"


def test_golden_input_is_the_bundled_sample() -> None:
    doc = _manifest()
    assert _sha256(SAMPLE_IMAGE) == doc["image_sha256"], f"{SAMPLE_IMAGE} changed; run {REGENERATE}"
    assert tuple(doc["crop_top_left_height_width"]) == GOLDEN_CROP, f"the crop changed; run {REGENERATE}"


@pytest.mark.parametrize("model", BUNDLED, ids=lambda m: m.path.stem)
def test_bundled_model_matches_its_golden(model: BundledModel) -> None:
    entry = _manifest()["models"].get(model.path.name)
    assert entry is not None, f"no golden for bundled model {model.path.name}; run {REGENERATE}"
    check_weights(model.path, entry)
    golden_png = GOLDEN_DIR / entry["golden"]
    assert _sha256(golden_png) == entry["golden_sha256"], f"{golden_png} was edited; run {REGENERATE}"
    info = model.info
    assert (info.scale, info.depth, info.precision) == (entry["scale"], entry["depth"], entry["precision"])
    path, out = golden_output(info.scale, info.depth, info.precision)
    assert path == model.path, f"x{info.scale} d{info.depth} {info.precision} resolved to {path.name}"
    compare(out, read_image(golden_png), entry)


def test_a_changed_weight_file_fails_and_says_how_to_regenerate(tmp_path: Path) -> None:
    model = BUNDLED[0]
    changed = tmp_path / model.path.name
    shutil.copyfile(model.path, changed)
    with changed.open("ab") as f:
        f.write(b"\0")
    with pytest.raises(pytest.fail.Exception, match="tests/make_fixtures.py --golden"):
        check_weights(changed, _manifest()["models"][model.path.name])


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_the_tolerance_fails_a_rounding_change_and_a_seam(precision: str) -> None:
    entry = next(e for e in _manifest()["models"].values() if e["precision"] == precision)
    want = read_image(GOLDEN_DIR / entry["golden"])
    half = np.random.default_rng(0).random(want.shape) < 0.5  # floor instead of round: half the values one lower
    with pytest.raises(AssertionError, match="PSNR"):
        compare(np.where(half & (want > 0), want - 1, want).astype(np.uint8), want, entry)
    seam = want.copy()
    seam[:, want.shape[1] // 2] //= 2
    with pytest.raises(AssertionError, match="max"):
        compare(seam, want, entry)
