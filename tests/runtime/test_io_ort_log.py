"""ONNX Runtime must not print its own log lines when a run fails."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from litesr_edge.engines._ort_options import make_session_options


def test_a_failed_allocation_prints_nothing(capfd: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("onnx", reason="building the failing graph needs onnx (dev extra)")
    from onnx import TensorProto, helper

    node = helper.make_node("ConstantOfShape", ["shape"], ["y"])
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("shape", TensorProto.INT64, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    options = make_session_options()
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    with pytest.raises(
        ort.capi.onnxruntime_pybind11_state.Fail, match="allocate"
    ):  # 4 PiB: the arena refuses it at once
        session.run(None, {"shape": np.array([1 << 24, 1 << 24], np.int64)})
    assert capfd.readouterr().err == ""
