"""Images/s on Ray Data (1 and 2 workers) against the local CLI on the same folder, and a model for N machines.

    python -m benchmarks.ray_bench                        # 40 images of 64x64, x2: under 3 minutes on 2 cores
    python -m benchmarks.ray_bench --images 200 --size 256  # on a bigger machine or cluster
    python -m benchmarks.ray_bench --address auto        # on a running cluster (`ray start --head` first)

What it measures (one folder of synthetic RGB PNGs, the bundled model, ONNX Runtime fp32):

* local CLI: ``litesr-edge upscale SRC -o DST -q`` as a subprocess (process start, model load,
  all cores), and the same with ``--threads 1``;
* local per-image time: ``Upscaler(threads=1).upscale_file`` in this process, warm: the work
  one Ray worker does per file, without Ray;
* Ray: ``upscale_files`` with 1 and 2 workers of 1 thread each, a fresh actor pool each run:
  the wall time (actor start included), the time to the first status row, and the steady
  rate after it; the per-file time the actors measured themselves;
* Ray's per-image overhead: the steady wall time per image of one worker minus the time its
  actor spent in the per-file function (measured in the same run, so load affects both alike);
  the actor pool's start is reported apart (time to the first status row);
* the model: N machines x (cores / threads) workers x the measured per-worker rate, bounded by
  storage bandwidth (input + output bytes per image) and not by the object store, which carries
  only path and status rows (about 200 bytes a file).

Writes benchmarks/results/ray.json and ray.md. Timings on a shared machine are "under load".
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from litesr_edge import Upscaler, write_image
from litesr_edge.raydata import WRITTEN, WorkerSpec, connected, folder_pairs, iter_statuses, upscale_files

RESULTS = Path(__file__).resolve().parent / "results"
MACHINES = (1, 2, 4, 8, 16)


def make_folder(folder: Path, images: int, size: int) -> None:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    for i in range(images):
        write_image(folder / f"img{i:03d}.png", rng.integers(0, 256, (size, size, 3)).astype(np.uint8))


def local_cli(src: Path, dst: Path, scale: int, threads: int | None) -> float:
    shutil.rmtree(dst, ignore_errors=True)
    cli = Path(sys.executable).with_name("litesr-edge")
    command = [str(cli), "upscale", str(src), "-o", f"{dst}/", "-s", str(scale), "-q"]
    start = time.perf_counter()
    subprocess.run(command + ([] if threads is None else ["--threads", str(threads)]), check=True)
    return time.perf_counter() - start


def local_per_image(src: Path, dst: Path, scale: int) -> float:
    shutil.rmtree(dst, ignore_errors=True)
    dst.mkdir()
    up = Upscaler(scale=scale, threads=1)
    pairs = folder_pairs(src, dst, scale)
    up.upscale_file(*pairs[0])  # warm-up, not timed
    start = time.perf_counter()
    for a, b in pairs[1:]:
        up.upscale_file(a, b)
    return (time.perf_counter() - start) / (len(pairs) - 1)


def ray_run(src: Path, dst: Path, scale: int, workers: int) -> dict[str, Any]:
    shutil.rmtree(dst, ignore_errors=True)
    dst.mkdir()
    pairs = folder_pairs(src, dst, scale)
    spec = WorkerSpec(scale=scale, threads=1)
    start = time.perf_counter()
    times, seconds = [], []
    for status in iter_statuses(pairs, upscale_files(pairs, spec, workers=workers)):
        if status.outcome != WRITTEN:
            raise SystemExit(f"{status.src} failed: {status.reason}")
        times.append(time.perf_counter() - start)
        seconds.append(status.seconds)
    wall, first = times[-1], times[0]
    # Rows arrive a batch at a time: the steady rate counts the rows after the first batch.
    after_first = len(times) - times.count(first)
    steady = after_first / (wall - first) if wall > first else float("nan")
    return {
        "workers": workers, "wall_s": round(wall, 3), "images_per_s": round(len(pairs) / wall, 3),
        "first_status_s": round(first, 3), "steady_images_per_s": round(steady, 3),
        "worker_file_s_mean": round(float(np.mean(seconds)), 5),
        # The median: each actor's first file is cold (session warm-up) and would dominate a mean.
        "worker_file_s_median": round(float(np.median(seconds)), 5),
    }


def model(per_worker: float, cores: int, threads: int, bytes_per_image: int) -> list[dict[str, Any]]:
    rows = []
    for n in MACHINES:
        rate = per_worker * n * (cores // threads)
        rows.append({"machines": n, "workers": n * (cores // threads), "images_per_s": round(rate, 2),
                     "storage_MB_per_s_needed": round(rate * bytes_per_image / 1e6, 2)})
    return rows


def measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    src = work / "in"
    make_folder(src, args.images, args.size)
    out: dict[str, Any] = {
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "python": platform.python_version()},
        "images": args.images, "size": args.size, "scale": args.scale, "under_load": args.under_load,
        "local_cli_s": round(local_cli(src, work / "cli", args.scale, None), 3),
        "local_cli_threads1_s": round(local_cli(src, work / "cli1", args.scale, 1), 3),
        "local_per_image_s": round(local_per_image(src, work / "lib", args.scale), 5),
    }
    out["bytes_per_image"] = int(np.mean([p.stat().st_size for p in src.iterdir()]) +
                                 np.mean([p.stat().st_size for p in (work / "lib").iterdir()]))
    start = time.perf_counter()
    with connected(args.address) as ray:
        out["ray_connect_s"] = round(time.perf_counter() - start, 3)
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = context.print_on_execution_start = False
        logging.getLogger("ray.data").setLevel(logging.ERROR)
        out["ray"] = [ray_run(src, work / f"ray{w}", args.scale, w) for w in (1, 2)]
    one = out["ray"][0]
    out["ray_overhead_per_image_s"] = round(1 / one["steady_images_per_s"] - one["worker_file_s_median"], 5)
    out["model"] = model(one["steady_images_per_s"], os.cpu_count() or 1, 1, out["bytes_per_image"])
    return out


def markdown(r: dict[str, Any]) -> str:
    n = r["images"]
    lines = [
        f"# Ray Data against the local CLI ({n} images {r['size']}x{r['size']}, x{r['scale']})", "",
        f"Machine: {r['machine']['cpu']}, {r['machine']['cores']} cores"
        + (" (**under load**: a shared machine, numbers are indicative)" if r["under_load"] else ""), "",
        "| run | wall s | images/s |", "|---|---|---|",
        f"| local CLI (all cores) | {r['local_cli_s']} | {n / r['local_cli_s']:.2f} |",
        f"| local CLI --threads 1 | {r['local_cli_threads1_s']} | {n / r['local_cli_threads1_s']:.2f} |",
    ]
    for run in r["ray"]:
        lines.append(f"| --ray --workers {run['workers']} | {run['wall_s']} | {run['images_per_s']} "
                     f"(steady {run['steady_images_per_s']}) |")
    lines += [
        "", f"- Ray connect/start: {r['ray_connect_s']} s; first status row after "
        + ", ".join(f"{run['first_status_s']} s ({run['workers']} w)" for run in r["ray"]) + " (actor pool start).",
        f"- Per-image time, 1 thread, warm: {r['local_per_image_s'] * 1000:.1f} ms locally, "
        f"{r['ray'][0]['worker_file_s_median'] * 1000:.1f} ms inside a Ray actor (median); Ray's per-image overhead "
        f"(steady wall time per image of 1 worker minus that): {r['ray_overhead_per_image_s'] * 1000:.1f} ms.",
        f"- Bytes read + written per image: {r['bytes_per_image']:,}.", "",
        "## Model: N machines of this kind, 1 worker per core", "",
        "| machines | workers | images/s | storage MB/s needed |", "|---|---|---|---|",
    ]
    lines += [f"| {m['machines']} | {m['workers']} | {m['images_per_s']} | {m['storage_MB_per_s_needed']} |"
              for m in r["model"]]
    lines += ["", "Throughput = measured steady per-worker rate x workers. It holds while the shared storage "
              "delivers the MB/s above and the driver keeps up with status rows (about 200 B and one "
              "object-store round trip per batch); the object store never carries pixels for file jobs. "
              "Actor start (seconds) is paid once per run per worker.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--scale", type=int, default=2)
    parser.add_argument("--address", default=None, help="a running cluster (auto, host:port); default: local")
    parser.add_argument("--quiet-machine", dest="under_load", action="store_false",
                        help="record the numbers as taken on an otherwise idle machine")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = measure(args, Path(tmp))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ray.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "ray.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
