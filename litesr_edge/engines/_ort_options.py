"""ONNX Runtime session options for running LiteSRNet on the CPU provider.

Measured with ``python -m benchmarks.ort_tuning`` (x4/depth-19, 320x180 -> 1280x720,
2 threads, round-robin; benchmarks/results/ort_tuning.md). What matters, in order:

1. The graph, not the options: the exporter's sub-pixel rewrite (export/fast_graph.py)
   takes ORT from 0.71 to 0.49 s (ORT's ConvTranspose and cubic Resize kernels are
   generic loops; Conv runs on the blocked AVX-512 path at ~the GEMM peak).
2. ``ORT_ENABLE_ALL`` (it includes the NCHWc layout transformer): EXTENDED is ~1.4x
   slower. It is ORT's default; set here so nobody "optimises" it away.
3. One intra-op thread per core: 1 thread was 1.45x slower than 2.
4. No spinning (``session.intra_op.allow_spinning=0``): idle workers sleep at once. With a
   busy high-priority neighbour (training at nice -15) spinning was 16% slower, because a
   spinning worker burns the time slice its straggling peer needs; on an idle machine the
   two were within noise (one run 7% for spinning, the next 11% against), and not
   spinning always used 10-15% less CPU. ``spinning=True`` restores ORT's default.

Tried and not kept (gains within the run-to-run noise, <= 7%, or needing per-shape
sessions): fixed input shapes (free-dimension overrides), IO binding with a
preallocated output, denormals-as-zero, parallel execution mode.
"""

from __future__ import annotations

import onnxruntime as ort

from litesr_edge.errors import InvalidInputError

__all__ = ["make_session_options"]


def make_session_options(
    threads: int | None = None, optimize: bool = True, spinning: bool = False
) -> ort.SessionOptions:
    """Session options for a LiteSRNet graph on the CPU provider.

    ``threads``: intra-op threads (None: ONNX Runtime's choice, one per physical core).
    ``optimize=False`` disables graph optimisation, for cheap metadata-only sessions.
    ``spinning=True``: idle workers spin-wait (ORT's default; no measurable gain here).
    """
    options = ort.SessionOptions()
    # Fatal only: ORT logs a failed run (e.g. an allocation failure) in red on stderr at
    # ERROR level, and the library does not print; the raised error carries the message.
    options.log_severity_level = 4
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL  # the graph is a chain
    options.inter_op_num_threads = 1
    if threads is not None:
        if threads < 1:
            raise InvalidInputError(f"threads={threads} must be >= 1 (or None for all cores)")
        options.intra_op_num_threads = threads
    options.graph_optimization_level = (
        ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimize else ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    )
    # Spinning workers starve a co-scheduled straggler on a shared CPU (measured above).
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    return options
