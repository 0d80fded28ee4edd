"""Regenerate the table behind ``engine="auto"`` and ``mode=``: accuracy and speed on THIS CPU's class.

    python -m benchmarks.auto_table                 # accuracy + speed, merge into the committed table
    python -m benchmarks.auto_table --part speed    # speed only (under 3 minutes on 2 cores)
    python -m benchmarks.auto_table --dry-run       # measure and write results, leave the table alone

What it measures, for each engine/precision that runs here (ONNX Runtime fp32 is the reference):

* accuracy: Y-channel PSNR (the eval protocol: canonical LR files, border = scale, whole images)
  of every image of Set5 and Set14 for every bundled model, and of the synthetic hard cases
  (litesr_edge.quality.hard_cases, 192x192); the table keeps, per engine/precision, the worst
  per-image change against ONNX Runtime fp32 on the same model, and the worst change of a set's
  mean (the hard cases count as a set); the JSON keeps every image's change;
* speed: x4 output 1280x720, 2 threads, whole image, round-robin (every candidate once per
  round, so a busy neighbour slows all alike); the BEST round of each candidate, relative to
  ONNX Runtime fp32 at depth 19 (and each bundled x4 depth's, for ``mode="fast"``). The best,
  not the median: on a shared host the slower rounds measure the neighbours (the fp32 GEMM
  peak of ``bench`` is a best-of for the same reason); the medians are recorded beside it.

It writes benchmarks/results/auto_table_<class>.{json,md} and merges this CPU class's rows into
litesr_edge/engines/_auto_table.py (other classes' rows are kept; VERSION is bumped). Needs
../shared/datasets/test for the accuracy part.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from litesr_edge import Upscaler
from litesr_edge.engines import _auto_table as table
from litesr_edge.engines.cpu import CPU_CLASSES, cpu_class
from litesr_edge.errors import LiteSRError
from litesr_edge.quality.evaluate import evaluate, find_dataset, score_pair
from litesr_edge.quality.hard_cases import hard_case_pairs
from litesr_edge.registry import file_digest, list_models, model_for_precision

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "datasets" / "test"
RESULTS = REPO / "benchmarks" / "results"
TABLE = REPO / "litesr_edge" / "engines" / "_auto_table.py"
CANDIDATES = (("openvino", "fp32"), ("openvino", "bf16"), ("openvino", "int8"), ("onnxruntime", "int8"))
REFERENCE = ("onnxruntime", "fp32")
Image = npt.NDArray[np.uint8]


def _upscaler(model: Path, engine: str, precision: str, threads: int, tile: int = 0) -> Upscaler | None:
    try:
        path = model_for_precision(model, precision)
        return Upscaler(model=path, tile=tile, threads=threads, engine=engine, precision=precision)
    except LiteSRError as exc:  # this engine/precision does not run here (or has no model): no row
        print(f"  {engine} {precision} skipped: {' '.join(str(exc).split())}", file=sys.stderr)
        return None


def _image_scores(up: Upscaler, scale: int, datasets: list[str]) -> dict[str, dict[str, float]]:
    """Per set, per image PSNR; the hard cases as the set "hard_cases"."""
    out: dict[str, dict[str, float]] = {}
    for name in datasets:
        score = evaluate(find_dataset(DATA / name, scale), up.upscale)
        out[name] = {img.name: img.psnr for img in score.images}
    out["hard_cases"] = {p.name: score_pair(p, up.upscale(p.lr), scale).psnr for p in hard_case_pairs(scale)}
    return out


def accuracy(threads: int, datasets: list[str], candidates: list[tuple[str, str]]) -> dict[str, dict[str, object]]:
    """Per engine/precision: worst per-image and worst set-mean change vs ONNX Runtime fp32, over all models."""
    found: dict[str, dict[str, object]] = {}
    for model in [m for m in list_models() if m.info.precision == "fp32"]:
        info = model.info
        print(f"accuracy x{info.scale} d{info.depth}", file=sys.stderr)
        ups = {(e, p): up for e, p in candidates if (up := _upscaler(model.path, e, p, threads)) is not None}
        ref_up = _upscaler(model.path, *REFERENCE, threads) if ups else None
        if ref_up is None:
            continue
        ref = _image_scores(ref_up, info.scale, datasets)
        for (engine, precision), up in ups.items():
            got = _image_scores(up, info.scale, datasets)
            entry = found.setdefault(f"{engine} {precision}", {})
            _merge(entry, ref, got, f"x{info.scale} d{info.depth}")
            files = entry.setdefault("files", {})
            files[f"x{info.scale} d{info.depth}"] = file_digest(model_for_precision(model.path, precision))  # type: ignore[index]
    return found


def _merge(entry: dict[str, object], ref: dict[str, dict[str, float]], got: dict[str, dict[str, float]],
           model: str) -> None:
    deltas = [got[s][i] - ref[s][i] for s in ref for i in ref[s]]
    # The hard cases count as a set too: mode="fast" must not trade away rendered text and line art.
    means = [statistics.fmean(got[s].values()) - statistics.fmean(ref[s].values()) for s in ref]
    worst = max(deltas, key=abs)
    if abs(worst) >= abs(float(entry.get("worst_image_db", 0.0))):  # type: ignore[arg-type]
        entry["worst_image_db"] = round(worst, 4)
        entry["worst_model"] = model
    entry["worst_set_mean_db"] = round(min([float(entry.get("worst_set_mean_db", 0.0)), *means]), 4)  # type: ignore[arg-type]
    entry["images"] = int(entry.get("images", 0)) + len(deltas)  # type: ignore[call-overload]
    entry["models"] = [*entry.get("models", []), model]  # type: ignore[misc]
    entry["sources"] = sorted(ref)
    per_image = entry.setdefault("per_image_db", {})
    per_image[model] = {s: {i: round(got[s][i] - ref[s][i], 4) for i in ref[s]} for s in ref}  # type: ignore[index]


def _timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def speed(threads: int, rounds: int) -> tuple[dict[str, float], dict[str, float]]:
    """(best, median) seconds at x4, 1280x720 output: "<engine> <precision> d<depth>" -> s."""
    image = np.random.default_rng(0).integers(0, 256, (180, 320, 3), dtype=np.uint8)
    cands: dict[str, Upscaler] = {}
    for model in [m for m in list_models() if m.info.precision == "fp32" and m.info.scale == 4]:
        for engine, precision in (REFERENCE, *CANDIDATES):
            up = _upscaler(model.path, engine, precision, threads)
            if up is not None:
                cands[f"{engine} {precision} d{model.info.depth}"] = up
    samples: dict[str, list[float]] = {k: [] for k in cands}
    for up in cands.values():
        up.upscale(image)  # warm-up: first-run allocations
    for _ in range(rounds):
        for key, up in cands.items():
            samples[key].append(_timed(lambda up=up: up.upscale(image)))  # type: ignore[misc]
    best = {k: round(min(v), 4) for k, v in samples.items()}
    return best, {k: round(statistics.median(v), 4) for k, v in samples.items()}


def _relative(seconds: dict[str, float]) -> tuple[dict[str, float], dict[str, float]]:
    """(engine speed vs ORT fp32 at depth 19, depth speed vs depth 19 on ORT fp32) from the medians."""
    ref = seconds["onnxruntime fp32 d19"]
    engines = {k[:-4]: round(ref / v, 2) for k, v in seconds.items()
               if k.endswith(" d19") and k[:-4] != "onnxruntime fp32"}
    depths = {k.rsplit(" d", 1)[1]: round(ref / v, 2) for k, v in seconds.items() if k.startswith("onnxruntime fp32")}
    return engines, depths


def _evidence(v: dict[str, object]) -> table.Evidence:
    """A table row from one candidate's accuracy record (``accuracy`` or a saved JSON's)."""
    row: table.Evidence = {"worst_image_db": float(v["worst_image_db"]),  # type: ignore[arg-type]
                           "worst_set_mean_db": float(v["worst_set_mean_db"]),  # type: ignore[arg-type]
                           "images": int(v["images"]),  # type: ignore[call-overload]
                           "sources": tuple(v["sources"])}  # type: ignore[call-overload]
    per_model: dict[str, dict[str, dict[str, float]]] = v.get("per_image_db", {})  # type: ignore[assignment]
    if per_model:  # records older than the per-image JSON give the all-model worst only
        row["by_model"] = {m: max((d for s in sets.values() for d in s.values()), key=abs)
                           for m, sets in per_model.items()}
    if "files" in v:
        row["files"] = dict(v["files"])  # type: ignore[call-overload]
    return row


def write_table(cls: str, acc: dict[str, dict[str, object]] | None, engines: dict[str, float] | None,
                depths: dict[str, float] | None, record: str) -> None:
    """Merge this class's rows into litesr_edge/engines/_auto_table.py."""
    accuracy_rows, speed_rows, depth_rows = dict(table.ACCURACY), dict(table.SPEED), dict(table.DEPTH_SPEED)
    records = dict(table.RECORDS)
    if acc is not None:
        accuracy_rows[cls] = {**accuracy_rows.get(cls, {}), **{k: _evidence(v) for k, v in acc.items()}}
    if engines is not None:
        speed_rows[cls] = engines
    if depths is not None:
        depth_rows[cls] = {int(k): v for k, v in depths.items()}
    records[cls] = record
    body = TABLE.read_text().split("# --- generated below", 1)[0]
    fmt = lambda name, value: f"{name} = {_py(value, 0)}\n"  # noqa: E731
    TABLE.write_text(
        body + "# --- generated below by benchmarks/auto_table.py; edit the script, not the numbers ---\n"
        + f"VERSION = {table.VERSION + 1}\n" + fmt("ACCURACY: dict[str, dict[str, Evidence]]", accuracy_rows)
        + fmt("SPEED: dict[str, dict[str, float]]", speed_rows) + fmt("DEPTH_SPEED: dict[str, dict[int, float]]",
                                                                     depth_rows)
        + fmt("RECORDS: dict[str, str]", records)
    )


def _py(value: object, indent: int) -> str:
    """``value`` as Python source, one dict entry per line (so that every line stays short)."""
    if isinstance(value, dict) and value:
        pad = " " * (indent + 4)
        items = "".join(f"{pad}{k!r}: {_py(v, indent + 4)},\n" for k, v in sorted(value.items()))
        return "{\n" + items + " " * indent + "}"
    if isinstance(value, (list, tuple)):
        return "(" + "".join(f"{v!r}, " for v in value).rstrip(" ") + ")"
    return repr(value)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=("all", "speed", "accuracy"), default="all")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--datasets", default="Set5,Set14")
    ap.add_argument("--candidates", default=",".join(f"{e} {p}" for e, p in CANDIDATES),
                    help="accuracy part: comma-separated 'engine precision' pairs")
    ap.add_argument("--dry-run", action="store_true", help="write the results files only, not the table")
    ap.add_argument("--tag", default="", help="suffix of the results files (default: the part, none for all)")
    ap.add_argument("--from-json", type=Path, default=None,
                    help="rewrite a class's rows from a saved auto_table_<class>*.json (no measuring)")
    args = ap.parse_args()
    cls = cpu_class()
    if args.from_json is not None:
        saved = json.loads(args.from_json.read_text())
        engines, depths = _relative(saved["seconds"]) if "seconds" in saved else (None, None)
        write_table(saved["cpu_class"], saved.get("accuracy"), engines, depths,
                    f"benchmarks/results/auto_table_{saved['cpu_class']}*.json ({saved['cpu']})")
        return 0
    doc: dict[str, object] = {"command": "python -m benchmarks.auto_table " + " ".join(sys.argv[1:]),
                              "cpu_class": cls, "cpu": _cpu_name(), "hard_cases": "litesr_edge.quality.hard_cases"}
    acc = engines = depths = None
    if args.part in ("all", "accuracy"):
        if not DATA.is_dir():
            print(f"datasets not found at {DATA}; use --part speed", file=sys.stderr)
            return 1
        acc = doc["accuracy"] = accuracy(args.threads, args.datasets.split(","),
                                           [tuple(c.split()) for c in args.candidates.split(",")])  # type: ignore[misc]
    if args.part in ("all", "speed"):
        seconds, doc["median_seconds"] = speed(args.threads, args.rounds)
        doc["seconds"] = seconds
        engines, depths = _relative(seconds)
        doc["speed_vs_ort_fp32"], doc["depth_speed_vs_d19"] = engines, depths
    tag = args.tag or ("" if args.part == "all" else args.part)
    out = RESULTS / f"auto_table_{cls}{'_' + tag if tag else ''}"
    out.with_suffix(".json").write_text(json.dumps(doc, indent=2) + "\n")
    out.with_suffix(".md").write_text(_markdown(doc))
    print(_markdown(doc))
    if not args.dry_run:
        write_table(cls, acc, engines, depths, f"benchmarks/results/auto_table_{cls}*.json ({_cpu_name()})")
    return 0


def _cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return "unknown CPU"


def _markdown(doc: dict[str, object]) -> str:
    lines = [f"# engine auto table: {CPU_CLASSES[str(doc['cpu_class'])]} ({doc['cpu']})", "",
             f"Command: `{doc['command']}` (timings taken under load unless stated otherwise)", ""]
    acc = doc.get("accuracy")
    if isinstance(acc, dict):
        lines += ["| engine precision | worst image (dB) | worst set mean (dB) | images | models |",
                  "|---|---|---|---|---|"]
        lines += [f"| {k} | {v['worst_image_db']:+.4f} ({v['worst_model']}) | {v['worst_set_mean_db']:+.4f} | "
                  f"{v['images']} | {', '.join(v['models'])} |" for k, v in acc.items()]
        lines.append("")
    seconds = doc.get("seconds")
    if isinstance(seconds, dict):
        medians = doc.get("median_seconds", {})
        lines += ["| x4 candidate, 1280x720 output | best (s) | median (s) |", "|---|---|---|"]
        lines += [f"| {k} | {v:.3f} | {medians.get(k, float('nan')):.3f} |"  # type: ignore[union-attr]
                  for k, v in seconds.items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
