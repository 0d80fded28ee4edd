"""The output file appears only when complete: encoded into an unnamed (or hidden) file beside it.

Uses the same machinery as image writes (litesr_edge._atomic): an O_TMPFILE descriptor in
the destination folder, linked into place at the end, so that Ctrl-C, a crash or kill -9
leaves nothing; where the OS has no O_TMPFILE, a hidden ``.litesr-*.tmp`` file that is
removed on error and swept by the next write into that folder if the process was killed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from litesr_edge._atomic import _publish_named, _publish_unnamed, _unnamed_fd, sweep_stale, temp_name
from litesr_edge.errors import ImageWriteError


def _exists(path: Path) -> ImageWriteError:
    return ImageWriteError(f"output {path} already exists; pass overwrite=True (--overwrite) to replace it")


def check_destination(src: Path, dst: Path, overwrite: bool) -> None:
    """ImageWriteError before any work when ``dst`` cannot be written."""
    if dst.exists() and dst.resolve() == src.resolve():
        raise ImageWriteError(f"output {dst} is the input itself; choose another output path")
    if dst.is_dir():
        raise ImageWriteError(f"output {dst} is a folder; give a file name such as {dst / src.name}")
    if dst.exists() and not overwrite:
        raise _exists(dst)
    if not dst.parent.is_dir():
        raise ImageWriteError(f"output folder {dst.parent} does not exist; create it first")


@contextmanager
def staged_file(dst: Path, overwrite: bool) -> Iterator[BinaryIO]:
    """A writable, seekable file that becomes ``dst`` when the block ends without error."""
    sweep_stale(dst.parent)
    try:
        fd = _unnamed_fd(dst.parent)
        tmp = None
        if fd is None:
            tmp = temp_name(dst)
            fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    except OSError as exc:
        raise ImageWriteError(f"cannot write in {dst.parent}: {exc.strerror or exc}; check the folder") from exc
    handle = os.fdopen(fd, "wb")
    try:
        yield handle
        handle.flush()
        os.fsync(fd)
        _publish(fd, tmp, dst, overwrite)
    finally:
        handle.close()
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def _publish(fd: int, tmp: Path | None, dst: Path, overwrite: bool) -> None:
    try:
        if tmp is None:
            _publish_unnamed(fd, dst, overwrite)
        else:
            _publish_named(tmp, dst, overwrite)
    except FileExistsError:
        raise _exists(dst) from None
    except OSError as exc:
        raise ImageWriteError(f"cannot write {dst}: {exc.strerror or exc}; check the folder and free space") from exc
