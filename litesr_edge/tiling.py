"""Exact tiling as pure functions: where tiles go and how big they may be.

A tile *owns* a block of low-resolution (LR) pixels, its core, and is run on
its *crop*: the core grown by ``margin`` pixels on every side and then CLIPPED
to the image. Clipping, not padding, is what makes tiling exact: the network
zero-pads its convolutions and its bicubic skip clamps coordinates at the true
image border, so a crop that stops where the image stops sees exactly what the
whole image sees there, while a crop padded with zeros would not. With
``margin >= receptive_field`` every output pixel a tile keeps depends only on
LR pixels inside its crop, so the stitched result equals the whole-image run.

Nothing here touches pixels; the Upscaler applies these plans.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from litesr_edge.errors import InvalidInputError

__all__ = [
    "MIN_TILE",
    "WORKING_BYTES_PER_PIXEL",
    "Tile",
    "choose_tile",
    "plan_tiles",
    "split_length",
    "tile_memory_bytes",
]

# Peak inference memory per LR pixel of a crop, for LiteSRNet with 64 feature
# channels. Measured with ONNX Runtime 1.32 on CPU (peak RSS growth during one
# run, /proc/self/status VmHWM, crops 64..256 px, depth 19, arena on, tile
# output included): 5.2 KB (x2), 4.2 KB (x3), 6.4 KB (x4) over a sequence of
# mixed tile shapes. 8 KB leaves room for the runtime's own per-tile buffers
# (float input, float output, conversion temporaries: < 1 KB at x4).
WORKING_BYTES_PER_PIXEL = 8192
REFERENCE_CHANNELS = 64

# Smallest core the memory budget may shrink a tile to. Smaller cores are still
# exact but spend most of their time on the margins.
MIN_TILE = 16


@dataclass(frozen=True)
class Tile:
    """One tile, in LR pixel coordinates (half-open ranges).

    ``top/left/bottom/right`` bound the core whose output this tile owns;
    ``crop_*`` bound the input window it is run on (core + margin, clipped).
    """

    top: int
    left: int
    bottom: int
    right: int
    crop_top: int
    crop_left: int
    crop_bottom: int
    crop_right: int

    def crop_slices(self) -> tuple[slice, slice]:
        """Rows and columns of the LR image to feed the model."""
        return slice(self.crop_top, self.crop_bottom), slice(self.crop_left, self.crop_right)

    def keep_slices(self, scale: int) -> tuple[slice, slice]:
        """Rows and columns of the tile's output (of shape crop x scale) to keep."""
        top = (self.top - self.crop_top) * scale
        left = (self.left - self.crop_left) * scale
        return (
            slice(top, top + (self.bottom - self.top) * scale),
            slice(left, left + (self.right - self.left) * scale),
        )

    def dest_slices(self, scale: int) -> tuple[slice, slice]:
        """Rows and columns of the full output that the kept part fills."""
        return slice(self.top * scale, self.bottom * scale), slice(self.left * scale, self.right * scale)


def split_length(length: int, tile: int) -> list[tuple[int, int]]:
    """Cut ``range(length)`` into the fewest near-equal parts no longer than ``tile``.

    Near-equal parts avoid a sliver of a last tile that would pay full margins
    for a few pixels of output.
    """
    if length < 1 or tile < 1:
        raise InvalidInputError(f"cannot split length {length} into tiles of {tile}; both must be >= 1")
    count = math.ceil(length / tile)
    bounds = [round(i * length / count) for i in range(count + 1)]
    return [(bounds[i], bounds[i + 1]) for i in range(count)]


def plan_tiles(height: int, width: int, tile: int, margin: int) -> list[Tile]:
    """Tiles covering a ``height x width`` LR image, each core at most ``tile`` square.

    ``tile == 0`` means one tile for the whole image. Cores partition the image
    exactly (no overlap, no gap); crops extend them by ``margin``, clipped.
    """
    if height < 1 or width < 1:
        raise InvalidInputError(f"image size {height}x{width} is empty; an image needs at least 1x1 pixels")
    if tile < 0 or margin < 0:
        raise InvalidInputError(f"tile={tile} and margin={margin} must be >= 0 (tile 0 = whole image)")
    rows = [(0, height)] if tile == 0 else split_length(height, tile)
    cols = [(0, width)] if tile == 0 else split_length(width, tile)
    return [
        Tile(
            top, left, bottom, right,
            max(0, top - margin), max(0, left - margin), min(height, bottom + margin), min(width, right + margin),
        )
        for top, bottom in rows
        for left, right in cols
    ]


def tile_memory_bytes(crop_side: int, channels: int = REFERENCE_CHANNELS) -> int:
    """Estimated peak inference memory for a square crop of ``crop_side`` LR pixels."""
    per_pixel = WORKING_BYTES_PER_PIXEL * max(1.0, channels / REFERENCE_CHANNELS)
    return int(crop_side * crop_side * per_pixel)


def choose_tile(max_memory_mb: float, margin: int, channels: int = REFERENCE_CHANNELS) -> int:
    """Largest core tile whose crop (core + 2 margins) fits ``max_memory_mb``.

    Depends only on the budget and the model, never on the image, so the working
    memory of one tile does not grow with the image (the input and output arrays do).
    """
    if not max_memory_mb > 0:
        raise InvalidInputError(f"max_memory_mb={max_memory_mb} must be > 0")
    budget = max_memory_mb * 1024 * 1024
    side = math.isqrt(int(budget / tile_memory_bytes(1, channels)))
    core = side - 2 * margin
    if core < MIN_TILE:
        need = tile_memory_bytes(MIN_TILE + 2 * margin, channels) / 2**20
        raise InvalidInputError(
            f"max_memory_mb={max_memory_mb:g} is too small for this model (margin {margin} px): "
            f"raise it to at least {math.ceil(need)}"
        )
    return core
