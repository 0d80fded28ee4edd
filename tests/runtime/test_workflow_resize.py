"""Any output size: the nearest network, then an exact, high-quality resize (API and CLI)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from litesr_edge import ImageTooLargeError, InvalidInputError, Upscaler, read_image, write_image
from litesr_edge.resize import Size, network_scale, resize_to, target_size


@pytest.mark.parametrize(
    "size,expected",
    [
        (Size(outscale=2.5), (round(2.5 * 11), round(2.5 * 13))),
        (Size(outscale=1.0 / 3), (4, 4)),
        (Size(width=30), (round(11 * 30 / 13), 30)),
        (Size(height=50), (50, round(13 * 50 / 11))),
        (Size(width=30, height=100), (round(11 * 30 / 13), 30)),  # fits inside both: the width limits
        (Size(width=300, height=22), (22, 26)),
        (Size(), None),
    ],
)
def test_target_size(size: Size, expected: tuple[int, int] | None) -> None:
    assert target_size(size, 11, 13) == expected


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"outscale": 0}, "outscale=0 must be > 0"),
        ({"outscale": float("nan")}, "outscale=nan must be > 0"),
        ({"outscale": 2, "width": 5}, "exclude each other"),
        ({"width": 0}, "width=0 must be >= 1"),
        ({"height": 2.5}, "height=2.5 must be an int"),
    ],
)
def test_bad_sizes_name_the_keyword(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        Size(**kwargs)  # type: ignore[arg-type]


def test_network_scale_prefers_the_smallest_at_least_as_large() -> None:
    assert [network_scale(f, {2, 3, 4}) for f in (1.2, 2, 2.5, 3, 3.01, 4, 6)] == [2, 2, 3, 3, 4, 4, 4]
    assert network_scale(2.5, {2, 4}) == 4


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("channels", [None, 3, 4])
def test_resize_keeps_layout_and_dtype(dtype: type, channels: int | None) -> None:
    shape = (20, 24) if channels is None else (20, 24, channels)
    image = (np.random.default_rng(0).random(shape) * (1 if dtype == np.float32 else 255)).astype(dtype)
    for h, w in ((50, 60), (7, 9)):
        out = resize_to(image, h, w)
        assert out.shape == (h, w, *shape[2:]) and out.dtype == dtype
        if dtype == np.float32:
            assert out.min() >= 0 and out.max() <= 1  # Lanczos overshoot clipped


def test_downscale_uses_area_and_upscale_lanczos() -> None:
    image = np.random.default_rng(1).integers(0, 256, (40, 40, 3)).astype(np.uint8)
    np.testing.assert_array_equal(resize_to(image, 15, 15), cv2.resize(image, (15, 15), interpolation=cv2.INTER_AREA))
    np.testing.assert_array_equal(resize_to(image, 90, 90),
                                  cv2.resize(image, (90, 90), interpolation=cv2.INTER_LANCZOS4))


def test_api_outscale_is_the_network_result_resized(tmp_path: Path, tiny_models: dict[int, Path]) -> None:
    up = Upscaler(model=tiny_models[3], threads=1)
    src = write_image(tmp_path / "p.png", np.random.default_rng(2).integers(0, 256, (11, 13, 3)).astype(np.uint8))
    out = read_image(up.upscale_file(src, tmp_path / "o.png", outscale=2.5))
    assert out.shape == (28, 32, 3)
    expected = cv2.resize(up.upscale(read_image(src)), (32, 28), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(out, expected)
    small = Upscaler(model=tiny_models[3], threads=1, max_pixels=1300)  # the x3 network output, 39x33, fits
    with pytest.raises(ImageTooLargeError, match=r"outscale=4 asks for a 52x44 output = 2,288 pixels"):
        small.upscale_file(src, tmp_path / "x.png", outscale=4)
    assert not (tmp_path / "x.png").exists()


def test_cli_outscale_picks_the_nearest_bundled_network(tmp_path: Path, bundled_dir: Path) -> None:
    from litesr_edge.cli import app

    src = write_image(tmp_path / "p.png", np.zeros((10, 12, 3), np.uint8))
    for outscale, network, shape in (("1.5", "x2", (15, 18)), ("2.5", "x4", (25, 30)), ("6", "x4", (60, 72))):
        args = ["upscale", str(src), "--outscale", outscale, "--depth", "2", "--threads", "1"]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        assert f"({network}," in result.stdout
        assert read_image(tmp_path / f"p_x{outscale}.png").shape[:2] == shape


@pytest.mark.parametrize(
    "kwargs,message",
    [({"quality": 0}, "quality=0 must be >= 1"), ({"quality": 101}, "quality=101 must be <= 100"),
     ({"strip_metadata": "yes"}, "strip_metadata='yes' must be True or False"),
     ({"outscale": -1.0}, "outscale=-1.0 must be > 0")],
)
def test_api_file_options_are_checked_before_any_work(tmp_path: Path, tiny_models: dict[int, Path],
                                                      kwargs: dict[str, object], message: str) -> None:
    src = write_image(tmp_path / "p.png", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(InvalidInputError, match=message):
        Upscaler(model=tiny_models[2], threads=1).upscale_file(src, tmp_path / "o.jpg", **kwargs)  # type: ignore[arg-type]
    assert not (tmp_path / "o.jpg").exists()
