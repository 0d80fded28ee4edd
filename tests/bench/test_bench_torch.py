"""The PyTorch comparison row: benchmarks/torch_worker.py loads the ONNX weights (either graph form)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="needs the maintainer extra: pip install '.[maintainer]'")
onnx = pytest.importorskip("onnx", reason="needs the maintainer extra: pip install '.[maintainer]'")
pytest.importorskip("onnxsim", reason="needs the maintainer extra: pip install '.[maintainer]'")

from export import onnx_export  # noqa: E402
from export.fast_graph import rewrite_for_speed  # noqa: E402
from litesr_edge.bench.run import benchmark_image, litesr_candidate, torch_candidate  # noqa: E402

pytestmark = [pytest.mark.maintainer, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    model, extra = onnx_export.random_model(3, 2, seed=1)
    folder = tmp_path_factory.mktemp("torch_row")
    plain = folder / "x3_d2.onnx"
    onnx_export.export(model, extra, plain)
    out = {"plain": plain}
    for form, fold in (("fast", False), ("folded", True)):
        out[form] = folder / f"x3_d2_{form}.onnx"
        out[form].write_bytes(rewrite_for_speed(onnx.load(str(plain)), fold_shuffle=fold).SerializeToString())
    return out


@pytest.mark.parametrize("form", ["plain", "fast", "folded"])
def test_worker_matches_onnx_and_times_itself(exported: dict[str, Path], form: str) -> None:
    image = benchmark_image(20, 12)
    ref = litesr_candidate(exported[form], image, "onnxruntime", "fp32", None, 1, 0)
    cand = torch_candidate(exported[form], image, 1, ROOT, ref)
    try:
        assert cand.self_timed and cand.scale == 3 and cand.depth == 2 and cand.macs == ref.macs
        assert "max |torch - ORT|" in cand.note
        diff = float(cand.note.rsplit("=", 1)[1].strip(" )"))
        assert diff < 1e-4
        timings = [cand.run() for _ in range(2)]
        for wall, cpu in timings:
            assert isinstance(wall, float) and wall > 0
            assert cpu is None or cpu >= 0
        assert cand.reported_rss_mb is None or cand.reported_rss_mb >= 0
    finally:
        assert cand.close is not None
        cand.close()


def test_worker_refuses_a_model_it_cannot_map(tmp_path: Path) -> None:
    # A graph whose weights do not fit LiteSRNet: the worker says so, the row is skipped.
    from conftest import build_tiny_model

    from litesr_edge.errors import EngineUnavailableError

    path = tmp_path / "tiny.onnx"
    path.write_bytes(build_tiny_model(2, depth=1, channels=4).SerializeToString())
    image = benchmark_image(8, 8)
    ref = litesr_candidate(path, image, "onnxruntime", "fp32", None, 1, 0)
    with pytest.raises(EngineUnavailableError, match="worker"):
        torch_candidate(path, image, 1, ROOT, ref)
    assert np.isfinite(ref.macs or 0)
