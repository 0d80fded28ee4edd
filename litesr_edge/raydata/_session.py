"""The lazily imported ``ray`` module, and connecting to (or starting) a Ray cluster.

``ray`` is an optional extra: nothing here imports it at module level, so that
``import litesr_edge.raydata`` works (and can say what to install) without it.
"""

from __future__ import annotations

import importlib
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from litesr_edge.errors import ClusterError

RAY_INSTALL = "pip install 'litesr-edge[ray]'"


def import_ray() -> ModuleType:
    """``ray`` with ``ray.data`` loaded; ClusterError with the install hint when the extra is missing."""
    try:
        ray = importlib.import_module("ray")
        importlib.import_module("ray.data")
    except ModuleNotFoundError as exc:
        raise ClusterError(
            f"distributed upscaling needs {exc.name!r}, which is not installed; try {RAY_INSTALL}"
        ) from exc
    return ray


def _init_error(address: str | None, exc: Exception) -> ClusterError:
    reason = " ".join(str(exc).split()) or type(exc).__name__
    if address is None:
        return ClusterError(f"cannot start a local Ray cluster: {reason}; check free memory and /tmp space")
    return ClusterError(
        f"cannot connect to the Ray cluster at address={address!r}: {reason}; "
        "start one with `ray start --head`, or pass address=None for a local one"
    )


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast on a "host:port" or "ray://host:port" nobody listens on; ray.init retries for minutes."""
    hostport = address.removeprefix("ray://")
    host, sep, port = hostport.rpartition(":")
    if address == "auto" or not sep or not port.isdigit():
        return  # "auto" and anything Ray parses itself
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise _init_error(address, exc) from None


@contextmanager
def connected(address: str | None = None, *, num_cpus: int | None = None, quiet: bool = True) -> Iterator[ModuleType]:
    """Yield ``ray``, connected to ``address`` ("auto", "host:port", "ray://host:10001").

    None starts a local cluster with ``num_cpus`` CPUs (None: all). A Ray session that is
    already initialized is reused and left running; one started here is shut down on
    exit. ``quiet`` keeps Ray's own log lines at ERROR and the workers' output off the
    driver. ClusterError when no cluster can be reached or started.
    """
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    options: dict[str, object] = {"log_to_driver": not quiet}
    if quiet:
        options["logging_level"] = "ERROR"
    if address is None:  # only a local start takes resources and the dashboard switch
        options.update(num_cpus=num_cpus, include_dashboard=False)
    if address is not None:
        _check_reachable(address)
    try:
        ray.init(address=address, **options)
    except (ConnectionError, RuntimeError, ValueError, OSError) as exc:
        raise _init_error(address, exc) from None
    try:
        yield ray
    finally:
        ray.shutdown()
