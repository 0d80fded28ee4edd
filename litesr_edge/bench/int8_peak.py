"""The CPU's int8 compute roof, measured beside the fp32 one, so int8 rows show their % of the limit.

The int8 peak is the best throughput of an n x n x n int8 GEMM (uint8 activations x int8
weights, int32 accumulation) run by OpenVINO's CPU plugin, the engine that runs the int8
models: a MatMul whose two inputs go through FakeQuantize, which the plugin compiles into
its oneDNN int8 GEMM (``jit_gemm_I8``, VNNI or AMX-INT8 where the CPU has them, AVX2
``vpmaddubsw`` otherwise). The compiled kernel's name is recorded, so a report shows whether
the int8 path really ran. n = 512 keeps the operands in L2, as for the fp32 peak
(:func:`litesr_edge.bench.machine.gemm_peak`); the best repeat is the peak, for the same reason.
None where OpenVINO is not installed: there is no int8 engine to compare with then.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from litesr_edge.bench.machine import GemmPeak

__all__ = ["int8_peak"]


def _opset() -> Any:
    try:
        import openvino.opset13 as ops
    except ModuleNotFoundError:  # openvino < 2025 keeps the opsets under openvino.runtime
        import openvino.runtime.opset13 as ops
    return ops


def _model(n: int) -> Any:
    import openvino as ov

    ops = _opset()
    rng = np.random.default_rng(0)
    lo, hi = ops.constant(np.float32(-1)), ops.constant(np.float32(1))
    a = ops.parameter([n, n], np.float32, name="a")
    w = ops.constant(rng.uniform(-1, 1, (n, n)).astype(np.float32))
    x = ops.fake_quantize(a, lo, hi, lo, hi, 256)  # 256 levels: uint8 activations
    k = ops.fake_quantize(w, lo, hi, lo, hi, 255)  # 255 levels: symmetric int8 weights
    return ov.Model([ops.matmul(x, k, False, False)], [a], "int8_peak")


def _kernel(compiled: Any) -> str:
    """The primitive the plugin chose for the GEMM (e.g. ``jit_gemm_I8``), from the runtime graph."""
    for op in compiled.get_runtime_model().get_ops():
        info = op.get_rt_info()
        if info["layerType"].astype(str) in ("FullyConnected", "MatMul"):
            return f"{info['primitiveType'].astype(str)} ({info['runtimePrecision'].astype(str)})"
    return "unknown kernel"


def int8_peak(threads: int, n: int = 512, seconds: float = 1.5) -> GemmPeak | None:
    """int8 GEMM peak with ``threads`` OpenVINO threads; None without openvino."""
    try:
        import openvino as ov
    except ModuleNotFoundError:
        return None
    config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}
    compiled = ov.Core().compile_model(_model(n), "CPU", config)
    request = compiled.create_infer_request()
    x = np.random.default_rng(1).uniform(-1, 1, (n, n)).astype(np.float32)
    request.infer({0: x})
    best, count, end = float("inf"), 0, time.perf_counter() + seconds
    while time.perf_counter() < end or count < 5:
        start = time.perf_counter()
        request.infer({0: x})
        best = min(best, time.perf_counter() - start)
        count += 1
    version = ov.__version__.split("-")[0]
    return GemmPeak(n**3 / best / 1e9, n, threads, count, f"OpenVINO {version} {_kernel(compiled)}")
