"""The Upscaler: numpy image in, super-resolved numpy image out, tile by tile."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import overload

import numpy as np
from numpy.typing import NDArray

from litesr_edge import _files
from litesr_edge._args import check_bool, check_int, check_number, check_path, check_providers, check_str
from litesr_edge._pixels import Array, check_image, store_output, to_batch, upscale_alpha
from litesr_edge.engines import ENGINES, PRECISIONS
from litesr_edge.engines.modes import AUTO, EngineName, ModeName, PrecisionName, open_with_mode
from litesr_edge.engines.resolve import Request, fallback_message
from litesr_edge.engines.tta import run_tta
from litesr_edge.errors import (
    EngineFallbackWarning,
    ImageTooLargeError,
    InvalidInputError,
    ModelError,
    OutOfMemoryError,
)
from litesr_edge.io import DEFAULT_MAX_PIXELS
from litesr_edge.registry.info import ModelInfo
from litesr_edge.resize import Size
from litesr_edge.tiling import Tile, choose_tile, plan_tiles

__all__ = ["DEFAULT_DEPTH", "DEFAULT_MAX_MEMORY_MB", "DEFAULT_SCALE", "EngineName", "ModeName", "PrecisionName",
           "Progress", "Upscaler", "fallback_message"]

DEFAULT_SCALE = 4
DEFAULT_DEPTH = 19
DEFAULT_MAX_MEMORY_MB = 1024
# ``progress(done_tiles, total_tiles)``: once with 0 before the first tile, then after each.
Progress = Callable[[int, int], None]


class Upscaler:
    """Super-resolves images with a LiteSRNet ONNX model; build once, reuse, share between threads.

    Args (keyword-only):
        scale: upscaling factor. None: 4 for bundled models, or the factor a
            custom ``model`` was exported with (a different value is an error).
        depth: recurrence depth of the bundled model (13, 16, 19...). None: 19,
            or the custom model's depth.
        model: path of a custom ``.onnx`` written by ``python -m export``;
            None uses the bundled model for (scale, depth).
        providers: ONNX Runtime execution providers, e.g. ``["cuda"]`` or
            ``["CPUExecutionProvider"]``; None picks CUDA, TensorRT, CoreML or
            DirectML when available, else CPU. See :attr:`provider`.
        tile: core tile side in input pixels; 0 runs the whole image at once;
            None derives it from ``max_memory_mb``. Any value gives the same
            result, because tiles overlap by the model's receptive field and
            border tiles are cut at the image edge, never padded.
        max_memory_mb: budget for inference working memory per tile (not for the
            input and output images themselves), used when ``tile`` is None.
        threads: intra-op CPU threads; None lets the engine decide.
        max_pixels: refuse images whose OUTPUT would have more pixels than this
            (a decompression-bomb guard, as in Pillow).
        engine: "auto" (default): the fastest engine/precision measured to keep every
            test image within 0.05 dB of the reference on this CPU class, else ONNX
            Runtime fp32 (why: :attr:`choice`; docs/engines.md); "onnxruntime" (any
            provider, the exact reference) or "openvino" (CPU only; ``pip install
            'litesr-edge[openvino]'``).
        precision: "fp32", "bf16" or "int8"; None is the engine's default ("fp32"
            for onnxruntime; for openvino "bf16" on CPUs with native bf16, else
            "fp32"; "int8" for an int8 model file). bf16 needs openvino and a CPU
            with AVX512_BF16 or AMX. int8 runs the bundled int8 model of (scale,
            depth) (depth 19 at x2, x3 and x4) or an int8 ``model`` file.
        fallback: when the requested engine/precision cannot run here (package
            missing, CPU without bf16, no int8 model), run ONNX Runtime on the
            fp32 model instead, issue an :class:`EngineFallbackWarning` and record
            why in :attr:`fallback_reason`. False (default) raises the error.
        tta: test-time augmentation: every tile is run in the 8 flips/rotations
            and the outputs are averaged (8x the inference time). Tiling stays
            exact: each tile's crop is transformed, never the whole image.
            None: the mode's (on for "best" only).
        mode: a preset: "fast" (cheapest depth/precision within 0.1 dB of
            balanced), "balanced" (the auto path) or "best" (ONNX Runtime fp32 +
            tta); explicit depth/engine/precision/tta override it. See :attr:`choice`.

    Images are numpy arrays, HxW (grey), HxWx1, HxWx3 (RGB order, not OpenCV's
    BGR) or HxWx4 (RGBA), of dtype uint8, uint16 or float32 in [0, 1]; the
    result has the same layout and dtype. Grey input is replicated to RGB,
    upscaled, and folded back with BT.601 luma weights. Alpha does not go
    through the network: it is upscaled with OpenCV bicubic. The network output
    is clamped to [0, 1]; integer results are ``rint(value * 255)`` (or 65535).
    """

    def __init__(
        self,
        *,
        scale: int | None = None,
        depth: int | None = None,
        model: str | os.PathLike[str] | None = None,
        providers: Sequence[str] | None = None,
        tile: int | None = None,
        max_memory_mb: float = DEFAULT_MAX_MEMORY_MB,
        threads: int | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        engine: EngineName = "auto",
        precision: PrecisionName | None = None,
        fallback: bool = False,
        tta: bool | None = None,
        mode: ModeName | None = None,
    ) -> None:
        _check_arguments(scale, depth, tile, max_memory_mb, threads, max_pixels, engine, precision, fallback, tta)
        path = check_path("model", model) if model is not None else None
        request = Request(engine, precision, (DEFAULT_SCALE, DEFAULT_DEPTH), check_providers(providers), threads)
        opened = open_with_mode(mode, scale, depth, path, engine, precision, tta, request, fallback)
        resolved, self._tta, self._choice = opened.resolved, opened.tta, opened.choice
        self._engine, self._engine_kind = resolved.engine, resolved.kind
        self._model_path, self._fallback_reason = resolved.path, resolved.fallback_reason
        if self._fallback_reason is not None:
            warnings.warn(
                fallback_message(self._fallback_reason, self._engine.precision), EngineFallbackWarning, stacklevel=2
            )
        self._check_requested(scale, depth)
        info = self._engine.info
        self._tile = choose_tile(max_memory_mb, info.receptive_field, info.channels) if tile is None else tile
        self._max_pixels = max_pixels

    def _check_requested(self, scale: int | None, depth: int | None) -> None:
        info, path = self._engine.info, self._model_path
        if scale is not None and scale != info.scale:
            raise InvalidInputError(f"scale {scale} was asked for but model {path} is x{info.scale}; drop one")
        if depth is not None and depth != info.depth:
            raise InvalidInputError(f"depth {depth} was asked for but model {path} has depth {info.depth}")

    @property
    def scale(self) -> int:
        """Upscaling factor of the model."""
        return self._engine.info.scale

    @property
    def info(self) -> ModelInfo:
        """Metadata of the model in use."""
        return self._engine.info

    @property
    def provider(self) -> str:
        """Execution provider (device) actually running the model."""
        return self._engine.provider

    @property
    def engine(self) -> str:
        """Engine kind actually running the model ("onnxruntime" after a fallback)."""
        return self._engine_kind

    @property
    def precision(self) -> str:
        """Inference precision actually used ("fp32", "bf16" or "int8")."""
        return self._engine.precision

    @property
    def fallback_reason(self) -> str | None:
        """Why the requested engine/precision was replaced by ONNX Runtime fp32; None if it was not."""
        return self._fallback_reason

    @property
    def choice(self) -> str | None:
        """What ``engine="auto"`` and/or ``mode`` chose and why, one line; None when neither chose."""
        return self._choice

    @property
    def model_path(self) -> Path:
        """Path of the model file in use."""
        return self._model_path

    @property
    def tta(self) -> bool:
        """Whether each tile is averaged over the 8 flips/rotations."""
        return self._tta

    @property
    def tile(self) -> int:
        """Core tile side in input pixels (0 = whole image)."""
        return self._tile

    @property
    def max_pixels(self) -> int:
        """Largest output, in pixels, this Upscaler will produce."""
        return self._max_pixels

    def __repr__(self) -> str:
        return (
            f"Upscaler(scale={self.scale}, depth={self.info.depth}, model={str(self._model_path)!r}, "
            f"engine={self._engine_kind!r}, precision={self.precision!r}, provider={self.provider!r}, "
            f"tile={self._tile}" + (", tta=True" if self._tta else "")
            + (", fallback=True)" if self._fallback_reason is not None else ")")
        )

    def check_size(self, height: int, width: int, what: str = "the image") -> None:
        """ImageTooLargeError if a ``height`` x ``width`` input's output exceeds :attr:`max_pixels`."""
        s = self.scale
        if height * s * width * s > self._max_pixels:
            raise ImageTooLargeError(
                f"{what} is {width}x{height}; at x{s} the output would be {width * s}x{height * s} = "
                f"{height * s * width * s:,} pixels, over the limit of {self._max_pixels:,}; "
                "raise max_pixels (--max-pixels) if you trust it"
            )

    def plan(self, height: int, width: int) -> list[Tile]:
        """The tiles a ``height`` x ``width`` image is run in (see litesr_edge.tiling)."""
        return plan_tiles(height, width, self._tile, self.info.receptive_field)

    @overload
    def upscale(self, image: NDArray[np.uint8], *, progress: Progress | None = None) -> NDArray[np.uint8]: ...
    @overload
    def upscale(self, image: NDArray[np.uint16], *, progress: Progress | None = None) -> NDArray[np.uint16]: ...
    @overload
    def upscale(self, image: NDArray[np.float32], *, progress: Progress | None = None) -> NDArray[np.float32]: ...
    @overload
    def upscale(self, image: Array, *, progress: Progress | None = None) -> Array: ...

    def upscale(self, image: Array, *, progress: Progress | None = None) -> Array:
        """Upscale one image (see the class docstring for layouts and dtypes).

        ``progress(done, total)`` is called with tile counts: once before the first
        tile and after each one. OutOfMemoryError if the output or a tile does not fit.
        """
        check_image(image)
        height, width = image.shape[:2]
        self.check_size(height, width)
        out = self._allocate(image)
        alpha = image.ndim == 3 and image.shape[2] == 4
        colour, colour_out = (image[..., :3], out[..., :3]) if alpha else (image, out)
        tiles = self.plan(height, width)
        if progress is not None:
            progress(0, len(tiles))
        for done, tile in enumerate(tiles, 1):
            self._run_tile(tile, colour, colour_out)
            if progress is not None:
                progress(done, len(tiles))
        if alpha:
            out[..., 3] = upscale_alpha(image[..., 3], self.scale)
        return out

    def _allocate(self, image: Array) -> Array:
        height, width = image.shape[:2]
        s = self.scale
        shape = (height * s, width * s, *image.shape[2:])
        try:
            return np.empty(shape, dtype=image.dtype)
        except MemoryError:
            size_mb = int(np.prod(shape)) * image.dtype.itemsize / 2**20
            raise OutOfMemoryError(
                f"not enough memory for the {width * s}x{height * s} output of a {width}x{height} image at x{s} "
                f"({size_mb:,.0f} MB); free memory or upscale a smaller image"
            ) from None

    def _run_tile(self, tile: Tile, colour: Array, colour_out: Array) -> None:
        rows, cols = tile.crop_slices()
        try:
            batch = to_batch(colour[rows, cols])
            result = run_tta(self._engine, batch) if self._tta else self._engine.run(batch)
            self._store(tile, batch, result, colour_out)
        except MemoryError:
            raise OutOfMemoryError(
                f"not enough memory to run a {cols.stop - cols.start}x{rows.stop - rows.start} tile; "
                f"lower max_memory_mb (--max-memory) or tile (--tile, now {self._tile})"
            ) from None

    def _store(self, tile: Tile, batch: NDArray[np.float32], result: NDArray[np.float32], colour_out: Array) -> None:
        s = self.scale
        expected = (1, 3, batch.shape[2] * s, batch.shape[3] * s)
        if result.shape != expected:
            raise ModelError(
                f"model {self._model_path} returned {result.shape} for input {batch.shape}, expected {expected}; "
                "its litesr.scale metadata is wrong, re-export it"
            )
        keep_rows, keep_cols = tile.keep_slices(s)
        dest_rows, dest_cols = tile.dest_slices(s)
        store_output(result[0, :, keep_rows, keep_cols], colour_out[dest_rows, dest_cols])

    def upscale_file(
        self,
        src: str | os.PathLike[str],
        dst: str | os.PathLike[str],
        *,
        overwrite: bool = False,
        progress: Progress | None = None,
        outscale: float | None = None,
        width: int | None = None,
        height: int | None = None,
        quality: int | None = None,
        strip_metadata: bool = False,
    ) -> Path:
        """Read ``src``, upscale it, write ``dst`` (format from its suffix) atomically; return ``dst``.

        Every check (input readable and complete, output path usable, pixel
        limit) runs before inference, and nothing is written on failure. ``outscale``
        or ``width``/``height`` (aspect kept) resize the network's output to that exact
        size (litesr_edge.resize); ``quality`` (1-100) is for JPEG/WebP. EXIF, ICC, XMP
        and IPTC are carried over (docs/workflow.md) unless ``strip_metadata``.
        """
        size = Size(outscale=outscale, width=width, height=height)
        return _files.upscale_file(self, src, dst, overwrite=overwrite, progress=progress, size=size,
                                   quality=quality, strip_metadata=strip_metadata)


def _check_arguments(
    scale: object, depth: object, tile: object, max_memory_mb: object, threads: object, max_pixels: object,
    engine: object, precision: object, fallback: object, tta: object,
) -> None:
    check_int("scale", scale, minimum=1, optional=True, hint="2, 3 or 4")
    check_int("depth", depth, minimum=1, optional=True, hint="e.g. 19")
    check_int("tile", tile, minimum=0, optional=True, hint="0 = whole image, None = from max_memory_mb")
    check_number("max_memory_mb", max_memory_mb, hint="MB of working memory per tile, e.g. 1024")
    check_int("threads", threads, minimum=1, optional=True, hint="None for all cores")
    check_int("max_pixels", max_pixels, minimum=1, hint="output pixels")
    check_str("engine", engine, (AUTO, *ENGINES))
    check_str("precision", precision, PRECISIONS, optional=True)
    check_bool("fallback", fallback)
    if tta is not None:
        check_bool("tta", tta)
