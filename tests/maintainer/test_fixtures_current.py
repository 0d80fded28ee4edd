"""The committed tiny models (tests/fixtures/tiny/) are exactly what tests/make_fixtures.py builds.

The runtime tests load those files instead of building graphs (so they run without
onnx); this rebuilds each one and fails if the builder, the exporter's rewrite or
quantizer, or the file changed without the other.
"""

from __future__ import annotations

import pytest
from make_fixtures import COMMITTED, TINY_DIR, TinySpec, build_spec, normalize

onnx = pytest.importorskip("onnx", reason="rebuilding the tiny models needs onnx (dev extra)")
pytest.importorskip("export.fast_graph", reason="rebuilding the fast/int8 tiny models needs the checkout's export/")

REGENERATE = "regenerate them with: python tests/make_fixtures.py --tiny (and commit tests/fixtures/tiny/)"


@pytest.mark.parametrize("spec", COMMITTED, ids=lambda s: s.filename)
def test_committed_tiny_model_is_current(spec: TinySpec) -> None:
    path = TINY_DIR / spec.filename
    assert path.is_file(), f"{path} is missing; {REGENERATE}"
    built, stored = build_spec(spec), path.read_bytes()
    if built != stored:  # serialization may differ across protobuf versions: compare content too
        assert onnx.load_from_string(built) == onnx.load_from_string(stored), f"{path.name} drifted; {REGENERATE}"


def test_no_stray_or_duplicate_tiny_models() -> None:
    names = [spec.filename for spec in COMMITTED]
    assert len(set(names)) == len(names), "two COMMITTED variants share a file name"
    assert all(normalize(spec) == spec for spec in COMMITTED), "COMMITTED holds a spec the factory never asks for"
    stray = sorted(p.name for p in TINY_DIR.glob("*.onnx") if p.name not in names)
    assert not stray, f"{stray} in {TINY_DIR} belong to no COMMITTED variant; {REGENERATE}"


def test_drift_is_caught() -> None:
    # The check above can fail: a different seed gives a different model.
    spec = COMMITTED[0]
    other = TinySpec(spec.scale, spec.depth, spec.channels, spec.seed + 1)
    assert onnx.load_from_string(build_spec(other)) != onnx.load_from_string((TINY_DIR / spec.filename).read_bytes())
