"""The objects one server process shares between requests: models and workers."""

from __future__ import annotations

from litesr_edge.server.config import ServeConfig
from litesr_edge.server.gate import Workers
from litesr_edge.server.work import Models

__all__ = ["Service"]


class Service:
    """Built once per process: the default Upscaler is loaded at once, so a bad
    engine/precision/scale fails here (a LiteSRError), before any port is bound."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.models = Models(config)
        self.workers = Workers(config.concurrency, config.queue)

    def close(self) -> None:
        """Stop the worker threads (running jobs finish, queued ones are dropped)."""
        self.workers.close()
