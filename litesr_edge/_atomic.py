"""Atomic, no-clobber file writes that leave nothing behind, even after kill -9.

Where the OS allows (Linux, O_TMPFILE), the bytes go to an unnamed file in the destination
folder that is linked into place only when complete: a killed process leaves no file at all.
Elsewhere a named temporary file is used, whose name (``.litesr-<name>.<pid>.<hex>.tmp``)
lets the next write into that folder sweep it once its process is gone or it is old.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import sys
import time
import uuid
from functools import lru_cache
from pathlib import Path

from litesr_edge.errors import ImageWriteError

TMP_PATTERN = re.compile(r"^\.litesr-.+\.(?P<pid>\d+)\.[0-9a-f]{12}\.tmp$")
# A temp file this old is stale even if a process with its pid exists (pids are reused).
STALE_AFTER_S = 3600.0


def _exists_message(path: Path) -> str:
    return f"output {path} already exists; pass overwrite=True (--overwrite) to replace it"


def temp_name(path: Path) -> Path:
    """A recognisable temporary name beside ``path``."""
    return path.parent / f".litesr-{path.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True


def sweep_stale(folder: Path, now: float | None = None) -> list[Path]:
    """Remove our temporary files in ``folder`` whose process is gone or that are old; return them."""
    removed: list[Path] = []
    now = time.time() if now is None else now
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = TMP_PATTERN.match(entry.name)
        if match is None:
            continue
        try:
            old = now - entry.stat(follow_symlinks=False).st_mtime > STALE_AFTER_S
            if old or not _pid_alive(int(match["pid"])):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except FileNotFoundError:  # another process swept it first
            continue
    return removed


def _write_fd(fd: int, data: bytes) -> None:
    with os.fdopen(fd, "wb", closefd=False) as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


_AT_FDCWD, _AT_SYMLINK_FOLLOW = -100, 0x400


@lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def _link_fd(fd: int, dst: Path) -> None:
    """linkat(/proc/self/fd/N, dst, AT_SYMLINK_FOLLOW): os.link does not pass the flag."""
    libc = _libc()
    if libc is None:
        raise OSError(errno.ENOSYS, "linkat is not available")
    src = f"/proc/self/fd/{fd}".encode()
    if libc.linkat(_AT_FDCWD, src, _AT_FDCWD, os.fsencode(dst), _AT_SYMLINK_FOLLOW) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(dst))


def _unnamed_fd(folder: Path) -> int | None:
    """An O_TMPFILE descriptor in ``folder``, or None where the OS or filesystem has none."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None or _libc() is None:
        return None
    try:
        return os.open(folder, flag | os.O_WRONLY, 0o666)
    except OSError:  # e.g. EOPNOTSUPP on filesystems without it
        return None


def _publish_unnamed(fd: int, path: Path, overwrite: bool) -> None:
    if not overwrite:
        _link_fd(fd, path)  # fails if the destination appeared meanwhile
        return
    tmp = temp_name(path)  # linkat cannot replace: link under a temp name, then rename over
    _link_fd(fd, tmp)
    try:
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_named(path: Path, data: bytes, overwrite: bool) -> None:
    tmp = temp_name(path)
    try:
        # os.open (not mkstemp) so the file gets the usual umask permissions.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        try:
            _write_fd(fd, data)
        finally:
            os.close(fd)
        _publish_named(tmp, path, overwrite)
    finally:
        tmp.unlink(missing_ok=True)


def _publish_named(tmp: Path, path: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)  # a hard link fails if the destination appeared meanwhile
    except FileExistsError:
        raise
    except OSError:  # filesystem without hard links: check, then rename
        if path.exists():
            raise FileExistsError(str(path)) from None
        os.replace(tmp, path)


def atomic_write(path: Path, data: bytes, overwrite: bool) -> None:
    """Write ``data`` to ``path`` all at once (never partial); ImageWriteError on failure."""
    sweep_stale(path.parent)
    try:
        fd = _unnamed_fd(path.parent)
        if fd is None:
            _write_named(path, data, overwrite)
            return
        try:
            _write_fd(fd, data)
            _publish_unnamed(fd, path, overwrite)
        except OSError as exc:
            if exc.errno in (errno.EEXIST, errno.ENOSPC, errno.EDQUOT, errno.EIO):
                raise
            _write_named(path, data, overwrite)  # e.g. /proc not mounted: the named way
        finally:
            os.close(fd)
    except FileExistsError as exc:
        raise ImageWriteError(_exists_message(path)) from exc
    except OSError as exc:
        raise ImageWriteError(f"cannot write {path}: {exc.strerror or exc}; check the folder and free space") from exc
