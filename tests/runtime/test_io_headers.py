"""Header probing before decode (issue 13, items 2 and 11): every image is built here.

Decompression bombs in BMP, TIFF, WebP and GIF are refused from their headers with
OpenCV's decoder patched to fail the test if it is reached; animations and multi-page
files are refused with their frame count; other content and truncated headers are
typed read errors.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

import litesr_edge.io
from litesr_edge import Upscaler
from litesr_edge._headers import probe
from litesr_edge.errors import ImageReadError, ImageTooLargeError
from litesr_edge.io import image_size, read_image


def _rgb(h: int = 8, w: int = 10, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _encode(ext: str, image: np.ndarray, params: list[int] | None = None) -> bytes:
    ok, buffer = cv2.imencode(ext, image, params or [])
    if not ok:
        pytest.skip(f"this OpenCV build cannot encode {ext}")
    return bytes(buffer)


# --- hand-built headers -------------------------------------------------------------------


def bmp_rle8(width: int, height: int) -> bytes:
    """An 8-bit RLE BMP whose pixel data is a single end-of-bitmap code (about 1 KB)."""
    palette = bytes(256 * 4)
    pixels = b"\x00\x01"
    offset = 14 + 40 + len(palette)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 1, len(pixels), 2835, 2835, 256, 0)
    return struct.pack("<2sIHHI", b"BM", offset + len(pixels), 0, 0, offset) + info + palette + pixels


def tiff(pages: list[tuple[int, int, int]], loop: bool = False) -> bytes:
    """A little-endian TIFF of (width, height, NewSubfileType) directories whose strips point nowhere."""
    out, pos = bytearray(b"II*\x00" + struct.pack("<I", 8)), 8
    for i, (width, height, subfile) in enumerate(pages):
        entries = [
            (254, 4, subfile),
            (256, 4, width),
            (257, 4, height),
            (258, 3, 8),
            (259, 3, 1),
            (262, 3, 1),
            (273, 4, 0xFFFFFF00),
            (277, 3, 1),
            (278, 4, height),
            (279, 4, min(width * height, 0xFFFFFFFF)),
        ]
        ifd_len = 2 + 12 * len(entries) + 4
        last = i == len(pages) - 1
        following = pos if loop and last else 0 if last else pos + ifd_len
        out += struct.pack("<H", len(entries))
        for tag, kind, value in entries:
            field = struct.pack("<H", value) + b"\x00\x00" if kind == 3 else struct.pack("<I", value)
            out += struct.pack("<HHI", tag, kind, 1) + field
        out += struct.pack("<I", following)
        pos += ifd_len
    return bytes(out)


def webp_vp8x(width: int, height: int, frames: int = 0) -> bytes:
    """An extended WebP: a VP8X canvas, then, when ``frames``, ANIM and that many (empty) ANMF chunks."""
    flags = 0x02 if frames else 0
    body = b"VP8X" + struct.pack("<IB3x", 10, flags) + (width - 1).to_bytes(3, "little")
    body += (height - 1).to_bytes(3, "little")
    if frames:
        body += b"ANIM" + struct.pack("<IIH", 6, 0, 0)
        body += b"".join(b"ANMF" + struct.pack("<I", 16) + bytes(16) for _ in range(frames))
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def gif(width: int, height: int, frames: list[tuple[int, int, int, int]]) -> bytes:
    """A GIF89a screen and (left, top, width, height) frames, each one black pixel of LZW data."""
    out = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + bytes(6)  # 2-colour global table
    out += b"!\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"  # looping extension: skipped by sub-block lengths
    for left, top, w, h in frames:
        out += b"!\xf9\x04\x00\x0a\x00\x00\x00"  # graphic control extension
        out += b"," + struct.pack("<HHHHB", left, top, w, h, 0) + b"\x02\x02\x44\x01\x00"
    return out + b";"


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def apng(frames: int) -> bytes:
    """An OpenCV PNG with an acTL chunk (valid CRC) inserted before its first IDAT."""
    data = _encode(".png", _rgb())
    idat = data.index(b"IDAT") - 4
    return data[:idat] + png_chunk(b"acTL", struct.pack(">II", frames, 0)) + data[idat:]


# --- decompression bombs --------------------------------------------------------------------

BOMBS: dict[str, Callable[[], bytes]] = {
    "bomb.bmp": lambda: bmp_rle8(20000, 20000),
    "bomb.tif": lambda: tiff([(100000, 100000, 0)]),
    "bomb.webp": lambda: webp_vp8x(16383, 16383),
    "bomb.gif": lambda: gif(65535, 65535, [(0, 0, 65535, 65535)]),
}


@pytest.fixture
def no_decode(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any) -> None:
        pytest.fail("cv2.imdecode was called on an image that its header already refuses")

    monkeypatch.setattr(litesr_edge.io.cv2, "imdecode", fail)


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_read_image_refuses_a_bomb_before_decoding(tmp_path: Path, name: str, no_decode: None) -> None:
    src = tmp_path / name
    src.write_bytes(BOMBS[name]())
    assert src.stat().st_size < 2048
    with pytest.raises(ImageTooLargeError, match="more than the limit"):
        read_image(src)


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_upscale_file_refuses_a_bomb_before_decoding(
    tmp_path: Path, name: str, tiny_models: dict[int, Path], no_decode: None
) -> None:
    src = tmp_path / name
    src.write_bytes(BOMBS[name]())
    with pytest.raises(ImageTooLargeError, match="over the limit"):
        Upscaler(model=tiny_models[2], threads=1).upscale_file(src, tmp_path / "out.png")
    assert not (tmp_path / "out.png").exists()


# --- ordinary files still decode -------------------------------------------------------------

ORDINARY: dict[str, tuple[str, list[int]]] = {
    "bmp": (".bmp", []),
    "tiff": (".tiff", []),
    "webp-lossless": (".webp", [cv2.IMWRITE_WEBP_QUALITY, 101]),
    "webp-lossy": (".webp", [cv2.IMWRITE_WEBP_QUALITY, 80]),
    "gif": (".gif", []),
}


@pytest.mark.parametrize("kind", sorted(ORDINARY))
def test_ordinary_files_are_probed_and_decoded(tmp_path: Path, kind: str) -> None:
    ext, params = ORDINARY[kind]
    data = _encode(ext, _rgb(7, 13), params)
    assert image_size(data, "x") == (7, 13)
    src = tmp_path / f"small{ext}"
    src.write_bytes(data)
    assert read_image(src).shape[:2] == (7, 13)


def test_webp_kinds_cover_lossy_and_lossless() -> None:
    chunks = {
        _encode(".webp", _rgb(), params)[12:16] for _, params in (ORDINARY["webp-lossless"], ORDINARY["webp-lossy"])
    }
    assert chunks == {b"VP8 ", b"VP8L"}


def test_a_top_down_bmp_has_its_height_as_a_positive_number(tmp_path: Path) -> None:
    data = bytearray(_encode(".bmp", _rgb(6, 5)))
    data[22:26] = struct.pack("<i", -6)
    assert image_size(bytes(data), "x") == (6, 5)
    src = tmp_path / "top_down.bmp"
    src.write_bytes(bytes(data))
    assert read_image(src).shape[:2] == (6, 5)


def test_a_core_header_bmp_is_probed() -> None:
    header = struct.pack("<IHHHH", 12, 300, 200, 1, 24)
    data = struct.pack("<2sIHHI", b"BM", 26, 0, 0, 26) + header
    assert image_size(data, "x") == (200, 300)


def test_reduced_resolution_tiff_directories_are_not_pages() -> None:
    found = probe(tiff([(40, 30, 0), (10, 8, 1)]), "x")
    assert (found.height, found.width, found.frames) == (30, 40, 1)


def test_a_bigtiff_is_probed() -> None:
    entries = [(256, 3, 70), (257, 16, 50)]
    ifd = struct.pack("<Q", len(entries))
    for tag, kind, value in entries:
        ifd += struct.pack("<HHQ", tag, kind, 1) + struct.pack("<Q", value)
    data = b"II+\x00" + struct.pack("<HHQ", 8, 0, 16) + ifd + struct.pack("<Q", 0)
    assert image_size(data, "x") == (50, 70)


def test_a_frame_past_the_gif_screen_counts() -> None:
    assert image_size(gif(4, 4, [(10, 2, 5, 20)]), "x") == (22, 15)


# --- multi-frame input ---------------------------------------------------------------------


def _multipage_tiff() -> bytes:
    ok, buffer = cv2.imencodemulti(".tiff", [_rgb(seed=i) for i in range(3)])
    if not ok:
        pytest.skip("this OpenCV build cannot write multi-page TIFF")
    return bytes(buffer)


MULTI: dict[str, tuple[Callable[[], bytes], str]] = {
    "pages.tif": (_multipage_tiff, "has 3 pages"),
    "anim.gif": (lambda: gif(8, 8, [(0, 0, 8, 8), (0, 0, 8, 8)]), "has 2 frames"),
    "anim.png": (lambda: apng(4), "has 4 frames"),
    "anim.webp": (lambda: webp_vp8x(8, 8, frames=3), "has 3 frames"),
}


@pytest.mark.parametrize("name", sorted(MULTI))
def test_multi_frame_input_is_refused(tmp_path: Path, name: str, no_decode: None) -> None:
    build, count = MULTI[name]
    src = tmp_path / name
    src.write_bytes(build())
    with pytest.raises(ImageReadError, match=f"{count}; litesr-edge upscales still images"):
        read_image(src)


def test_upscale_file_refuses_an_animation(tmp_path: Path, tiny_models: dict[int, Path], no_decode: None) -> None:
    src = tmp_path / "anim.gif"
    src.write_bytes(gif(8, 8, [(0, 0, 8, 8)] * 12))
    with pytest.raises(ImageReadError, match=r"has 12 frames.*ffmpeg -i .*anim\.gif frame%03d\.png"):
        Upscaler(model=tiny_models[2], threads=1).upscale_file(src, tmp_path / "out.png")


@pytest.mark.skipif(not hasattr(cv2, "imencodeanimation"), reason="this OpenCV cannot write animations")
@pytest.mark.parametrize("ext", [".gif", ".webp", ".png"])
def test_animations_written_by_opencv_are_refused(ext: str) -> None:
    animation = cv2.Animation()
    animation.frames = [_rgb(seed=i) for i in range(3)]
    animation.durations = [100] * 3
    ok, buffer = cv2.imencodeanimation(ext, animation)
    if not ok:
        pytest.skip(f"this OpenCV cannot write {ext} animations")
    with pytest.raises(ImageReadError, match="has 3 frames"):
        image_size(bytes(buffer), f"anim{ext}")


def test_single_frame_gif_and_apng_are_accepted() -> None:
    assert image_size(gif(8, 6, [(0, 0, 8, 6)]), "x") == (6, 8)
    assert image_size(apng(1), "x") == (8, 10)


# --- other content, truncated and corrupt headers --------------------------------------------


def test_other_formats_are_not_readable_images(tmp_path: Path, no_decode: None) -> None:
    src = tmp_path / "image.ppm"
    src.write_bytes(_encode(".ppm", _rgb()))
    with pytest.raises(ImageReadError, match=r"image\.ppm is not a readable image.*\.webp, \.gif"):
        read_image(src)


TRUNCATED: dict[str, Callable[[], bytes]] = {
    "BMP": lambda: bmp_rle8(10, 10)[:20],
    "TIFF": lambda: tiff([(10, 10, 0)])[:40],
    "WebP": lambda: webp_vp8x(10, 10)[:24],
    "GIF": lambda: gif(8, 8, [(0, 0, 8, 8)])[:-4],
    "screen GIF": lambda: gif(8, 8, [])[:10],
    "animated WebP": lambda: webp_vp8x(8, 8, frames=2)[:-5],
}


@pytest.mark.parametrize("kind", sorted(TRUNCATED))
def test_truncated_headers_are_read_errors(tmp_path: Path, kind: str, no_decode: None) -> None:
    src = tmp_path / "cut.img"
    src.write_bytes(TRUNCATED[kind]())
    with pytest.raises(ImageReadError, match=rf"cut\.img is a truncated {kind.split()[-1]} file"):
        read_image(src)


def test_a_looping_tiff_page_list_is_a_read_error() -> None:
    with pytest.raises(ImageReadError, match="page list loops"):
        image_size(tiff([(10, 10, 0), (10, 10, 0)], loop=True), "loop.tif")
