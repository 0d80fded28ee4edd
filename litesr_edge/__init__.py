"""litesr-edge: exact, memory-bounded LiteSRNet super-resolution on ONNX Runtime.

    >>> from litesr_edge import Upscaler, read_image, write_image
    >>> up = Upscaler(scale=4)                 # bundled x4 model, best available device
    >>> sr = up.upscale(read_image("in.png"))  # numpy in, numpy out (same dtype)
    >>> up.upscale_file("in.png", "in_x4.png") # or file to file, written atomically

The runtime needs only numpy, onnxruntime, opencv-python-headless, typer and
rich; it never imports torch.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from litesr_edge.engines.onnxruntime import available_providers
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
    "ProviderError",
    "SAMPLE_IMAGE",
    "Upscaler",
    "__version__",
    "available_providers",
    "list_models",
    "read_image",
    "write_image",
]
