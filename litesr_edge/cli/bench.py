"""``litesr-edge bench``: Multi-Adds, parameters, memory and latency, beside the paper and the alternatives.

``bench_command`` is registered on the app by :mod:`litesr_edge.cli`; importing this
module has no side effect.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from litesr_edge.bench.plan import COMPARISONS, BenchOptions, plot_report, run_bench
from litesr_edge.bench.report import COLUMNS, cells, machine_line, scaling_markdown, to_csv
from litesr_edge.bench.run import BenchReport
from litesr_edge.cli._output import fail, translate
from litesr_edge.errors import ImageWriteError, LiteSRError

# Where --peers is read from when the flag is not given.
PEERS_ENV = "LITESR_EDGE_PEERS"


def _table(report: BenchReport) -> Table:
    table = Table(title=f"litesr-edge bench: {report.settings.get('output')} output, "
                        f"{report.settings.get('runs')} runs", title_justify="left")
    for i, col in enumerate(COLUMNS):
        table.add_column(col, justify="left" if i < 3 else "right", overflow="fold")
    for row in report.rows:
        table.add_row(*cells(row))
    return table


def _write_json(path: Path, data: dict[str, object]) -> None:
    try:
        path.write_text(json.dumps(data, indent=2) + "\n")
    except OSError as exc:
        raise ImageWriteError(f"cannot write --output {path} ({exc.strerror}); pick a writable file") from None


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
        out.print(f"note: {translate(note)}", soft_wrap=True, markup=False, highlight=False)
    if scaling:
        out.print(scaling_markdown(scaling), markup=False, highlight=False)


def bench_command(
    scale: Annotated[str | None, typer.Option("--scale", "-s", help="Scales, e.g. 2,3,4 (default: all).")] = None,
    depth: Annotated[str | None, typer.Option(help="Depths, e.g. 13,16,19 (default: all bundled).")] = None,
    model: Annotated[list[Path] | None, typer.Option(help="Benchmark this .onnx instead (repeatable).")] = None,
    size: Annotated[str, typer.Option(help="HR OUTPUT size WIDTHxHEIGHT; the input is size / scale.")] = "1280x720",
    device: Annotated[str | None, typer.Option(help="ONNX Runtime provider, e.g. cpu or cuda (default: auto).")] = None,
    threads: Annotated[int | None, typer.Option(help="CPU threads (default: the engine's choice).")] = None,
    tile: Annotated[str, typer.Option(help="Tile sizes, comma-separated; 0 = whole image, auto = default.")] = "0",
    runs: Annotated[int, typer.Option(help="Timed runs per row (after warm-up).")] = 10,
    warmup: Annotated[int, typer.Option(help="Untimed runs per row first (the first one measures memory).")] = 2,
    engine: Annotated[str, typer.Option(help="Engines: onnxruntime, openvino (comma-separated).")] = "onnxruntime",
    precision: Annotated[str, typer.Option(help="Precisions: fp32, bf16 (comma-separated).")] = "fp32",
    compare: Annotated[str, typer.Option(help=f"Extra rows: {','.join(COMPARISONS)} or none.")] = ",".join(COMPARISONS),
    peers: Annotated[Path | None, typer.Option(
        help="Folder of OpenCV zoo .pb peers (FSRCNN_x4.pb...); without it, no peer rows.",
        envvar=PEERS_ENV, show_default=False)] = None,
    scaling: Annotated[str | None, typer.Option(help="Also sweep square LR sides, e.g. 128,256,512,1024,2048.")] = None,
    peak: Annotated[bool, typer.Option(help="Measure the fp32 GEMM peak (a few seconds).")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print the rows as CSV.")] = False,
    output: Annotated[Path | None, typer.Option(help="Also write the JSON report to this file.")] = None,
    plot: Annotated[Path | None, typer.Option(help="Write a latency bar chart (and scaling chart) PNG.")] = None,
) -> None:
    """Measure Multi-Adds, parameters, memory and latency of LiteSRNet models, beside the paper and peers."""
    try:
        opts = BenchOptions(scale=scale, depth=depth, models=tuple(model or ()), size=size, device=device,
                            threads=threads, tile=tile, runs=runs, warmup=warmup, engine=engine, precision=precision,
                            compare=compare, peers=peers, scaling=scaling, peak=peak)
        report, points = run_bench(opts)
        if output is not None:
            _write_json(output, {**report.to_json(), "scaling": points})
        if plot is not None:
            plot_report(report, points, plot)
    except LiteSRError as exc:
        fail(exc)
    if as_json:
        print(json.dumps({**report.to_json(), "scaling": points}, indent=2))
    elif as_csv:
        print(to_csv(report), end="")
    else:
        _print(report, points)
