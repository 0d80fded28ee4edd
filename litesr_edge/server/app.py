"""The FastAPI application: ``POST /v1/upscale``, ``GET /v1/models``, ``GET /healthz``, the page at ``/``.

Errors are JSON ``{"status": ..., "detail": ...}`` with a 4xx status the client can act on;
a fault of the server itself is a plain 500 JSON body (logged, never a traceback in reply).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from litesr_edge.errors import LiteSRError, OutOfMemoryError
from litesr_edge.server.body import check_media_type, discard_refused, read_limited, unpack
from litesr_edge.server.openapi import ERROR_RESPONSES, UPSCALE_BODY, UPSCALE_OK
from litesr_edge.server.problems import RequestProblem, status_of
from litesr_edge.server.service import Service
from litesr_edge.server.status import health, models_report
from litesr_edge.server.work import Choice, Loaded, Result, upscale_upload

__all__ = ["create_app"]

LOG = logging.getLogger("litesr_edge.server")
LOG.addHandler(logging.NullHandler())  # a library logs; the application decides where to
STATIC = Path(__file__).resolve().parent / "static"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def problem(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The JSON error response every failure ends as.

    It closes the connection: the request body may be partly unread (a 413, or a large upload
    refused with 503 or 415 before reading it), so the connection cannot carry another request.
    """
    return JSONResponse({"status": status, "detail": detail}, status_code=status,
                        headers={"Connection": "close", **(headers or {})})


def _header_text(text: str) -> str:
    # HTTP header values are latin-1 on one line.
    return " ".join(text.split()).encode("ascii", "replace").decode("ascii")


def _result_headers(loaded: Loaded, result: Result, queued_s: float) -> dict[str, str]:
    up = loaded.upscaler
    headers = {
        "X-LiteSR-Model": up.model_path.name,
        "X-LiteSR-Scale": str(up.scale),
        "X-LiteSR-Depth": str(up.info.depth),
        "X-LiteSR-Engine": up.engine,
        "X-LiteSR-Precision": up.precision,
        "X-LiteSR-Provider": up.provider,
        "X-LiteSR-Size": f"{result.width}x{result.height}",
        "X-LiteSR-Time-Ms": f"{result.seconds * 1000:.1f}",
        "Server-Timing": f"queue;dur={queued_s * 1000:.1f}, upscale;dur={result.seconds * 1000:.1f}",
        "Content-Disposition": f'inline; filename="{_UNSAFE.sub("_", result.filename)}"',
        "Cache-Control": "no-store",
    }
    if loaded.fallback_reason is not None:
        headers["X-LiteSR-Fallback"] = _header_text(loaded.fallback_reason)
    return headers


def _choice(service: Service, scale: int | None, depth: int | None, engine: str | None,
            precision: str | None) -> Choice:
    config = service.config
    scale = config.scale if scale is None else scale
    if depth is None and scale == config.scale:
        depth = config.depth
    if precision is None and engine in (None, config.engine):
        precision = config.precision
    return Choice(scale, depth, engine or config.engine, precision)


async def _upscale(service: Service, request: Request, choice: Choice, output_format: str) -> Response:
    config, workers = service.config, service.workers
    arrived = time.monotonic()
    deadline = arrived + config.timeout_s
    content_type, declared = request.headers.get("content-type"), request.headers.get("content-length")
    async with AsyncExitStack() as stack:
        try:  # both refusals come before reading the body
            check_media_type(content_type)
            slot = await stack.enter_async_context(workers.admitted())
        except RequestProblem:
            await discard_refused(request.stream(), declared, deadline)
            raise
        body = await read_limited(request.stream(), declared, config.max_upload_bytes, deadline)
        upload = unpack(body, content_type, "upload")
        queued: list[float] = []

        def job(cancel: threading.Event) -> tuple[Loaded, Result]:
            queued.append(time.monotonic() - arrived)
            loaded = service.models.get(choice)
            return loaded, upscale_upload(loaded.upscaler, upload, output_format, cancel)

        loaded, result = await workers.run(job, slot, deadline)
    return Response(result.data, media_type=result.media_type, headers=_result_headers(loaded, result, queued[0]))


def _routes(app: FastAPI, service: Service) -> None:
    @app.post("/v1/upscale", summary="Upscale one image", openapi_extra=UPSCALE_BODY,
              responses={200: UPSCALE_OK, **ERROR_RESPONSES}, response_class=Response)
    async def upscale(
        request: Request,
        scale: Annotated[int | None, Query(ge=1, le=8, description="2, 3 or 4; default: the server's")] = None,
        depth: Annotated[int | None, Query(ge=1, description="recurrence depth; default 19")] = None,
        engine: Annotated[Literal["onnxruntime", "openvino"] | None, Query(description="default: the server's")] = None,
        precision: Annotated[Literal["fp32", "bf16", "int8"] | None, Query()] = None,
        format: Annotated[Literal["png", "jpeg", "webp", "tiff"], Query(description="output format")] = "png",
    ) -> Response:
        """The body is the image (any supported format), or a multipart form whose ``file`` field is."""
        choice = _choice(service, scale, depth, engine, precision)
        try:
            return await _upscale(service, request, choice, format)
        except LiteSRError as exc:
            return _error(exc)
        except MemoryError as exc:
            return _error(OutOfMemoryError(f"out of memory ({exc}); send a smaller image"))

    @app.get("/v1/models", summary="Bundled models, engines and the server's limits")
    async def models() -> dict[str, Any]:
        return models_report(service)

    @app.get("/healthz", summary="Liveness and current load")
    async def healthz() -> dict[str, Any]:
        return health(service)

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/docs", include_in_schema=False)
    async def docs() -> FileResponse:
        return FileResponse(STATIC / "docs.html", headers={"Cache-Control": "no-cache"})


def _error(exc: LiteSRError) -> JSONResponse:
    status = status_of(exc)
    if status >= 500 and not isinstance(exc, RequestProblem):
        LOG.error("request failed: %s", exc)
    headers = exc.headers if isinstance(exc, RequestProblem) else None
    if status == 503 and not headers:
        headers = {"Retry-After": "5"}
    return problem(status, " ".join(str(exc).split()), headers)


def _handlers(app: FastAPI) -> None:
    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        errors = exc.errors() if isinstance(exc, RequestValidationError) else []
        parts = [f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg', 'invalid')}"
                 + (f" (got {e['input']!r})" if "input" in e else "") for e in errors]
        return problem(422, "; ".join(parts) or "invalid request parameters")

    async def http(request: Request, exc: Exception) -> JSONResponse:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
        return problem(status, str(detail), getattr(exc, "headers", None))

    async def internal(request: Request, exc: Exception) -> JSONResponse:
        LOG.error("internal error on %s %s: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
        return problem(500, "internal error; the server log has the details")

    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(HTTPException, http)
    app.add_exception_handler(Exception, internal)


def create_app(service: Service) -> FastAPI:
    """The ASGI application serving ``service``; its shutdown closes the service's workers."""
    from litesr_edge import __version__

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        service.close()

    app = FastAPI(title="litesr-edge", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="LiteSRNet super-resolution over HTTP. The page at / uses this API.")
    _routes(app, service)
    _handlers(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
