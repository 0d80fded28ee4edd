"""What a worker thread does: find the shared Upscaler, check, decode, upscale and encode an upload.

One Upscaler per (scale, depth, engine, precision) per process, built on first use and
shared by all workers (an Upscaler may serve many threads). Nothing here touches the event
loop; everything a request needs is passed in and returned.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, cast

import cv2
import numpy as np
from numpy.typing import NDArray

from litesr_edge.errors import EngineUnavailableError, ImageWriteError, InvalidInputError, OutOfMemoryError
from litesr_edge.io import decode_image, image_size
from litesr_edge.server.body import Upload
from litesr_edge.server.config import ServeConfig
from litesr_edge.server.gate import Cancelled
from litesr_edge.upscaler import EngineName, PrecisionName, Upscaler

__all__ = ["FORMATS", "Choice", "Loaded", "Models", "Result", "upscale_upload"]

# Output format -> (file extension, media type, holds 16-bit samples).
FORMATS: dict[str, tuple[str, str, bool]] = {
    "png": (".png", "image/png", True),
    "jpeg": (".jpg", "image/jpeg", False),
    "webp": (".webp", "image/webp", False),
    "tiff": (".tif", "image/tiff", True),
}
# Distinct models kept loaded; the least recently used beyond this is dropped (not the default).
MAX_LOADED = 6


@dataclass(frozen=True)
class Choice:
    """The model and engine a request asks for."""

    scale: int
    depth: int | None
    engine: str
    precision: str | None


@dataclass(frozen=True)
class Loaded:
    """A shared Upscaler, and why it is not the engine/precision asked for (None if it is)."""

    upscaler: Upscaler
    fallback_reason: str | None


class Models:
    """The process's Upscalers, one per :class:`Choice`; the config's own is built at once."""

    def __init__(self, config: ServeConfig) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._loaded: OrderedDict[Choice, Loaded] = OrderedDict()
        self.default_choice = Choice(config.scale, config.depth, config.engine, config.precision)
        self.default = self.get(self.default_choice)

    def loaded(self) -> list[Loaded]:
        """The Upscalers built so far, oldest first."""
        with self._lock:
            return list(self._loaded.values())

    def get(self, choice: Choice) -> Loaded:
        """The shared Upscaler for ``choice``, built if needed (LiteSRError if it cannot be)."""
        with self._lock:  # held while building: two workers never build the same model
            found = self._loaded.get(choice)
            if found is None:
                found = self._build(choice)
                self._loaded[choice] = found
                self._evict()
            self._loaded.move_to_end(choice)
            return found

    def _evict(self) -> None:
        for old in list(self._loaded):
            if len(self._loaded) <= MAX_LOADED:
                return
            if old != self.default_choice:
                del self._loaded[old]  # a worker still using it keeps its reference

    def _build(self, choice: Choice) -> Loaded:
        config = self._config

        def make(engine: str, precision: str | None) -> Upscaler:
            return Upscaler(
                scale=choice.scale, depth=choice.depth, threads=config.engine_threads, max_pixels=config.max_pixels,
                engine=cast(EngineName, engine), precision=cast(PrecisionName | None, precision),
            )

        try:
            return Loaded(make(choice.engine, choice.precision), None)
        except EngineUnavailableError as exc:
            if choice.engine == "onnxruntime" and choice.precision in (None, "fp32"):
                raise
            # Like the CLI: run the exact reference instead, and say why in the response headers.
            return Loaded(make("onnxruntime", "fp32"), " ".join(str(exc).split()))


@dataclass(frozen=True)
class Result:
    """An encoded result and what produced it."""

    data: bytes
    media_type: str
    filename: str
    width: int
    height: int
    seconds: float


def upscale_upload(upscaler: Upscaler, upload: Upload, output_format: str, cancel: threading.Event) -> Result:
    """Check the upload's size from its header, decode, upscale and encode it as ``output_format``.

    Raises LiteSRError subclasses (unreadable, too large, 16-bit as JPEG) and Cancelled
    when ``cancel`` is set between two tiles.
    """
    if output_format not in FORMATS:
        raise InvalidInputError(f"format {output_format!r} is unknown; choose one of {', '.join(FORMATS)}")
    extension, media, deep = FORMATS[output_format]
    source = upload.filename
    height, width = image_size(upload.data, source)
    upscaler.check_size(height, width, f"input {source}")  # from the header, before any decode
    try:
        image = decode_image(upload.data, source)
    except MemoryError as exc:
        raise OutOfMemoryError(f"not enough memory to decode {source} ({width}x{height})") from exc
    if image.dtype == np.uint16 and not deep:
        raise ImageWriteError(f"input {source} is 16-bit and {output_format} stores 8 bits; ask for format=png")

    def stop_if_cancelled(done: int, total: int) -> None:
        if cancel.is_set():
            raise Cancelled

    start = time.perf_counter()
    result = upscaler.upscale(image, progress=stop_if_cancelled)
    seconds = time.perf_counter() - start
    stem = PurePosixPath(source.replace("\\", "/")).stem or "image"
    return Result(encode(result, extension), media, f"{stem}_x{upscaler.scale}{extension}",
                  result.shape[1], result.shape[0], seconds)


def encode(image: NDArray[Any], extension: str) -> bytes:
    """An RGB(A)/grey array as the bytes of an ``extension`` file (OpenCV's default settings)."""
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA if image.shape[2] == 4 else cv2.COLOR_RGB2BGR)
    try:
        ok, buffer = cv2.imencode(extension, image)
    except cv2.error:  # e.g. an RGBA image as JPEG
        ok = False
    if not ok:
        raise ImageWriteError(
            f"cannot encode a {image.shape[1]}x{image.shape[0]} result with {image.shape[2] if image.ndim == 3 else 1} "
            f"channels as {extension}; ask for format=png"
        )
    return bytes(buffer)
