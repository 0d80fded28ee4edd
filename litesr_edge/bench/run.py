"""Timing and the report of ``litesr-edge bench``: Multi-Adds, memory and latency, with same-run comparisons.

Every timed candidate (our models on each engine/precision/tile, bicubic, OpenCV zoo
peers, PyTorch eager via an external worker; see :mod:`litesr_edge.bench.candidates`)
is run round-robin: round r times each
candidate once, so slow phases of a shared machine hit all of them alike and the
ratios between rows are fair even when the absolute numbers drift. Peak memory is
measured on each candidate's first run, before any timing.

Conventions: the output size (default 1280x720) is the HR size, the LR input is
(W // s) x (H // s); Multi-Adds follow :mod:`litesr_edge.bench.macs`; GMAC/s divides the
image's Multi-Adds (not the margin work of tiles) by the median latency; % of peak
compares that with the fp32 GEMM peak measured in the same run, and for int8 rows also with
the int8 GEMM peak (:mod:`litesr_edge.bench.int8_peak`), the limit of the int8 path.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
from numpy.typing import NDArray

from litesr_edge.bench.int8_peak import int8_peak
from litesr_edge.bench.machine import GemmPeak, gemm_peak, machine_info, peak_rss_added_mb
from litesr_edge.bench.macs import CONVENTION
from litesr_edge.errors import InvalidInputError

__all__ = ["PAPER_TABLE3", "SCHEMA", "BenchReport", "BenchRow", "Candidate", "Image", "Latency", "bench"]

SCHEMA = "litesr-edge-bench/1"
# The paper's Table 3, as far as the project knows it (Multi-Adds in G, at 1280x720 output).
# Other cells are not known here and are reported as None ("n/a").
PAPER_TABLE3: dict[tuple[int, int], dict[str, float]] = {(4, 19): {"macs_g": 16.64}}

Image = NDArray[np.uint8]


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
    pct_int8_peak: float | None = None


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
    int8_peak: GemmPeak | None = None

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict: the fields of this report and its rows, nested."""
        return asdict(self)


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


def _row(cand: Candidate, lat: Latency | None, rss: float | None, peaks: tuple[GemmPeak | None, GemmPeak | None],
         ref: float | None) -> BenchRow:
    w, h = cand.input_size
    macs_g = None if cand.macs is None else cand.macs / 1e9
    gmacs = None if macs_g is None or lat is None else macs_g / lat.median_s
    peak, int8 = peaks
    int8 = int8 if cand.precision == "int8" else None
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
        pct_int8_peak=None if gmacs is None or int8 is None else 100 * gmacs / int8.gmacs,
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

    ``threads_for_peak``: BLAS threads for the GEMM peak (None: skip it).
    """
    if runs < 1 or warmup < 0:
        raise InvalidInputError(f"runs={runs} must be >= 1 and warmup={warmup} >= 0")
    machine = machine_info()
    # The peak is the best of two GEMM bursts, before and after the timing: one burst can
    # land entirely in a busy neighbour's time slice and report a fraction of the hardware.
    before = _peaks(threads_for_peak)
    rss = [c.reported_rss_mb if c.self_timed else peak_rss_added_mb(c.run) for c in candidates]
    lats = _time_round_robin(candidates, max(0, warmup - 1), runs)
    after = _peaks(threads_for_peak)
    peak, int8 = (_best(before[i], after[i]) for i in (0, 1))
    machine["load_average_1m_after"] = machine_info()["load_average_1m"]
    rows = tuple(
        _row(c, lat, r, (peak, int8), _reference(candidates, lats, c))
        for c, lat, r in zip(candidates, lats, rss, strict=True)
    )
    for cand in candidates:
        if cand.close is not None:
            cand.close()
    return BenchReport(machine, dict(settings or {}), peak, rows, tuple(notes), int8_peak=int8)


def _peaks(threads: int | None) -> tuple[GemmPeak | None, GemmPeak | None]:
    """(fp32, int8) GEMM peaks with ``threads`` threads; (None, None) when not asked for."""
    if not threads:
        return None, None
    return gemm_peak(threads), int8_peak(threads)


def _best(a: GemmPeak | None, b: GemmPeak | None) -> GemmPeak | None:
    return max((p for p in (a, b) if p is not None), key=lambda p: p.gmacs, default=None)
