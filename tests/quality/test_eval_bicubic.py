"""The protocol check: MATLAB bicubic against the canonical LR files and the literature's table.

Needs ../shared/datasets/test (not part of the repository); skipped when absent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from litesr_edge.quality.bicubic import imresize
from litesr_edge.quality.evaluate import bicubic_upsampler, evaluate, find_dataset, iter_pairs

TEST_SETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "test"

pytestmark = [
    pytest.mark.data,
    pytest.mark.skipif(not TEST_SETS.is_dir(), reason=f"benchmark sets not found at {TEST_SETS}"),
]

# Bicubic PSNR / SSIM under the standard protocol, as published (e.g. VDSR, LapSRN, CARN tables).
LITERATURE = {
    ("Set5", 2): (33.66, 0.9299),
    ("Set5", 3): (30.39, 0.8682),
    ("Set5", 4): (28.42, 0.8104),
    ("Set14", 2): (30.24, 0.8688),
    ("Set14", 3): (27.55, 0.7742),
    ("Set14", 4): (26.00, 0.7027),
    ("BSD100", 2): (29.56, 0.8431),
    ("BSD100", 3): (27.21, 0.7385),
    ("BSD100", 4): (25.96, 0.6675),
}


def _cases(fast: set[tuple[str, int]]) -> list[object]:
    # CPU time is shared with training: the rest of the table runs with -m slow.
    return [
        pytest.param(name, s, marks=() if (name, s) in fast else pytest.mark.slow, id=f"{name}-x{s}")
        for name, s in LITERATURE
    ]


SET5 = {("Set5", 2), ("Set5", 3), ("Set5", 4)}


@pytest.mark.parametrize(("name", "scale"), _cases(fast=SET5))
def test_matlab_downscale_reproduces_the_canonical_lr_files(name: str, scale: int) -> None:
    ds = find_dataset(TEST_SETS / name, scale)
    for pair in iter_pairs(ds):
        assert np.array_equal(imresize(pair.hr, 1.0 / scale), pair.lr), pair.name


# Set14 x4 stays fast: it is the case that checks the grey-image convention (0.09 dB).
@pytest.mark.parametrize(("name", "scale"), _cases(fast=SET5 | {("Set14", 4)}))
def test_bicubic_baseline_matches_the_literature(name: str, scale: int) -> None:
    psnr, ssim = LITERATURE[(name, scale)]
    result = evaluate(find_dataset(TEST_SETS / name, scale), bicubic_upsampler(scale))
    assert result.psnr == pytest.approx(psnr, abs=0.02)
    assert result.ssim == pytest.approx(ssim, abs=0.001)


def test_set14_grey_image_is_scored_on_grey_levels() -> None:
    # img_003 is the one-channel image of Set14; the published mean needs it on grey levels.
    ds = find_dataset(TEST_SETS / "Set14", 4)
    greys = [p.name for p in iter_pairs(ds) if p.grey]
    assert greys == ["img_003"]
