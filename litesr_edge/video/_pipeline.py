"""Stages in threads joined by bounded queues; the first error stops them all and is re-raised.

A stage blocked on a full (or empty) queue wakes up every ``_POLL_S`` to see whether the run
was stopped, so that Ctrl-C in the consuming thread or an error in any stage ends every
thread promptly and nothing waits forever.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")
_POLL_S = 0.05
_JOIN_S = 30.0  # a stage finishes its current frame (one network run) before it sees the stop


class Stopped(Exception):
    """Raised inside a stage when the run was stopped elsewhere; the stage just returns."""


class _End:
    """Marks the end of a channel's items."""


_END = _End()


class Channel(Generic[T]):
    """A bounded FIFO between two stages that gives up when its pipeline stops."""

    def __init__(self, size: int, stop: threading.Event) -> None:
        self._queue: queue.Queue[T | _End] = queue.Queue(maxsize=size)
        self._stop = stop

    def put(self, item: T) -> None:
        """Append ``item``, waiting while the channel is full; Stopped if the run stops first."""
        self._put(item)

    def close(self) -> None:
        """Tell the reader that no more items come."""
        self._put(_END)

    def _put(self, item: T | _End) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_S)
                return
            except queue.Full:
                continue
        raise Stopped

    def __iter__(self) -> Iterator[T]:
        while True:
            try:
                item = self._queue.get(timeout=_POLL_S)
            except queue.Empty:
                if self._stop.is_set():
                    raise Stopped from None
                continue
            if isinstance(item, _End):
                return
            yield item


class Pipeline:
    """Owns the stage threads, the stop flag and the first error of a run."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._errors: list[BaseException] = []

    def channel(self, size: int) -> Channel[T]:
        """A new bounded channel tied to this pipeline's stop flag."""
        return Channel(size, self._stop)

    def start(self, name: str, work: Callable[[], None]) -> None:
        """Run ``work`` in a daemon thread; an exception there stops the whole run."""
        def guarded() -> None:
            try:
                work()
            except Stopped:
                return
            except BaseException as exc:  # re-raised in the consuming thread by check()
                self._errors.append(exc)
                self._stop.set()

        thread = threading.Thread(target=guarded, name=f"litesr-video-{name}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def check(self) -> None:
        """Re-raise the first stage error, if any."""
        if self._errors:
            raise self._errors[0]

    def stop(self) -> None:
        """Stop every stage and wait for the threads (each finishes the frame it is on)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(_JOIN_S)

    def drain(self, channel: Channel[T]) -> Iterator[T]:
        """The items of the last channel, in the consuming thread; a stage error is re-raised here."""
        try:
            yield from channel
        except Stopped:
            self.check()
            raise
        self.check()
