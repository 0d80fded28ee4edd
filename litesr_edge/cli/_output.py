"""The one way the CLI reports a problem: ``error: <message>`` on one stderr line, in flag terms.

The library words its messages for Python callers (``max_memory_mb=0.0``, ``pass
overwrite=True (--overwrite)``); :func:`translate` rewrites them into the flags a shell user
types (``--max-memory 0``, ``pass --overwrite``). Every command prints through here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NoReturn

import typer
from rich.console import Console

from litesr_edge.errors import LiteSRError

# Library keyword -> CLI flag. Only keywords that the CLI exposes as a flag.
FLAGS = {
    "max_memory_mb": "--max-memory",
    "max_pixels": "--max-pixels",
    "tile": "--tile",
    "threads": "--threads",
    "precision": "--precision",
    "engine": "--engine",
    "overwrite": "--overwrite",
    "scale": "--scale",
    "depth": "--depth",
    "model": "--model",
    "outscale": "--outscale",
    "width": "--width",
    "height": "--height",
    "quality": "--quality",
    "strip_metadata": "--strip-metadata",
    "mode": "--mode",
}
_KEYWORD = "|".join(FLAGS)
# A value as the library writes it: 'a' or 'a'/'b' (quoted), or a bare number or word.
_VALUE = r"'[^']*'(?:/'[^']*')*|\"[^\"]*\"|-?\d+(?:\.\d+)?|\w+"


def _number(text: str) -> str:
    try:
        return f"{float(text):g}"
    except ValueError:
        return text


def _flag_value(match: re.Match[str]) -> str:
    flag, value = FLAGS[match["kw"]], match["value"]
    if value == "True":
        return flag
    if value == "None":
        return f"no {flag}"
    return f"{flag} {_number(value.replace(chr(39), '').replace(chr(34), ''))}"


def _flag_only(match: re.Match[str]) -> str:
    # "tile (--tile, now 512)" -> "--tile (now 512)"
    flag, comma, rest = match[1].partition(", ")
    return f"{flag} ({rest})" if comma else flag


Rewrite = tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]

# Applied in order; each later rule sees the earlier rules' output.
REWRITES: tuple[Rewrite, ...] = (
    # "pass overwrite=True (--overwrite)", "raise max_pixels (--max-pixels)": keep the flag only.
    (re.compile(rf"\b(?:{_KEYWORD})(?:=(?:{_VALUE}))? \((--[a-z][a-z-]*[^)]*)\)"), _flag_only),
    (re.compile(r"\bproviders=None\b"), "--device auto"),
    (re.compile(r"\bproviders=\['(\w+)'\]"), r"--device \1"),
    (re.compile(r"\bor \['(\w+)'\]"), r"or --device \1"),
    (re.compile(rf"\b(?P<kw>{_KEYWORD})=(?P<value>{_VALUE})"), _flag_value),
    # Bare keywords that are no English word: "None = from max_memory_mb".
    (re.compile(r"\bmax_memory_mb\b"), "--max-memory"),
    (re.compile(r"\bmax_pixels\b"), "--max-pixels"),
    (re.compile(r"\bNone = "), "unset = "),
    (re.compile(r"\bor None for\b"), "or unset for"),
)


def translate(message: str) -> str:
    """``message`` on one line, with the library's keyword wording rewritten into CLI flags."""
    text = " ".join(message.split())
    for pattern, replacement in REWRITES:
        text = pattern.sub(replacement, text)
    return text


def stderr_console() -> Console:
    """The console for errors, notes and progress (a function so tests can swap it)."""
    return Console(stderr=True)


def print_error(message: str, console: Console | None = None) -> None:
    """Print ``error: <message>`` as exactly one line on stderr (markup off, never wrapped)."""
    out = stderr_console() if console is None else console
    out.print(f"error: {translate(message)}", soft_wrap=True, markup=False, highlight=False)


def print_note(note: str | None, console: Console | None = None) -> None:
    """Print a ``note: ...`` line on stderr, if there is one."""
    if note is not None:
        out = stderr_console() if console is None else console
        out.print(translate(note), soft_wrap=True, markup=False, highlight=False)


def fail(exc: LiteSRError, console: Console | None = None) -> NoReturn:
    """Print ``exc`` as the one error line and exit with its code."""
    print_error(str(exc), console)
    raise typer.Exit(exc.exit_code) from None
