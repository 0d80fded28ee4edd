"""What runs inside each Ray actor: one Upscaler, built once in ``__init__``, then batch after batch.

Batches hold file paths in and small status rows out, so the object store never
carries pixels for a file job: each actor reads its inputs and writes its outputs
itself, one image at a time.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from litesr_edge.errors import EngineFallbackWarning, LiteSRError, OutOfMemoryError
from litesr_edge.io import DEFAULT_MAX_PIXELS
from litesr_edge.registry import MODELS_DIR
from litesr_edge.upscaler import DEFAULT_MAX_MEMORY_MB, EngineName, PrecisionName, Upscaler

# ``job(upscaler, src, dst, overwrite)``: upscale one file; raise LiteSRError on a bad input.
FileJob = Callable[[Upscaler, str, str, bool], None]
Batch = dict[str, NDArray[Any]]
WRITTEN, FAILED = "written", "failed"


@dataclass(frozen=True)
class WorkerSpec:
    """How every actor builds its one :class:`~litesr_edge.Upscaler`: the Upscaler's keywords.

    ``threads`` is both the CPUs Ray reserves for each actor and ONNX Runtime's
    intra-op threads in it, so actors on one node never oversubscribe its cores.
    """

    scale: int | None = None
    depth: int | None = None
    model: str | None = None
    providers: tuple[str, ...] | None = None
    tile: int | None = None
    max_memory_mb: float = DEFAULT_MAX_MEMORY_MB
    max_pixels: int = DEFAULT_MAX_PIXELS
    engine: EngineName = "onnxruntime"
    precision: PrecisionName | None = None
    fallback: bool = False
    tta: bool = False
    threads: int = 1

    def build(self) -> Upscaler:
        """The Upscaler this spec describes (an EngineFallbackWarning stays silent: see ``fallback``)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EngineFallbackWarning)
            return Upscaler(
                scale=self.scale, depth=self.depth, model=self.model,
                providers=None if self.providers is None else list(self.providers), tile=self.tile,
                max_memory_mb=self.max_memory_mb, threads=self.threads, max_pixels=self.max_pixels,
                engine=self.engine, precision=self.precision, fallback=self.fallback, tta=self.tta,
            )

    @classmethod
    def like(cls, upscaler: Upscaler, *, threads: int = 1, providers: tuple[str, ...] | None = None) -> WorkerSpec:
        """The spec that rebuilds ``upscaler`` on every worker: same model, engine, precision and tile.

        The engine and precision are the ones ``upscaler`` resolved to (after any
        fallback), with no fallback on the workers, so that every node runs exactly
        what ran here or fails loudly. A bundled model is named by scale and depth
        (its path differs between machines); a custom one by its path, which every
        node must be able to read.
        """
        info, path = upscaler.info, upscaler.model_path
        bundled = path.resolve().parent == MODELS_DIR.resolve()
        return cls(
            scale=info.scale, depth=info.depth, model=None if bundled else str(path), providers=providers,
            tile=upscaler.tile, max_pixels=upscaler.max_pixels, engine=_engine(upscaler.engine),
            precision=_precision(upscaler.precision), tta=upscaler.tta, threads=threads,
        )


def _engine(name: str) -> EngineName:
    return "openvino" if name == "openvino" else "onnxruntime"


def _precision(name: str) -> PrecisionName:
    return "bf16" if name == "bf16" else "int8" if name == "int8" else "fp32"


def upscale_file(upscaler: Upscaler, src: str, dst: str, overwrite: bool) -> None:
    """The default per-file job: :meth:`Upscaler.upscale_file`, MemoryError as OutOfMemoryError."""
    try:
        upscaler.upscale_file(src, dst, overwrite=overwrite)
    except OutOfMemoryError:
        raise
    except MemoryError as exc:
        detail = " ".join(str(exc).split()) or "an allocation failed"
        raise OutOfMemoryError(f"{src}: out of memory ({detail}); lower max_memory_mb or tile") from exc


def _node_id() -> str:
    import ray  # only ever called inside a Ray actor, where ray is importable

    return str(ray.get_runtime_context().get_node_id())


class FileWorker:
    """Ray Data callable class: ``{index, src, dst, fresh}`` rows in, status rows out.

    ``fresh`` says the output did not exist when the run was planned. A fresh output
    that exists now was written, whole (writes are atomic), by an earlier attempt of
    this same batch, one whose actor died; the retry counts it as written instead of
    failing on "already exists". So a retried batch writes every output exactly once.
    """

    def __init__(self, spec: WorkerSpec, overwrite: bool, job: FileJob | None = None) -> None:
        self._upscaler = spec.build()
        self._overwrite = overwrite
        self._job: FileJob = upscale_file if job is None else job
        self._node = _node_id()

    def _one(self, src: str, dst: str, fresh: bool) -> tuple[str, str]:
        if fresh and not self._overwrite and os.path.lexists(dst):
            return WRITTEN, ""
        try:
            self._job(self._upscaler, src, dst, self._overwrite)
        except LiteSRError as exc:
            return FAILED, " ".join(str(exc).split())
        return WRITTEN, ""

    def __call__(self, batch: Batch) -> Batch:
        """Upscale every file of ``batch``; return one status row per file (no pixels)."""
        outcomes, reasons, seconds = [], [], []
        for src, dst, fresh in zip(batch["src"], batch["dst"], batch["fresh"], strict=True):
            start = time.perf_counter()
            outcome, reason = self._one(str(src), str(dst), bool(fresh))
            outcomes.append(outcome)
            reasons.append(reason)
            seconds.append(time.perf_counter() - start)
        count = len(outcomes)
        return {
            "index": np.asarray(batch["index"]), "outcome": np.array(outcomes, dtype=object),
            "reason": np.array(reasons, dtype=object), "seconds": np.array(seconds, dtype=np.float64),
            "node": np.array([self._node] * count, dtype=object), "pid": np.full(count, os.getpid()),
        }


class ArrayWorker:
    """Ray Data callable class: upscales the image arrays of one column, batch by batch."""

    def __init__(self, spec: WorkerSpec, column: str) -> None:
        self._upscaler = spec.build()
        self._column = column

    def __call__(self, batch: Batch) -> Batch:
        """``batch`` with ``column`` replaced by the upscaled images (same dtype and layout each)."""
        images = [self._upscaler.upscale(image) for image in batch[self._column]]
        shapes = {image.shape for image in images}
        if len(shapes) == 1:  # Ray Data keeps equal shapes as one tensor column
            column = np.stack(images)
        else:
            column = np.empty(len(images), dtype=object)
            for i, image in enumerate(images):  # element by element: a slice assignment would broadcast
                column[i] = image
        return {**batch, self._column: column}
