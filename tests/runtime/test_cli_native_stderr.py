"""The console script shows exactly one error line: native libraries' stderr never reaches the user."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest


def _bad_zlib_png(tmp_path: Path) -> Path:
    """A PNG whose chunk CRCs are right but whose compressed pixels are not: libpng complains."""
    import struct
    import zlib

    ok, buf = cv2.imencode(".png", np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    data = bytearray(buf.tobytes())
    at = data.find(b"IDAT")
    length = struct.unpack(">I", data[at - 4 : at])[0]
    data[at + 4 + length // 2] ^= 0xFF
    data[at + 4 + length : at + 8 + length] = struct.pack(">I", zlib.crc32(data[at : at + 4 + length]))
    path = tmp_path / "bad_zlib.png"
    path.write_bytes(bytes(data))
    return path


def _truncated(tmp_path: Path, suffix: str) -> Path:
    ok, buf = cv2.imencode(suffix, np.zeros((64, 64, 3), np.uint8))
    assert ok
    path = tmp_path / f"broken{suffix}"
    path.write_bytes(buf.tobytes()[:300])
    return path


def _run(path: Path, tmp_path: Path, keep_native: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "LITESR_EDGE_NATIVE_STDERR"}
    if keep_native:
        env["LITESR_EDGE_NATIVE_STDERR"] = "1"
    command = [sys.executable, "-m", "litesr_edge", "upscale", str(path), "-s", "2", "-o", str(tmp_path / "o.png")]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)


def test_libpng_noise_is_kept_from_the_user(tmp_path: Path) -> None:
    broken = _bad_zlib_png(tmp_path)
    noisy = _run(broken, tmp_path, keep_native=True)
    assert "libpng error" in noisy.stderr  # libpng does print here: the test can see it
    quiet = _run(broken, tmp_path, keep_native=False)
    assert quiet.returncode == 3
    assert quiet.stderr.splitlines() == [line for line in noisy.stderr.splitlines() if line.startswith("error:")]


@pytest.mark.parametrize("suffix", [".tiff", ".bmp"])
def test_a_broken_file_gives_one_error_line_and_no_decoder_log(tmp_path: Path, suffix: str) -> None:
    broken = _truncated(tmp_path, suffix)
    quiet = _run(broken, tmp_path, keep_native=False)
    assert quiet.returncode == 3
    lines = quiet.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: input {broken}") and "[ERROR" not in quiet.stderr
