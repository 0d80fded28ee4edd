"""Test-time augmentation: an engine's output averaged over the 8 flips/rotations of a tile batch."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from litesr_edge.engines import Engine
from litesr_edge.errors import ModelError

__all__ = ["run_tta"]


def run_tta(engine: Engine, batch: NDArray[np.float32]) -> NDArray[np.float32]:
    """The mean of the engine's outputs over the 8 dihedral transforms of ``batch``, in a fixed order."""
    total: NDArray[np.float32] | None = None
    for turns in range(4):
        for flip in (False, True):
            x = np.rot90(batch, turns, axes=(2, 3))
            y = engine.run(np.ascontiguousarray(x[..., ::-1] if flip else x))
            y = np.rot90(y[..., ::-1] if flip else y, -turns, axes=(2, 3))
            total = y.astype(np.float32) if total is None else np.add(total, y, out=total)
    if total is None:  # unreachable: the loops always run
        raise ModelError("test-time augmentation produced no output")
    return np.multiply(total, np.float32(1 / 8), out=total)
