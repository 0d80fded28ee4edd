"""What a benchmark needs to know about the machine: description, fp32 GEMM peak, memory peaks.

Everything here is measured in the same run as the latencies it is compared with,
because the machines this project runs on are shared and noisy.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["GemmPeak", "gemm_peak", "machine_info", "peak_rss_added_mb"]

_FLAGS_OF_INTEREST = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_int8", "avx512_fp16")
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

# Runs in a child process so that BLAS picks up the thread count from the environment.
_GEMM_CHILD = """
import json, sys, time
import numpy as np
n, seconds = int(sys.argv[1]), float(sys.argv[2])
rng = np.random.default_rng(0)
a = rng.random((n, n), dtype=np.float32)
b = rng.random((n, n), dtype=np.float32)
a @ b
best, count, end = float("inf"), 0, time.perf_counter() + seconds
while time.perf_counter() < end or count < 5:
    t = time.perf_counter()
    a @ b
    best = min(best, time.perf_counter() - t)
    count += 1
print(json.dumps({"best_s": best, "count": count}))
"""


@dataclass(frozen=True)
class GemmPeak:
    """Best fp32 GEMM throughput seen: n x n x n float32 matmul in numpy's BLAS."""

    gmacs: float
    n: int
    threads: int
    repeats: int
    blas: str


def _blas_name() -> str:
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except (TypeError, KeyError, AttributeError):
        return "unknown"


def gemm_peak(threads: int, n: int = 512, seconds: float = 1.5) -> GemmPeak:
    """fp32 GEMM peak with ``threads`` BLAS threads: the best of repeated n^3 matmuls.

    n=512 keeps the operands in L2, as a blocked convolution does, so this is the
    compute roof. The best (not the median) repeat is the peak: on a shared machine
    slower repeats measure the neighbours, not the hardware.
    """
    env = dict(os.environ)
    env.update({var: str(threads) for var in _THREAD_VARS})
    out = subprocess.run(
        [sys.executable, "-c", _GEMM_CHILD, str(n), str(seconds)],
        env=env, capture_output=True, text=True, check=True, timeout=120,
    )
    result = json.loads(out.stdout)
    return GemmPeak(n**3 / result["best_s"] / 1e9, n, threads, int(result["count"]), _blas_name())


def _cpu_model() -> tuple[str, list[str]]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine(), []
    name = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    flags = re.search(r"^flags\s*:\s*(.+)$", text, re.M)
    have = set(flags.group(1).split()) if flags else set()
    return (name.group(1).strip() if name else platform.machine()), [f for f in _FLAGS_OF_INTEREST if f in have]


def _memory_gib() -> float | None:
    try:
        match = re.search(r"^MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
    except OSError:
        return None
    return round(int(match.group(1)) / 2**20, 1) if match else None


def _versions() -> dict[str, str]:
    import onnxruntime

    versions = {"python": platform.python_version(), "numpy": np.__version__, "onnxruntime": onnxruntime.__version__}
    try:
        import openvino

        versions["openvino"] = openvino.__version__.split("-")[0]
    except ModuleNotFoundError:
        versions["openvino"] = "not installed"
    import cv2

    versions["opencv"] = cv2.__version__
    return versions


def machine_info() -> dict[str, object]:
    """CPU, its class (the engine table's, e.g. "x86-64 AVX2"), cores, memory, OS, versions, current load."""
    from litesr_edge.engines.cpu import CPU_CLASSES, cpu_class

    model, flags = _cpu_model()
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return {
        "cpu": model,
        "cpu_flags": flags,
        "cpu_class": CPU_CLASSES[cpu_class()],
        "logical_cpus": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "versions": _versions(),
        "load_average_1m": round(load[0], 2),
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _status_kb(key: str) -> int | None:
    try:
        match = re.search(rf"^{key}:\s*(\d+) kB", Path("/proc/self/status").read_text(), re.M)
    except OSError:
        return None
    return int(match.group(1)) if match else None


def _reset_peak() -> bool:
    # Writing 5 to clear_refs resets VmHWM (the peak RSS) to the current RSS (Linux >= 4.0).
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_rss_added_mb(run: Callable[[], object]) -> float | None:
    """Peak resident memory that ``run()`` adds above the RSS before it, in MiB.

    Linux only (VmHWM after a reset of the peak); None where that is unavailable,
    rather than a number that would mean something else.
    """
    before = _status_kb("VmRSS")
    if before is None or not _reset_peak():
        return None
    run()
    peak = _status_kb("VmHWM")
    return None if peak is None else max(0, peak - before) / 1024
