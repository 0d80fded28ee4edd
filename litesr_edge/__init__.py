"""litesr-edge: exact, memory-bounded LiteSRNet super-resolution on ONNX Runtime or OpenVINO.

    >>> from litesr_edge import Upscaler, read_image, write_image
    >>> up = Upscaler(scale=4)                 # bundled x4 model, best available device
    >>> sr = up.upscale(read_image("in.png"))  # numpy in, numpy out (same dtype)
    >>> up.upscale_file("in.png", "in_x4.png") # or file to file, written atomically

The runtime needs only numpy, onnxruntime, opencv-python-headless, typer and
rich; it never imports torch. Importing this package imports no engine: ONNX
Runtime (or OpenVINO) loads when the first Upscaler is built.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from litesr_edge.errors import (
    DatasetError,
    EngineFallbackWarning,
    EngineUnavailableError,
    ImageReadError,
    ImageTooLargeError,
    ImageWriteError,
    InvalidInputError,
    LiteSRError,
    ModelError,
    OutOfMemoryError,
    ProviderError,
)
from litesr_edge.io import read_image, write_image
from litesr_edge.registry import BundledModel, list_models
from litesr_edge.registry.info import ModelInfo
from litesr_edge.upscaler import Upscaler

# A small CC0 photo for trying the tool right after installing (see data/README.md).
SAMPLE_IMAGE = Path(__file__).resolve().parent / "data" / "sample.png"

try:
    __version__ = version("litesr-edge")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "BundledModel",
    "DatasetError",
    "EngineFallbackWarning",
    "EngineUnavailableError",
    "ImageReadError",
    "ImageTooLargeError",
    "ImageWriteError",
    "InvalidInputError",
    "LiteSRError",
    "ModelError",
    "ModelInfo",
    "OutOfMemoryError",
    "ProviderError",
    "SAMPLE_IMAGE",
    "Upscaler",
    "__version__",
    "available_providers",
    "list_models",
    "read_image",
    "write_image",
]


def available_providers() -> list[str]:
    """ONNX Runtime execution providers usable on this machine, CPU last (imports onnxruntime)."""
    from litesr_edge.engines.onnxruntime import available_providers as ort_providers

    return ort_providers()
