"""A bounded load test against a real uvicorn server: 300 requests from 16 clients, then overload.

No timing is asserted (the CI machine is shared); the figures come from
``python -m benchmarks.serve_load``. What must hold: no 5xx under load the queue can take,
only 503 (with Retry-After) beyond it, and every slot free again afterwards.
"""

from __future__ import annotations

from collections import Counter

import pytest
from serve_helpers import LiveFactory, png_bytes, skip_without_extra

from benchmarks.serve_load import drive

skip_without_extra()

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

PATH = "/v1/upscale?scale=2"


@pytest.fixture(scope="module")
def images() -> list[bytes]:
    return [png_bytes(24, 24, seed) for seed in range(8)]


def test_300_requests_from_16_clients_all_succeed(live_server: LiveFactory, images: list[bytes]) -> None:
    server = live_server(concurrency=2, queue=16, threads=1)
    load = drive(server.port, images, PATH, total=300, clients=16)
    assert load.statuses == Counter({200: 300}), load.statuses
    assert server.wait_idle() == 0


def test_overload_gets_503_with_retry_after_that_clears(live_server: LiveFactory, images: list[bytes]) -> None:
    server = live_server(concurrency=1, queue=2, threads=1)
    load = drive(server.port, images, PATH, total=120, clients=32)
    assert set(load.statuses) <= {200, 503}, load.statuses  # nothing else: no 500, no dropped connection
    assert load.statuses[503] > 0 and load.statuses[200] > 0, load.statuses
    assert load.retry_after and all(int(v) >= 1 for v in load.retry_after)
    assert server.wait_idle() == 0
    after = drive(server.port, images, PATH, total=10, clients=1)
    assert after.statuses == Counter({200: 10}), after.statuses
