"""Image files in a folder tree: sorted, hidden entries skipped, symbolic-link loops safe."""

from __future__ import annotations

import os
from pathlib import Path

from litesr_edge.io import IMAGE_SUFFIXES


def _visible_images(folder: Path, names: list[str]) -> list[Path]:
    return [folder / n for n in sorted(names)
            if not n.startswith(".") and Path(n).suffix.lower() in IMAGE_SUFFIXES and (folder / n).is_file()]


def walk_images(root: Path, exclude: Path | None = None) -> list[Path]:
    """Images in ``root`` and its sub-folders, depth first in name order.

    Hidden files and folders (names starting with ``.``) are skipped. Linked folders are
    followed, but each real folder is visited once, so a link loop ends. ``exclude`` (the
    output folder, when it lies inside ``root``) is not entered, so that a re-run does not
    upscale its own results.
    """
    skip = {_identity(exclude)} if exclude is not None and exclude.is_dir() else set()
    seen: set[tuple[int, int]] = set()
    found: list[Path] = []
    for folder, dirs, files in os.walk(root, followlinks=True):
        here = _identity(Path(folder))
        if here in seen or here in skip:
            dirs[:] = []  # already walked (a link loop, or a second link to it) or excluded
            continue
        seen.add(here)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += _visible_images(Path(folder), files)
    return found


def _identity(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_dev, info.st_ino
