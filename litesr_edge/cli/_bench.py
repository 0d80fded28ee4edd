"""``litesr-edge bench``: Multi-Adds, parameters, memory and latency, beside the paper and the alternatives."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from .._bench import (
    BenchReport,
    Candidate,
    bench,
    benchmark_image,
    bicubic_candidate,
    litesr_candidate,
    peer_candidates,
    scaling_point,
    torch_candidate,
)
from .._bench_format import COLUMNS, cells, machine_line, scaling_markdown, to_csv
from .._engine import read_model_info
from .._errors import EngineUnavailableError, InvalidInputError, LiteSRError
from .._models import BundledModel, list_models
from .._plot import bar_chart, line_chart
from .._tiling import choose_tile
from .._upscaler import DEFAULT_MAX_MEMORY_MB
from . import app

REPO = Path(__file__).resolve().parents[2]
DEFAULT_PEERS = REPO.parent / "shared" / "peers" / "opencv-dnn-superres"
COMPARISONS = ("bicubic", "peers", "tiled", "openvino", "torch")


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
    bundled: list[BundledModel] = list_models()
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


def _tiles(text: str, rf: int) -> list[int]:
    out = []
    for part in text.split(","):
        part = part.strip()
        out.append(choose_tile(DEFAULT_MAX_MEMORY_MB, rf) if part == "auto" else int(part) if part.isdigit() else -1)
    if min(out) < 0:
        raise InvalidInputError(f"--tile {text!r} must list tile sizes >= 0 or 'auto' (0 = whole image)")
    return out


def _optional(cands: list[Candidate], notes: list[str], what: str, make: object) -> None:
    """Add the candidate(s) ``make()`` builds, or a note saying why they are skipped."""
    try:
        made = make()  # type: ignore[operator]
    except (EngineUnavailableError, OSError) as exc:
        notes.append(f"{what} skipped: {' '.join(str(exc).split())}")
        return
    cands.extend(made if isinstance(made, list) else [made])


def _candidates(
    paths: Sequence[Path], size: tuple[int, int], pairs: Sequence[tuple[str, str]], device: str | None,
    threads: int | None, tile_text: str, compare: Sequence[str], peers: Path,
) -> tuple[list[Candidate], list[str]]:
    cands: list[Candidate] = []
    notes: list[str] = []
    providers = None if device is None else [device]
    seen_scales: set[int] = set()
    for path in paths:
        info = read_model_info(path)
        image = benchmark_image(size[0] // info.scale, size[1] // info.scale)
        model_cands = [
            litesr_candidate(path, image, engine, precision, providers, threads, tile)
            for engine, precision in pairs
            for tile in _tiles(tile_text, info.receptive_field)
        ]
        cands.extend(model_cands)
        _comparisons(cands, notes, compare, path, image, model_cands[0], threads, seen_scales, peers, pairs)
    return cands, notes


def _rf(path: Path) -> int:
    return read_model_info(path).receptive_field


def _comparisons(
    cands: list[Candidate], notes: list[str], compare: Sequence[str], path: Path, image: object,
    first: Candidate, threads: int | None, seen_scales: set[int], peers: Path, pairs: Sequence[tuple[str, str]],
) -> None:
    s = first.scale
    img = image  # an LR uint8 image (typed loosely: only passed through)
    auto = choose_tile(DEFAULT_MAX_MEMORY_MB, _rf(path))
    have_auto = any(c.tile == auto and c.engine == first.engine and c.scale == s for c in cands)
    if "tiled" in compare and not have_auto:
        _optional(cands, notes, "tiled row", lambda: litesr_candidate(
            path, img, first.engine, first.precision, None, threads, auto))  # type: ignore[arg-type]
    if "openvino" in compare and ("openvino", "bf16") not in pairs:
        _optional(cands, notes, f"openvino bf16 x{s}", lambda: litesr_candidate(
            path, img, "openvino", "bf16", None, threads, 0))  # type: ignore[arg-type]
    if "torch" in compare:
        _optional(cands, notes, f"PyTorch x{s}", lambda: torch_candidate(
            path, img, threads or 2, REPO, first))  # type: ignore[arg-type]
    if s in seen_scales:
        return
    seen_scales.add(s)
    if "bicubic" in compare:
        cands.append(bicubic_candidate(img, s))  # type: ignore[arg-type]
    if "peers" in compare:
        found, why = peer_candidates(peers, img, s)  # type: ignore[arg-type]
        cands.extend(found)
        notes.extend(why)


def _pairs(engines: str, precisions: str) -> tuple[list[tuple[str, str]], list[str]]:
    pairs, notes = [], []
    for e in (x.strip() for x in engines.split(",")):
        for p in (x.strip() for x in precisions.split(",")):
            if e == "onnxruntime" and p != "fp32":
                notes.append(f"onnxruntime {p} skipped: ONNX Runtime runs this model in fp32 only")
                continue
            pairs.append((e, p))
    if not pairs:
        raise InvalidInputError(f"--engine {engines} with --precision {precisions} leaves nothing to run")
    return pairs, notes


def _table(report: BenchReport) -> Table:
    table = Table(title=f"litesr-edge bench: {report.settings.get('output')} output, "
                        f"{report.settings.get('runs')} runs", title_justify="left")
    for i, col in enumerate(COLUMNS):
        table.add_column(col, justify="left" if i < 3 else "right", overflow="fold")
    for row in report.rows:
        table.add_row(*cells(row))
    return table


def _print(report: BenchReport, scaling: list[dict[str, object]]) -> None:
    # 14 columns: piped output (rich's 80-column default) would fold every cell.
    out = Console() if Console().is_terminal else Console(width=220)
    out.print(_table(report))
    out.print(f"machine: {machine_line(report)}", soft_wrap=True, markup=False, highlight=False)
    out.print(f"convention: {report.convention}; output {report.settings.get('output')}", soft_wrap=True,
              markup=False, highlight=False)
    for row in report.rows:
        out.print(f"  {row.name}: provider {row.provider}, threads {row.threads or 'default'}"
                  + (f"; {row.note}" if row.note else ""), soft_wrap=True, markup=False, highlight=False)
    for note in report.notes:
        out.print(f"note: {note}", soft_wrap=True, markup=False, highlight=False)
    if scaling:
        out.print(scaling_markdown(scaling), markup=False, highlight=False)


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


def _plot(report: BenchReport, scaling: list[dict[str, object]], path: Path) -> list[Path]:
    timed = [r for r in report.rows if r.latency is not None]
    written = [bar_chart([r.name for r in timed], [r.latency.median_s for r in timed if r.latency], path,
                         f"Latency per image, {report.settings.get('output')} output (median)", "seconds")]
    if scaling:
        series: dict[str, list[tuple[float, float]]] = {}
        for p in scaling:
            key = f"{'whole image' if p['tile'] == 0 else 'tile ' + str(p['tile'])} ({p['engine']} {p['precision']})"
            series.setdefault(key, []).append((float(p["lr_megapixels"]), float(p["median_s"])))  # type: ignore[arg-type]
        written.append(line_chart(series, path.with_name(path.stem + "_scaling" + path.suffix),
                                  "Latency vs input size", "LR megapixels", "seconds"))
    return written


@app.command("bench")
def bench_command(
    scale: Annotated[str | None, typer.Option("--scale", "-s", help="Scales, e.g. 2,3,4 (default: all).")] = None,
    depth: Annotated[str | None, typer.Option(help="Depths, e.g. 13,16,19 (default: all bundled).")] = None,
    model: Annotated[list[Path] | None, typer.Option(help="Benchmark this .onnx instead (repeatable).")] = None,
    size: Annotated[str, typer.Option(help="HR OUTPUT size WIDTHxHEIGHT; the input is size / scale.")] = "1280x720",
    device: Annotated[str | None, typer.Option(help="ONNX Runtime provider, e.g. cpu or cuda (default: auto).")] = None,
    threads: Annotated[int | None, typer.Option(help="CPU threads (default: the engine's choice).")] = None,
    tile: Annotated[str, typer.Option(help="Tile sizes, comma-separated; 0 = whole image, auto = default.")] = "0",
    runs: Annotated[int, typer.Option(help="Timed runs per row (after warm-up); the issue asks >= 10.")] = 10,
    warmup: Annotated[int, typer.Option(help="Untimed runs per row first (the first one measures memory).")] = 2,
    engine: Annotated[str, typer.Option(help="Engines: onnxruntime, openvino (comma-separated).")] = "onnxruntime",
    precision: Annotated[str, typer.Option(help="Precisions: fp32, bf16 (comma-separated).")] = "fp32",
    compare: Annotated[str, typer.Option(help=f"Extra rows: {','.join(COMPARISONS)} or none.")] = ",".join(COMPARISONS),
    peers: Annotated[Path, typer.Option(help="Folder of OpenCV zoo .pb peers.")] = DEFAULT_PEERS,
    scaling: Annotated[str | None, typer.Option(help="Also sweep square LR sides, e.g. 128,256,512,1024,2048.")] = None,
    peak: Annotated[bool, typer.Option(help="Measure the fp32 GEMM peak (about 2 s).")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print the rows as CSV.")] = False,
    output: Annotated[Path | None, typer.Option(help="Also write the JSON report to this file.")] = None,
    plot: Annotated[Path | None, typer.Option(help="Write a latency bar chart (and scaling chart) PNG.")] = None,
) -> None:
    """Measure Multi-Adds, parameters, memory and latency of LiteSRNet models, beside the paper and peers."""
    try:
        report, points = _run(scale, depth, model or [], size, device, threads, tile, runs, warmup, engine,
                              precision, compare, peers, scaling, peak)
        if output is not None:
            output.write_text(json.dumps({**report.to_json(), "scaling": points}, indent=2) + "\n")
        if plot is not None:
            _plot(report, points, plot)
    except LiteSRError as exc:
        Console(stderr=True).print(f"error: {' '.join(str(exc).split())}", soft_wrap=True, markup=False,
                                   highlight=False)
        raise typer.Exit(exc.exit_code) from None
    if as_json:
        print(json.dumps({**report.to_json(), "scaling": points}, indent=2))
    elif as_csv:
        print(to_csv(report), end="")
    else:
        _print(report, points)


def _run(scale: str | None, depth: str | None, models: Sequence[Path], size: str, device: str | None,
         threads: int | None, tile: str, runs: int, warmup: int, engine: str, precision: str, compare: str,
         peers: Path, scaling: str | None, peak: bool) -> tuple[BenchReport, list[dict[str, object]]]:
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
    import os

    return os.cpu_count() or 1
