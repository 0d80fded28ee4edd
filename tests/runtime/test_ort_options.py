"""make_session_options: the tuned ONNX Runtime settings the engine uses."""

from __future__ import annotations

import onnxruntime as ort
import pytest

from litesr_edge.engines._ort_options import make_session_options
from litesr_edge.errors import InvalidInputError


def test_tuned_settings() -> None:
    options = make_session_options(2)
    assert options.intra_op_num_threads == 2
    assert options.inter_op_num_threads == 1
    assert options.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL
    assert options.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    spinning = make_session_options(2, spinning=True)
    assert spinning.get_session_config_entry("session.intra_op.allow_spinning") == "1"
    assert options.log_severity_level == 4


def test_defaults_and_metadata_only_sessions() -> None:
    assert make_session_options().intra_op_num_threads == 0  # ONNX Runtime's choice
    cheap = make_session_options(1, optimize=False)
    assert cheap.graph_optimization_level == ort.GraphOptimizationLevel.ORT_DISABLE_ALL


def test_bad_thread_count() -> None:
    with pytest.raises(InvalidInputError, match="threads=0"):
        make_session_options(0)


def test_options_open_a_session(tiny_models) -> None:  # type: ignore[no-untyped-def]
    sess = ort.InferenceSession(str(tiny_models[2]), make_session_options(1), providers=["CPUExecutionProvider"])
    assert sess.get_inputs()[0].name == "lr"
