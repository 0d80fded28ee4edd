"""Presets for people (``mode="fast" | "balanced" | "best"``, ``--mode``), mapped to measured choices.

* ``balanced``: the auto path (``engine="auto"``, depth 19): the fastest engine/precision whose
  every image stays within 0.05 dB of ONNX Runtime fp32 (litesr_edge.engines.auto).
* ``best``: the fp32 reference (ONNX Runtime fp32, depth 19) with test-time augmentation:
  eight network runs per tile for a measured mean PSNR gain (benchmarks/results/tta.md).
* ``fast``: the cheapest bundled depth and engine/precision whose set means (Set5, Set14 and
  the hard cases; BSD100 too for depths) stay within FAST_BAR_DB of balanced, by the measured table: estimated
  speed = engine speed (x4 depth 19) x depth speed (ONNX Runtime fp32), loss = depth loss +
  the precision's worst set-mean loss. Per-image bars do not apply: fast trades a little.

Explicit ``depth``, ``engine``, ``precision`` and ``tta`` always override the mode's choice.
The names are ``mode`` / ``--mode`` (not "quality": ``--quality N`` is the encoder quality of
JPEG/WebP outputs, and ``--preset`` the video encoder's preset).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, cast

from litesr_edge._args import check_str
from litesr_edge.engines import ENGINES, PRECISIONS
from litesr_edge.engines import _auto_table as table
from litesr_edge.engines.auto import REFERENCE, open_auto, stale, unavailable
from litesr_edge.engines.cpu import CPU_CLASSES, cpu_class
from litesr_edge.engines.resolve import Request, Resolved, open_engine

__all__ = ["AUTO", "FAST_BAR_DB", "MODES", "EngineName", "ModeName", "PrecisionName", "Settings", "engine_name",
           "Opened", "mode_settings", "open_with_mode", "precision_name"]

MODES = ("fast", "balanced", "best")
AUTO = "auto"
FAST_BAR_DB = 0.1
DEFAULT_DEPTH = 19
EngineName = Literal["auto", "onnxruntime", "openvino"]
PrecisionName = Literal["fp32", "bf16", "int8"]
ModeName = Literal["fast", "balanced", "best"]


def engine_name(name: str) -> EngineName:
    """``name`` as an engine name; InvalidInputError (listing the engines) if it is not one."""
    check_str("engine", name, (AUTO, *ENGINES))
    return cast(EngineName, name)


def precision_name(name: str | None) -> PrecisionName | None:
    """``name`` as a precision name (or None); InvalidInputError listing the precisions otherwise."""
    check_str("precision", name, PRECISIONS, optional=True)
    return cast(PrecisionName | None, name)


@dataclass(frozen=True)
class Settings:
    """What a mode resolves to: depth (None: the model's), engine, precision (None: the engine's), tta, why."""

    depth: int | None
    engine: str
    precision: str | None
    tta: bool
    why: str | None = None


def mode_settings(mode: str | None, scale: int | None, depth: int | None, engine: str, precision: str | None,
                  tta: bool | None, model: Path | None = None) -> Settings:
    """The settings ``mode`` gives, with the explicit arguments (not None, engine not "auto") winning."""
    check_str("mode", mode, MODES, optional=True)
    if mode == "best":
        eng = engine if engine != AUTO else "onnxruntime"
        return Settings(depth, eng, precision or "fp32", True if tta is None else tta,
                        "mode best -> onnxruntime fp32 + test-time augmentation: the fp32 reference, about 8x slower")
    if mode != "fast" or model is not None:
        return Settings(depth, engine, precision, bool(tta))
    depth_, engine_, precision_, why = fast_choice(scale or 4, depth, engine, precision)
    return Settings(depth_, engine_, precision_, bool(tta), why)


def _depth_speed(cls: str) -> dict[int, float]:
    # Depth costs are arithmetic, about the same on every CPU: another class's numbers serve
    # where this class has none (and only depth 19 without any).
    rows = table.DEPTH_SPEED.get(cls) or next(iter(table.DEPTH_SPEED.values()), {})
    return {**rows, DEFAULT_DEPTH: 1.0}


def _engine_rows(cls: str, engine: str, precision: str | None) -> list[tuple[str, float, float]]:
    """(key, speed, worst set-mean loss) of engines/precisions with set means measured on this class."""
    rows = [(REFERENCE, 1.0, 0.0)]
    for key, gain in table.SPEED.get(cls, {}).items():
        found = table.ACCURACY.get(cls, {}).get(key)
        # Set means of every required source (the hard cases too: fast must not wreck text and line art).
        if found is not None and set(table.REQUIRED_SOURCES) <= set(found["sources"]):
            rows.append((key, gain, found["worst_set_mean_db"]))
    return [r for r in rows if engine in (AUTO, r[0].split()[0]) and precision in (None, r[0].split()[1])]


def _usable(cls: str, key: str, source: tuple[int, int]) -> bool:
    # Its numbers must be of the file that would run (a retrained model's old rows do not count).
    found = table.ACCURACY.get(cls, {}).get(key)
    outdated = found is not None and stale(found, key, source) is not None
    return not outdated and unavailable(key, source) is None


def fast_choice(scale: int, depth: int | None, engine: str, precision: str | None) -> tuple[int, str, str, str]:
    """(depth, engine, precision, why) of ``mode="fast"`` at ``scale`` on this machine."""
    cls = cpu_class()
    depths = _depth_speed(cls)
    losses = table.DEPTH_DB.get(scale, {DEFAULT_DEPTH: 0.0})
    options = []
    for d in [depth] if depth is not None else sorted(losses):
        for key, gain, loss in _engine_rows(cls, engine, precision):
            total = losses.get(d, 0.0) + loss
            if d in depths and total >= -FAST_BAR_DB and _usable(cls, key, (scale, d)):
                options.append((gain * depths[d], d, key, total))
    if not options:  # an explicit engine/precision with no measured row: the caller's choice, depth 19
        return depth or DEFAULT_DEPTH, engine if engine != AUTO else "onnxruntime", precision or "fp32", \
            "mode fast -> no measured choice for these settings; running them as given"
    speed, d, key, total = max(options)
    e, p = key.split()
    return d, e, p, (f"mode fast -> {key}, depth {d}: about {speed:.2f}x onnxruntime fp32 depth 19 on "
                     f"{CPU_CLASSES[cls]} CPUs, set means {total:+.3f} dB (bar {FAST_BAR_DB} dB)")


@dataclass(frozen=True)
class Opened:
    """The engine built for an Upscaler, whether it runs TTA, and what auto/the mode chose and why."""

    resolved: Resolved
    tta: bool
    choice: str | None


def open_with_mode(mode: str | None, scale: int | None, depth: int | None, model: Path | None, engine: str,
                   precision: str | None, tta: bool | None, request: Request, fallback: bool) -> Opened:
    """Resolve ``mode`` with the explicit arguments, then build the engine (auto's choice for "auto").

    ``request`` carries providers and threads; its kind, precision and source are replaced here.
    """
    settings = mode_settings(mode, scale, depth, engine, precision, tta, model)
    source: Path | tuple[int, int] = model if model is not None else (
        4 if scale is None else scale, DEFAULT_DEPTH if settings.depth is None else settings.depth)
    wanted = replace(request, kind=settings.engine, precision=settings.precision, source=source)
    if settings.engine != AUTO:
        return Opened(open_engine(wanted, fallback), settings.tta, settings.why)
    resolved, choice = open_auto(wanted, fallback)
    why = choice.line if settings.why is None else f"{settings.why}; {choice.line}"
    return Opened(resolved, settings.tta, why)


def mode_lines(scale: int = 4) -> list[str]:
    """One line per mode: what it runs on this machine at ``scale`` and its measured speed and PSNR."""
    from litesr_edge.engines.auto import choose

    auto = choose(None, (scale, DEFAULT_DEPTH), None)
    fast = fast_choice(scale, None, AUTO, None)[3]
    return [
        auto.line,
        fast,
        "mode balanced -> engine auto at depth 19 (the first line)",
        "mode best -> onnxruntime fp32 + test-time augmentation: about 1/7 the reference's speed; mean PSNR "
        "+0.12 to +0.25 dB on Set5/Set14 at x2-x4 (benchmarks/results/tta.md)",
    ]
