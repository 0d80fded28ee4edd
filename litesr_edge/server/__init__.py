"""``litesr-edge serve``: an HTTP API and a web page over one shared Upscaler per model.

Needs the optional extra: ``pip install 'litesr-edge[serve]'`` (FastAPI and uvicorn).
Importing this package imports neither; :func:`create_app` does, and raises
EngineUnavailableError with the install hint when they are missing.

    >>> from litesr_edge.server import ServeConfig, Service, create_app
    >>> app = create_app(Service(ServeConfig(scale=2)))   # an ASGI app, e.g. for uvicorn.run(app)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from litesr_edge.errors import EngineUnavailableError
from litesr_edge.server.config import DEFAULT_MAX_PIXELS, DEFAULT_MAX_UPLOAD_MB, ServeConfig, is_loopback

if TYPE_CHECKING:
    from fastapi import FastAPI

    from litesr_edge.server.service import Service

__all__ = ["DEFAULT_MAX_PIXELS", "DEFAULT_MAX_UPLOAD_MB", "SERVE_INSTALL", "ServeConfig", "Service", "create_app",
           "is_loopback", "require_extra"]

SERVE_INSTALL = "pip install 'litesr-edge[serve]'"


def require_extra() -> None:
    """EngineUnavailableError with the install hint unless FastAPI and uvicorn are importable."""
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ModuleNotFoundError as exc:
        raise EngineUnavailableError(
            f"litesr-edge serve needs {exc.name!r}, which is not installed; {SERVE_INSTALL}"
        ) from exc


def __getattr__(name: str) -> object:
    # Service pulls in the engines (onnxruntime); keep a plain import of this package light.
    if name == "Service":
        from litesr_edge.server.service import Service

        return Service
    raise AttributeError(name)


def create_app(service: Service) -> FastAPI:
    """The ASGI application for ``service`` (see :mod:`litesr_edge.server.app`)."""
    require_extra()
    from litesr_edge.server.app import create_app as build

    return build(service)
