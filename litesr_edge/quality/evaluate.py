"""Quality evaluation under the standard SR protocol (PSNR/SSIM, Y channel).

A dataset is a folder in one of two layouts:

* **pairs** -- the layout of the usual SR benchmark sets (Set5, Set14, BSD100, ...):
  ``image_SRF_<s>/img_NNN_SRF_<s>_HR.png`` beside ``..._LR.png`` (the canonical
  MATLAB LR files). The ``image_SRF_<s>`` folder itself may be given too.
* **hr-folder** -- a plain folder of HR images: each is mod-cropped to a
  multiple of the scale and its LR made with :func:`litesr_edge.quality.bicubic.imresize`,
  the MATLAB-compatible downscaler that training uses.

Every method sees 3-channel RGB input: a one-channel (grey) image is repeated
into three channels. It is then scored against its grey ground truth on grey
levels, the convention behind the published tables (see :mod:`litesr_edge.quality.metrics`).

Any upscaler plugs in as an :data:`Upsampler`: a callable taking an HxWx3 uint8
RGB LR image and returning the (sH)x(sW)x3 uint8 RGB SR image.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from litesr_edge.errors import DatasetError, ModelError
from litesr_edge.io import IMAGE_SUFFIXES, read_image
from litesr_edge.quality.bicubic import imresize
from litesr_edge.quality.metrics import psnr_y, ssim_y

__all__ = [
    "JsonValue",
    "JSON_SCHEMA",
    "Dataset",
    "DatasetScore",
    "ImageScore",
    "Pair",
    "Sample",
    "Upsampler",
    "as_rgb",
    "bicubic_upsampler",
    "evaluate",
    "find_dataset",
    "iter_pairs",
    "load_pair",
    "results_to_json",
    "score_pair",
]

Upsampler = Callable[[npt.NDArray[np.uint8]], npt.NDArray[np.uint8]]
JSON_SCHEMA = "litesr-edge.eval/1"
_SRF_FILE = re.compile(r"_SRF_(\d+)_(HR|LR)$")


@dataclass(frozen=True)
class Sample:
    """One image of a dataset: its HR file and, in the pairs layout, its LR file."""

    name: str
    hr_path: Path
    lr_path: Path | None


@dataclass(frozen=True)
class Dataset:
    """A discovered dataset: where it is, its layout and its images at one scale."""

    name: str
    path: Path
    scale: int
    layout: str  # "pairs" or "hr-folder"
    samples: tuple[Sample, ...]


@dataclass(frozen=True)
class Pair:
    """Loaded HR and LR images; HxW (grey file) or HxWx3 RGB, both uint8."""

    name: str
    hr: npt.NDArray[np.uint8]
    lr: npt.NDArray[np.uint8]

    @property
    def grey(self) -> bool:
        """True when the ground truth is a one-channel image."""
        return self.hr.ndim == 2


@dataclass(frozen=True)
class ImageScore:
    """PSNR (dB) and SSIM of one image; ``height``/``width`` of its (cropped) HR."""

    name: str
    psnr: float
    ssim: float
    height: int
    width: int
    grey: bool


@dataclass(frozen=True)
class DatasetScore:
    """Per-image scores of one dataset at one scale, with their means."""

    dataset: Dataset
    images: tuple[ImageScore, ...]

    @property
    def psnr(self) -> float:
        """Mean PSNR over the images (the published tables average per-image PSNR)."""
        return float(np.mean([s.psnr for s in self.images]))

    @property
    def ssim(self) -> float:
        """Mean SSIM over the images."""
        return float(np.mean([s.ssim for s in self.images]))


def _layout_hint(scale: int) -> str:
    return (
        f"expected image_SRF_{scale}/img_NNN_SRF_{scale}_HR.png + _LR.png pairs "
        f"(the layout of the Set5/Set14 benchmark sets) or a folder of HR images ({', '.join(IMAGE_SUFFIXES)})"
    )


def find_dataset(path: Path | str, scale: int) -> Dataset:
    """Discover the dataset at ``path`` for ``scale``; raise DatasetError naming what is wrong."""
    root = Path(path)
    if not root.exists():
        raise DatasetError(f"dataset {root} does not exist; {_layout_hint(scale)}")
    if not root.is_dir():
        raise DatasetError(f"dataset {root} is a file, not a folder; {_layout_hint(scale)}")
    srf = root / f"image_SRF_{scale}"
    if srf.is_dir():
        return _pairs_dataset(root.name, srf, scale)
    others = sorted(p.name for p in root.glob("image_SRF_*") if p.is_dir())
    if others:
        raise DatasetError(f"dataset {root} has no image_SRF_{scale} folder for x{scale} (it has {', '.join(others)})")
    images = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    scales = {int(m.group(1)) for p in images if (m := _SRF_FILE.search(p.stem))}
    if scale in scales:
        return _pairs_dataset(root.parent.name, root, scale)
    if scales:
        found = ", ".join(f"x{s}" for s in sorted(scales))
        raise DatasetError(f"{root} holds {found} HR/LR pairs, not x{scale}; pick the matching image_SRF folder")
    if not images:
        raise DatasetError(f"dataset {root} contains no images; {_layout_hint(scale)}")
    samples = tuple(Sample(p.stem, p, None) for p in images)
    return Dataset(root.name, root, scale, "hr-folder", samples)


def _pairs_dataset(name: str, folder: Path, scale: int) -> Dataset:
    hr_files = sorted(folder.glob(f"*_SRF_{scale}_HR.png"))
    if not hr_files:
        raise DatasetError(f"{folder} has no *_SRF_{scale}_HR.png files; {_layout_hint(scale)}")
    samples = []
    for hr in hr_files:
        lr = hr.with_name(hr.name.replace("_HR.png", "_LR.png"))
        if not lr.is_file():
            raise DatasetError(f"{hr} has no LR partner {lr.name}; the pairs layout needs both files")
        samples.append(Sample(hr.name[: -len(f"_SRF_{scale}_HR.png")], hr, lr))
    return Dataset(name, folder, scale, "pairs", tuple(samples))


def _read(path: Path) -> npt.NDArray[np.uint8]:
    """Decode to HxW (grey) or HxWx3 RGB uint8 (alpha dropped); ImageReadError if unreadable."""
    image = read_image(path)
    if image.dtype != np.uint8:
        raise DatasetError(f"{path} is {image.dtype}; evaluation uses 8-bit images (convert it to 8 bits)")
    if image.ndim == 3:
        image = image[..., :3]  # alpha plays no part in the scores
    return np.ascontiguousarray(image, dtype=np.uint8)


def as_rgb(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """HxWx3 view of an image: grey is repeated into three channels."""
    if image.ndim == 2:
        return np.ascontiguousarray(np.repeat(image[..., None], 3, axis=2))
    return image


def load_pair(dataset: Dataset, sample: Sample) -> Pair:
    """Load one sample's HR and LR (LR made with MATLAB bicubic in the hr-folder layout)."""
    s = dataset.scale
    hr = _read(sample.hr_path)
    if sample.lr_path is None:
        h, w = hr.shape[0] - hr.shape[0] % s, hr.shape[1] - hr.shape[1] % s
        _check_size(sample.hr_path, h, w, s)
        hr = np.ascontiguousarray(hr[:h, :w])
        return Pair(sample.name, hr, imresize(hr, 1.0 / s))
    lr = _read(sample.lr_path)
    if hr.shape[:2] != (lr.shape[0] * s, lr.shape[1] * s):
        raise DatasetError(
            f"{sample.hr_path} is {hr.shape[1]}x{hr.shape[0]}, not {s}x its LR "
            f"{sample.lr_path.name} ({lr.shape[1]}x{lr.shape[0]}); the pair does not match x{s}"
        )
    _check_size(sample.hr_path, hr.shape[0], hr.shape[1], s)
    return Pair(sample.name, hr, lr)


def _check_size(path: Path, h: int, w: int, scale: int) -> None:
    # SSIM's 11x11 window must fit after the border of `scale` pixels is cut.
    need = 11 + 2 * scale
    if min(h, w) < need:
        raise DatasetError(f"{path} is {w}x{h} after mod-crop: too small to score at x{scale} (need {need}x{need})")


def iter_pairs(dataset: Dataset) -> Iterator[Pair]:
    """Load the dataset's pairs one at a time (memory stays at one image)."""
    for sample in dataset.samples:
        yield load_pair(dataset, sample)


def bicubic_upsampler(scale: int) -> Upsampler:
    """The baseline: MATLAB ``imresize(lr, scale, 'bicubic')`` (Keys, a = -0.5)."""

    def upsample(lr: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        return imresize(lr, scale)

    return upsample


def score_pair(pair: Pair, sr: npt.NDArray[np.uint8], scale: int) -> ImageScore:
    """Score an SR image against the pair's HR: Y-channel PSNR and SSIM, border = scale."""
    expected = (pair.hr.shape[0], pair.hr.shape[1], 3)
    if sr.dtype != np.uint8 or sr.shape != expected:
        raise ModelError(
            f"the upscaler returned {sr.dtype} {sr.shape} for {pair.name}; expected uint8 {expected} "
            f"(x{scale} of the {pair.lr.shape[1]}x{pair.lr.shape[0]} LR)"
        )
    return ImageScore(
        name=pair.name,
        psnr=psnr_y(sr, pair.hr, scale),
        ssim=ssim_y(sr, pair.hr, scale),
        height=int(pair.hr.shape[0]),
        width=int(pair.hr.shape[1]),
        grey=pair.grey,
    )


def evaluate(
    dataset: Dataset,
    upsample: Upsampler,
    on_image: Callable[[ImageScore], None] | None = None,
) -> DatasetScore:
    """Upscale every LR image of ``dataset`` with ``upsample`` and score it.

    ``on_image`` is called after each image (for progress display).
    """
    scores = []
    for pair in iter_pairs(dataset):
        score = score_pair(pair, upsample(as_rgb(pair.lr)), dataset.scale)
        scores.append(score)
        if on_image is not None:
            on_image(score)
    return DatasetScore(dataset, tuple(scores))


def _finite(x: float) -> float | None:
    # JSON has no Infinity: an SR identical to its HR (infinite PSNR) is written as null.
    return x if math.isfinite(x) else None


JsonValue = str | int | float | bool | None


def results_to_json(method: Mapping[str, JsonValue], results: Sequence[DatasetScore]) -> dict[str, object]:
    """The ``litesr-edge eval --json`` document (schema ``litesr-edge.eval/1``).

    ``{"schema", "method": {...}, "protocol": {...}, "results": [{"dataset", "path",
    "layout", "scale", "count", "psnr", "ssim", "images": [{"name", "height", "width",
    "grey", "psnr", "ssim"}]}]}``; PSNR in dB, null when infinite.
    """
    return {
        "schema": JSON_SCHEMA,
        "method": dict(method),
        "protocol": {
            "channel": "BT.601 Y (studio range); grey-level for one-channel ground truth",
            "border": "scale",
            "ssim": "11x11 Gaussian window, sigma 1.5, valid region",
            "lr": "canonical LR files (pairs) or MATLAB bicubic of the mod-cropped HR (hr-folder)",
        },
        "results": [_result_json(r) for r in results],
    }


def _result_json(r: DatasetScore) -> dict[str, object]:
    return {
        "dataset": r.dataset.name,
        "path": str(r.dataset.path),
        "layout": r.dataset.layout,
        "scale": r.dataset.scale,
        "count": len(r.images),
        "psnr": _finite(r.psnr),
        "ssim": r.ssim,
        "images": [
            {
                "name": s.name,
                "height": s.height,
                "width": s.width,
                "grey": s.grey,
                "psnr": _finite(s.psnr),
                "ssim": s.ssim,
            }
            for s in r.images
        ],
    }
