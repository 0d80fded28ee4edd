"""What this CPU can run fast, and a switch that hides features to test the paths without them.

``LITESR_EDGE_HIDE_CPU`` (comma-separated: ``bf16``, ``amx``, ``vnni``, ``int8``, or ``all``)
makes the library believe the CPU lacks those features, so that the fallbacks and skips
taken on a CPU without them run on any machine (``.ci/run`` runs the suite once that way).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from litesr_edge.errors import InvalidInputError

HIDE_ENV = "LITESR_EDGE_HIDE_CPU"
FEATURES = ("bf16", "amx", "vnni", "int8")
# /proc/cpuinfo flags that give each feature (any one suffices).
_FLAGS = {
    "bf16": ("avx512_bf16", "amx_bf16"),
    "amx": ("amx_tile",),
    "vnni": ("avx512_vnni", "avx_vnni"),
}


def hidden_features() -> frozenset[str]:
    """The features ``LITESR_EDGE_HIDE_CPU`` hides (read at every call, so tests may set it)."""
    raw = os.environ.get(HIDE_ENV, "").strip().lower()
    if not raw:
        return frozenset()
    names = {n.strip() for n in raw.split(",") if n.strip()}
    if "all" in names:
        return frozenset(FEATURES)
    unknown = sorted(names - set(FEATURES))
    if unknown:
        raise InvalidInputError(
            f"{HIDE_ENV}={raw!r} names unknown features {', '.join(unknown)}; "
            f"use a comma-separated list of {', '.join(FEATURES)}, or all"
        )
    return frozenset(names)


@lru_cache(maxsize=1)
def _cpuinfo_flags() -> frozenset[str]:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:  # not Linux: the engines' own probes still decide bf16 and int8
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def has_flag(feature: str) -> bool:
    """Whether /proc/cpuinfo lists ``feature`` ("bf16", "amx" or "vnni") and it is not hidden."""
    if feature in hidden_features():
        return False
    return any(flag in _cpuinfo_flags() for flag in _FLAGS.get(feature, ()))


def visible(feature: str, reported: bool) -> bool:
    """``reported`` (an engine's own probe) unless ``LITESR_EDGE_HIDE_CPU`` hides ``feature``."""
    return reported and feature not in hidden_features()


# CPU classes the engine table (litesr_edge.engines._auto_table) is measured per, fastest first:
# the class decides which engine/precision is fastest, so a new class needs its own measurements.
CPU_CLASSES = {"amx": "x86-64 AMX", "avx512": "x86-64 AVX-512", "avx2": "x86-64 AVX2", "other": "other"}


def cpu_class() -> str:
    """This CPU's class: "amx", "avx512", "avx2" or "other" (a key of CPU_CLASSES).

    ``LITESR_EDGE_HIDE_CPU=amx`` (or all) hides AMX, so the class drops to what is left.
    """
    flags = _cpuinfo_flags()
    if has_flag("amx") and "amx_int8" in flags:
        return "amx"
    if "avx512f" in flags:
        return "avx512"
    return "avx2" if "avx2" in flags else "other"
