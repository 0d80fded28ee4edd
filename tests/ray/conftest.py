"""The Ray tests' session: ONE small local Ray per test module.

Ray is heavy on a 2-core machine (about 10 s to start, a few more per actor pool), so
each test module starts one session (module-scoped) and reuses it for all its tests;
the multi-node test builds its own cluster after the other module's session is gone.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ray_helpers import OBJECT_STORE_BYTES, RAY_REASON


@pytest.fixture(scope="module")
def ray_session() -> Iterator[object]:
    """One local Ray session (2 CPUs, no dashboard, quiet) for the whole test module."""
    ray = pytest.importorskip("ray", reason=RAY_REASON)
    pytest.importorskip("ray.data", reason=RAY_REASON)
    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
             object_store_memory=OBJECT_STORE_BYTES)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    try:
        yield ray
    finally:
        ray.shutdown()
