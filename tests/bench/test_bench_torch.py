"""The PyTorch comparison row: a worker process (litesr_edge.bench.torch_worker) runs the ONNX file's weights."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from litesr_edge.bench.candidates import benchmark_image, litesr_candidate, torch_candidate
from litesr_edge.errors import EngineUnavailableError

TORCH_REASON = "the PyTorch row needs torch (pip install torch)"


def _needs_torch() -> None:
    pytest.importorskip("torch", reason=TORCH_REASON)


def _fp32_bundled() -> Path:
    from litesr_edge.registry import list_models

    fp32 = sorted((m for m in list_models() if m.info.precision == "fp32"), key=lambda m: m.info.scale)
    if not fp32:
        pytest.skip("no bundled fp32 model")
    return fp32[0].path


def _check_row(path: Path) -> None:
    image = benchmark_image(20, 12)
    ref = litesr_candidate(path, image, "onnxruntime", "fp32", None, 1, 0)
    cand = torch_candidate(path, image, 1, ref)
    try:
        assert cand.self_timed and (cand.scale, cand.depth, cand.macs) == (ref.scale, ref.depth, ref.macs)
        assert cand.params == ref.params
        diff = float(cand.note.rsplit("=", 1)[1].strip(" )"))
        assert diff < 1e-4
        for wall, cpu in (cand.run() for _ in range(2)):
            assert isinstance(wall, float) and wall > 0
            assert cpu is None or cpu >= 0
        assert cand.reported_rss_mb is None or cand.reported_rss_mb >= 0
    finally:
        assert cand.close is not None
        cand.close()


@pytest.mark.maintainer
@pytest.mark.slow
@pytest.mark.parametrize("form", ["plain", "fast", "folded"])
def test_worker_matches_onnx_and_times_itself(tiny_model_factory, tmp_path: Path, form: str) -> None:  # type: ignore[no-untyped-def]
    _needs_torch()
    path = tiny_model_factory(scale=4 if form != "fast" else 3, depth=2, fast=form == "fast")
    if form == "folded":
        onnx = pytest.importorskip("onnx", reason="building the folded form needs onnx")
        fast_graph = pytest.importorskip("export.fast_graph", reason="needs the exporter (a checkout)")
        folded = fast_graph.rewrite_for_speed(onnx.load(str(path)), fold_shuffle=True)
        path = tmp_path / "folded.onnx"
        path.write_bytes(folded.SerializeToString())
    _check_row(path)


@pytest.mark.maintainer
@pytest.mark.slow
def test_torch_row_runs_outside_a_checkout_without_importing_torch(tmp_path: Path) -> None:
    # What an installed package does: no repository on sys.path, any working directory.
    _needs_torch()
    script = textwrap.dedent("""
        import json, sys
        from pathlib import Path
        from litesr_edge.bench.candidates import benchmark_image, litesr_candidate, torch_candidate
        path, image = Path(sys.argv[1]), benchmark_image(16, 12)
        cand = torch_candidate(path, image, 1, litesr_candidate(path, image, "onnxruntime", "fp32", None, 1, 0))
        wall, _ = cand.run()
        cand.close()
        outside = [m for m in sys.modules if m.split(".")[0] in ("torch", "models", "export", "benchmarks")]
        print(json.dumps({"name": cand.name, "wall": wall, "outside": outside}))
    """)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", script, str(_fp32_bundled())], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["name"].startswith("PyTorch eager") and result["wall"] > 0
    assert result["outside"] == []  # torch lives in the worker only; no maintainer package is needed


@pytest.mark.maintainer
@pytest.mark.slow
def test_worker_refuses_a_model_it_cannot_map(tiny_model_factory) -> None:  # type: ignore[no-untyped-def]
    # Metadata says depth 5, the graph has 2 recurrent convolutions: the worker says so, the row is skipped.
    _needs_torch()
    path = tiny_model_factory(scale=2, depth=2, metadata={"depth": "5"})
    image = benchmark_image(8, 8)
    ref = litesr_candidate(path, image, "onnxruntime", "fp32", None, 1, 0)
    with pytest.raises(EngineUnavailableError, match="worker .* failed: ModelError: .*depth 5"):
        torch_candidate(path, image, 1, ref)


def test_missing_torch_is_a_skip_with_the_install_hint(
    tiny_models: dict[int, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    image = benchmark_image(8, 8)
    ref = litesr_candidate(tiny_models[2], image, "onnxruntime", "fp32", None, 1, 0)
    with pytest.raises(EngineUnavailableError, match="pip install torch"):
        torch_candidate(tiny_models[2], image, 1, ref)
