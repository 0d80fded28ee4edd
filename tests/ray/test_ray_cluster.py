"""Several Ray nodes on one machine (``ray.cluster_utils.Cluster``): the job spreads across them.

Its own cluster, so it must not share a process with another Ray session: the other
module's session is module-scoped and has been shut down by the time this runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from ray_helpers import OBJECT_STORE_BYTES, RAY_REASON

from litesr_edge import Upscaler, read_image, write_image

pytest.importorskip("ray.data", reason=RAY_REASON)

from litesr_edge.raydata import WorkerSpec, connected, upscale_folder  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
NODES = 2


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A head and one more node, 1 CPU each; yields the head's address."""
    import ray
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    node = {"num_cpus": 1, "object_store_memory": OBJECT_STORE_BYTES}
    cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
    try:
        for _ in range(NODES - 1):
            cluster.add_node(**node)
        cluster.wait_for_nodes()
        yield cluster.address
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()


def test_the_job_runs_across_nodes_with_the_local_pixels(cluster: str, tmp_path: Path, x2_model: Path) -> None:
    rng = np.random.default_rng(7)
    (tmp_path / "in").mkdir()
    for i in range(9):
        write_image(tmp_path / "in" / f"{i}.png", rng.integers(0, 256, (5 + i, 8, 3)).astype(np.uint8))
    with connected(cluster) as ray:
        assert len([n for n in ray.nodes() if n["Alive"]]) == NODES
        # Dispatch only once every actor is up (one per node: each has 1 CPU), so each gets files.
        context = ray.data.DataContext.get_current()
        context.wait_for_min_actors_s = 120
        try:
            report = upscale_folder(tmp_path / "in", tmp_path / "out", WorkerSpec(model=str(x2_model)),
                                    workers=NODES, batch_size=1)
        finally:
            context.wait_for_min_actors_s = -1
    assert [s.outcome for s in report.statuses] == ["written"] * 9, report.failed
    assert len({s.node for s in report.statuses}) == NODES, "the files did not run on every node"
    up = Upscaler(model=x2_model)
    for i in range(9):
        expected = up.upscale(read_image(tmp_path / "in" / f"{i}.png"))
        assert np.array_equal(read_image(tmp_path / "out" / f"{i}_x2.png"), expected)


@pytest.fixture
def x2_model(tiny_models: dict[int, Path]) -> Path:
    return tiny_models[2]
