"""What ``litesr-edge serve`` is configured with: limits, queue, engine defaults."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass

from litesr_edge._args import check_int, check_number, check_str
from litesr_edge.engines import ENGINES, PRECISIONS
from litesr_edge.errors import InvalidInputError

__all__ = ["DEFAULT_MAX_PIXELS", "DEFAULT_MAX_UPLOAD_MB", "ServeConfig", "is_loopback"]

DEFAULT_MAX_UPLOAD_MB = 32.0
# Output pixels per request. Lower than the CLI's limit: a server holds several
# requests at once, and a 4096x4096 RGB output is already 48 MB.
DEFAULT_MAX_PIXELS = 4096 * 4096


@dataclass(frozen=True)
class ServeConfig:
    """Settings of one server process; checked when built (InvalidInputError names the bad one).

    ``concurrency`` images are upscaled at once, each by a worker thread; up to ``queue``
    more requests wait (their uploads are read meanwhile); past that a request gets 503 with
    ``Retry-After``. ``timeout_s`` bounds a request from its arrival to its response (upload,
    wait and inference); a late upload gets 408, a late result 504. ``threads`` is the engine's
    intra-op thread count per Upscaler; None divides the CPU cores between the workers.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    scale: int = 4
    depth: int | None = None
    engine: str = "auto"
    precision: str | None = None
    max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB
    max_pixels: int = DEFAULT_MAX_PIXELS
    concurrency: int = 2
    queue: int = 8
    timeout_s: float = 60.0
    threads: int | None = None

    def __post_init__(self) -> None:
        check_int("port", self.port, minimum=0, hint="0 picks a free port")
        if self.port > 65535:
            raise InvalidInputError(f"port={self.port} must be <= 65535")
        check_int("scale", self.scale, minimum=1, hint="2, 3 or 4")
        check_int("depth", self.depth, minimum=1, optional=True, hint="e.g. 19")
        check_str("engine", self.engine, ("auto", *ENGINES))
        check_str("precision", self.precision, PRECISIONS, optional=True)
        check_number("max_upload_mb", self.max_upload_mb, hint="MB per upload, e.g. 32")
        check_int("max_pixels", self.max_pixels, minimum=1, hint="output pixels")
        check_int("concurrency", self.concurrency, minimum=1, hint="images upscaled at once")
        check_int("queue", self.queue, minimum=0, hint="requests that may wait")
        check_number("timeout_s", self.timeout_s, hint="seconds per request")
        check_int("threads", self.threads, minimum=1, optional=True, hint="None divides the cores")
        if not isinstance(self.host, str) or not self.host:
            raise InvalidInputError(f"host={self.host!r} must be an address such as '127.0.0.1'")

    @property
    def max_upload_bytes(self) -> int:
        """``max_upload_mb`` in bytes."""
        return int(self.max_upload_mb * 2**20)

    @property
    def engine_threads(self) -> int:
        """Intra-op threads per Upscaler: ``threads``, or the cores shared between the workers."""
        if self.threads is not None:
            return self.threads
        return max(1, (os.cpu_count() or 1) // self.concurrency)


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False
