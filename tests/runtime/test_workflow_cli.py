"""``upscale -r``: a nested tree in, the same tree out, metadata kept; names, formats, one-line errors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from test_workflow_metadata import EXIF_IFD, GPS_IFD, MAKE, Image, check_carried, save_photo, xmp_of
from typer.testing import CliRunner, Result

from litesr_edge import read_image, write_image
from litesr_edge.cli import app
from litesr_edge.errors import ImageTooLargeError, InvalidInputError


def run(*args: object) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def _one_line_error(result: Result, code: int, *fragments: str) -> None:
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def x2(tiny_models: dict[int, Path]) -> Path:
    return tiny_models[2]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """photos/: JPEGs and PNGs at three depths, a TIFF, hidden entries and a link loop."""
    root = tmp_path / "photos"
    (root / "2024" / "raw").mkdir(parents=True)
    (root / ".cache").mkdir()
    save_photo(root / "a.jpg")
    write_image(root / "b.png", np.full((8, 9, 3), 90, np.uint8))
    save_photo(root / "2024" / "c.png", (9, 7), orientation=1)
    save_photo(root / "2024" / "raw" / "d.tiff")
    save_photo(root / "2024" / "raw" / "e.jpg", orientation=1)
    write_image(root / ".hidden.png", np.zeros((4, 4, 3), np.uint8))
    write_image(root / ".cache" / "f.png", np.zeros((4, 4, 3), np.uint8))
    (root / "2024" / "raw" / "loop").symlink_to(root, target_is_directory=True)
    (root / "notes.txt").write_text("not an image")
    return root


MIRRORED = ["2024/c_x2.png", "2024/raw/d_x2.tiff", "2024/raw/e_x2.jpg", "a_x2.jpg", "b_x2.png"]


def test_recursive_run_mirrors_the_tree_and_keeps_metadata(tmp_path: Path, tree: Path, x2: Path) -> None:
    out = tmp_path / "out"
    result = run("upscale", tree, "-r", "-o", f"{out}/", "--model", x2)
    assert result.exit_code == 0, result.output
    assert "upscaled 5, skipped 0, failed 0 of 5 inputs" in result.stdout
    assert _files(out) == MIRRORED
    check_carried(tree / "a.jpg", out / "a_x2.jpg", (20, 24))
    check_carried(tree / "2024" / "c.png", out / "2024" / "c_x2.png", (14, 18))
    check_carried(tree / "2024" / "raw" / "d.tiff", out / "2024" / "raw" / "d_x2.tiff", (20, 24))


def test_rerun_with_skip_existing_counts_the_skipped(tmp_path: Path, tree: Path, x2: Path) -> None:
    out = tmp_path / "out"
    assert run("upscale", tree, "-r", "-o", out, "--model", x2, "-q").exit_code == 0
    (out / "2024" / "c_x2.png").unlink()
    result = run("upscale", tree, "-r", "-o", out, "--model", x2, "--skip-existing")
    assert result.exit_code == 0, result.output
    assert "upscaled 1, skipped 4, failed 0 of 5 inputs" in result.stdout
    assert _files(out) == MIRRORED


def test_output_folder_inside_the_tree_is_not_walked_again(tree: Path, x2: Path) -> None:
    for _ in range(2):
        assert run("upscale", tree, "-r", "-o", tree / "big", "--model", x2, "-q", "--skip-existing").exit_code == 0
    assert _files(tree / "big") == MIRRORED


def test_recursive_without_output_writes_beside_each_input(tree: Path, x2: Path) -> None:
    assert run("upscale", tree, "-r", "--model", x2, "-q").exit_code == 0
    assert (tree / "2024" / "raw" / "d_x2.tiff").is_file() and (tree / "a_x2.jpg").is_file()
    result = run("upscale", tree, "-r", "--model", x2, "--skip-existing")  # its own outputs are not inputs
    assert "upscaled 0, skipped 5, failed 0 of 5 inputs" in result.stdout, result.output


def test_without_recursive_only_the_top_folder(tmp_path: Path, tree: Path, x2: Path) -> None:
    assert run("upscale", tree, "-o", tmp_path / "top", "--model", x2, "-q").exit_code == 0
    assert _files(tmp_path / "top") == ["a_x2.jpg", "b_x2.png"]


def test_format_quality_name_and_strip_metadata(tmp_path: Path, tree: Path, x2: Path) -> None:
    out = tmp_path / "out"
    args = ("--format", "webp", "--quality", "80", "--name", "{stem}-big.{ext}", "--strip-metadata")
    result = run("upscale", tree, "-r", "-o", out, "--model", x2, "-q", *args)
    assert result.exit_code == 0, result.output
    assert _files(out) == ["2024/c-big.webp", "2024/raw/d-big.webp", "2024/raw/e-big.webp", "a-big.webp",
                           "b-big.webp"]
    with Image.open(out / "a-big.webp") as image:
        assert image.size == (20, 24)
        assert "icc_profile" not in image.info and not xmp_of(image)
        assert not {MAKE, EXIF_IFD, GPS_IFD} & set(image.getexif())
    lossless = out / "lossless.webp"
    assert run("upscale", tree / "a.jpg", "--model", x2, "-o", lossless, "-q").exit_code == 0
    assert (out / "a-big.webp").stat().st_size < lossless.stat().st_size  # --quality 80 is lossy


def test_sixteen_bit_png_to_jpg_becomes_eight_bit(tmp_path: Path, x2: Path) -> None:
    src = write_image(tmp_path / "deep.png", np.full((6, 8, 3), 40000, np.uint16))
    assert run("upscale", src, "--model", x2, "--format", "tiff", "-q").exit_code == 0
    assert read_image(tmp_path / "deep_x2.tiff").dtype == np.uint16
    assert run("upscale", src, "--model", x2, "--format", "jpg", "-q").exit_code == 0
    assert read_image(tmp_path / "deep_x2.jpg").dtype == np.uint8


def test_outscale_gives_the_exact_size_and_names_it(tmp_path: Path, x2: Path) -> None:
    src = save_photo(tmp_path / "p.jpg", (11, 13), orientation=1)
    result = run("upscale", src, "--model", x2, "--outscale", "2.5", "-q")
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "p_x2.5.jpg") as image:
        assert image.size == (round(2.5 * 13), round(2.5 * 11)) == (32, 28)
        sub = image.getexif().get_ifd(EXIF_IFD)
        assert (sub[0xA002], sub[0xA003]) == (32, 28)
    assert run("upscale", src, "--model", x2, "--width", "30", "-o", tmp_path / "w.png", "-q").exit_code == 0
    assert read_image(tmp_path / "w.png").shape == (round(11 * 30 / 13), 30, 3)


@pytest.mark.parametrize(
    "args,fragments",
    [
        (("--name", "{stem}_{lens}.{ext}"), ("--name", "{lens}")),
        (("--name", "../{stem}.{ext}"), ("--name", "without a folder")),
        (("--name", "sub/{stem}.{ext}"), ("--name", "without a folder")),
        (("--name", ""), ("--name", "empty")),
        (("--name", "{stem}"), ("--name", "no image extension")),
        (("--name", "{stem"), ("--name",)),
        (("--format", "gif"), ("--format 'gif' is unknown", "png, jpg, webp, tiff")),
        (("--quality", "0"), ("--quality 0",)),
        (("--outscale", "0"), ("--outscale 0",)),
        (("--outscale", "2", "--width", "10"), ("--outscale and --width/--height",)),
    ],
)
def test_bad_options_are_one_line_errors(tmp_path: Path, x2: Path, args: tuple[str, ...],
                                         fragments: tuple[str, ...]) -> None:
    src = write_image(tmp_path / "p.png", np.zeros((6, 8, 3), np.uint8))
    before = _files(tmp_path)
    _one_line_error(run("upscale", src, "--model", x2, *args), InvalidInputError.exit_code, *fragments)
    assert _files(tmp_path) == before


@pytest.mark.parametrize("args,flag", [(("--outscale", "3.5"), "--outscale 3.5"), (("--width", "100"), "--width 100")])
def test_final_size_over_the_pixel_limit(tmp_path: Path, x2: Path, args: tuple[str, ...], flag: str) -> None:
    src = write_image(tmp_path / "p.png", np.zeros((10, 12, 3), np.uint8))  # x2: 480 pixels, within the limit
    result = run("upscale", src, "--model", x2, "--max-pixels", "1000", *args)
    _one_line_error(result, ImageTooLargeError.exit_code, flag, "--max-pixels", "over the limit of 1,000")
    assert not any(p.name.startswith("p_") for p in tmp_path.iterdir())


@pytest.mark.skipif(os.name == "nt", reason="symbolic links need privileges on Windows")
def test_link_loop_alone_finishes(tmp_path: Path, x2: Path) -> None:
    root = tmp_path / "r"
    (root / "a").mkdir(parents=True)
    write_image(root / "a" / "p.png", np.zeros((4, 4, 3), np.uint8))
    (root / "a" / "back").symlink_to(root, target_is_directory=True)
    result = run("upscale", root, "-r", "-o", tmp_path / "o", "--model", x2)
    assert result.exit_code == 0 and "upscaled 1, skipped 0, failed 0 of 1 inputs" in result.stdout


def test_a_custom_name_is_recognised_as_an_earlier_output(tree: Path, x2: Path) -> None:
    args = ("upscale", tree, "-r", "--model", x2, "--name", "{stem}-big.{ext}")
    assert run(*args, "-q").exit_code == 0
    assert (tree / "2024" / "c-big.png").is_file()
    result = run(*args, "--skip-existing")
    assert "upscaled 0, skipped 5, failed 0 of 5 inputs" in result.stdout, result.output
