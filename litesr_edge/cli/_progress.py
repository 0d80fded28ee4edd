"""Progress bars on stderr for ``upscale``: images of a batch, and tiles of the current image.

Shown only on a terminal and without ``--quiet``; otherwise nothing is drawn and no
tile callback is handed to the Upscaler.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

TileCallback = Callable[[int, int], None]


class Bars:
    """An image bar (batches only) and a tile bar with ETA; a no-op when not shown."""

    def __init__(self, console: Console, images: int | None, show: bool) -> None:
        self.shown = show and console.is_terminal
        columns = (
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("eta"), TimeRemainingColumn(), TimeElapsedColumn(),
        )
        self._progress = Progress(*columns, console=console, transient=True, disable=not self.shown)
        self._images: TaskID | None = None
        self._tiles: TaskID | None = None
        if self.shown and images is not None:
            self._images = self._progress.add_task("images", total=images)

    @property
    def console(self) -> Console:
        """Where to print lines while the bars are live (they stay below the lines)."""
        return self._progress.console

    def __enter__(self) -> Bars:
        self._progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.stop()

    def tiles(self, name: str) -> TileCallback | None:
        """The Upscaler's ``progress`` callback for the image ``name``; None when bars are hidden."""
        if not self.shown:
            return None
        if self._tiles is not None:
            self._progress.remove_task(self._tiles)
        task = self._progress.add_task(f"{name} tiles", total=None)
        self._tiles = task

        def update(done: int, total: int) -> None:
            self._progress.update(task, completed=done, total=total)

        return update

    def image_done(self) -> None:
        """Advance the image bar by one."""
        if self._images is not None:
            self._progress.advance(self._images)
