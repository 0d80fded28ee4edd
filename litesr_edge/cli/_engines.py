"""Engine/precision options shared by ``upscale`` and ``eval``, and the engine list of ``info``.

Kept free of onnxruntime imports: ``eval --bicubic`` must run without it.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from .._errors import EngineFallbackWarning

ENGINE_HELP = (
    "Inference engine: onnxruntime (exact reference, any CPU/GPU) or openvino "
    "(CPU only, fast in bf16; needs the openvino extra, see litesr-edge info)."
)
PRECISION_HELP = (
    "fp32 or bf16. Default: the engine's own (onnxruntime fp32, openvino bf16). "
    "If the engine/precision cannot run here, onnxruntime fp32 runs instead and a note says why."
)
OPENVINO_INSTALL = "pip install 'litesr-edge[openvino]'"


@contextmanager
def fallback_as_note() -> Iterator[None]:
    """Silence EngineFallbackWarning: the CLI reports a fallback as one ``note:`` line instead."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EngineFallbackWarning)
        yield


def fallback_note(reason: str | None) -> str | None:
    """``note: <reason>; using onnxruntime fp32`` on one line, or None when nothing fell back."""
    if reason is None:
        return None
    from .._upscaler import fallback_message  # deferred: it imports onnxruntime

    return "note: " + " ".join(fallback_message(reason).split())


def engine_lines() -> list[str]:
    """One line per engine: which precisions run on this machine, or why not. Never raises."""
    lines = ["onnxruntime: fp32 usable (default engine; bf16 not supported, use openvino)"]
    try:
        from .._engine_openvino import bf16_supported
    except ModuleNotFoundError as exc:
        return [*lines, f"openvino: not installed ({exc.name!r} is missing); {OPENVINO_INSTALL}"]
    try:
        bf16 = bf16_supported()
    except RuntimeError as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        return [*lines, f"openvino: installed, but its CPU plugin failed ({reason}); reinstall openvino"]
    if bf16:
        return [*lines, "openvino: fp32 usable; bf16 usable (default; this CPU has AVX512_BF16/AMX)"]
    return [*lines, "openvino: fp32 usable; bf16 NOT usable (this CPU has no AVX512_BF16/AMX)"]
