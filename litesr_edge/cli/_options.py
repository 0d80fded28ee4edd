"""Engine/precision options shared by ``upscale`` and ``eval``, and the engine list of ``info``.

Kept free of onnxruntime imports: ``eval --bicubic`` must run without it.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated

import typer

from litesr_edge.errors import EngineFallbackWarning

ENGINE_HELP = (
    "Inference engine: auto (default: the fastest engine/precision measured to keep every test image within "
    "0.05 dB of the reference on this CPU class; -v and litesr-edge info say which and why), onnxruntime "
    "(the exact reference, any CPU/GPU) or openvino (CPU only, fast in bf16 and int8; needs the openvino extra)."
)
MODE_HELP = (
    "Preset: fast (cheapest depth/precision within 0.1 dB of balanced), balanced (the auto path) or best "
    "(onnxruntime fp32 + --tta, about 8x slower). --engine/--precision/--depth/--tta override it. "
    "Measured speed and PSNR per mode: litesr-edge info."
)
VERBOSE_HELP = "Also print which engine/precision runs and why (one line on stderr)."
PRECISION_HELP = (
    "fp32, bf16 or int8. Default: the engine's own (onnxruntime fp32; openvino bf16 where the CPU has it, "
    "else fp32; int8 for an int8 --model). "
    "int8 runs the bundled int8 model (depth 19): fastest with --engine openvino. "
    "If the engine/precision cannot run here, onnxruntime fp32 runs instead and a note says why."
)
OPENVINO_INSTALL = "pip install 'litesr-edge[openvino]'"
EngineOpt = Annotated[str, typer.Option("--engine", help=ENGINE_HELP, metavar="auto|onnxruntime|openvino")]
ModeOpt = Annotated[
    str | None, typer.Option("--mode", help=MODE_HELP, show_default=False, metavar="fast|balanced|best")
]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help=VERBOSE_HELP)]
PrecisionOpt = Annotated[
    str | None, typer.Option("--precision", help=PRECISION_HELP, show_default=False, metavar="fp32|bf16|int8")
]


@contextmanager
def fallback_as_note() -> Iterator[None]:
    """Silence EngineFallbackWarning: the CLI reports a fallback as one ``note:`` line instead."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EngineFallbackWarning)
        yield


def choice_note(choice: str | None, engine: str, precision: str) -> str:
    """The ``-v`` line: what auto/the mode chose and why, or the engine as asked (after a fallback: what runs)."""
    return " ".join((choice or f"engine {engine} {precision}: as asked (--engine/--precision)").split())


def fallback_note(reason: str | None) -> str | None:
    """``note: <reason>; using onnxruntime fp32`` on one line, or None when nothing fell back."""
    if reason is None:
        return None
    from litesr_edge.upscaler import fallback_message  # deferred: it imports onnxruntime

    return "note: " + " ".join(fallback_message(reason).split())


@dataclass(frozen=True)
class EngineStatus:
    """One engine as ``info`` reports it: installed or not, which precisions run here, one line of text."""

    name: str
    installed: bool
    precisions: dict[str, bool]
    text: str

    @property
    def line(self) -> str:
        """``<name>: <text>``, for the text report."""
        return f"{self.name}: {self.text}"


_ORT = EngineStatus(
    "onnxruntime", True, {"fp32": True, "bf16": False, "int8": True},
    "fp32 usable (the exact reference), int8 usable with an int8 model; bf16 not supported",
)


def engine_statuses() -> list[EngineStatus]:
    """Every engine and what it can run on this machine. Never raises."""
    none = {"fp32": False, "bf16": False, "int8": False}
    try:
        from litesr_edge.engines.openvino import bf16_supported, int8_supported
    except ModuleNotFoundError as exc:
        text = f"not installed ({exc.name!r} is missing); {OPENVINO_INSTALL}"
        return [_ORT, EngineStatus("openvino", False, none, text)]
    try:
        bf16, int8 = bf16_supported(), int8_supported()
    except RuntimeError as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        text = f"installed, but its CPU plugin failed ({reason}); reinstall openvino"
        return [_ORT, EngineStatus("openvino", True, none, text)]
    bf16_text = ("bf16 usable (default; this CPU has AVX512_BF16/AMX)" if bf16
                 else "bf16 NOT usable (this CPU has no AVX512_BF16/AMX)")
    int8_text = "int8 usable with an int8 model" if int8 else "int8 NOT usable (no int8 kernels on this CPU)"
    usable = {"fp32": True, "bf16": bf16, "int8": int8}
    return [_ORT, EngineStatus("openvino", True, usable, f"fp32 usable; {bf16_text}; {int8_text}")]


def engine_lines() -> list[str]:
    """One line per engine: which precisions run on this machine, or why not. Never raises."""
    return [status.line for status in engine_statuses()]
