"""Fixtures of the serve tests (each test module skips itself without the serve extra)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from serve_helpers import LiveFactory, LiveServer

from litesr_edge.server import ServeConfig


@pytest.fixture
def live_server() -> Iterator[LiveFactory]:
    """``start(**ServeConfig fields)``: a real uvicorn server, stopped after the test."""
    started: list[LiveServer] = []

    def start(**fields: object) -> LiveServer:
        fields.setdefault("scale", 2)
        server = LiveServer(ServeConfig(**fields))  # type: ignore[arg-type]
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
