"""Writes survive kill -9: never a partial output, and no temporary file outlives the next run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from litesr_edge import _atomic, read_image, write_image

# The child writes one image and is killed while the bytes are being made durable (fsync).
CHILD = """
import os, sys, time
import numpy as np
from litesr_edge import _atomic, write_image
folder, named = sys.argv[1], sys.argv[2] == "named"
if named:
    _atomic._unnamed_fd = lambda folder: None
def stuck(fd):
    open(os.path.join(folder, "ready"), "w").close()
    time.sleep(60)
os.fsync = stuck
write_image(os.path.join(folder, "out.png"), np.zeros((64, 64, 3), np.uint8))
"""


def _kill_mid_write(folder: Path, mode: str) -> None:
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(folder), mode])
    try:
        deadline = time.monotonic() + 60
        while not (folder / "ready").exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the writer never reached its write (exit {proc.returncode})")
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    (folder / "ready").unlink()


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
@pytest.mark.parametrize("mode", ["unnamed", "named"])
def test_kill_9_mid_write_leaves_nothing_after_the_next_run(tmp_path: Path, mode: str) -> None:
    _kill_mid_write(tmp_path, mode)
    assert not (tmp_path / "out.png").exists()  # never a partial output
    leftovers = sorted(p.name for p in tmp_path.iterdir())
    if mode == "named":
        assert len(leftovers) == 1 and _atomic.TMP_PATTERN.match(leftovers[0])
    else:
        assert leftovers == []  # an unnamed file dies with its process
    image = np.random.default_rng(0).integers(0, 256, (8, 9, 3), dtype=np.uint8)
    write_image(tmp_path / "out.png", image)  # the next run into that folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]
    np.testing.assert_array_equal(read_image(tmp_path / "out.png"), image)


def test_a_live_writers_temp_file_is_not_swept(tmp_path: Path) -> None:
    mine = _atomic.temp_name(tmp_path / "a.png")
    mine.write_bytes(b"in progress")
    assert _atomic.sweep_stale(tmp_path) == [] and mine.exists()
    old = time.time() - _atomic.STALE_AFTER_S - 10
    os.utime(mine, (old, old))
    assert _atomic.sweep_stale(tmp_path) == [mine] and not mine.exists()


def test_other_files_are_never_swept(tmp_path: Path) -> None:
    for name in (".a.png.0123456789ab.tmp", ".litesr-x.png.tmp", "photo.png", ".litesr-a.png.1.zz.tmp"):
        (tmp_path / name).write_bytes(b"x")
    assert _atomic.sweep_stale(tmp_path, now=time.time() + 10 * _atomic.STALE_AFTER_S) == []
    assert len(list(tmp_path.iterdir())) == 4


@pytest.mark.parametrize("unnamed", [True, False])
def test_overwrite_and_no_clobber_on_both_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unnamed: bool
) -> None:
    from litesr_edge import ImageWriteError

    if not unnamed:
        monkeypatch.setattr(_atomic, "_unnamed_fd", lambda folder: None)
    out = tmp_path / "a.png"
    first = np.zeros((4, 4, 3), np.uint8)
    write_image(out, first)
    with pytest.raises(ImageWriteError, match=r"already exists; pass overwrite=True \(--overwrite\)"):
        write_image(out, first + 1)
    write_image(out, first + 2, overwrite=True)
    np.testing.assert_array_equal(read_image(out), first + 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]
