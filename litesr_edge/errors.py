"""Typed errors raised by litesr-edge.

Every error message names the offending value and how to fix it. The CLI maps
each class to an exit code; library users catch :class:`LiteSRError`.
"""

from __future__ import annotations

__all__ = [
    "LiteSRError",
    "InvalidInputError",
    "ImageReadError",
    "ImageWriteError",
    "ModelError",
    "ProviderError",
    "ImageTooLargeError",
    "DatasetError",
    "EngineUnavailableError",
    "OutOfMemoryError",
    "ClusterError",
    "EngineFallbackWarning",
]


class LiteSRError(Exception):
    """Base class of every error litesr-edge raises on purpose."""

    exit_code: int = 1


class InvalidInputError(LiteSRError, ValueError):
    """An argument has a value the library cannot use (shape, dtype, scale...)."""

    exit_code = 2


class ImageReadError(LiteSRError):
    """An input image is missing, empty, truncated or not an image."""

    exit_code = 3


class ImageWriteError(LiteSRError):
    """An output image cannot be written (exists, unwritable, same as input...)."""

    exit_code = 4


class ModelError(LiteSRError):
    """A model file is missing, corrupt, or not a litesr-edge export."""

    exit_code = 5


class ProviderError(LiteSRError):
    """A requested ONNX Runtime execution provider is not available."""

    exit_code = 6


class ImageTooLargeError(LiteSRError):
    """An image (input or output) exceeds the configured pixel limit."""

    exit_code = 7


class DatasetError(LiteSRError):
    """An evaluation dataset is missing or not in a supported layout."""

    exit_code = 8


class EngineUnavailableError(LiteSRError):
    """An optional inference engine or precision is not installed or supported."""

    exit_code = 9


class OutOfMemoryError(LiteSRError, MemoryError):
    """The machine has not enough memory for the image or the tile being upscaled."""

    exit_code = 10


class ClusterError(LiteSRError):
    """A Ray cluster cannot be reached or started, the ``ray`` extra is missing, or Ray lost the job."""

    exit_code = 11


class EngineFallbackWarning(UserWarning):
    """The requested engine/precision could not run here, so ONNX Runtime fp32 runs instead.

    Only issued when the caller asked for a fallback (``Upscaler(..., fallback=True)``);
    the message says why and what to install or change.
    """
