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
