"""Which rows a ``bench`` run times, built from command-line style options; runs them.

Kept apart from the CLI so that scripts get the same rows as ``litesr-edge bench``
without going through a terminal.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from litesr_edge.bench.candidates import (
    benchmark_image,
    bicubic_candidate,
    litesr_candidate,
    peer_candidates,
    scaling_point,
    torch_candidate,
)
from litesr_edge.bench.plot import bar_chart, line_chart
from litesr_edge.bench.report import scaling_series
from litesr_edge.bench.run import BenchReport, Candidate, Image, bench
from litesr_edge.errors import EngineUnavailableError, InvalidInputError
from litesr_edge.registry import BundledModel, list_models, model_for_precision
from litesr_edge.registry.metadata import read_model_info
from litesr_edge.tiling import choose_tile
from litesr_edge.upscaler import DEFAULT_MAX_MEMORY_MB

__all__ = ["COMPARISONS", "BenchOptions", "plot_report", "run_bench"]

COMPARISONS = ("bicubic", "peers", "tiled", "openvino", "int8", "torch")


@dataclass(frozen=True)
class BenchOptions:
    """The ``litesr-edge bench`` options, as text where the CLI takes lists."""

    scale: str | None = None
    depth: str | None = None
    models: tuple[Path, ...] = ()
    size: str = "1280x720"
    device: str | None = None
    threads: int | None = None
    tile: str = "0"
    runs: int = 10
    warmup: int = 2
    engine: str = "onnxruntime"
    precision: str = "fp32"
    compare: str = ",".join(COMPARISONS)
    peers: Path | None = None  # folder of OpenCV zoo .pb files; None: no peer rows (a note says so)
    scaling: str | None = None
    peak: bool = True


def _ints(text: str | None, what: str) -> list[int] | None:
    if text is None:
        return None
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InvalidInputError(f"{what}={text!r} must be comma-separated integers, e.g. 2,3,4") from None
    if not values or min(values) < 1:
        raise InvalidInputError(f"{what}={text!r} must list integers >= 1")
    return values


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise InvalidInputError(f"--size {text!r} must be WIDTHxHEIGHT, e.g. 1280x720") from None
    if w < 1 or h < 1:
        raise InvalidInputError(f"--size {text!r} must be positive")
    return w, h


def _select(models: Sequence[Path], scales: list[int] | None, depths: list[int] | None) -> tuple[list[Path], list[str]]:
    if models:
        return list(models), []
    # int8 files are the same networks as their fp32 models: --precision int8 selects them
    bundled: list[BundledModel] = [m for m in list_models() if m.info.precision == "fp32"]
    chosen = [m for m in bundled if (scales is None or m.info.scale in scales)
              and (depths is None or m.info.depth in depths)]
    have = {(m.info.scale, m.info.depth) for m in bundled}
    notes = [f"x{s} depth {d}: no bundled model (pass --model FILE)"
             for s in scales or [] for d in depths or [] if (s, d) not in have]
    if not chosen:
        raise InvalidInputError(
            f"no bundled model matches scales {scales} and depths {depths}; bundled: "
            f"{', '.join(f'x{s} d{d}' for s, d in sorted(have)) or 'none'}; or pass --model FILE"
        )
    return [m.path for m in chosen], notes


def _model_for(path: Path, precision: str) -> tuple[Path, Path | None]:
    """(file that runs ``precision``, file to count Multi-Adds on, or None for the same file)."""
    run_path = model_for_precision(path, precision)
    return run_path, None if run_path == path else path


def _litesr(path: Path, image: Image, engine: str, precision: str, providers: list[str] | None,
            threads: int | None, tile: int) -> Candidate:
    run_path, macs_from = _model_for(path, precision)
    return litesr_candidate(run_path, image, engine, precision, providers, threads, tile, macs_from)


def _model_candidates(
    path: Path, image: Image, pairs: Sequence[tuple[str, str]], providers: list[str] | None, threads: int | None,
    tiles: list[int], notes: list[str],
) -> list[Candidate]:
    """Rows for one model; an int8 row without a bundled int8 model becomes a note, other errors raise."""
    out: list[Candidate] = []
    for engine, precision in pairs:
        for tile in tiles:
            try:
                out.append(_litesr(path, image, engine, precision, providers, threads, tile))
            except EngineUnavailableError as exc:
                if precision != "int8":
                    raise
                notes.append(f"{engine} int8 skipped: {' '.join(str(exc).split())}")
    return out


def _tiles(text: str, rf: int) -> list[int]:
    out = []
    for part in text.split(","):
        part = part.strip()
        out.append(choose_tile(DEFAULT_MAX_MEMORY_MB, rf) if part == "auto" else int(part) if part.isdigit() else -1)
    if min(out) < 0:
        raise InvalidInputError(f"--tile {text!r} must list tile sizes >= 0 or 'auto' (0 = whole image)")
    return out


def _optional(cands: list[Candidate], notes: list[str], what: str, make: Callable[[], Candidate]) -> None:
    """Add the candidate ``make()`` builds, or a note saying why it is skipped."""
    try:
        made = make()
    except (EngineUnavailableError, OSError) as exc:
        notes.append(f"{what} skipped: {' '.join(str(exc).split())}")
        return
    cands.append(made)


def _candidates(
    paths: Sequence[Path], size: tuple[int, int], pairs: Sequence[tuple[str, str]], device: str | None,
    threads: int | None, tile_text: str, compare: Sequence[str], peers: Path | None,
) -> tuple[list[Candidate], list[str]]:
    cands: list[Candidate] = []
    notes: list[str] = []
    providers = None if device is None else [device]
    seen_scales: set[int] = set()
    for path in paths:
        info = read_model_info(path)
        image = benchmark_image(size[0] // info.scale, size[1] // info.scale)
        model_cands = _model_candidates(path, image, pairs, providers, threads, _tiles(tile_text, info.receptive_field),
                                        notes)
        if not model_cands:
            continue
        cands.extend(model_cands)
        _comparisons(cands, notes, compare, path, image, model_cands[0], threads, seen_scales, peers, pairs)
    return cands, notes


def _rf(path: Path) -> int:
    return read_model_info(path).receptive_field


def _comparisons(
    cands: list[Candidate], notes: list[str], compare: Sequence[str], path: Path, image: Image,
    first: Candidate, threads: int | None, seen_scales: set[int], peers: Path | None, pairs: Sequence[tuple[str, str]],
) -> None:
    s = first.scale
    auto = choose_tile(DEFAULT_MAX_MEMORY_MB, _rf(path))
    have_auto = any(c.tile == auto and c.engine == first.engine and c.scale == s for c in cands)
    if "tiled" in compare and not have_auto:
        _optional(cands, notes, "tiled row",
                  lambda: litesr_candidate(path, image, first.engine, first.precision, None, threads, auto))
    if "openvino" in compare and ("openvino", "bf16") not in pairs:
        _optional(cands, notes, f"openvino bf16 x{s}",
                  lambda: litesr_candidate(path, image, "openvino", "bf16", None, threads, 0))
    if "int8" in compare and ("openvino", "int8") not in pairs:
        _optional(cands, notes, f"openvino int8 x{s} d{first.depth}",
                  lambda: _litesr(path, image, "openvino", "int8", None, threads, 0))
    if "torch" in compare:
        _optional(cands, notes, f"PyTorch x{s}", lambda: torch_candidate(path, image, threads or 2, first))
    if s in seen_scales:
        return
    seen_scales.add(s)
    if "bicubic" in compare:
        cands.append(bicubic_candidate(image, s))
    if "peers" in compare:
        found, why = peer_candidates(peers, image, s)
        cands.extend(found)
        notes.extend(why)


def _pairs(engines: str, precisions: str) -> tuple[list[tuple[str, str]], list[str]]:
    pairs, notes = [], []
    for e in (x.strip() for x in engines.split(",")):
        for p in (x.strip() for x in precisions.split(",")):
            if e == "onnxruntime" and p == "bf16":
                notes.append("onnxruntime bf16 skipped: ONNX Runtime runs fp32 (and int8 models) only")
                continue
            pairs.append((e, p))
    if not pairs:
        raise InvalidInputError(f"--engine {engines} with --precision {precisions} leaves nothing to run")
    return pairs, notes


def _scaling(paths: Sequence[Path], sides: list[int], pairs: Sequence[tuple[str, str]], threads: int | None,
             runs: int) -> list[dict[str, object]]:
    engine, precision = pairs[0]
    path = paths[-1]
    auto = choose_tile(DEFAULT_MAX_MEMORY_MB, _rf(path))
    points = []
    for tile in (auto, 0):
        for side in sides:
            if tile == 0 and side > 1024:
                continue  # untiled at 2048^2 LR x4 needs several GB: the point tiling makes
            points.append(scaling_point(path, side, engine, precision, threads, tile, runs if side <= 512 else 1))
    return points


def run_bench(opts: BenchOptions) -> tuple[BenchReport, list[dict[str, object]]]:
    """Build the rows ``opts`` asks for, time them (see :func:`litesr_edge.bench.run.bench`), sweep sizes."""
    scale, depth, models, size, device = opts.scale, opts.depth, opts.models, opts.size, opts.device
    threads, tile, runs, warmup, engine = opts.threads, opts.tile, opts.runs, opts.warmup, opts.engine
    precision, compare, peers, scaling, peak = opts.precision, opts.compare, opts.peers, opts.scaling, opts.peak
    if runs < 1 or warmup < 1:
        raise InvalidInputError(f"--runs {runs} and --warmup {warmup} must be >= 1")
    wanted = [] if compare.strip() == "none" else [c.strip() for c in compare.split(",") if c.strip()]
    unknown = [c for c in wanted if c not in COMPARISONS]
    if unknown:
        raise InvalidInputError(f"--compare {','.join(unknown)} is unknown; choose from {','.join(COMPARISONS)}")
    out_size = _size(size)
    paths, notes = _select(models, _ints(scale, "--scale"), _ints(depth, "--depth"))
    pairs, pair_notes = _pairs(engine, precision)
    cands, cand_notes = _candidates(paths, out_size, pairs, device, threads, tile, wanted, peers)
    settings: dict[str, object] = {"output": f"{out_size[0]}x{out_size[1]}", "runs": runs, "warmup": warmup,
                                   "threads": threads or "default", "device": device or "auto"}
    report = bench(cands, runs, warmup, threads_for_peak=(threads or 0) or _cores() if peak else None,
                   settings=settings, notes=[*notes, *pair_notes, *cand_notes])
    sides = _ints(scaling, "--scaling")
    points = _scaling(paths, sides, pairs, threads, min(runs, 3)) if sides else []
    return report, points


def _cores() -> int:
    return os.cpu_count() or 1


def plot_report(report: BenchReport, scaling: list[dict[str, object]], path: Path) -> list[Path]:
    """Write the latency bar chart to ``path`` (and ``<stem>_scaling`` beside it); return the files."""
    timed = [r for r in report.rows if r.latency is not None]
    written = [bar_chart([r.name for r in timed], [r.latency.median_s for r in timed if r.latency], path,
                         f"Latency per image, {report.settings.get('output')} output (median)", "seconds")]
    if scaling:
        series = scaling_series(scaling, "median_s")
        written.append(line_chart(series, path.with_name(path.stem + "_scaling" + path.suffix),
                                  "Latency vs input size", "LR megapixels", "seconds"))
    return written
