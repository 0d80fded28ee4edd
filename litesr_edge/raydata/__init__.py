"""Scale out on Ray Data: the same files, the same pixels as one machine, on many.

Needs the optional extra: ``pip install 'litesr-edge[ray]'``. Importing this package
does not import ``ray``; the first call that needs it does (ClusterError with the
install hint if it is missing).

    >>> from litesr_edge.raydata import WorkerSpec, connected, upscale_folder
    >>> with connected("auto"):                                  # or None: a local cluster
    ...     report = upscale_folder("photos/", "out/", WorkerSpec(scale=4, threads=2), workers=8)
    >>> [(s.src, s.reason) for s in report.failed]

Each Ray actor builds one Upscaler (``WorkerSpec.build``) in its ``__init__`` and
reuses it for every batch; ONNX Runtime runs ``threads`` threads in it, the CPUs Ray
reserves for the actor. For files, rows are paths and statuses (never pixels): the
actor reads, upscales and atomically writes each file itself, with the same per-file
function as the local run. The package is named ``raydata``, not ``ray``, so that
``from litesr_edge import raydata`` can never be mistaken for (or shadow) ``ray`` itself.
"""

from __future__ import annotations

from litesr_edge.errors import ClusterError
from litesr_edge.raydata._errors import ray_errors, translate
from litesr_edge.raydata._run import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_RETRIES,
    SKIPPED,
    FileStatus,
    Report,
    folder_pairs,
    iter_statuses,
    pool_size,
    upscale_dataset,
    upscale_files,
    upscale_folder,
)
from litesr_edge.raydata._session import RAY_INSTALL, connected, import_ray
from litesr_edge.raydata._worker import FAILED, WRITTEN, ArrayWorker, FileJob, FileWorker, WorkerSpec, upscale_file

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_RETRIES",
    "FAILED",
    "RAY_INSTALL",
    "SKIPPED",
    "WRITTEN",
    "ArrayWorker",
    "ClusterError",
    "FileJob",
    "FileStatus",
    "FileWorker",
    "Report",
    "WorkerSpec",
    "connected",
    "folder_pairs",
    "import_ray",
    "iter_statuses",
    "pool_size",
    "ray_errors",
    "translate",
    "upscale_dataset",
    "upscale_file",
    "upscale_files",
    "upscale_folder",
]
