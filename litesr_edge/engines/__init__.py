"""Inference engines: one object per model, built once, safe to share between threads.

An engine takes a float32 NCHW RGB batch in [0, 1] and returns the float32 NCHW
super-resolved batch (not clamped). ``onnxruntime`` (the default, any execution provider)
and ``openvino`` (CPU, bf16 and int8) implement :class:`Engine`; each is imported only
when asked for, so an engine's optional package is never needed by the others.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from litesr_edge.errors import EngineUnavailableError, InvalidInputError
from litesr_edge.registry.info import ModelInfo

# Inference precisions any engine may be asked for; each engine says which it runs.
# "int8" runs an int8 (QDQ) model file; the others run an fp32 file.
PRECISIONS = ("fp32", "bf16", "int8")


class Engine(Protocol):
    """What the Upscaler needs from an inference backend.

    Constructors take ``(model_path: Path, providers: Sequence[str] | None,
    threads: int | None, precision: str | None = None)`` (None: "int8" for an
    int8 model file, else the engine's default) and raise
    ModelError / ProviderError / InvalidInputError (unknown precision) /
    EngineUnavailableError (a precision this engine or CPU cannot run);
    ``run`` must be safe to call from many threads.
    """

    @property
    def info(self) -> ModelInfo:
        """The model's litesr metadata."""
        ...

    @property
    def provider(self) -> str:
        """The device/provider that actually runs the model."""
        ...

    @property
    def precision(self) -> str:
        """The inference precision actually used, e.g. "fp32" or "bf16"."""
        ...

    def run(self, batch: NDArray[np.float32]) -> NDArray[np.float32]:
        """(N, 3, H, W) float32 in [0, 1] -> (N, 3, sH, sW) float32, not clamped.

        The result belongs to the caller (a new array, or a view of one: it need not be
        contiguous in this layout), so callers may clamp it in place.
        """
        ...


def check_precision(precision: str) -> None:
    """InvalidInputError unless ``precision`` is one of PRECISIONS."""
    if precision not in PRECISIONS:
        raise InvalidInputError(f"precision={precision!r} is unknown; choose one of {', '.join(PRECISIONS)}")


def model_precision(requested: str | None, info: ModelInfo, default: str, path: Path) -> str:
    """The precision to run a model file in: ``requested`` if the file can run it, else a typed error.

    An int8 (QDQ) file runs as "int8" only (InvalidInputError otherwise: the file is the
    wrong one); "int8" on an fp32 file is an EngineUnavailableError, so a fallback can
    run the fp32 file instead. None: "int8" for an int8 file, else ``default``.
    """
    if requested is not None:
        check_precision(requested)
    if info.precision == "int8":
        if requested not in (None, "int8"):
            raise InvalidInputError(
                f"{path} is an int8 (quantized) model; it runs as precision='int8' only. "
                f"For precision={requested!r} use the fp32 model (drop --model or pass the fp32 file)"
            )
        return "int8"
    if requested == "int8":
        raise EngineUnavailableError(
            f"{path} is an fp32 model; precision='int8' needs an int8 model (the bundled depth-19 ones, "
            "or one made with python -m models.qat, then python -m export)"
        )
    return default if requested is None else requested


# Engine kind -> "module:Class". Modules are imported only when asked for, so an
# engine's optional dependency (e.g. openvino) is never needed by the others.
ENGINES = {
    "onnxruntime": "litesr_edge.engines.onnxruntime:OrtEngine",
    "openvino": "litesr_edge.engines.openvino:OpenVinoEngine",
}


def create_engine(
    kind: str,
    model_path: str | os.PathLike[str],
    providers: Sequence[str] | None,
    threads: int | None,
    precision: str | None = None,
) -> Engine:
    """Build the engine registered under ``kind`` for ``model_path``.

    ``precision``: one of PRECISIONS, or None for the engine's default
    ("fp32" for onnxruntime; for openvino "bf16" where the CPU has it natively, else "fp32";
    "int8" for an int8 model file).
    Raises InvalidInputError for
    an unknown engine or precision, EngineUnavailableError when the engine's
    package is missing or it cannot run ``precision`` here.
    """
    target = ENGINES.get(kind)
    if target is None:
        raise InvalidInputError(f"engine={kind!r} is unknown; choose one of {', '.join(ENGINES)}")
    if precision is not None:
        check_precision(precision)
    module_name, class_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise EngineUnavailableError(
            f"engine {kind!r} needs {exc.name!r}, which is not installed; try pip install 'litesr-edge[{kind}]'"
        ) from exc
    cls = getattr(module, class_name)
    path = Path(model_path)
    if precision is None:  # the constructor's own default
        engine: Engine = cls(path, providers, threads)
    else:
        engine = cls(path, providers, threads, precision=precision)
    return engine
