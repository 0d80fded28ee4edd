"""Shared fixtures: tiny random LiteSRNet-shaped ONNX models (see tests/make_fixtures.py).

``tiny_model_factory(scale=..., ...)`` returns the path of a ``.onnx`` file; other test
modules may reuse it. The variants the runtime tests use are committed under
tests/fixtures/tiny/ and copied from there, so the runtime tests need neither onnx nor
the checkout's export/ package; any other variant is built with onnx (skipped without
it). With ``fast=True`` the graph goes through the exporter's ``export.fast_graph``
rewrite (ConvTranspose and Resize become Conv + DepthToSpace), the form whose float
results do not depend on where a tile sits (see test_runtime_tiling.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from make_fixtures import COMMITTED, TINY_DIR, TinySpec, build_spec, build_tiny_model, normalize

__all__ = ["build_tiny_model"]  # re-exported: tests/bench and tests/maintainer build graphs with it

ModelFactory = Callable[..., Path]
# Set by .ci/run where it tests the built wheel in a venv without onnx: the package must
# come from site-packages, not this checkout, and a tiny model that is not committed is a
# failure there, not a skip (the runtime tests must all run without onnx).
INSTALLED_ENV = "LITESR_TESTS_INSTALLED"
_COMMITTED = frozenset(COMMITTED)


def pytest_report_header(config: pytest.Config) -> str:
    import litesr_edge

    return f"litesr_edge: {Path(litesr_edge.__file__).parent}"


def pytest_configure(config: pytest.Config) -> None:
    if not os.environ.get(INSTALLED_ENV):
        return
    import litesr_edge

    where = Path(litesr_edge.__file__).resolve()
    if where.is_relative_to(config.rootpath.resolve()):
        raise pytest.UsageError(f"{INSTALLED_ENV} is set but litesr_edge was imported from the checkout ({where}); "
                                "run pytest from outside it with python -P")


def _model_bytes(spec: TinySpec) -> bytes:
    if spec in _COMMITTED:
        return (TINY_DIR / spec.filename).read_bytes()
    if os.environ.get(INSTALLED_ENV):
        pytest.fail(f"tiny model {spec} is not committed; add it to COMMITTED in tests/make_fixtures.py "
                    "and run python tests/make_fixtures.py --tiny")
    return build_spec(spec)


@pytest.fixture(scope="session")
def tiny_model_factory(tmp_path_factory: pytest.TempPathFactory) -> ModelFactory:
    """``make(scale=4, depth=2, channels=4, seed=0, receptive_field=None, metadata=None, folder=None,
    name=None, fast=False, int8=False, residual=False, foreign=False)``.

    Returns the path of the saved model; identical requests share one file
    unless ``folder`` is given (then the model is written there). ``int8`` (implies
    ``fast``) quantizes the graph as the exporter does for a QAT checkpoint
    (``export.fast_graph.rewrite_for_int8`` + ``export.quantize``), with post-training
    scales: every activation 4/255, weights max|w|/127 per channel; ``residual`` stores the
    recurrent weight as W - identity and adds the input back (the form of the bundled int8 models).
    ``foreign`` drops all metadata (an ONNX file litesr-edge did not export).
    """
    root = tmp_path_factory.mktemp("tiny_models")
    cache: dict[TinySpec, Path] = {}

    def make(
        scale: int = 4,
        depth: int = 2,
        channels: int = 4,
        seed: int = 0,
        receptive_field: int | None = None,
        metadata: dict[str, str] | None = None,
        folder: Path | None = None,
        name: str | None = None,
        fast: bool = False,
        int8: bool = False,
        residual: bool = False,
        foreign: bool = False,
    ) -> Path:
        form = "int8" if int8 else "fast" if fast else "resize"
        spec = normalize(TinySpec(scale, depth, channels, seed, receptive_field,
                                  tuple(sorted((metadata or {}).items())), form, residual, foreign))
        if folder is None and spec in cache:
            return cache[spec]
        # A copy, never the committed file itself: a test may edit what it is given.
        path = (folder or root) / (name or f"tiny_{len(cache)}_x{scale}_d{depth}.onnx")
        path.write_bytes(_model_bytes(spec))
        if folder is None:
            cache[spec] = path
        return path

    return make


@pytest.fixture(scope="session")
def tiny_models(tiny_model_factory: ModelFactory) -> dict[int, Path]:
    """One tiny model per scale 2, 3, 4."""
    return {s: tiny_model_factory(scale=s) for s in (2, 3, 4)}


@pytest.fixture
def bundled_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_model_factory: ModelFactory) -> Path:
    """A temporary 'bundled models' folder (x2 and x4, depth 2) that the runtime looks in."""
    import litesr_edge.registry as models

    folder = tmp_path / "bundled"
    folder.mkdir()
    tiny_model_factory(scale=2, depth=2, folder=folder, name="a.onnx")
    tiny_model_factory(scale=4, depth=2, folder=folder, name="b.onnx")
    monkeypatch.setattr(models, "MODELS_DIR", folder)
    return folder
