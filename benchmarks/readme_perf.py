"""Print the README's performance section (Markdown), generated from benchmarks/results/*.json.

    python -m benchmarks.readme_perf > /tmp/perf.md

Reads bench_compare.json (same-run ratios at x4/depth 19), bench_table3.json (Table 3) and
bench_scaling.json when present; sections whose file is missing are left out and say so.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _fmt(v: float | None, spec: str) -> str:
    return "n/a" if v is None else format(v, spec)


def _machine(doc: dict[str, Any]) -> str:
    m = doc["machine"]
    peak = doc.get("gemm_peak")
    ptext = f"; fp32 GEMM peak {peak['gmacs']:.0f} GMAC/s ({peak['threads']} threads)" if peak else ""
    return (f"{m['cpu']}, {m['logical_cpus']} logical CPUs ({' '.join(m['cpu_flags'])}), "
            f"onnxruntime {m['versions']['onnxruntime']}, openvino {m['versions']['openvino']}; "
            f"load average {m['load_average_1m']} -> {m.get('load_average_1m_after')}{ptext}")


def _row(doc: dict[str, Any], engine: str, precision: str | None = None) -> dict[str, Any] | None:
    for r in doc["rows"]:
        if r["engine"] == engine and precision in (None, r["precision"]) and r["tile"] in (0, None) and r["latency"]:
            return dict(r)
    return None


def compare_section(doc: dict[str, Any]) -> list[str]:
    ort, torch = _row(doc, "onnxruntime", "fp32"), _row(doc, "torch")
    ov, int8 = _row(doc, "openvino", "bf16"), _row(doc, "openvino", "int8")
    lines = ["### Speed at x4 / depth 19, 320x180 -> 1280x720", "", f"Measured with `{doc.get('command')}` on "
             f"{_machine(doc)}. All rows ran round-robin in one process, so ratios are same-run.", ""]
    if ort and torch:
        lines.append(f"- Default path (ONNX Runtime fp32) vs PyTorch eager fp32 (channels_last, no_grad): "
                     f"**{torch['latency']['median_s'] / ort['latency']['median_s']:.2f}x** "
                     f"({ort['latency']['median_s']:.3f} s vs {torch['latency']['median_s']:.3f} s median).")
    if ort and int8:
        lines.append(f"- Fast path (OpenVINO int8, the bundled int8 model) vs default path: "
                     f"**{int8['speedup_vs_ort_fp32']:.1f}x** ({int8['latency']['median_s']:.3f} s median).")
    if ort and ov:
        lines.append(f"- OpenVINO bf16 (same fp32 model) vs default path: **{ov['speedup_vs_ort_fp32']:.1f}x** "
                     f"({ov['latency']['median_s']:.3f} s median).")
    lines += ["", "| row | median (s) | p90 (s) | MP/s out | GMAC/s | % fp32 peak | +RSS (MB) |",
              "|---|---|---|---|---|---|---|"]
    for r in doc["rows"]:
        lat = r["latency"] or {}
        lines.append(f"| {r['name']} | {_fmt(lat.get('median_s'), '.3f')} | {_fmt(lat.get('p90_s'), '.3f')} | "
                     f"{_fmt(r['output_mp_per_s'], '.2f')} | {_fmt(r['gmacs_per_s'], '.1f')} | "
                     f"{_fmt(r['pct_fp32_peak'], '.0f')} | {_fmt(r['peak_rss_added_mb'], '.0f')} |")
    return lines


def table3_section(doc: dict[str, Any]) -> list[str]:
    lines = ["### Table 3 (1280x720 output)", "", "| scale | depth | Multi-Adds (G) | paper (G) | params | "
             "ORT fp32 (s) | OpenVINO bf16 (s) | OpenVINO int8 (s) | +RSS ORT (MB) |",
             "|---|---|---|---|---|---|---|---|---|"]
    cells: dict[tuple[int, int], dict[str, dict[str, Any]]] = {}
    for r in doc["rows"]:
        if r["kind"] == "litesr":
            cells.setdefault((r["scale"], r["depth"]), {})[f"{r['engine']} {r['precision']}"] = r
    for (s, d), by in sorted(cells.items()):
        o, v, q = (by.get(k, {}) for k in ("onnxruntime fp32", "openvino bf16", "openvino int8"))
        lines.append(f"| x{s} | {d} | {_fmt(o.get('macs_g'), '.2f')} | {_fmt(o.get('paper_macs_g'), '.2f')} | "
                     f"{o.get('params', 0):,} | {_fmt((o.get('latency') or {}).get('median_s'), '.3f')} | "
                     f"{_fmt((v.get('latency') or {}).get('median_s'), '.3f')} | "
                     f"{_fmt((q.get('latency') or {}).get('median_s'), '.3f')} | "
                     f"{_fmt(o.get('peak_rss_added_mb'), '.0f')} |")
    lines += ["", "Why our Multi-Adds differ from the paper's: see `benchmarks/results/bench_table3.md`."]
    return lines


def scaling_section(doc: dict[str, Any]) -> list[str]:
    lines = ["### Scaling with image size (x4 / depth 19, default path)", "",
             "![latency](benchmarks/results/bench_scaling_latency.png) "
             "![memory](benchmarks/results/bench_scaling_memory.png)", "",
             "| LR side | tile | median (s) | s per LR MP | working memory (MB) |", "|---|---|---|---|---|"]
    for p in doc["scaling"]:
        lines.append(f"| {p['lr_side']} | {'whole' if p['tile'] == 0 else p['tile']} | {p['median_s']:.3f} | "
                     f"{p['s_per_lr_megapixel']:.2f} | {_fmt(p['working_mb'], '.0f')} |")
    return lines


def snippet() -> str:
    """The Markdown performance section."""
    parts = ["## Performance", ""]
    for name, section in (("bench_compare", compare_section), ("bench_table3", table3_section),
                          ("bench_scaling", scaling_section)):
        doc = _load(name)
        parts += section(doc) if doc else [f"_{name}.json not generated yet (python -m benchmarks.run_bench)._"]
        parts.append("")
    return "\n".join(parts)


if __name__ == "__main__":
    sys.stdout.write(snippet())
