"""``litesr-edge compare``: one image of side-by-side crops (HR, bicubic, ours, peers) with PSNRs.

``compare_command`` is registered on the app by :mod:`litesr_edge.cli`; importing this
module has no side effect.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import cv2
import numpy as np
import numpy.typing as npt
import typer

from litesr_edge.cli._output import fail
from litesr_edge.errors import InvalidInputError, LiteSRError
from litesr_edge.io import check_output_path, read_image, write_image
from litesr_edge.quality.bicubic import imresize
from litesr_edge.quality.evaluate import Upsampler, as_rgb
from litesr_edge.quality.metrics import psnr_y

Image = npt.NDArray[np.uint8]
Crop = tuple[int, int, int, int]
_LABEL_H = 28  # pixels of caption under each panel
_PANEL = 256  # target panel side when the crop is zoomed for display


def parse_crop(text: str | None, height: int, width: int) -> Crop:
    """``x,y,w,h`` in HR pixels; None: the centred square of half the shorter side."""
    if text is None:
        side = max(16, min(height, width) // 2)
        side = min(side, height, width)
        return (width - side) // 2, (height - side) // 2, side, side
    parts = text.split(",")
    if len(parts) != 4 or not all(p.strip().lstrip("-").isdigit() for p in parts):
        raise InvalidInputError(f"--crop {text!r} is not x,y,w,h (four integers, e.g. 120,80,96,96)")
    x, y, w, h = (int(p) for p in parts)
    if w < 1 or h < 1 or x < 0 or y < 0 or x + w > width or y + h > height:
        raise InvalidInputError(f"--crop {text} does not fit the {width}x{height} (mod-cropped) image")
    return x, y, w, h


def _panel(image: Image, crop: Crop, zoom: int, caption: str) -> Image:
    x, y, w, h = crop
    part = cv2.resize(image[y : y + h, x : x + w], (w * zoom, h * zoom), interpolation=cv2.INTER_NEAREST)
    label = np.full((_LABEL_H, part.shape[1], 3), 255, np.uint8)
    scale = min(0.5, 0.9 * part.shape[1] / max(1, 20 * len(caption)))
    cv2.putText(label, caption, (4, _LABEL_H - 9), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([part, label])


def _overview(hr: Image, crop: Crop, height: int) -> Image:
    """The whole HR image at the panels' height with the crop outlined in red."""
    k = height / hr.shape[0]
    small = cv2.resize(hr, (max(1, round(hr.shape[1] * k)), height), interpolation=cv2.INTER_AREA)
    x, y, w, h = (round(v * k) for v in crop)
    cv2.rectangle(small, (x, y), (x + max(w, 2) - 1, y + max(h, 2) - 1), (255, 0, 0), 2)
    label = np.full((_LABEL_H, small.shape[1], 3), 255, np.uint8)
    cv2.putText(label, "HR", (4, _LABEL_H - 9), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return np.asarray(np.vstack([small, label]), np.uint8)


def compose(truth: Image, results: list[tuple[str, Image]], crop: Crop, scale: int) -> Image:
    """One row: overview, HR crop, then each method's crop captioned with its PSNR.

    PSNR is over the whole image, Y channel, border = scale (grey ``truth``: grey levels).
    """
    hr = as_rgb(truth)
    zoom = max(1, _PANEL // max(crop[2], crop[3]))
    panels = [_panel(hr, crop, zoom, "HR (crop)")]
    for name, sr in results:
        panels.append(_panel(sr, crop, zoom, f"{name} {psnr_y(sr, truth, scale):.2f} dB"))
    gap = np.full((panels[0].shape[0], 6, 3), 255, np.uint8)
    row: list[Image] = [_overview(hr, crop, panels[0].shape[0] - _LABEL_H)]
    for p in panels:
        row += [gap, p]
    return np.asarray(np.hstack(row), np.uint8)


def _load_hr(path: Path, scale: int) -> Image:
    """The HR image, mod-cropped to a multiple of ``scale``: HxW grey or HxWx3 RGB."""
    image = read_image(path)
    if image.dtype != np.uint8:
        raise InvalidInputError(f"{path} is {image.dtype}; compare works on 8-bit images, convert it first")
    if image.ndim == 3:
        image = image[..., :3]  # alpha plays no part in the comparison
    h, w = image.shape[0] - image.shape[0] % scale, image.shape[1] - image.shape[1] % scale
    if min(h, w) < 11 + 2 * scale:
        raise InvalidInputError(f"{path} is {image.shape[1]}x{image.shape[0]}: too small to compare at x{scale}")
    return np.ascontiguousarray(image[:h, :w], dtype=np.uint8)


def _methods(scale: int, depth: int | None, model: Path | None, peers: list[Path]) -> list[tuple[str, Upsampler]]:
    from litesr_edge.quality.peers import OpenCVSuperRes
    from litesr_edge.upscaler import Upscaler

    ours = Upscaler(scale=scale, depth=depth, model=model)

    def upsample(lr: Image) -> Image:
        return ours.upscale(lr)

    methods: list[tuple[str, Upsampler]] = [("Ours", upsample)]
    for path in peers:
        peer = OpenCVSuperRes(path)
        if peer.scale != scale:
            raise InvalidInputError(f"peer model {path} upscales x{peer.scale}, not x{scale}")
        methods.append((peer.name, peer))
    return methods


def compare_command(
    image: Annotated[Path, typer.Argument(help="A high-resolution image (ground truth).", show_default=False)],
    output: Annotated[Path, typer.Option("-o", "--output", help="Image to write (.png).", show_default=False)],
    scale: Annotated[int, typer.Option("-s", "--scale", help="Upscaling factor.")] = 4,
    crop: Annotated[str | None, typer.Option(help="x,y,w,h of the HR region shown. Default: centre.")] = None,
    model: Annotated[Path | None, typer.Option("--model", "-m", help="A litesr-edge .onnx model.")] = None,
    depth: Annotated[int | None, typer.Option(help="Recurrence depth of the bundled model (default 19).")] = None,
    peer: Annotated[list[Path] | None, typer.Option(help="OpenCV zoo .pb to add (repeatable).")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing output image.")] = False,
) -> None:
    """Write HR crop, bicubic, ours and peers side by side, each with its PSNR, to one image.

    The HR image is mod-cropped to a multiple of the scale and shrunk with MATLAB
    bicubic; every method upscales that LR. Captions give the PSNR of the whole
    image on the Y channel (border = scale), as in ``litesr-edge eval``.
    """
    try:
        check_output_path(output, image, overwrite, np.dtype(np.uint8))
        truth = _load_hr(image, scale)
        hr = as_rgb(truth)
        box = parse_crop(crop, hr.shape[0], hr.shape[1])
        lr = imresize(hr, 1.0 / scale)
        results = [("Bicubic", imresize(lr, scale))]
        results += [(name, upsample(lr)) for name, upsample in _methods(scale, depth, model, peer or [])]
        write_image(output, compose(truth, results, box, scale), overwrite=overwrite, source=image)
    except LiteSRError as exc:
        fail(exc)
