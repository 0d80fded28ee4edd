"""Back-pressure and the worker pool: bounded admission, inference off the event loop, deadlines.

A request takes a slot when it arrives and holds it until its response is sent, or, if it
timed out while its image was being upscaled, until that worker is done: the number of
images in memory stays bounded however clients behave. Inference runs in a fixed pool of
worker threads; a request whose deadline passes is cancelled, before it starts (it never
runs) or between two tiles (the Upscaler's progress callback stops it).
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from litesr_edge.server.problems import RequestProblem

__all__ = ["Cancelled", "Gate", "Slot", "Workers"]

T = TypeVar("T")


class Cancelled(Exception):
    """Raised inside a worker when its request's deadline has passed (the client got 504)."""


class Gate:
    """At most ``capacity`` requests inside at once (uploading, waiting or being upscaled)."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._inside = 0
        self._lock = threading.Lock()  # released from worker threads too

    @property
    def inside(self) -> int:
        """Requests holding a slot now."""
        return self._inside

    def try_enter(self) -> bool:
        """Take a slot if one is free."""
        with self._lock:
            if self._inside >= self._capacity:
                return False
            self._inside += 1
            return True

    def leave(self) -> None:
        """Give a slot back."""
        with self._lock:
            self._inside -= 1


class Slot:
    """One admitted request's slot; freed when the request ends and its job (if any) is done."""

    def __init__(self, gate: Gate) -> None:
        self._gate = gate
        self._job: Future[Any] | None = None

    def hold_until(self, job: Future[Any]) -> None:
        """Keep the slot until ``job`` ends, even if the request ends first."""
        self._job = job

    def release(self) -> None:
        """Free the slot now, or when the held job ends."""
        if self._job is None:
            self._gate.leave()
        else:  # runs at once if the job is done already
            self._job.add_done_callback(lambda _: self._gate.leave())


class Workers:
    """The inference threads, and the admission gate in front of them."""

    def __init__(self, concurrency: int, queue: int) -> None:
        self.concurrency = concurrency
        self.gate = Gate(concurrency + queue)
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="litesr-serve")
        self._mean_s = 0.5  # moving mean of a job's time, for Retry-After
        self._cancels: set[threading.Event] = set()  # of the jobs submitted and not done
        self._cancels_lock = threading.Lock()

    def retry_after(self) -> int:
        """Seconds after which a refused client may find a free slot (1 to 60)."""
        waves = (self.gate.inside + 1) / self.concurrency
        return max(1, min(60, math.ceil(self._mean_s * waves)))

    @asynccontextmanager
    async def admitted(self) -> AsyncIterator[Slot]:
        """A slot for one request; RequestProblem 503 with Retry-After when none is free."""
        if not self.gate.try_enter():
            raise RequestProblem(
                503, "the server is busy (queue full); retry later",
                {"Retry-After": str(self.retry_after())},
            )
        slot = Slot(self.gate)
        try:
            yield slot
        finally:
            slot.release()

    async def run(self, job: Callable[[threading.Event], T], slot: Slot, deadline: float) -> T:
        """``job(cancel)`` on a worker thread; RequestProblem 504 if it is not done by ``deadline``.

        ``deadline`` is on the time.monotonic() clock; ``cancel`` is set when it passes.
        """
        cancel = threading.Event()
        with self._cancels_lock:
            self._cancels.add(cancel)
        future = self._pool.submit(self._timed, job, cancel)
        future.add_done_callback(lambda _: self._forget(cancel))
        slot.hold_until(future)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), max(0.0, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            cancel.set()  # cancels a queued job outright (wait_for did); a running one stops at its next tile
            raise RequestProblem(504, "the image was not upscaled within the server's timeout; "
                                 "send a smaller image or retry when the server is less busy") from None

    def _timed(self, job: Callable[[threading.Event], T], cancel: threading.Event) -> T:
        if cancel.is_set():
            raise Cancelled
        start = time.perf_counter()
        try:
            return job(cancel)
        finally:
            self._mean_s = 0.8 * self._mean_s + 0.2 * (time.perf_counter() - start)

    def _forget(self, cancel: threading.Event) -> None:
        with self._cancels_lock:
            self._cancels.discard(cancel)

    def close(self) -> None:
        """Stop the threads: queued jobs are dropped, running ones stop at their next tile."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._cancels_lock:
            for cancel in self._cancels:
                cancel.set()
