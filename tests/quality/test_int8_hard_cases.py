"""Synthetic hard cases (litesr_edge.quality.hard_cases) and the bundled int8 models' worst image on them."""

from __future__ import annotations

import numpy as np
import pytest

from litesr_edge import Upscaler
from litesr_edge.errors import InvalidInputError
from litesr_edge.quality.bicubic import imresize
from litesr_edge.quality.evaluate import score_pair
from litesr_edge.quality.hard_cases import DEFAULT_SIZE, HARD_CASES, hard_case, hard_case_pairs
from litesr_edge.registry import BundledModel, list_models

# Per-image PSNR loss allowed for each bundled int8 model vs its fp32 model on every hard case (dB):
# issue 20's bar for int8, 0.10 dB on every image (auto's own bar, 0.05, is checked by the table
# behind auto, not here). Measured worst (docs/int8.md): x2 -0.028 (windows), x3 -0.095
# (checker_5px; the long-run x3 quantizes worse than the model before it, -0.041), x4 -0.084
# (checker_5px). The 48x48-patch calibrated predecessors lost 1.2-1.7 dB and fail here.
MAX_LOSS_DB = {2: 0.10, 3: 0.10, 4: 0.10}


def test_hard_cases_are_deterministic_rgb_and_distinct() -> None:
    images = {name: hard_case(name) for name in HARD_CASES}
    for name, img in images.items():
        assert img.shape == (DEFAULT_SIZE, DEFAULT_SIZE, 3) and img.dtype == np.uint8, name
        np.testing.assert_array_equal(img, hard_case(name), err_msg=name)
        assert img.std() > 20, f"{name} is nearly flat"  # hard means high contrast
    flat = [img.tobytes() for img in images.values()]
    assert len(set(flat)) == len(flat)


def test_variants_differ_where_the_case_is_random() -> None:
    assert not np.array_equal(hard_case("line_art", variant=1), hard_case("line_art"))
    assert not np.array_equal(hard_case("text_colour", variant=2), hard_case("text_colour", variant=1))


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_pairs_are_mod_cropped_with_matlab_bicubic_lr(scale: int) -> None:
    pairs = hard_case_pairs(scale, size=50, names=("zone_plate", "thin_lines"))
    assert [p.name for p in pairs] == ["zone_plate", "thin_lines"]
    for p in pairs:
        crop = 50 - 50 % scale
        assert p.hr.shape == (crop, crop, 3)
        np.testing.assert_array_equal(p.lr, imresize(p.hr, 1.0 / scale))


def test_bad_arguments_name_the_value() -> None:
    with pytest.raises(InvalidInputError, match="unknown hard case 'nope'"):
        hard_case("nope")
    with pytest.raises(InvalidInputError, match="size 8 is too small"):
        hard_case("zone_plate", size=8)
    with pytest.raises(InvalidInputError, match="scale must be 2, 3 or 4, got 5"):
        hard_case_pairs(5)


def _bundled_pairs() -> list[tuple[int, BundledModel, BundledModel]]:
    """(scale, fp32 model, int8 model) for every bundled trained int8 model."""
    models = list_models()
    out = []
    for q in (m for m in models if m.info.precision == "int8"):
        fp = next(m for m in models if m.info.precision == "fp32" and (m.info.scale, m.info.depth)
                  == (q.info.scale, q.info.depth))
        out.append((q.info.scale, fp, q))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_bundled_int8_loses_little_on_every_hard_case(scale: int) -> None:
    found = [(fp, q) for s, fp, q in _bundled_pairs() if s == scale]
    if not found:
        pytest.skip(f"no bundled int8 model at x{scale}")
    fp, q = found[0]
    assert q.info.trained, "the accuracy bar only means something on trained weights"
    ref = Upscaler(model=fp.path, tile=0, threads=2, engine="onnxruntime")
    int8 = Upscaler(model=q.path, tile=0, threads=2, engine="onnxruntime", precision="int8")
    losses = {}
    for pair in hard_case_pairs(scale):
        want = score_pair(pair, ref.upscale(pair.lr), scale).psnr
        losses[pair.name] = want - score_pair(pair, int8.upscale(pair.lr), scale).psnr
    worst = max(losses, key=lambda k: losses[k])
    assert losses[worst] <= MAX_LOSS_DB[scale], f"x{scale} int8 loses {losses[worst]:.3f} dB on {worst}: {losses}"
