"""ONNX Runtime session options for running LiteSRNet on the CPU provider.

The choices and their measurements are in benchmarks/results/ort_tuning.md (made by
``python -m benchmarks.ort_tuning``); in short, by effect:

1. The graph matters more than the options: the exporter's sub-pixel rewrite
   (export/fast_graph.py) avoids ORT's generic ConvTranspose and cubic Resize kernels.
2. ``ORT_ENABLE_ALL`` (it includes the NCHWc layout transformer), ORT's default, set here
   so nobody "optimises" it away.
3. One intra-op thread per core.
4. No spinning: a spinning worker burns the time slice a straggling peer needs when the
   cores are shared, and idle workers sleeping uses less CPU.

Fixed input shapes, IO binding, denormals-as-zero and parallel execution were tried and
not kept (within the noise, or needing a session per shape).
"""

from __future__ import annotations

import onnxruntime as ort

from litesr_edge.errors import InvalidInputError


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
