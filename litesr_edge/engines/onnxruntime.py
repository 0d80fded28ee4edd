"""ONNX Runtime engine: the exact reference, on any execution provider (CPU, CUDA, ...)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray
from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors

from litesr_edge.engines import check_precision, model_precision
from litesr_edge.engines._ort_options import make_session_options
from litesr_edge.errors import (
    EngineUnavailableError,
    InvalidInputError,
    LiteSRError,
    ModelError,
    ProviderError,
)
from litesr_edge.registry.info import ModelInfo

__all__ = ["AUTO_PROVIDERS", "OrtEngine", "available_providers", "resolve_providers"]

CPU = "CPUExecutionProvider"
# Preference order for ``providers=None``. CUDA comes before TensorRT because
# TensorRT rebuilds its engine for every new input shape, and tiles vary.
AUTO_PROVIDERS = (
    "CUDAExecutionProvider",
    "TensorrtExecutionProvider",
    "CoreMLExecutionProvider",
    "DmlExecutionProvider",
)
# Short names accepted wherever a provider is named.
PROVIDER_ALIASES = {
    "cpu": CPU,
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "directml": "DmlExecutionProvider",
    "dml": "DmlExecutionProvider",
}
# Providers onnxruntime lists that cannot run a local model.
_NOT_LOCAL = frozenset({"AzureExecutionProvider"})

_ORT_ERRORS: tuple[type[Exception], ...] = (
    ort_errors.Fail,
    ort_errors.InvalidArgument,
    ort_errors.NoSuchFile,
    ort_errors.NoModel,
    ort_errors.InvalidProtobuf,
    ort_errors.InvalidGraph,
    ort_errors.NotImplemented,
    ort_errors.RuntimeException,
)


def available_providers() -> list[str]:
    """ONNX Runtime execution providers usable on this machine, CPU last."""
    return [p for p in ort.get_available_providers() if p not in _NOT_LOCAL]


def resolve_providers(requested: Sequence[str] | None, available: Sequence[str]) -> list[str]:
    """The provider list to open a session with; the first entry is the one wanted.

    ``None`` picks the first available of AUTO_PROVIDERS, else CPU. An explicit
    list may use short names (``cpu``, ``cuda``...); any unavailable entry is a
    ProviderError naming the available ones.
    """
    if requested is None:
        best = next((p for p in AUTO_PROVIDERS if p in available), CPU)
        return [best] if best == CPU else [best, CPU]
    if isinstance(requested, str):
        raise InvalidInputError(f"providers={requested!r} must be a list, e.g. [{requested!r}]")
    if not requested:
        raise InvalidInputError("providers=[] is empty; pass None for automatic choice or e.g. ['cpu']")
    names = [PROVIDER_ALIASES.get(p.lower(), p) for p in requested]
    missing = [p for p in names if p not in available]
    if missing:
        raise ProviderError(
            f"execution provider {', '.join(missing)} is not available in this onnxruntime; "
            f"available: {', '.join(available)} (GPU providers need onnxruntime-gpu or similar)"
        )
    return names if CPU in names else [*names, CPU]


def _session_options(threads: int | None, optimize: bool) -> ort.SessionOptions:
    # Tuned and measured in _ort_options (benchmarks/results/ort_tuning.md).
    return make_session_options(threads, optimize)


def _open_session(
    model_path: Path, providers: list[str], options: ort.SessionOptions
) -> ort.InferenceSession:
    if not model_path.is_file():
        raise ModelError(f"model file {model_path} does not exist; check the path")
    try:
        return ort.InferenceSession(os.fspath(model_path), options, providers=providers)
    except _ORT_ERRORS as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelError(
            f"{model_path} is not a loadable ONNX model ({reason}); "
            "give a file written by `python -m export`"
        ) from exc


def _model_info(session: ort.InferenceSession, model_path: Path) -> ModelInfo:
    info = ModelInfo.from_metadata(session.get_modelmeta().custom_metadata_map, model_path)
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1 or len(outputs) != 1 or len(inputs[0].shape) != 4 or len(outputs[0].shape) != 4:
        raise ModelError(f"{model_path} must have one NCHW input and one NCHW output; re-export it")
    if inputs[0].shape[1] != 3:
        raise ModelError(f"{model_path} takes {inputs[0].shape[1]} input channels, not 3 (RGB); re-export it")
    return info


class OrtEngine:
    """An ONNX Runtime session for one LiteSRNet model.

    ``providers``: None for automatic choice (see AUTO_PROVIDERS) or an explicit
    list; ``threads``: intra-op threads (None: ONNX Runtime's default);
    ``precision``: "fp32" for an fp32 model file, "int8" for an int8 (QDQ) one
    (None: whichever the file is). "bf16" raises EngineUnavailableError (use
    engine="openvino"); an unknown name raises InvalidInputError.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        providers: Sequence[str] | None = None,
        threads: int | None = None,
        precision: str | None = None,
    ) -> None:
        if precision is not None:
            check_precision(precision)
        if precision == "bf16":
            raise EngineUnavailableError(
                "engine 'onnxruntime' runs fp32 (and int8 models), not precision='bf16'; "
                "use engine='openvino' (--engine openvino) for bf16, or precision='fp32'"
            )
        path = Path(model_path)
        wanted = resolve_providers(providers, available_providers())
        self._session = _open_session(path, wanted, _session_options(threads, optimize=True))
        self._info = _model_info(self._session, path)
        self._precision = model_precision(precision, self._info, "fp32", path)
        actual = self._session.get_providers()[0]
        if actual != wanted[0]:
            raise ProviderError(
                f"{wanted[0]} is installed but failed to start (onnxruntime fell back to {actual}); "
                "check the GPU driver and CUDA/cuDNN libraries, or use the CPU"
            )
        self._provider = str(actual)
        self._input = self._session.get_inputs()[0].name
        self._output = self._session.get_outputs()[0].name

    @property
    def info(self) -> ModelInfo:
        """The model's litesr metadata."""
        return self._info

    @property
    def provider(self) -> str:
        """The execution provider that runs the model."""
        return self._provider

    @property
    def precision(self) -> str:
        """"fp32", or "int8" for an int8 model: ONNX Runtime runs the exported graph as it is."""
        return self._precision

    def run(self, batch: NDArray[np.float32]) -> NDArray[np.float32]:
        """(N, 3, H, W) float32 -> (N, 3, sH, sW) float32 (InferenceSession.run is thread-safe)."""
        try:
            result = self._session.run([self._output], {self._input: batch})[0]
        except _ORT_ERRORS as exc:
            if "alloc" in str(exc).lower():
                raise MemoryError(str(exc)) from exc  # the Upscaler reports it as OutOfMemoryError
            raise LiteSRError(
                f"inference failed on a {batch.shape[2]}x{batch.shape[3]} tile with {self._provider}: "
                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}; try a smaller --tile/--max-memory"
            ) from exc
        return np.asarray(result, dtype=np.float32)


