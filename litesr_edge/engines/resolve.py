"""The one place that decides which model file, engine and precision run, and the fallback.

A request names an engine kind, a precision (or None: the engine's default) and either a
model file or the (scale, depth) of a bundled model. ``open_engine`` picks the file stored
in the precision asked for (the bundled int8 file for "int8"), builds the engine, and when
that engine or precision cannot run here (EngineUnavailableError) and ``fallback`` is set,
runs ONNX Runtime fp32 on the fp32 file instead, with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from litesr_edge.engines import Engine, create_engine
from litesr_edge.errors import EngineUnavailableError
from litesr_edge.registry import find_model

# What ``fallback=True`` runs when the requested engine/precision cannot run here.
FALLBACK_ENGINE = "onnxruntime"
FALLBACK_PRECISION = "fp32"


@dataclass(frozen=True)
class Resolved:
    """The engine that runs, on which file, and why it is not the one asked for (None if it is)."""

    path: Path
    engine: Engine
    kind: str
    fallback_reason: str | None


@dataclass(frozen=True)
class Request:
    """What a caller asked for; ``source`` is a model file or a bundled (scale, depth)."""

    kind: str
    precision: str | None
    source: Path | tuple[int, int]
    providers: Sequence[str] | None
    threads: int | None


def stored_precision(precision: str | None) -> str:
    """The model-file precision that runs in ``precision``: int8 files for "int8", else fp32."""
    return "int8" if precision == "int8" else "fp32"


def _model_file(source: Path | tuple[int, int], precision: str | None) -> Path:
    if isinstance(source, Path):
        return source
    return find_model(*source, precision=stored_precision(precision)).path


def open_engine(request: Request, fallback: bool) -> Resolved:
    """Build the requested engine, or with ``fallback`` ONNX Runtime fp32 when it cannot run here."""
    try:
        path = _model_file(request.source, request.precision)
        engine = create_engine(request.kind, path, request.providers, request.threads, request.precision)
        return Resolved(path, engine, request.kind, None)
    except EngineUnavailableError as exc:
        wanted = (request.kind, request.precision or FALLBACK_PRECISION)
        if not fallback or wanted == (FALLBACK_ENGINE, FALLBACK_PRECISION):
            raise
        reason = str(exc)
    # A user's file runs as it is stored; a bundled model falls back to its fp32 file.
    path = _model_file(request.source, None)
    engine = create_engine(FALLBACK_ENGINE, path, request.providers, request.threads, None)
    return Resolved(path, engine, FALLBACK_ENGINE, reason)


def fallback_message(reason: str, precision: str = FALLBACK_PRECISION) -> str:
    """The one-line explanation of a fallback: ``<reason>; using onnxruntime fp32``."""
    return f"{reason.rstrip('. ')}; using {FALLBACK_ENGINE} {precision}"
