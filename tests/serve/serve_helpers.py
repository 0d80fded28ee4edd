"""Helpers of the serve tests: small images, hand-built multipart bodies, a real uvicorn server."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from litesr_edge.server import ServeConfig

# Every serve test module starts with skip_without_extra(): the server needs FastAPI and uvicorn.
EXTRA = "the serve extra is not installed: pip install 'litesr-edge[serve]'"


def skip_without_extra() -> None:
    """Skip the calling test module unless the serve extra (FastAPI, uvicorn) is importable."""
    import pytest

    pytest.importorskip("fastapi", reason=EXTRA)
    pytest.importorskip("uvicorn", reason=EXTRA)


def png_bytes(height: int = 24, width: int = 24, seed: int = 0, dtype: Any = np.uint8) -> bytes:
    """A random RGB PNG of that size."""
    rng = np.random.default_rng(seed)
    top = 65535 if dtype == np.uint16 else 255
    image = rng.integers(0, top + 1, (height, width, 3)).astype(dtype)
    ok, buffer = cv2.imencode(".png", image)
    assert ok
    return bytes(buffer)


def decode(data: bytes) -> np.ndarray:
    """Encoded bytes to an RGB array (as litesr-edge holds images)."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert image is not None, "the reply is not an image"
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if image.ndim == 3 else image


def multipart(data: bytes, filename: str = "a.png", content_type: str = "image/png",
              field: str = "file") -> tuple[bytes, str]:
    """A multipart/form-data body with one file field, and its Content-Type."""
    boundary = "litesrTestBoundary7MA4YWxk"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n").encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(port: int, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None, timeout: float = 60) -> Reply:
    """One request on a fresh connection (http.client: no test dependency beyond the stdlib)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


class LiveServer:
    """A real uvicorn server on 127.0.0.1 and a free port, in a thread of this process."""

    def __init__(self, config: ServeConfig) -> None:
        import uvicorn

        from litesr_edge.server import Service, create_app

        self.service = Service(config)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(create_app(self.service), log_config=None, access_log=False,
                                                    timeout_graceful_shutdown=2))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_idle(self, timeout: float = 30) -> int:
        """Wait until no request holds a slot; return how many still do."""
        deadline = time.monotonic() + timeout
        while self.service.workers.gate.inside and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.service.workers.gate.inside

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        self.sock.close()


LiveFactory = Callable[..., LiveServer]  # the live_server fixture: start(**ServeConfig fields)
