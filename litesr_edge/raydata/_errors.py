"""Ray's exceptions as the library's own: the LiteSRError inside, or one ClusterError line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from litesr_edge.errors import ClusterError, LiteSRError


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        cause = getattr(current, "cause", None)  # RayTaskError keeps the remote exception here
        current = cause if isinstance(cause, BaseException) else current.__cause__


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


def translate(exc: BaseException) -> LiteSRError:
    """The LiteSRError a remote task or actor raised (a clean copy, without Ray's traceback text).

    Anything else (an actor that died more often than its retries allow, a lost
    node) becomes a ClusterError naming the cause in one line.
    """
    for cause in _causes(exc):
        # Ray raises RayTaskError(<the error's class>), an instance of both: its ``cause`` is the plain one.
        if isinstance(cause, LiteSRError) and not _is_ray(cause):
            return cause
    return ClusterError(
        f"the Ray job failed: {type(exc).__name__}: {_first_line(exc)}; "
        "see the Ray logs (/tmp/ray/session_latest/logs) or raise retries"
    )


def _is_ray(exc: BaseException) -> bool:
    return any(cls.__module__.startswith("ray.") for cls in type(exc).__mro__)


@contextmanager
def ray_errors() -> Iterator[None]:
    """Re-raise Ray's exceptions (and the remote LiteSRErrors they wrap) as :func:`translate` says."""
    try:
        yield
    except LiteSRError as exc:
        if not _is_ray(exc):
            raise
        raise translate(exc) from None
    except Exception as exc:  # Ray's own classes (RayError and others) are not worth importing here
        if not _is_ray(exc):
            raise
        raise translate(exc) from None
