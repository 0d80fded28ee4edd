"""Text forms of a bench report: CSV, Markdown (README/results files) and plain cells for tables."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from litesr_edge.bench.run import BenchReport, BenchRow

__all__ = ["COLUMNS", "cells", "machine_line", "scaling_markdown", "scaling_series", "to_csv", "to_markdown"]

COLUMNS = (
    "row", "engine", "tile", "Multi-Adds (G)", "paper (G)", "params", "weights (MB)", "+RSS (MB)",
    "median (s)", "p90 (s)", "CPU s/img", "MP/s out", "GMAC/s", "% fp32 peak", "% int8 peak", "x vs ORT fp32",
)


def _num(value: float | None, fmt: str) -> str:
    return "n/a" if value is None else format(value, fmt)


def cells(row: BenchRow) -> list[str]:
    """The row's values in COLUMNS order, formatted for people."""
    lat = row.latency
    tile = "-" if row.tile is None else ("whole" if row.tile == 0 else str(row.tile))
    return [
        row.name, f"{row.engine} {row.precision}".strip(), tile, _num(row.macs_g, ".2f"),
        _num(row.paper_macs_g, ".2f") if row.kind == "litesr" else "",
        "n/a" if row.params is None else f"{row.params:,}",
        _num(row.weight_mb, ".2f"), _num(row.peak_rss_added_mb, ".0f"),
        _num(None if lat is None else lat.median_s, ".3f"), _num(None if lat is None else lat.p90_s, ".3f"),
        _num(None if lat is None else lat.cpu_median_s, ".3f"),
        _num(row.output_mp_per_s, ".2f"), _num(row.gmacs_per_s, ".1f"), _num(row.pct_fp32_peak, ".0f"),
        _num(row.pct_int8_peak, ".0f") if row.precision == "int8" else "",
        _num(row.speedup_vs_ort_fp32, ".2f"),
    ]


def machine_line(report: BenchReport) -> str:
    """One line: CPU, cores, versions, load, GEMM peak, threads."""
    m = report.machine
    versions = m.get("versions", {})
    vtext = ", ".join(f"{k} {v}" for k, v in versions.items()) if isinstance(versions, dict) else ""
    peak = report.gemm_peak
    ptext = "not measured" if peak is None else (
        f"{peak.gmacs:.1f} GMAC/s ({peak.threads} thread(s), {peak.n}^3 sgemm, {peak.blas}, best of {peak.repeats})")
    int8 = report.int8_peak
    itext = "not measured" if int8 is None else (
        f"{int8.gmacs:.1f} GMAC/s ({int8.threads} thread(s), {int8.n}^3 u8 x i8, {int8.blas}, best of {int8.repeats})")
    flags = " ".join(map(str, m.get("cpu_flags", [])))  # type: ignore[call-overload]
    return (f"{m.get('cpu')} (class {m.get('cpu_class', 'unknown')}; {m.get('logical_cpus')} logical CPUs, "
            f"flags {flags}); {vtext}; load average {m.get('load_average_1m')} -> {m.get('load_average_1m_after')}; "
            f"fp32 GEMM peak {ptext}; int8 GEMM peak {itext}")


def to_csv(report: BenchReport) -> str:
    """One CSV line per row, machine-readable field names, numbers unformatted."""
    buf = io.StringIO()
    fields = ["name", "kind", "scale", "depth", "engine", "precision", "provider", "threads", "tile", "input_w",
              "input_h", "output_w", "output_h", "macs_g", "paper_macs_g", "params", "weight_mb",
              "peak_rss_added_mb", "median_s", "p90_s", "min_s", "cpu_median_s", "runs", "output_mp_per_s",
              "gmacs_per_s", "pct_fp32_peak", "pct_int8_peak", "speedup_vs_ort_fp32", "note"]
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for r in report.rows:
        lat = r.latency
        writer.writerow({
            "name": r.name, "kind": r.kind, "scale": r.scale, "depth": r.depth, "engine": r.engine,
            "precision": r.precision, "provider": r.provider, "threads": r.threads, "tile": r.tile,
            "input_w": r.input_size[0], "input_h": r.input_size[1], "output_w": r.output_size[0],
            "output_h": r.output_size[1], "macs_g": r.macs_g, "paper_macs_g": r.paper_macs_g, "params": r.params,
            "weight_mb": r.weight_mb, "peak_rss_added_mb": r.peak_rss_added_mb,
            "median_s": None if lat is None else lat.median_s, "p90_s": None if lat is None else lat.p90_s,
            "min_s": None if lat is None else lat.min_s, "runs": None if lat is None else lat.runs,
            "cpu_median_s": None if lat is None else lat.cpu_median_s,
            "output_mp_per_s": r.output_mp_per_s, "gmacs_per_s": r.gmacs_per_s, "pct_fp32_peak": r.pct_fp32_peak,
            "pct_int8_peak": r.pct_int8_peak,
            "speedup_vs_ort_fp32": r.speedup_vs_ort_fp32, "note": r.note,
        })
    return buf.getvalue()


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def to_markdown(report: BenchReport) -> str:
    """The report as Markdown: machine, convention, the table, notes."""
    parts = [
        f"Machine: {machine_line(report)}",
        f"Settings: {', '.join(f'{k}={v}' for k, v in report.settings.items())}",
        f"Convention: {report.convention}.",
        _md_table(COLUMNS, [cells(r) for r in report.rows]),
    ]
    notes = list(report.notes) + [f"{r.name}: {r.note}" for r in report.rows if r.note]
    if notes:
        parts.append("\n".join(f"- {n}" for n in notes))
    return "\n\n".join(parts) + "\n"


def scaling_markdown(points: Sequence[dict[str, object]]) -> str:
    """The scaling sweep as a Markdown table."""
    header = ("LR side", "LR MP", "tile", "engine", "runs", "median (s)", "s per LR MP", "+RSS (MB)",
              "output image (MB)", "working (MB)")

    def f(v: object, fmt: str) -> str:
        return "n/a" if not isinstance(v, (int, float)) else format(v, fmt)

    rows = [[str(p["lr_side"]), f(p["lr_megapixels"], ".3f"), "whole" if p["tile"] == 0 else str(p["tile"]),
             f"{p['engine']} {p['precision']}", str(p["runs"]), f(p["median_s"], ".3f"),
             f(p["s_per_lr_megapixel"], ".2f"), f(p["peak_rss_added_mb"], ".0f"), f(p["output_image_mb"], ".0f"),
             f(p["working_mb"], ".0f")] for p in points]
    return _md_table(header, rows) + "\n"


def scaling_series(points: Sequence[dict[str, object]], key: str) -> dict[str, list[tuple[float, float]]]:
    """Scaling points grouped into plot series (one per tile setting and engine): (LR MP, ``key``)."""
    series: dict[str, list[tuple[float, float]]] = {}
    for p in points:
        value, mp = p.get(key), p.get("lr_megapixels")
        if not isinstance(value, (int, float)) or not isinstance(mp, (int, float)):
            continue
        tile = "whole image" if p["tile"] == 0 else f"tile {p['tile']}"
        series.setdefault(f"{tile} ({p['engine']} {p['precision']})", []).append((float(mp), float(value)))
    return series
