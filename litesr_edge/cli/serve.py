"""``litesr-edge serve``: the HTTP API and web page (the ``serve`` extra: FastAPI + uvicorn)."""

from __future__ import annotations

import contextlib
import errno
import logging
import re
import socket
from pathlib import Path
from typing import Annotated

import typer

from litesr_edge.cli._options import EngineOpt, PrecisionOpt, fallback_note
from litesr_edge.cli._output import fail, print_note, stderr_console
from litesr_edge.errors import InvalidInputError, LiteSRError
from litesr_edge.server import DEFAULT_MAX_PIXELS, DEFAULT_MAX_UPLOAD_MB, ServeConfig, is_loopback, require_extra

# Loggers routed to --log (or silenced): uvicorn's own and the server's.
LOGGERS = ("uvicorn", "litesr_edge.server")
# Seconds that open requests get to finish after Ctrl-C.
GRACEFUL_S = 5
# ServeConfig keywords that cli/_output.FLAGS does not know (it translates the shared ones).
SERVE_FLAGS = {"max_upload_mb": "--max-upload-mb", "timeout_s": "--timeout", "concurrency": "--concurrency",
               "queue": "--queue", "port": "--port", "host": "--host"}
_KEYWORD = re.compile(rf"\b({'|'.join(SERVE_FLAGS)})=('[^']*'|[^\s,;)]+)")


def _flag_words(exc: LiteSRError) -> LiteSRError:
    """``exc`` with ServeConfig's keywords (``timeout_s=0.0``) in flag terms (``--timeout 0``)."""
    def flag(match: re.Match[str]) -> str:
        value = match[2].strip("'")
        with contextlib.suppress(ValueError):  # a number as the user typed it: 0.0 -> 0
            value = f"{float(value):g}"
        return f"{SERVE_FLAGS[match[1]]} {value}"

    text = _KEYWORD.sub(flag, str(exc))
    return exc if text == str(exc) else type(exc)(text)


def _bind(host: str, port: int) -> socket.socket:
    """A socket listening on (host, port), bound here so that a busy port is a one-line error."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise InvalidInputError(f"--host {host!r} is not an address of this machine ({exc.strerror}); "
                                "use 127.0.0.1 or 0.0.0.0") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise InvalidInputError(f"port {port} on {host} is in use; stop what runs there or pick another "
                                    "--port (0 picks a free one)") from None
        raise InvalidInputError(f"cannot listen on {host}:{port} ({exc.strerror}); pick another --host "
                                "or --port (ports below 1024 need root)") from None
    sock.listen(2048)  # listening now: a client that reads the start line can connect at once (uvicorn's backlog)
    return sock


def _route_logs(log: Path | None) -> None:
    handler: logging.Handler = logging.NullHandler()
    if log is not None:
        try:
            handler = logging.FileHandler(log, encoding="utf-8")
        except OSError as exc:
            raise InvalidInputError(f"--log {log} cannot be opened ({exc.strerror}); pick another path") from None
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.propagate = False  # never to the root logger, whose last resort is the user's terminal
        logger.setLevel(logging.INFO)


def _start_line(config: ServeConfig, port: int, what: str) -> str:
    host = f"[{config.host}]" if ":" in config.host else config.host
    where = "bound to localhost only" if is_loopback(config.host) else "reachable from other machines"
    return (f"serving http://{host}:{port}/ ({where}; {what}; {config.concurrency} workers, queue {config.queue}); "
            "Ctrl-C stops")


def _run(config: ServeConfig, log: Path | None) -> None:
    from litesr_edge.server import Service, create_app

    err = stderr_console()
    try:
        _route_logs(log)
        service = Service(config)
        sock = _bind(config.host, config.port)
    except LiteSRError as exc:
        fail(exc, err)
    import uvicorn

    loaded = service.models.default
    up = loaded.upscaler
    print_note(fallback_note(loaded.fallback_reason), err)
    typer.echo(_start_line(config, sock.getsockname()[1], f"x{up.scale} d{up.info.depth} {up.engine} {up.precision}"))
    if not is_loopback(config.host):
        print_note(f"warning: --host {config.host} accepts connections from other machines and has no "
                   "authentication; use --host 127.0.0.1 to keep it local", err)
    server = uvicorn.Server(uvicorn.Config(
        create_app(service), log_config=None, access_log=log is not None, timeout_graceful_shutdown=GRACEFUL_S,
        server_header=False,
    ))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn shut down gracefully first, then re-raised Ctrl-C
        pass
    finally:
        sock.close()
        service.close()
    typer.echo("stopped")


Host = Annotated[str, typer.Option(help="Address to listen on; 0.0.0.0 exposes the server to the network.")]
Port = Annotated[int, typer.Option(help="TCP port; 0 picks a free one.", min=0, max=65535)]
Scale = Annotated[int, typer.Option("-s", "--scale", help="Default upscaling factor (a request's ?scale= wins).")]
Depth = Annotated[int | None, typer.Option(help="Default recurrence depth (default 19).", min=1)]
MaxUpload = Annotated[float, typer.Option(
    "--max-upload-mb", help="Refuse uploads over this many MB (413), counted while they stream.")]
MaxPixels = Annotated[int, typer.Option(
    "--max-pixels", help="Refuse images whose output would exceed this many pixels (413), from the header.", min=1)]
Concurrency = Annotated[int, typer.Option(help="Images upscaled at once (worker threads).", min=1)]
Queue = Annotated[int, typer.Option(help="Requests that may wait for a worker; more get 503 + Retry-After.", min=0)]
Timeout = Annotated[float, typer.Option(help="Seconds per request, upload to reply: 408 for the upload, 504 after.")]
Threads = Annotated[int | None, typer.Option(help="Engine threads per model (default: cores / --concurrency).", min=1)]
Log = Annotated[Path | None, typer.Option(help="Append the server's log and access log to this file.",
                                          metavar="FILE")]


def serve_command(
    host: Host = "127.0.0.1",
    port: Port = 8000,
    scale: Scale = 4,
    depth: Depth = None,
    engine: EngineOpt = "auto",
    precision: PrecisionOpt = None,
    max_upload_mb: MaxUpload = DEFAULT_MAX_UPLOAD_MB,
    max_pixels: MaxPixels = DEFAULT_MAX_PIXELS,
    concurrency: Concurrency = 2,
    queue: Queue = 8,
    timeout: Timeout = 60.0,
    threads: Threads = None,
    log: Log = None,
) -> None:
    """Serve the HTTP API (POST /v1/upscale, GET /v1/models, /healthz, /docs) and a web page at /.

    Binds to 127.0.0.1 unless --host says otherwise. Needs the serve extra (FastAPI and uvicorn).
    """
    try:
        require_extra()
        config = ServeConfig(
            host=host, port=port, scale=scale, depth=depth, engine=engine, precision=precision,
            max_upload_mb=max_upload_mb, max_pixels=max_pixels, concurrency=concurrency, queue=queue,
            timeout_s=timeout, threads=threads,
        )
    except LiteSRError as exc:
        fail(_flag_words(exc), stderr_console())
    _run(config, log)
