"""Argument checks for the public API: a wrong type or value is an InvalidInputError naming both."""

from __future__ import annotations

import math
import os
from collections.abc import Collection, Sequence
from pathlib import Path

from litesr_edge.errors import InvalidInputError


def _bad(name: str, value: object, want: str) -> InvalidInputError:
    return InvalidInputError(f"{name}={value!r} must be {want}, not {type(value).__name__}")


def check_int(name: str, value: object, *, minimum: int, optional: bool = False, hint: str = "") -> None:
    """``value`` is an int >= ``minimum`` (bool is not an int here), or None if ``optional``."""
    if value is None and optional:
        return
    want = f"an int >= {minimum}" + (f" ({hint})" if hint else "")
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(name, value, want + (" or None" if optional else ""))
    if value < minimum:
        raise InvalidInputError(f"{name}={value} must be >= {minimum}" + (f" ({hint})" if hint else ""))


def check_number(name: str, value: object, *, hint: str = "") -> None:
    """``value`` is a finite int or float > 0."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(name, value, "a number > 0" + (f" ({hint})" if hint else ""))
    if not (math.isfinite(value) and value > 0):
        raise InvalidInputError(f"{name}={value} must be > 0" + (f" ({hint})" if hint else ""))


def check_str(name: str, value: object, choices: Collection[str], *, optional: bool = False) -> None:
    """``value`` is one of ``choices`` (or None if ``optional``)."""
    if value is None and optional:
        return
    listed = ", ".join(choices)
    if not isinstance(value, str):
        raise _bad(name, value, f"one of {listed}" + (" or None" if optional else ""))
    if value not in choices:
        raise InvalidInputError(f"{name}={value!r} is unknown; choose one of {listed}")


def check_bool(name: str, value: object) -> None:
    """``value`` is True or False."""
    if not isinstance(value, bool):
        raise _bad(name, value, "True or False")


def check_path(name: str, value: object) -> Path:
    """``value`` as a Path, if it is a str or os.PathLike."""
    if not isinstance(value, str | os.PathLike):
        raise _bad(name, value, "a file path (str or pathlib.Path)")
    return Path(value)


def check_providers(value: object) -> Sequence[str] | None:
    """None, or a list/tuple of provider names."""
    if value is None:
        return None
    if isinstance(value, str):
        raise InvalidInputError(f"providers={value!r} must be a list, e.g. [{value!r}]")
    if not isinstance(value, Sequence) or not all(isinstance(p, str) for p in value):
        raise _bad("providers", value, "a list of provider names such as ['cpu'] or None")
    if not value:  # checked here, not by ONNX Runtime: engine "auto" may pick another engine
        raise InvalidInputError("providers=[] is empty; pass None for automatic choice or e.g. ['cpu']")
    return list(value)
