"""Inference engines: one object per model, built once, safe to share between threads.

An engine takes a float32 NCHW RGB batch in [0, 1] and returns the float32
NCHW super-resolved batch (not clamped). ``OrtEngine`` runs ONNX Runtime;
other engines (e.g. OpenVINO) implement the same :class:`Engine` protocol and
register in ``ENGINES``.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray
from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors

from ._errors import EngineUnavailableError, InvalidInputError, LiteSRError, ModelError, ProviderError
from ._modelinfo import ModelInfo
from ._ort_options import make_session_options

__all__ = [
    "AUTO_PROVIDERS",
    "ENGINES",
    "PRECISIONS",
    "Engine",
    "OrtEngine",
    "available_providers",
    "check_precision",
    "create_engine",
    "model_precision",
    "read_model_info",
    "resolve_providers",
]

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
# Inference precisions any engine may be asked for; each engine says which it runs.
# "int8" runs an int8 (QDQ) model file; the others run an fp32 file.
PRECISIONS = ("fp32", "bf16", "int8")
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


def read_model_info(model_path: str | os.PathLike[str]) -> ModelInfo:
    """A model file's ModelInfo, read cheaply (CPU session, no graph optimisation)."""
    path = Path(model_path)
    session = _open_session(path, [CPU], _session_options(1, optimize=False))
    return _model_info(session, path)


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
            raise LiteSRError(
                f"inference failed on a {batch.shape[2]}x{batch.shape[3]} tile with {self._provider}: "
                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}; try a smaller --tile/--max-memory"
            ) from exc
        return np.asarray(result, dtype=np.float32)


# Engine kind -> "module:Class". Modules are imported only when asked for, so an
# engine's optional dependency (e.g. openvino) is never needed by the others.
ENGINES = {
    "onnxruntime": "litesr_edge._engine:OrtEngine",
    "openvino": "litesr_edge._engine_openvino:OpenVinoEngine",
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
