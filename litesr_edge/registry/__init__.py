"""Bundled models: found by reading each file's metadata, never by its name."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from litesr_edge.errors import EngineUnavailableError, InvalidInputError, ModelError
from litesr_edge.registry.info import ModelInfo
from litesr_edge.registry.metadata import read_model_info

__all__ = ["BundledModel", "MODELS_DIR", "file_digest", "find_model", "list_models", "model_for_precision", "resolve"]

# Read at call time (not bound as a default) so tests can point it elsewhere.
MODELS_DIR = Path(__file__).resolve().parent.parent / "weights"


@dataclass(frozen=True)
class BundledModel:
    """A model file and the metadata read from it."""

    path: Path
    info: ModelInfo


def list_models(folder: Path | None = None) -> list[BundledModel]:
    """Every ``*.onnx`` in ``folder`` (default: the bundled models), sorted by (scale, depth, precision).

    A file there that is not a litesr-edge model is a broken install: ModelError.
    """
    root = MODELS_DIR if folder is None else folder
    stamps = tuple((p, p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(root.glob("*.onnx")))
    return list(_read_all(stamps))


@lru_cache(maxsize=16)
def _read_all(stamps: tuple[tuple[Path, int, int], ...]) -> tuple[BundledModel, ...]:
    # Keyed by name, mtime and size: a folder is read once, and again only when a file changes.
    found = [BundledModel(path, read_model_info(path)) for path, _mtime, _size in stamps]
    return tuple(sorted(found, key=lambda m: (m.info.scale, m.info.depth, m.info.precision, m.path.name)))


def find_model(scale: int, depth: int, folder: Path | None = None, precision: str = "fp32") -> BundledModel:
    """The bundled model for (scale, depth) stored in ``precision`` ("fp32" or "int8").

    An unknown scale or depth is an InvalidInputError listing what is available; a
    known (scale, depth) without an int8 model is an EngineUnavailableError (so
    ``fallback=True`` can run the fp32 model instead).
    """
    models = list_models(folder)
    if not models:
        root = MODELS_DIR if folder is None else folder
        raise ModelError(
            f"no bundled models found in {root}; reinstall litesr-edge or pass a model file (--model)"
        )
    scales = sorted({m.info.scale for m in models})
    if scale not in scales:
        raise InvalidInputError(
            f"scale {scale} is not supported; available scales: {', '.join(map(str, scales))}"
        )
    same_scale = [m for m in models if m.info.scale == scale]
    same_depth = [m for m in same_scale if m.info.depth == depth]
    for model in same_depth:
        if model.info.precision == precision:
            return model
    if same_depth:
        have = ", ".join(f"x{m.info.scale} d{m.info.depth}" for m in models if m.info.precision == precision)
        raise EngineUnavailableError(
            f"no {precision} model is bundled for x{scale} depth {depth} ({precision} models: {have or 'none'}); "
            "use another precision, or pass an int8 model file (python -m models.qat, then python -m export)"
        )
    depths = sorted({m.info.depth for m in same_scale})
    raise InvalidInputError(
        f"depth {depth} is not available at x{scale}; available depths: {', '.join(map(str, depths))}"
    )


def file_digest(path: Path) -> str:
    """The first 16 hex digits of the SHA-256 of the file at ``path``: which exact model file a record is about."""
    stat = path.stat()
    return _digest(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=32)
def _digest(path: Path, _mtime: int, _size: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def model_for_precision(path: Path, precision: str) -> Path:
    """The file that runs ``precision`` for the model at ``path``: ``path`` itself, or for "int8" on an
    fp32 file the bundled int8 model of the same (scale, depth); EngineUnavailableError if there is none."""
    info = read_model_info(path)
    if precision != "int8" or info.precision == "int8":
        return path
    try:
        return find_model(info.scale, info.depth, precision="int8").path
    except InvalidInputError as exc:  # not even an fp32 model of that (scale, depth) is bundled
        raise EngineUnavailableError(f"no int8 model for x{info.scale} depth {info.depth}: {exc}") from exc


def resolve(scale: int, depth: int, precision: str = "fp32") -> BundledModel:
    """The bundled model for (scale, depth) stored in ``precision``; see :func:`find_model`."""
    return find_model(scale, depth, precision=precision)
