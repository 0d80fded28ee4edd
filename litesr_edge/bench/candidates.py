"""What ``bench`` times: our models through the Upscaler, bicubic, OpenCV zoo peers, PyTorch eager.

Every candidate upscales the same LR image (:func:`benchmark_image`). LiteSRNet rows
time :meth:`litesr_edge.Upscaler.upscale` itself, so the numbers are those of the
code a user runs: tile plan, conversions, engine and stitching.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from litesr_edge.bench.machine import peak_rss_added_mb
from litesr_edge.bench.macs import count_macs
from litesr_edge.bench.onnx_graph import read_graph
from litesr_edge.bench.run import Candidate, Image, Latency
from litesr_edge.bench.torch_worker import TORCH_ENV
from litesr_edge.engines.modes import engine_name, precision_name
from litesr_edge.errors import EngineUnavailableError, InvalidInputError
from litesr_edge.upscaler import Upscaler

__all__ = [
    "PEERS_HINT",
    "benchmark_image",
    "bicubic_candidate",
    "litesr_candidate",
    "peer_candidates",
    "peer_macs_per_lr_pixel",
    "scaling_point",
    "torch_candidate",
]

PEERS_HINT = (
    "pass --peers FOLDER (or set LITESR_EDGE_PEERS) with the OpenCV zoo's FSRCNN/ESPCN .pb files, "
    "e.g. FSRCNN_x4.pb from github.com/Saafke/FSRCNN_Tensorflow"
)


def _upscaler(path: Path, engine: str, precision: str, providers: Sequence[str] | None, threads: int | None,
              tile: int) -> Upscaler:
    return Upscaler(model=path, engine=engine_name(engine), precision=precision_name(precision), providers=providers,
                    tile=tile, threads=threads, fallback=False)


def litesr_candidate(
    path: Path, image: Image, engine: str, precision: str, providers: Sequence[str] | None,
    threads: int | None, tile: int, macs_from: Path | None = None,
) -> Candidate:
    """A LiteSRNet model on one engine/precision/tile setting, with its graph counts.

    ``macs_from``: count Multi-Adds on this graph instead (an int8 model's fp32 original:
    in the int8 file, weights that round to zero look like the rewrite's structural zeros).
    """
    upscaler = _upscaler(path, engine, precision, providers, threads, tile)
    info = upscaler.info
    h, w = image.shape[:2]
    counts = count_macs(read_graph(path), (1, 3, h, w))
    macs = counts.macs if macs_from is None else count_macs(read_graph(macs_from), (1, 3, h, w)).macs
    tag = f"tile {tile}" if tile else "whole image"
    return Candidate(
        name=f"LiteSRNet x{info.scale} d{info.depth} [{engine} {precision}, {tag}]",
        kind="litesr", run=lambda: upscaler.upscale(image),
        scale=info.scale, input_size=(w, h), depth=info.depth, engine=engine, precision=precision,
        provider=upscaler.provider,
        threads=threads, tile=tile, macs=macs, params=info.params, weight_bytes=counts.weight_bytes,
        note="" if info.trained else "untrained weights (timing does not depend on weights)",
    )


def bicubic_candidate(image: Image, scale: int) -> Candidate:
    """OpenCV bicubic (cv2.resize INTER_CUBIC): the floor any SR model is compared with."""
    h, w = image.shape[:2]
    return Candidate(
        name=f"bicubic x{scale} [cv2.resize]", kind="baseline", scale=scale, input_size=(w, h), engine="opencv",
        precision="fp32",
        provider="cv2.resize INTER_CUBIC",
        run=lambda: cv2.resize(image, (w * scale, h * scale), interpolation=cv2.INTER_CUBIC),
        macs=16 * 3 * h * w * scale * scale, params=0, weight_bytes=0,
        note="Multi-Adds: 4x4 cubic taps per output value",
    )


def _peer_runner(peer: Callable[[Image], Image], image: Image) -> Callable[[], Image]:
    return lambda: peer(image)


def peer_candidates(folder: Path | None, image: Image, scale: int) -> tuple[list[Candidate], list[str]]:
    """OpenCV zoo peers (FSRCNN, FSRCNN-small, ESPCN) for ``scale`` found in ``folder``; None: no peers."""
    if folder is None:
        return [], [f"peers skipped: {PEERS_HINT}"]
    files = sorted(folder.glob(f"*_x{scale}.pb")) if folder.is_dir() else []
    if not files:
        return [], [f"peers skipped: no *_x{scale}.pb in {folder}; {PEERS_HINT}"]
    from litesr_edge.quality.peers import OpenCVSuperRes

    h, w = image.shape[:2]
    found = []
    for path in files:
        peer = OpenCVSuperRes(path)
        per_px = peer_macs_per_lr_pixel(path)
        found.append(Candidate(
            name=f"{peer.name} [cv2.dnn]", kind="peer", scale=scale, input_size=(w, h), engine="opencv-dnn",
            precision="fp32",
            provider="cv2.dnn CPU", run=_peer_runner(peer, image), params=peer.params,
            macs=None if per_px is None else per_px * h * w, weight_bytes=4 * peer.params,
            note="OpenCV dnn_superres pipeline (Y channel by the network, CbCr bilinear)",
        ))
    return found, []


def peer_macs_per_lr_pixel(path: Path) -> int | None:
    """Multi-Adds per LR pixel of an OpenCV zoo peer: its (de)convolution weights, all applied at LR.

    FSRCNN and ESPCN run every layer at the input resolution with stride 1 and finish
    with a pixel shuffle (or a deconvolution, whose MACs are also per input pixel).
    """
    from litesr_edge.quality.peers import _load  # the loader that stands in for contrib's DepthToSpace

    net = _load(path)
    total = 0
    for name in net.getLayerNames():
        layer = net.getLayer(name)
        if layer.type in ("Convolution", "Deconvolution") and layer.blobs:
            total += int(np.asarray(layer.blobs[0]).size)
    return total or None


def torch_candidate(model: Path, image: Image, threads: int, reference: Candidate) -> Candidate:
    """PyTorch eager on the weights of ``model`` (``reference``: its LiteSRNet candidate).

    Runs in a worker process (:mod:`litesr_edge.bench.torch_worker`) with this interpreter,
    so torch is never imported here; EngineUnavailableError when torch is not installed.
    """
    from litesr_edge.bench.worker import Worker

    if importlib.util.find_spec("torch") is None:
        raise EngineUnavailableError("PyTorch is not installed (pip install torch)")
    h, w = image.shape[:2]
    worker = Worker([sys.executable, "-m", "litesr_edge.bench.torch_worker", "--model", str(model.resolve()),
                     "--width", str(w), "--height", str(h), "--threads", str(threads)], env=TORCH_ENV)
    hello = worker.hello
    params = hello.get("params")
    rss = hello.get("peak_rss_added_mb")
    return Candidate(
        name=f"{hello.get('name', 'PyTorch eager')} [torch fp32, whole image]", kind="external", run=worker.run,
        scale=reference.scale, input_size=(w, h), depth=reference.depth, engine="torch", precision="fp32",
        provider=str(hello.get("provider", "torch")), threads=threads, tile=0, macs=reference.macs,
        params=params if isinstance(params, int) else None, note=str(hello.get("note", "")),
        close=worker.close, self_timed=True, reported_rss_mb=float(rss) if isinstance(rss, (int, float)) else None,
    )


def _random_image(height: int, width: int, seed: int = 0) -> Image:
    """A smooth-ish random RGB image (noise blurred), so activations look like a photo's, not white noise."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    return np.asarray(cv2.GaussianBlur(noise, (0, 0), 1.5), dtype=np.uint8)


def benchmark_image(width: int, height: int) -> Image:
    """The LR input used by every row: ``height x width`` RGB uint8, fixed seed."""
    if width < 1 or height < 1:
        raise InvalidInputError(f"benchmark input {width}x{height} is empty; use a larger --size")
    return _random_image(height, width)


def scaling_point(
    path: Path, side: int, engine: str, precision: str, threads: int | None, tile: int, runs: int
) -> dict[str, object]:
    """Latency and memory of one fresh Upscaler on a ``side x side`` LR image (memory on its first run)."""
    upscaler = _upscaler(path, engine, precision, None, threads, tile)
    info = upscaler.info
    image = _random_image(side, side, seed=side)
    rss = peak_rss_added_mb(lambda: upscaler.upscale(image))
    samples, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        upscaler.upscale(image)
        samples.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    lat = Latency.from_samples(samples, cpu)
    out_mb = (side * info.scale) ** 2 * 3 / 2**20
    return {
        "lr_side": side, "lr_megapixels": side * side / 1e6, "scale": info.scale, "depth": info.depth,
        "engine": engine, "precision": precision, "tile": tile, "runs": runs,
        "median_s": lat.median_s, "min_s": lat.min_s, "cpu_median_s": lat.cpu_median_s,
        "s_per_lr_megapixel": lat.median_s / (side * side / 1e6),
        "peak_rss_added_mb": rss, "output_image_mb": out_mb,
        "working_mb": None if rss is None else max(0.0, rss - out_mb),
    }
