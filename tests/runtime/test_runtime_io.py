"""Image files: decoding checks, EXIF orientation, and atomic, refusing writes."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest

import litesr_edge.io as io_module
from litesr_edge import (
    ImageReadError,
    ImageTooLargeError,
    ImageWriteError,
    InvalidInputError,
    read_image,
    write_image,
)


def _rgb(h: int = 12, w: int = 10, dtype: str = "uint8", channels: int = 3, seed: int = 0) -> np.ndarray:
    top = 255 if dtype == "uint8" else 65535
    shape = (h, w, channels) if channels > 1 else (h, w)
    return np.random.default_rng(seed).integers(0, top + 1, shape).astype(dtype)


def _jpeg_bytes(bgr: np.ndarray, progressive: bool = False) -> bytes:
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_PROGRESSIVE, int(progressive)])
    assert ok
    return buf.tobytes()


def with_exif_orientation(jpeg: bytes, orientation: int) -> bytes:
    """Insert a minimal APP1/Exif segment holding only the orientation tag."""
    ifd = struct.pack(">H", 1) + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(">I", 0)
    app1 = b"Exif\x00\x00" + b"MM\x00\x2a" + struct.pack(">I", 8) + ifd
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + jpeg[2:]


def _listing(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


# ---- reading ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["uint8", "uint16"])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_png_round_trip_keeps_dtype_channels_and_order(tmp_path: Path, dtype: str, channels: int) -> None:
    image = _rgb(dtype=dtype, channels=channels)
    path = write_image(tmp_path / "a.png", image)
    back = read_image(path)
    assert back.dtype == image.dtype
    np.testing.assert_array_equal(back, image)


def test_arrays_are_rgb_not_bgr(tmp_path: Path) -> None:
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0] = 200
    write_image(tmp_path / "red.png", red)
    assert cv2.imread(str(tmp_path / "red.png"))[0, 0].tolist() == [0, 0, 200]  # OpenCV: BGR on disk side
    assert read_image(tmp_path / "red.png")[0, 0].tolist() == [200, 0, 0]


@pytest.mark.parametrize("progressive", [False, True])
def test_jpeg_exif_orientation_is_applied(tmp_path: Path, progressive: bool) -> None:
    bgr = np.zeros((20, 40, 3), np.uint8)
    bgr[:6, :10] = 255  # bright block top-left, as stored
    path = tmp_path / "rot.jpg"
    path.write_bytes(with_exif_orientation(_jpeg_bytes(bgr, progressive), 6))  # 6: display rotated 90 deg CW
    image = read_image(path)
    assert image.shape == (40, 20, 3)
    assert image[:10, -6:].mean() > 200 and image[-10:, :6].mean() < 50  # block now top-right


def test_grey_jpeg_stays_grey(tmp_path: Path) -> None:
    path = tmp_path / "g.jpg"
    path.write_bytes(_jpeg_bytes(np.full((8, 8), 128, np.uint8)))
    assert read_image(path).shape == (8, 8)


def test_jpeg_with_trailing_data_is_complete(tmp_path: Path) -> None:
    # Some cameras append data after the end-of-image marker (e.g. motion photos).
    path = tmp_path / "trail.jpg"
    path.write_bytes(_jpeg_bytes(np.full((8, 8, 3), 99, np.uint8)) + b"\x00" * 10 + b"ftypmp42 trailer")
    assert read_image(path).shape == (8, 8, 3)


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
@pytest.mark.parametrize("keep", [0.3, 0.7, 0.98])
def test_truncated_files_are_refused(tmp_path: Path, suffix: str, keep: float) -> None:
    ok, buf = cv2.imencode(suffix, _rgb(64, 64, seed=3))
    data = buf.tobytes()
    path = tmp_path / f"cut{suffix}"
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ImageReadError, match="truncated"):
        read_image(path)


def test_missing_empty_folder_and_text_inputs(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match="does not exist"):
        read_image(tmp_path / "nope.png")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageReadError, match="empty"):
        read_image(tmp_path / "empty.png")
    with pytest.raises(ImageReadError, match="folder"):
        read_image(tmp_path)
    (tmp_path / "text.png").write_text("hello, I am not a picture\n")
    with pytest.raises(ImageReadError, match="not a readable image"):
        read_image(tmp_path / "text.png")


def test_read_pixel_limit_checks_the_header_before_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_image(tmp_path / "a.png", _rgb(30, 40))
    assert read_image(path, max_pixels=1200).shape == (30, 40, 3)

    def no_decode(*args: object) -> None:
        raise AssertionError("decoded an image that is over the limit")

    monkeypatch.setattr(io_module.cv2, "imdecode", no_decode)
    with pytest.raises(ImageTooLargeError, match="1,199"):
        read_image(path, max_pixels=1199)


# ---- writing ------------------------------------------------------------------------------------------------------
def test_write_refuses_existing_unless_overwrite(tmp_path: Path) -> None:
    path = write_image(tmp_path / "a.png", _rgb(seed=1))
    with pytest.raises(ImageWriteError, match="already exists"):
        write_image(path, _rgb(seed=2))
    np.testing.assert_array_equal(read_image(path), _rgb(seed=1))
    write_image(path, _rgb(seed=2), overwrite=True)
    np.testing.assert_array_equal(read_image(path), _rgb(seed=2))


def test_write_refuses_the_input_file(tmp_path: Path) -> None:
    src = write_image(tmp_path / "a.png", _rgb())
    with pytest.raises(ImageWriteError, match="is the input"):
        write_image(tmp_path / "." / "a.png", _rgb(seed=5), overwrite=True, source=src)
    np.testing.assert_array_equal(read_image(src), _rgb())


@pytest.mark.parametrize(
    "relative,message",
    [
        ("file.txt/out.png", "does not exist"),  # parent is a file
        ("missing/out.png", "does not exist"),
        ("out.gifx", "unsupported extension"),
        ("dir.png", "is a folder"),
    ],
)
def test_write_refuses_unusable_destinations(tmp_path: Path, relative: str, message: str) -> None:
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(ImageWriteError, match=message):
        write_image(tmp_path / relative, _rgb())
    assert _listing(tmp_path) == ["dir.png", "file.txt"] and _listing(tmp_path / "dir.png") == []


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can write to read-only folders")
def test_write_refuses_read_only_folder(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(ImageWriteError, match="not writable"):
            write_image(folder / "a.png", _rgb())
    finally:
        folder.chmod(0o755)


def test_sixteen_bit_into_jpeg_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ImageWriteError, match="8-bit"):
        write_image(tmp_path / "a.jpg", _rgb(dtype="uint16"))
    assert _listing(tmp_path) == []


def test_write_rejects_float_arrays(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="uint8"):
        write_image(tmp_path / "a.png", np.zeros((4, 4, 3), np.float32))


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()])
@pytest.mark.parametrize("overwrite", [False, True])
def test_interrupted_write_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: BaseException, overwrite: bool
) -> None:
    out = tmp_path / "a.png"
    if overwrite:
        write_image(out, _rgb(seed=1))

    def fail(fd: int) -> None:
        raise failure

    monkeypatch.setattr(io_module.os, "fsync", fail)
    expected = ImageWriteError if isinstance(failure, OSError) else KeyboardInterrupt
    with pytest.raises(expected):
        write_image(out, _rgb(seed=2), overwrite=overwrite)
    monkeypatch.undo()
    assert _listing(tmp_path) == (["a.png"] if overwrite else [])  # no temp file left behind
    if overwrite:
        np.testing.assert_array_equal(read_image(out), _rgb(seed=1))  # old file intact


def test_output_appearing_during_write_is_not_clobbered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "a.png"
    real_fsync = os.fsync

    def racing_fsync(fd: int) -> None:
        real_fsync(fd)
        out.write_bytes(b"someone else's file")

    monkeypatch.setattr(io_module.os, "fsync", racing_fsync)
    with pytest.raises(ImageWriteError, match="already exists"):
        write_image(out, _rgb())
    assert out.read_bytes() == b"someone else's file"
    assert _listing(tmp_path) == ["a.png"]


def test_written_file_has_normal_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = write_image(tmp_path / "a.png", _rgb())
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


# ---- issue 13: bombs, CRC, typed decoder errors -------------------------------------------------------------------
def _png_chunk(kind: bytes, body: bytes) -> bytes:
    import zlib

    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_declaring(width: int, height: int) -> bytes:
    import zlib

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\0" * 1000))
        + _png_chunk(b"IEND", b"")
    )


def test_png_bomb_is_refused_by_default_without_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_declaring(50000, 50000))

    def no_decode(*args: object) -> None:
        raise AssertionError("decoded an image that is over the limit")

    monkeypatch.setattr(io_module.cv2, "imdecode", no_decode)
    with pytest.raises(ImageTooLargeError, match="50000x50000"):
        read_image(path)


def test_decoder_errors_are_typed_when_the_limit_is_off(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_declaring(50000, 50000))
    with pytest.raises(ImageTooLargeError, match="CV_IO_MAX_IMAGE_PIXELS"):
        read_image(path, max_pixels=0)  # OpenCV's own cap raised cv2.error here
    with pytest.raises(InvalidInputError, match="max_pixels=-1"):
        read_image(path, max_pixels=-1)


@pytest.mark.parametrize("chunk", [b"IHDR", b"IDAT"])
def test_png_with_bad_crc_is_refused_before_libpng_prints(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], chunk: bytes
) -> None:
    data = bytearray(cv2.imencode(".png", _rgb(16, 16))[1].tobytes())
    at = data.find(chunk)
    length = struct.unpack(">I", data[at - 4 : at])[0]
    data[at + 4 + length] ^= 0xFF  # first CRC byte
    path = tmp_path / "crc.png"
    path.write_bytes(bytes(data))
    with pytest.raises(ImageReadError, match=f"bad CRC in chunk {chunk.decode()}"):
        read_image(path)
    assert capfd.readouterr().err == ""
