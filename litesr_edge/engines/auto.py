"""``engine="auto"`` (the default): the fastest engine/precision that runs here and meets the accuracy bar.

The decision comes from CPU features and a committed, measured table
(:mod:`litesr_edge.engines._auto_table`), not from a timing probe at start-up: a probe on a
shared 2-core machine measures the neighbours as much as the engines (the same candidate
varied 2x between rounds in our records), would pick different engines on different runs,
and so make outputs differ between runs; the table is deterministic, reviewable and costs
nothing at start-up (docs/engines.md).

An engine/precision qualifies when the table, for this CPU's class, has it measured on every
required source (Set5, Set14, the synthetic hard cases) with every image within BAR_DB of
ONNX Runtime fp32, and at least MIN_GAIN times as fast. Every image of the model that runs,
where the table has that bundled model's own row (bf16 on AMX passes at x4 d19 and fails at
x2 on one hard case); else every image of every bundled model. The fastest qualifying one that can
run here (package installed, CPU support, a model file in that precision) is chosen; else the
reference, ONNX Runtime fp32. A GPU provider (or an explicit non-CPU one) means ONNX Runtime:
OpenVINO runs on the CPU only. An explicit precision skips the accuracy bar (the caller chose
that precision's accuracy) and picks the fastest engine for it. A user's model file is
considered in its stored precision only: the table was measured on the bundled models.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from litesr_edge.engines import _auto_table as table
from litesr_edge.engines.cpu import CPU_CLASSES, cpu_class
from litesr_edge.engines.resolve import FALLBACK_ENGINE, Request, Resolved, open_engine
from litesr_edge.errors import LiteSRError

__all__ = ["BAR_DB", "MIN_GAIN", "Choice", "choose", "open_auto", "stale", "unavailable"]

BAR_DB = 0.05
# Below this gain the reference stays: a few percent is within the noise of our records.
MIN_GAIN = 1.1
REFERENCE = "onnxruntime fp32"
_CPU_PROVIDERS = frozenset({"cpu", "cpuexecutionprovider"})
_LOG = logging.getLogger("litesr_edge")


@dataclass(frozen=True)
class Choice:
    """What auto picked (``engine``, ``precision``; None = the engine's default) and why, in words."""

    engine: str
    precision: str | None
    why: str

    @property
    def line(self) -> str:
        """``engine auto -> <engine> <precision>: <why>``, the one line ``info`` and ``-v`` print."""
        return f"engine auto -> {self.engine} {self.precision or 'fp32'}: {self.why}"


def worst_image(found: table.Evidence, source: Path | tuple[int, int]) -> tuple[float, str]:
    """The worst per-image change that judges ``source``, and whose it is.

    A bundled model (``(scale, depth)``) measured on its own is judged by its own images; a
    user's file, or a model the table has no row of its own for, by the worst of all models.
    """
    if isinstance(source, tuple):
        name = f"x{source[0]} d{source[1]}"
        if name in found.get("by_model", {}):
            return found["by_model"][name], name
    return found["worst_image_db"], "all bundled models"


def stale(found: table.Evidence, key: str, source: Path | tuple[int, int]) -> str | None:
    """Why ``found``'s own row for the bundled model ``source`` is not about the file that would run; None if it is."""
    if not isinstance(source, tuple) or worst_image(found, source)[1] == "all bundled models":
        return None
    from litesr_edge.registry import file_digest, find_model, model_for_precision

    name = f"x{source[0]} d{source[1]}"
    try:
        path = model_for_precision(find_model(*source).path, key.split()[1])
    except LiteSRError:
        return None  # no such file here: unavailable() says so
    if found.get("files", {}).get(name) == file_digest(path):
        return None
    # Said in a user's terms: an installed package cannot remeasure its own table.
    return f"measured on an earlier {name} file than {path.name}, not yet remeasured on this CPU class"


def evidence_problem(cls: str, key: str, source: Path | tuple[int, int]) -> str | None:
    """Why ``key`` ("openvino fp32"...) fails the accuracy bar for ``source`` on ``cls`` CPUs; None if it passes."""
    if key == REFERENCE:
        return None
    found = table.ACCURACY.get(cls, {}).get(key)
    if found is None:
        return "accuracy not measured on this CPU class"
    missing = [s for s in table.REQUIRED_SOURCES if s not in found["sources"]]
    if missing:
        return f"not measured on {', '.join(missing)}"
    outdated = stale(found, key, source)
    if outdated is not None:
        return outdated
    worst, whose = worst_image(found, source)
    if abs(worst) > BAR_DB:
        return f"worst image {worst:+.3f} dB on {whose} (bar {BAR_DB} dB)"
    return None


def _openvino_problem(precision: str) -> str | None:
    if importlib.util.find_spec("openvino") is None:
        return "openvino is not installed (pip install 'litesr-edge[openvino]')"
    if precision == "fp32":
        return None
    from litesr_edge.engines.openvino import bf16_supported, int8_supported

    try:
        supported = bf16_supported() if precision == "bf16" else int8_supported()
    except RuntimeError as exc:  # a broken CPU plugin: the reference still runs
        return f"openvino's CPU plugin failed ({' '.join(str(exc).split())[:80]})"
    return None if supported else f"openvino reports no {precision} support on this CPU"


def _model_problem(precision: str, source: Path | tuple[int, int]) -> str | None:
    from litesr_edge.registry import find_model
    from litesr_edge.registry.metadata import read_model_info

    if isinstance(source, Path):
        stored = read_model_info(source).precision
        return None if (precision == "int8") == (stored == "int8") else f"the model file stores {stored}"
    if precision != "int8":
        return None
    try:
        find_model(*source, precision="int8")
    except LiteSRError as exc:
        return " ".join(str(exc).split(";")[0].split())
    return None


def unavailable(key: str, source: Path | tuple[int, int]) -> str | None:
    engine, precision = key.split()
    problem = _model_problem(precision, source)
    if problem is None and engine == "openvino":
        problem = _openvino_problem(precision)
    return problem


def _gpu_reason(providers: Sequence[str] | None) -> str | None:
    """Why ONNX Runtime must run (a non-CPU provider asked for or picked by default); None for the CPU."""
    if providers is not None:
        others = [p for p in providers if p.lower() not in _CPU_PROVIDERS]
        return f"providers {', '.join(others)} run on onnxruntime only" if others else None
    from litesr_edge.engines.onnxruntime import available_providers, resolve_providers

    first = resolve_providers(None, available_providers())[0]
    return None if first == "CPUExecutionProvider" else f"{first} available: onnxruntime runs it"


def _ranked(cls: str, precision: str | None) -> list[tuple[str, float]]:
    """Table rows for ``cls`` faster than MIN_GAIN (any speed for an explicit precision), fastest first."""
    rows = [(k, s) for k, s in table.SPEED.get(cls, {}).items() if s >= MIN_GAIN or precision is not None]
    if precision is not None:
        rows = [(k, s) for k, s in rows if k.split()[1] == precision]
    return sorted(rows, key=lambda row: -row[1])


def _stored_precision(source: Path | tuple[int, int]) -> str | None:
    from litesr_edge.registry.metadata import read_model_info

    if isinstance(source, Path) and read_model_info(source).precision == "int8":
        return "int8"  # an int8 file runs as int8 only: pick the fastest engine for it
    return None


def choose(precision: str | None, source: Path | tuple[int, int], providers: Sequence[str] | None) -> Choice:
    """The engine and precision auto runs for this request on this machine, and why."""
    gpu = _gpu_reason(providers)
    if gpu is not None:
        return Choice(FALLBACK_ENGINE, precision, gpu)
    explicit = precision or _stored_precision(source)
    cls = cpu_class()
    where = f"on {CPU_CLASSES[cls]} CPUs (engine table v{table.VERSION})"
    skipped: list[str] = []
    for key, gain in _ranked(cls, explicit):
        problem = None if explicit else evidence_problem(cls, key, source)
        problem = problem or unavailable(key, source)
        if problem is None:
            engine, prec = key.split()
            bar = "" if explicit else ", worst image {:+.4f} dB on {}".format(
                *worst_image(table.ACCURACY[cls][key], source))
            return Choice(engine, prec, f"{gain:.2f}x onnxruntime fp32 {where}{bar}" + _skips(skipped))
        skipped.append(f"{key}: {problem}")
    if explicit == "bf16":  # only openvino runs bf16: let it raise (or fall back) with its own reason
        return Choice("openvino", "bf16", "the only engine with bf16" + _skips(skipped))
    if explicit:
        return Choice(FALLBACK_ENGINE, explicit, f"no faster engine for {explicit} measured {where}" + _skips(skipped))
    if not table.SPEED.get(cls):
        return Choice(FALLBACK_ENGINE, None, f"the exact reference; no measurements {where}")
    return Choice(FALLBACK_ENGINE, None, f"the exact reference; nothing faster qualifies {where}" + _skips(skipped))


def _skips(skipped: list[str]) -> str:
    return f" (not used: {'; '.join(skipped)})" if skipped else ""


def open_auto(request: Request, fallback: bool) -> tuple[Resolved, Choice]:
    """Choose (see :func:`choose`) and build the engine, with the choice.

    Without an explicit precision auto always runs something: a chosen engine that cannot
    start falls back to ONNX Runtime fp32 with its reason (as ``fallback=True`` does, so it is
    warned and recorded). With an explicit precision, ``fallback`` decides, as for any engine.
    """
    choice = choose(request.precision, request.source, request.providers)
    _LOG.info("%s", choice.line)
    wanted = replace(request, kind=choice.engine, precision=choice.precision)
    return open_engine(wanted, fallback or request.precision is None), choice
