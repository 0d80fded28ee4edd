"""HTTP errors of the server, and the status each library error is answered with.

Every failure a client can cause ends as a JSON body ``{"status": <code>, "detail": <message>}``
with a 4xx status; only the server's own faults are 5xx, and never carry a traceback.
"""

from __future__ import annotations

from collections.abc import Mapping

from litesr_edge.errors import (
    EngineUnavailableError,
    ImageReadError,
    ImageTooLargeError,
    ImageWriteError,
    InvalidInputError,
    LiteSRError,
    ModelError,
    OutOfMemoryError,
)

__all__ = ["RequestProblem", "status_of"]


class RequestProblem(LiteSRError):
    """A request the server refuses, with its HTTP status and extra response headers."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = dict(headers or {})


# Most specific first: OutOfMemoryError is also a MemoryError, InvalidInputError a ValueError.
_STATUS: tuple[tuple[type[LiteSRError], int], ...] = (
    (ImageTooLargeError, 413),
    (ImageReadError, 400),
    (InvalidInputError, 422),
    (EngineUnavailableError, 422),
    (ImageWriteError, 422),  # an output format that cannot hold the image (16-bit as JPEG)
    (OutOfMemoryError, 503),
    (ModelError, 500),  # a broken install: the server's fault, not the client's
)


def status_of(exc: LiteSRError) -> int:
    """The HTTP status that answers ``exc``."""
    if isinstance(exc, RequestProblem):
        return exc.status
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 500
