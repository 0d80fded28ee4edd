"""Produce benchmarks/results/bench_*.{json,md,png}: Table 3, same-run comparisons, scaling.

    python -m benchmarks.run_bench                      # everything (minutes; quiet machine preferred)
    python -m benchmarks.run_bench --parts compare      # one part
    python -m benchmarks.run_bench --runs 3 --quick     # smoke run

Parts:
  table3   depth 13/16/19 x scales 2/3/4 at 1280x720 output: Multi-Adds, params, memory, latency of the
           default path (ONNX Runtime fp32), OpenVINO bf16 and, where an int8 model is bundled,
           OpenVINO int8. Cells without a bundled model use a synthetic random-weight graph of the
           same architecture and graph form (benchmarks/synthetic_model.py): timing and Multi-Adds
           do not depend on the weights.
  compare  x4 depth 19: default path whole/tiled, ONNX Runtime int8, OpenVINO bf16 and int8, PyTorch eager,
           bicubic, OpenCV zoo peers.
  scaling  x4 depth 19, LR 128^2 .. 2048^2: latency and peak memory, tiled and whole image.

Every file records the machine, the load average before/after and the exact command.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import onnx

from benchmarks.synthetic_model import build_litesrnet
from litesr_edge.bench.plan import BenchOptions, plot_report, run_bench
from litesr_edge.bench.plot import line_chart
from litesr_edge.bench.report import scaling_markdown, scaling_series, to_markdown
from litesr_edge.bench.run import BenchReport
from litesr_edge.registry import list_models

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
PEERS = REPO.parent / "shared" / "peers" / "opencv-dnn-superres"
PAPER_NOTE = """## Multi-Adds: ours vs the paper

Our count for x4 / depth 19 at 1280x720 output is {ours:.2f} G; the paper's Table 3 gives 16.64 G.
The paper's number cannot be reproduced from its own architecture at this convention: the LR input
is 320x180 = 57,600 pixels, and ONE 64->64 3x3 convolution there is 64 * 64 * 9 * 57,600 = 2.12 G
Multi-Adds, so the 19 recurrent iterations alone are 40.3 G (the head, the transposed-conv decoder
and the tail add 3.7 G). 16.64 G would correspond to about 7.8 iterations, or to a different output
size or counting rule that the paper does not state. We report our count, with the convention above,
and do not adjust it.
"""


def _bundled_form_is_fast() -> bool:
    bundled = [m for m in list_models() if m.info.precision == "fp32"]
    if not bundled:
        return True
    return all(n.op_type != "ConvTranspose" for n in onnx.load(bundled[0].path).graph.node)


def _models_for_table3(tmp: Path) -> tuple[list[Path], list[str]]:
    """A model per (scale, depth): the bundled one, else a synthetic graph in the bundled form."""
    have = {(m.info.scale, m.info.depth): m.path for m in list_models() if m.info.precision == "fp32"}
    fast = _bundled_form_is_fast()
    paths, notes = [], []
    for scale in (2, 3, 4):
        for depth in (13, 16, 19):
            if (scale, depth) in have:
                paths.append(have[scale, depth])
                continue
            proto = build_litesrnet(scale, depth)
            if fast:
                from export.fast_graph import rewrite_for_speed

                proto = rewrite_for_speed(proto)
            path = tmp / f"synthetic_x{scale}_d{depth}.onnx"
            onnx.save(proto, path)
            paths.append(path)
            notes.append(f"x{scale} d{depth}: synthetic random-weight graph (no bundled model yet)")
    return paths, notes


def _write(stem: Path, report: BenchReport, points: list[dict[str, object]], command: str, extra: str = "") -> None:
    doc = {**report.to_json(), "scaling": points, "command": command}
    stem.with_suffix(".json").write_text(json.dumps(doc, indent=2) + "\n")
    text = f"# {stem.name}\n\nCommand: `{command}`\n\n" + to_markdown(report)
    if points:
        text += "\n## Scaling\n\n" + scaling_markdown(points)
    stem.with_suffix(".md").write_text(text + (("\n" + extra) if extra else ""))
    print(f"wrote {stem.with_suffix('.md')}", file=sys.stderr)


def table3(runs: int, threads: int, command: str, quick: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        paths, notes = _models_for_table3(Path(tmp))
        if quick:
            paths = paths[-1:]
        opts = BenchOptions(models=tuple(paths), runs=runs, threads=threads, compare="openvino,int8")
        report, _ = run_bench(opts)
    report = BenchReport(report.machine, report.settings, report.gemm_peak, report.rows,
                         (*report.notes, *notes), report.convention, int8_peak=report.int8_peak)
    x4 = next((r.macs_g for r in report.rows if (r.scale, r.depth) == (4, 19) and r.macs_g), 0.0)
    _write(RESULTS / "bench_table3", report, [], command, PAPER_NOTE.format(ours=x4))


def compare(runs: int, threads: int, command: str) -> None:
    opts = BenchOptions(scale="4", depth="19", runs=runs, threads=threads, precision="fp32,int8", peers=PEERS)
    report, _ = run_bench(opts)
    _write(RESULTS / "bench_compare", report, [], command)
    plot_report(report, [], RESULTS / "bench_compare.png")


def scaling(runs: int, threads: int, command: str, quick: bool) -> None:
    sides = "128,256" if quick else "128,256,512,1024,2048"
    opts = BenchOptions(scale="4", depth="19", runs=runs, threads=threads, compare="none", scaling=sides, peak=False)
    report, points = run_bench(opts)
    _write(RESULTS / "bench_scaling", report, points, command)
    line_chart(scaling_series(points, "median_s"), RESULTS / "bench_scaling_latency.png",
               "x4 depth 19: latency vs input size", "LR megapixels", "seconds per image")
    line_chart(scaling_series(points, "working_mb"), RESULTS / "bench_scaling_memory.png",
               "x4 depth 19: peak working memory vs input size (output image excluded)", "LR megapixels", "MB")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", default="table3,compare,scaling")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="fewer models and sizes (smoke test)")
    args = ap.parse_args()
    command = "python -m benchmarks.run_bench " + " ".join(sys.argv[1:])
    RESULTS.mkdir(parents=True, exist_ok=True)
    parts = [p.strip() for p in args.parts.split(",")]
    if "compare" in parts:
        compare(args.runs, args.threads, command)
    if "table3" in parts:
        table3(args.runs, args.threads, command, args.quick)
    if "scaling" in parts:
        scaling(min(args.runs, 3), args.threads, command, args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
