"""``litesr-edge bench``: Multi-Adds, memory and latency of LiteSRNet models, with same-run comparisons.

Every timed candidate (our models on each engine/precision/tile, bicubic, OpenCV zoo
peers, PyTorch eager via an external worker) is run round-robin: round r times each
candidate once, so slow phases of a shared machine hit all of them alike and the
ratios between rows are fair even when the absolute numbers drift. Peak memory is
measured on each candidate's first run, before any timing.

Conventions: the output size (default 1280x720) is the HR size, the LR input is
(W // s) x (H // s); Multi-Adds follow :mod:`litesr_edge.bench.macs`; GMAC/s divides the
image's Multi-Adds (not the margin work of tiles) by the median latency; % of peak
compares that with the fp32 GEMM peak measured in the same run.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from litesr_edge.bench.machine import GemmPeak, gemm_peak, machine_info, peak_rss_added_mb
from litesr_edge.bench.macs import CONVENTION, count_macs
from litesr_edge.bench.onnx_graph import read_graph
from litesr_edge.engines import Engine, create_engine
from litesr_edge.errors import EngineUnavailableError, InvalidInputError
from litesr_edge.tiling import plan_tiles
from litesr_edge.upscaler import store_output

__all__ = [
    "PAPER_TABLE3",
    "SCHEMA",
    "TORCH_ENV",
    "BenchReport",
    "BenchRow",
    "Candidate",
    "Image",
    "Latency",
    "bench",
    "benchmark_image",
    "bicubic_candidate",
    "litesr_candidate",
    "peer_candidates",
    "peer_macs_per_lr_pixel",
    "scaling_point",
    "torch_candidate",
    "upscale_u8",
]

SCHEMA = "litesr-edge-bench/1"
# The paper's Table 3, as far as the project knows it (Multi-Adds in G, at 1280x720 output).
# Other cells are not known here and are reported as None ("n/a").
PAPER_TABLE3: dict[tuple[int, int], dict[str, float]] = {(4, 19): {"macs_g": 16.64}}

Image = NDArray[np.uint8]
# OpenMP threads that spin after each PyTorch run would steal the CPU from the next row
# timed in this process; passive waiting costs PyTorch nothing measurable on 30-ms convolutions.
TORCH_ENV = {"OMP_WAIT_POLICY": "PASSIVE"}


@dataclass(frozen=True)
class Latency:
    """Seconds per image over the timed runs."""

    median_s: float
    p90_s: float
    min_s: float
    runs: int
    # Process CPU seconds per image (all threads): unlike wall time, it does not grow
    # while a busier neighbour holds the cores, so it compares code, not scheduling.
    cpu_median_s: float | None = None

    @classmethod
    def from_samples(cls, samples: Sequence[float], cpu: Sequence[float | None] = ()) -> Latency:
        """Median, p90 (nearest rank) and best of ``samples``; median of ``cpu`` if all known."""
        ordered = sorted(samples)
        p90 = ordered[min(len(ordered) - 1, int(np.ceil(0.9 * len(ordered))) - 1)]
        known = [c for c in cpu if c is not None]
        cpu_med = statistics.median(known) if known and len(known) == len(cpu) else None
        return cls(statistics.median(ordered), p90, ordered[0], len(ordered), cpu_med)


@dataclass
class Candidate:
    """Something to time: ``run()`` upscales the benchmark image once."""

    name: str
    kind: str  # "litesr", "baseline", "peer", "external"
    run: Callable[[], object]
    scale: int
    input_size: tuple[int, int]  # LR (width, height)
    depth: int | None = None
    engine: str = ""
    precision: str = ""
    provider: str = ""
    threads: int | None = None
    tile: int | None = None
    macs: int | None = None
    params: int | None = None
    weight_bytes: int | None = None
    note: str = ""
    close: Callable[[], None] | None = None
    # Workers in other processes time themselves (``run`` returns (wall s, CPU s)) and
    # report their own first-run memory.
    self_timed: bool = False
    reported_rss_mb: float | None = None


@dataclass(frozen=True)
class BenchRow:
    """One line of the report."""

    name: str
    kind: str
    scale: int
    depth: int | None
    engine: str
    precision: str
    provider: str
    threads: int | None
    tile: int | None
    input_size: tuple[int, int]
    output_size: tuple[int, int]
    macs_g: float | None
    paper_macs_g: float | None
    params: int | None
    weight_mb: float | None
    peak_rss_added_mb: float | None
    latency: Latency | None
    output_mp_per_s: float | None
    gmacs_per_s: float | None
    pct_fp32_peak: float | None
    speedup_vs_ort_fp32: float | None
    note: str = ""


@dataclass(frozen=True)
class BenchReport:
    """A whole ``bench`` run: machine, settings, GEMM peak, rows, notes."""

    machine: dict[str, object]
    settings: dict[str, object]
    gemm_peak: GemmPeak | None
    rows: tuple[BenchRow, ...]
    notes: tuple[str, ...] = ()
    convention: str = CONVENTION
    schema: str = SCHEMA
    scaling: tuple[dict[str, object], ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict (see tests/test_bench_cli.py for the schema)."""
        return asdict(self)


def upscale_u8(engine: Engine, image: Image, tile: int, margin: int, scale: int) -> Image:
    """What the Upscaler does for an RGB uint8 image: tiles -> float NCHW -> engine -> clamp -> uint8."""
    height, width = image.shape[:2]
    out = np.empty((height * scale, width * scale, 3), np.uint8)
    for t in plan_tiles(height, width, tile, margin):
        rows, cols = t.crop_slices()
        batch = (image[rows, cols].astype(np.float32) * np.float32(1 / 255)).transpose(2, 0, 1)[None]
        result = engine.run(np.ascontiguousarray(batch))
        keep_r, keep_c = t.keep_slices(scale)
        dest_r, dest_c = t.dest_slices(scale)
        store_output(result[0, :, keep_r, keep_c], out[dest_r, dest_c])
    return out


def litesr_candidate(
    path: Path, image: Image, engine: str, precision: str, providers: Sequence[str] | None,
    threads: int | None, tile: int, macs_from: Path | None = None,
) -> Candidate:
    """A LiteSRNet model on one engine/precision/tile setting, with its graph counts.

    ``macs_from``: count Multi-Adds on this graph instead (an int8 model's fp32 original:
    in the int8 file, weights that round to zero look like the rewrite's structural zeros).
    """
    eng = create_engine(engine, path, providers, threads, precision)
    info = eng.info
    h, w = image.shape[:2]
    counts = count_macs(read_graph(path), (1, 3, h, w))
    macs = counts.macs if macs_from is None else count_macs(read_graph(macs_from), (1, 3, h, w)).macs
    tag = f"tile {tile}" if tile else "whole image"
    return Candidate(
        name=f"LiteSRNet x{info.scale} d{info.depth} [{engine} {precision}, {tag}]",
        kind="litesr", run=lambda: upscale_u8(eng, image, tile, info.receptive_field, info.scale),
        scale=info.scale, input_size=(w, h), depth=info.depth, engine=engine, precision=precision,
        provider=eng.provider,
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


def peer_candidates(folder: Path, image: Image, scale: int) -> tuple[list[Candidate], list[str]]:
    """OpenCV zoo peers (FSRCNN, FSRCNN-small, ESPCN) for ``scale`` found in ``folder``."""
    files = sorted(folder.glob(f"*_x{scale}.pb")) if folder.is_dir() else []
    if not files:
        return [], [f"peers skipped: no *_x{scale}.pb in {folder} (see ../shared/peers/README.md)"]
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


def torch_candidate(model: Path, image: Image, threads: int, repo: Path, reference: Candidate) -> Candidate:
    """PyTorch eager on the weights of ``model`` (``reference``: its LiteSRNet candidate), run by
    benchmarks/torch_worker.py of a repository checkout."""
    from litesr_edge.bench.worker import Worker

    if not (repo / "benchmarks" / "torch_worker.py").is_file():
        raise EngineUnavailableError(
            f"the PyTorch row needs a repository checkout (no benchmarks/torch_worker.py in {repo})"
        )
    h, w = image.shape[:2]
    worker = Worker([sys.executable, "-m", "benchmarks.torch_worker", "--model", str(model.resolve()),
                     "--width", str(w), "--height", str(h), "--threads", str(threads)], cwd=repo, env=TORCH_ENV)
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


# Idle time before each timed run: thread pools (ONNX Runtime, OpenCV, OpenMP) spin for a
# while after a job, and would otherwise steal the cores from the next candidate.
COOL_DOWN_S = 0.05


def _time_round_robin(cands: Sequence[Candidate], warmup: int, runs: int) -> list[Latency]:
    for cand in cands:
        for _ in range(warmup):
            cand.run()
    wall: list[list[float]] = [[] for _ in cands]
    cpu: list[list[float | None]] = [[] for _ in cands]
    for _ in range(runs):
        for i, cand in enumerate(cands):
            time.sleep(COOL_DOWN_S)
            start, start_cpu = time.perf_counter(), time.process_time()
            result = cand.run()
            elapsed, used = time.perf_counter() - start, time.process_time() - start_cpu
            if cand.self_timed and isinstance(result, tuple):
                elapsed, used = result
            wall[i].append(elapsed)
            cpu[i].append(used)
    return [Latency.from_samples(w, c) for w, c in zip(wall, cpu, strict=True)]


def _row(cand: Candidate, lat: Latency | None, rss: float | None, peak: GemmPeak | None,
         ref: float | None) -> BenchRow:
    w, h = cand.input_size
    macs_g = None if cand.macs is None else cand.macs / 1e9
    gmacs = None if macs_g is None or lat is None else macs_g / lat.median_s
    paper = PAPER_TABLE3.get((cand.scale, cand.depth or 0), {}).get("macs_g") if cand.kind == "litesr" else None
    return BenchRow(
        name=cand.name, kind=cand.kind, scale=cand.scale, depth=cand.depth, engine=cand.engine,
        precision=cand.precision, provider=cand.provider, threads=cand.threads, tile=cand.tile,
        input_size=(w, h), output_size=(w * cand.scale, h * cand.scale), macs_g=macs_g, paper_macs_g=paper,
        params=cand.params, weight_mb=None if cand.weight_bytes is None else cand.weight_bytes / 2**20,
        peak_rss_added_mb=rss, latency=lat,
        output_mp_per_s=None if lat is None else w * h * cand.scale**2 / 1e6 / lat.median_s,
        gmacs_per_s=gmacs, pct_fp32_peak=None if gmacs is None or peak is None else 100 * gmacs / peak.gmacs,
        speedup_vs_ort_fp32=None if ref is None or lat is None else ref / lat.median_s, note=cand.note,
    )


def _reference(cands: Sequence[Candidate], lats: Sequence[Latency], cand: Candidate) -> float | None:
    """Median of the ONNX Runtime fp32 whole-image row of the same model, if any."""
    for other, lat in zip(cands, lats, strict=True):
        same = other.kind == "litesr" and (other.scale, other.depth) == (cand.scale, cand.depth)
        if same and other.engine == "onnxruntime" and other.precision == "fp32" and not other.tile:
            return lat.median_s
    return None


def bench(
    candidates: Sequence[Candidate], runs: int, warmup: int = 2,
    threads_for_peak: int | None = None, settings: dict[str, object] | None = None,
    notes: Sequence[str] = (),
) -> BenchReport:
    """GEMM peak, memory (first runs), latency round-robin, GEMM peak again; build the report.

    ``threads_for_peak``: BLAS threads for the
    GEMM peak (None: skip it).
    """
    if runs < 1 or warmup < 0:
        raise InvalidInputError(f"runs={runs} must be >= 1 and warmup={warmup} >= 0")
    machine = machine_info()
    # The peak is the best of two GEMM bursts, before and after the timing: one burst can
    # land entirely in a busy neighbour's time slice and report a fraction of the hardware.
    before = gemm_peak(threads_for_peak) if threads_for_peak else None
    rss = [c.reported_rss_mb if c.self_timed else peak_rss_added_mb(c.run) for c in candidates]
    lats = _time_round_robin(candidates, max(0, warmup - 1), runs)
    after = gemm_peak(threads_for_peak) if threads_for_peak else None
    peak = max((p for p in (before, after) if p is not None), key=lambda p: p.gmacs, default=None)
    machine["load_average_1m_after"] = machine_info()["load_average_1m"]
    rows = tuple(
        _row(c, lat, r, peak, _reference(candidates, lats, c))
        for c, lat, r in zip(candidates, lats, rss, strict=True)
    )
    for cand in candidates:
        if cand.close is not None:
            cand.close()
    return BenchReport(machine, dict(settings or {}), peak, rows, tuple(notes))



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
    """Latency and memory of one fresh engine on a ``side x side`` LR image (memory on its first run)."""
    eng = create_engine(engine, path, None, threads, precision)
    info = eng.info
    image = _random_image(side, side, seed=side)
    rss = peak_rss_added_mb(lambda: upscale_u8(eng, image, tile, info.receptive_field, info.scale))
    samples, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        upscale_u8(eng, image, tile, info.receptive_field, info.scale)
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
