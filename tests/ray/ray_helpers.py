"""Helpers of the Ray tests: a folder of every kind of image, and comparing two output folders.

A module of its own (not conftest.py): ``from conftest import`` would be ambiguous beside tests/conftest.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from litesr_edge import read_image, write_image

RAY_REASON = "needs the ray extra: pip install 'litesr-edge[ray]'"
# Small enough for the CI machine; Ray's minimum is 75 MB.
OBJECT_STORE_BYTES = 100 * 2**20


def mixed_images(folder: Path, seed: int = 0) -> list[Path]:
    """Mixed sizes, grey, RGB, RGBA, 16-bit, PNG and JPEG, plus two bad files; returns the good ones."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    shapes = {
        "a_rgb.png": ((9, 13, 3), np.uint8), "b_grey.png": ((11, 7), np.uint8),
        "c_rgba.png": ((8, 10, 4), np.uint8), "d_16bit.png": ((10, 9, 3), np.uint16),
        "e_grey16.png": ((7, 12), np.uint16), "f_photo.jpg": ((16, 12, 3), np.uint8),
        "g_grey.jpg": ((12, 16), np.uint8), "h_wide.png": ((5, 31, 3), np.uint8),
    }
    good = []
    for name, (shape, dtype) in shapes.items():
        top = 65536 if dtype == np.uint16 else 256
        good.append(write_image(folder / name, rng.integers(0, top, shape).astype(dtype)))
    png = (folder / "a_rgb.png").read_bytes()
    (folder / "x_truncated.png").write_bytes(png[: len(png) // 2])
    (folder / "y_not_an_image.jpg").write_bytes(b"this is text, not a JPEG")
    return good


def same_pixels(left: Path, right: Path) -> None:
    """Both folders hold the same file names, and each pair decodes to the same array (dtype too)."""
    names = sorted(p.name for p in left.iterdir())
    assert names == sorted(p.name for p in right.iterdir())
    assert names, f"{left} is empty"
    for name in names:
        a, b = read_image(left / name), read_image(right / name)
        assert a.dtype == b.dtype and a.shape == b.shape, name
        assert np.array_equal(a, b), name
