"""Issue 7 measurements: ONNX Runtime session options and graph forms vs PyTorch eager and OpenVINO.

Maintainer side (needs onnx; torch for the PyTorch row). All candidates run the same x4/depth-19
weights on the same 320x180 input (-> 1280x720), engine only (no tiling, no uint8 conversion),
round-robin (round r runs every candidate once) so that a noisy neighbour hits all of them alike.

    python -m benchmarks.ort_tuning --rounds 9 --out benchmarks/results/ort_tuning

writes ort_tuning.json and ort_tuning.md. Ratios are to the first row (ORT defaults on the graph
as torch exports it). Reported: median and best (min) seconds; on a shared machine the median
measures our share of the CPU as much as the code, the best run is closer to the code alone.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from benchmarks.synthetic_model import build_litesrnet
from export.fast_graph import rewrite_for_speed
from litesr_edge.bench.machine import machine_info
from litesr_edge.bench.torch_worker import TORCH_ENV
from litesr_edge.bench.worker import Worker
from litesr_edge.engines._ort_options import make_session_options

Run = Callable[[], object]
REPO = Path(__file__).resolve().parents[1]


def _timed(fn: Callable[[], object]) -> Run:
    def run() -> None:
        fn()

    return run


def _session(path: Path, options: ort.SessionOptions, x: np.ndarray) -> Run:
    sess = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return _timed(lambda: sess.run(["sr"], {"lr": x}))


def _tuned(threads: int, **entries: str) -> ort.SessionOptions:
    options = make_session_options(threads)
    for key, value in entries.items():
        options.add_session_config_entry(key.replace("__", "."), value)
    return options


def _fixed_shape(threads: int, x: np.ndarray) -> ort.SessionOptions:
    options = make_session_options(threads)
    for name, value in zip(("N", "H", "W"), (x.shape[0], x.shape[2], x.shape[3]), strict=True):
        options.add_free_dimension_override_by_name(name, value)
    return options


def _iobinding(path: Path, threads: int, x: np.ndarray) -> Run:
    sess = ort.InferenceSession(str(path), make_session_options(threads), providers=["CPUExecutionProvider"])
    out = np.empty((1, 3, x.shape[2] * 4, x.shape[3] * 4), np.float32)
    binding = sess.io_binding()
    binding.bind_cpu_input("lr", x)
    binding.bind_output("sr", "cpu", 0, np.float32, list(out.shape), out.ctypes.data)

    def run() -> None:
        sess.run_with_iobinding(binding)
        # ``out`` owns the memory ORT writes into: the closure must keep it alive.
        out.flags.writeable = True

    return run


def _openvino(path: Path, precision: str, threads: int, x: np.ndarray) -> Run:
    from litesr_edge.engines.openvino import OpenVinoEngine

    eng = OpenVinoEngine(path, None, threads, precision=precision)
    return _timed(lambda: eng.run(x))


def candidates(plain: Path, fast: Path, folded: Path, threads: int, x: np.ndarray) -> dict[str, Callable[[], Run]]:
    """Name -> builder of a run closure. The first is the reference."""
    level = ort.GraphOptimizationLevel
    ext = make_session_options(threads)
    ext.graph_optimization_level = level.ORT_ENABLE_EXTENDED
    plain_default = ort.SessionOptions()
    plain_default.intra_op_num_threads = threads
    return {
        "ORT defaults, exported graph": lambda: _session(plain, plain_default, x),
        "ORT tuned options, exported graph": lambda: _session(plain, make_session_options(threads), x),
        "ORT defaults, fast graph": lambda: _session(fast, plain_default, x),
        "ORT tuned options, fast graph (DEFAULT PATH)": lambda: _session(fast, make_session_options(threads), x),
        "  + spinning on": lambda: _session(fast, make_session_options(threads, spinning=True), x),
        "  + 1 thread": lambda: _session(fast, make_session_options(1), x),
        "  + graph opt EXTENDED (no NCHWc layout)": lambda: _session(fast, ext, x),
        "  + fixed shape (free-dimension overrides)": lambda: _session(fast, _fixed_shape(threads, x), x),
        "  + denormals as zero": lambda: _session(fast, _tuned(threads, session__set_denormal_as_zero="1"), x),
        "  + IO binding, preallocated output": lambda: _iobinding(fast, threads, x),
        "  + tail conv folded before the last shuffle": lambda: _session(folded, make_session_options(threads), x),
        "OpenVINO fp32, fast graph": lambda: _openvino(fast, "fp32", threads, x),
        "OpenVINO bf16, exported graph": lambda: _openvino(plain, "bf16", threads, x),
        "OpenVINO bf16, fast graph (FAST PATH)": lambda: _openvino(fast, "bf16", threads, x),
        "OpenVINO bf16, fast graph + fold": lambda: _openvino(folded, "bf16", threads, x),
    }


def _torch(plain: Path, threads: int, x: np.ndarray) -> tuple[str, Worker] | None:
    try:
        worker = Worker([sys.executable, "-m", "litesr_edge.bench.torch_worker", "--model", str(plain), "--width",
                         str(x.shape[3]), "--height", str(x.shape[2]), "--threads", str(threads)], cwd=REPO,
                        env=TORCH_ENV)
    except Exception as exc:  # noqa: BLE001 - any failure just drops the optional row, reported below
        print(f"PyTorch row skipped: {exc}", file=sys.stderr)
        return None
    return "PyTorch eager fp32 channels_last no_grad", worker


def measure(builders: dict[str, Callable[[], Run]], torch_row: tuple[str, Worker] | None, rounds: int,
            warmup: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall and process-CPU seconds per run, round-robin."""
    runs: dict[str, Run] = {}
    for name, build in builders.items():
        try:
            runs[name] = build()
        except Exception as exc:  # noqa: BLE001 - an unavailable engine drops its row, reported below
            print(f"{name} skipped: {exc}", file=sys.stderr)
    if torch_row is not None:
        runs[torch_row[0]] = torch_row[1].run
    for run in runs.values():
        for _ in range(warmup):
            run()
    samples: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            time.sleep(0.05)  # let the previous candidate's spinning threads go idle
            start, start_cpu = time.perf_counter(), time.process_time()
            reported = run()
            wall, used = time.perf_counter() - start, time.process_time() - start_cpu
            if isinstance(reported, tuple):  # the PyTorch worker times itself
                wall, used = reported[0], reported[1] if reported[1] is not None else float("nan")
            samples[name].append(wall)
            cpu[name].append(used)
    return samples, cpu


def to_markdown(result: dict[str, object]) -> str:
    rows = result["rows"]
    assert isinstance(rows, list)
    lines = [
        f"# ORT tuning (issue 7): x4/depth-19, {result['input']} -> {result['output']}, {result['threads']} threads",
        "",
        f"Machine: {result['machine']}",
        "",
        f"Command: `{result['command']}`; {result['rounds']} round-robin rounds after {result['warmup']} warm-up runs.",
        "",
        "| candidate | median (s) | best (s) | CPU s/run (median) | x vs first (median) | x vs first (best) "
        "| x vs first (CPU) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['name']} | {r['median_s']:.3f} | {r['min_s']:.3f} | {r['cpu_median_s']:.3f} | "
                     f"{r['speedup_median']:.2f} | {r['speedup_min']:.2f} | {r['speedup_cpu']:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", default="", help="comma-separated name prefixes to keep")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "ort_tuning")
    args = ap.parse_args()
    x = np.random.default_rng(0).random((1, 3, 180, 320), dtype=np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        plain, fast, folded = (Path(tmp) / f"x4_d19{sfx}.onnx" for sfx in ("", "_fast", "_folded"))
        model = build_litesrnet(4, 19)
        onnx.save(model, plain)
        onnx.save(rewrite_for_speed(model), fast)
        onnx.save(rewrite_for_speed(model, fold_shuffle=True), folded)
        builders = candidates(plain, fast, folded, args.threads, x)
        if args.only:
            keep = [p.strip() for p in args.only.split(",")]
            builders = {k: v for k, v in builders.items() if any(k.strip().startswith(p) for p in keep)}
        torch_row = _torch(plain, args.threads, x)
        before = machine_info()
        samples, cpu = measure(builders, torch_row, args.rounds, args.warmup)
        if torch_row is not None:
            torch_row[1].close()
    first = next(iter(samples))
    ref_med, ref_min = statistics.median(samples[first]), min(samples[first])
    ref_cpu = statistics.median(cpu[first])
    rows = [{"name": k, "median_s": statistics.median(v), "min_s": min(v), "samples_s": v,
             "cpu_median_s": statistics.median(cpu[k]), "cpu_samples_s": cpu[k],
             "speedup_median": ref_med / statistics.median(v), "speedup_min": ref_min / min(v),
             "speedup_cpu": ref_cpu / statistics.median(cpu[k])}
            for k, v in samples.items()]
    after = machine_info()
    result = {
        "input": "320x180", "output": "1280x720", "threads": args.threads, "rounds": args.rounds,
        "warmup": args.warmup, "command": "python -m benchmarks.ort_tuning " + " ".join(sys.argv[1:]),
        "machine": f"{before['cpu']}, {before['logical_cpus']} CPUs, load {before['load_average_1m']} -> "
                   f"{after['load_average_1m']}, {before['versions']}",
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(to_markdown(result))
    print(to_markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
