"""PSNR/SSIM against values computed by hand on tiny arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest

from litesr_edge.errors import InvalidInputError
from litesr_edge.quality.metrics import psnr_y, rgb_to_luma, rgb_to_y, ssim_y

C1, C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2


def grey_rgb(value: int, h: int = 16, w: int = 16) -> np.ndarray:
    return np.full((h, w, 3), value, np.uint8)


def test_y_of_black_and_white_is_studio_range() -> None:
    y = rgb_to_y(np.array([[[0, 0, 0], [255, 255, 255]]], np.uint8))
    assert y[0, 0] == pytest.approx(16.0)
    assert y[0, 1] == pytest.approx(235.0)


def test_y_weights_are_bt601() -> None:
    y = rgb_to_y(np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255]]], np.uint8))
    assert y[0].tolist() == pytest.approx([16 + 65.481, 16 + 128.553, 16 + 24.966])


def test_luma_of_grey_is_its_grey_level() -> None:
    assert rgb_to_luma(grey_rgb(77))[0, 0] == pytest.approx(77.0, abs=1e-12)


def test_psnr_of_a_known_mse_on_rgb() -> None:
    # A uniform +10 on R=G=B moves Y by 10 * 219 / 255 everywhere.
    mse = (10 * 219 / 255) ** 2
    expected = 10 * math.log10(255**2 / mse)
    assert psnr_y(grey_rgb(110), grey_rgb(100), border=2) == pytest.approx(expected, abs=1e-9)


def test_psnr_of_a_known_mse_on_grey_truth() -> None:
    # Grey ground truth: scored on grey levels, so a +4 error is MSE 16 exactly.
    hr = np.full((16, 16), 100, np.uint8)
    assert psnr_y(grey_rgb(104), hr, border=2) == pytest.approx(10 * math.log10(255**2 / 16), abs=1e-9)


def test_grey_truth_scores_1_32_db_below_its_rgb_twin() -> None:
    rng = np.random.default_rng(0)
    hr = rng.integers(0, 256, (20, 20), dtype=np.uint8)
    sr = np.clip(hr.astype(int) + rng.integers(-9, 10, hr.shape), 0, 255).astype(np.uint8)
    sr_rgb, hr_rgb = np.repeat(sr[..., None], 3, 2), np.repeat(hr[..., None], 3, 2)
    gap = psnr_y(sr_rgb, hr_rgb, 2) - psnr_y(sr_rgb, hr, 2)
    assert gap == pytest.approx(20 * math.log10(255 / 219), abs=1e-9)


def test_border_is_cropped_before_psnr() -> None:
    hr = grey_rgb(100)
    sr = hr.copy()
    sr[:3] = 0  # damage only the top 3 rows
    assert psnr_y(sr, hr, border=3) == math.inf
    # border 2 keeps one damaged row of the 12 left: MSE = (100 * 219 / 255)^2 / 12.
    mse = (100 * 219 / 255) ** 2 / 12
    assert psnr_y(sr, hr, border=2) == pytest.approx(10 * math.log10(255**2 / mse), abs=1e-9)


def test_ssim_of_identical_images_is_one() -> None:
    img = np.random.default_rng(1).integers(0, 256, (24, 30, 3), dtype=np.uint8)
    assert ssim_y(img, img, border=2) == pytest.approx(1.0, abs=1e-12)


def test_ssim_of_two_flat_images_by_hand() -> None:
    # No variance: SSIM = (2 a b + C1) / (a^2 + b^2 + C1) with a, b the grey levels.
    a, b = 90.0, 120.0
    expected = (2 * a * b + C1) / (a * a + b * b + C1)
    hr = np.full((15, 15), int(b), np.uint8)
    assert ssim_y(grey_rgb(int(a), 15, 15), hr, border=0) == pytest.approx(expected, abs=1e-12)


def _gaussian_window() -> np.ndarray:
    x = np.arange(11) - 5
    g = np.exp(-(x**2) / (2 * 1.5**2))
    w = np.outer(g, g)
    return w / w.sum()


def _ssim_by_hand(x: np.ndarray, y: np.ndarray) -> float:
    """Direct sliding-window SSIM over every valid 11x11 position (no filtering library)."""
    w = _gaussian_window()
    vals = []
    for i in range(x.shape[0] - 10):
        for j in range(x.shape[1] - 10):
            px, py = x[i : i + 11, j : j + 11], y[i : i + 11, j : j + 11]
            mx, my = (w * px).sum(), (w * py).sum()
            vx, vy = (w * px * px).sum() - mx * mx, (w * py * py).sum() - my * my
            cxy = (w * px * py).sum() - mx * my
            vals.append((2 * mx * my + C1) * (2 * cxy + C2) / ((mx * mx + my * my + C1) * (vx + vy + C2)))
    return float(np.mean(vals))


@pytest.mark.parametrize(("shape", "border"), [((13, 13), 1), ((17, 19), 2)])
def test_ssim_matches_a_direct_computation(shape: tuple[int, int], border: int) -> None:
    rng = np.random.default_rng(2)
    hr = rng.integers(0, 256, shape, dtype=np.uint8)
    sr = np.clip(hr.astype(int) + rng.integers(-40, 41, shape), 0, 255).astype(np.uint8)
    crop = (slice(border, -border), slice(border, -border))
    expected = _ssim_by_hand(sr[crop].astype(float), hr[crop].astype(float))
    got = ssim_y(np.repeat(sr[..., None], 3, 2), hr, border)
    assert got == pytest.approx(expected, abs=1e-9)
    assert got < 0.99  # the noise is visible: a broken window would not hide it


def test_mismatched_shapes_are_rejected() -> None:
    with pytest.raises(InvalidInputError, match="differs"):
        psnr_y(grey_rgb(1, 16, 16), grey_rgb(1, 16, 17), 2)


def test_ssim_needs_an_11_pixel_window() -> None:
    with pytest.raises(InvalidInputError, match="11x11"):
        ssim_y(grey_rgb(1, 14, 14), grey_rgb(1, 14, 14), 2)
