"""Reproduce the paper's Table 1 and Table 2 under the standard protocol.

Writes ``benchmarks/results/eval/*.json`` (one ``litesr-edge eval --json``
document per method and scale) and, from those files, ``table1.md`` (methods x
Set5/Set14/BSD100 at x2/x3/x4 beside the published numbers) and ``table2.md``
(the depth 13/16/19 ablation at x4). Maintainer-side: run from the repo root::

    python benchmarks/tables.py                                  # bicubic, peers, bundled models
    python benchmarks/tables.py --model runs/x4_d13/model.onnx --checkpoint runs/x4_d16/best.pt
    python benchmarks/tables.py --reuse                          # markdown from existing JSON only
    python benchmarks/tables.py --contrib /tmp/contrib           # + check peers against contrib

``--contrib DIR`` takes the output of ``benchmarks/peers_contrib.py`` (run in an
environment with opencv-contrib) and records how many peer images are
bit-identical to what ``cv2.dnn_superres`` produces. Models that are missing,
fail to load or are untrained placeholders are skipped with a note in the tables.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from litesr_edge.errors import LiteSRError  # noqa: E402
from litesr_edge.quality.evaluate import (  # noqa: E402
    JsonValue,
    Upsampler,
    as_rgb,
    bicubic_upsampler,
    evaluate,
    find_dataset,
    iter_pairs,
    results_to_json,
)
from litesr_edge.registry.metadata import read_model_info  # noqa: E402

SETS = ("Set5", "Set14", "BSD100")
SCALES = (2, 3, 4)
PEERS = ("FSRCNN", "FSRCNN-small", "ESPCN")
RESULTS = ROOT / "benchmarks" / "results"
# Published numbers we have verbatim; every other paper cell says "see paper".
PAPER_LITESRNET = {("Set5", 2): 38.04, ("Set5", 3): 34.44, ("Set5", 4): 32.20}
PAPER_FSRCNN = {("Set5", 2): 37.00, ("Set5", 3): 33.16, ("Set5", 4): 30.71}
LITERATURE_BICUBIC = {
    ("Set5", 2): 33.66, ("Set5", 3): 30.39, ("Set5", 4): 28.42,
    ("Set14", 2): 30.24, ("Set14", 3): 27.55, ("Set14", 4): 26.00,
    ("BSD100", 2): 29.56, ("BSD100", 3): 27.21, ("BSD100", 4): 25.96,
}  # fmt: skip


@dataclass
class Run:
    """What this invocation measured, skipped and verified (for the notes)."""

    notes: list[str] = field(default_factory=list)


def _rel(path: Path) -> str:
    return os.path.relpath(path, ROOT)


def measure(slug: str, method: dict[str, JsonValue], upsample: Upsampler, scale: int, data: Path) -> Path:
    """Evaluate one method on the three sets at one scale; write its JSON document."""
    results = []
    for name in SETS:
        ds = find_dataset(Path(_rel(data / name)), scale)
        results.append(evaluate(ds, upsample))
        print(f"  {slug} {name} x{scale}: {results[-1].psnr:.2f} dB / {results[-1].ssim:.4f}")
    out = RESULTS / "eval" / f"{slug}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results_to_json(method, results), indent=1) + "\n")
    return out


def run_bicubic(data: Path) -> None:
    for s in SCALES:
        method: dict[str, JsonValue] = {"name": "bicubic", "model": None, "scale": s, "depth": None}
        measure(f"bicubic_x{s}", method, bicubic_upsampler(s), s, data)


def _contrib_check(peer: Callable[..., np.ndarray], name: str, scale: int, data: Path, contrib: Path) -> str:
    same = total = 0
    for set_name in SETS:
        for pair in iter_pairs(find_dataset(data / set_name, scale)):
            ref = cv2.imread(str(contrib / name / set_name / f"x{scale}" / f"{pair.name}.png"))
            total += 1
            same += int(ref is not None and np.array_equal(peer(as_rgb(pair.lr))[..., ::-1], ref))
    return f"{same}/{total}"


def run_peers(data: Path, peers: Path, contrib: Path | None, run: Run) -> None:
    from litesr_edge.quality.peers import OpenCVSuperRes

    for name in PEERS:
        for s in SCALES:
            path = peers / f"{name}_x{s}.pb"
            if not path.is_file():
                run.notes.append(f"OpenCV peer {_rel(path)} missing: skipped")
                continue
            peer = OpenCVSuperRes(path)
            method: dict[str, JsonValue] = {
                "name": f"opencv:{name}", "model": _rel(path), "scale": s, "depth": None, "params": peer.params
            }  # fmt: skip
            if contrib is not None:
                method["contrib_identical"] = _contrib_check(peer, name, s, data, contrib)
            measure(f"opencv-{name}_x{s}", method, peer, s, data)


def _export(checkpoint: Path, out_dir: Path) -> Path:
    onnx = out_dir / f"{checkpoint.parent.name}_{checkpoint.stem}.onnx"
    cmd = [sys.executable, "-m", "export", "--checkpoint", str(checkpoint), "--output", str(onnx)]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True)
    return onnx


def run_ours(
    models: Iterable[tuple[Path, str]],
    data: Path,
    run: Run,
    include_untrained: bool,
    threads: int | None,
    suffix: str = "",
) -> None:
    """Evaluate each (onnx, label) at the scale its metadata says; a later (scale, depth) overrides."""
    from litesr_edge.upscaler import Upscaler

    for path, label in models:
        if not path.is_file():
            run.notes.append(f"model {label} missing: skipped")
            continue
        try:
            up = Upscaler(model=path, threads=threads)
        except LiteSRError as exc:
            run.notes.append(f"model {label} not loadable ({exc}): skipped")
            continue
        info = up.info
        if not info.trained and not include_untrained:
            run.notes.append(f"model {label} is an untrained placeholder: skipped")
            continue
        method: dict[str, JsonValue] = {
            "name": "litesrnet", "model": label, "scale": info.scale, "depth": info.depth,
            "params": info.params, "trained": info.trained, "provider": up.provider,
            **{k: v for k, v in info.extra.items() if k in ("train_data", "train_steps", "train_budget", "val_psnr")},
        }  # fmt: skip
        measure(f"litesrnet_x{info.scale}_d{info.depth}{suffix}", method, up.upscale, info.scale, data)


# ---------------------------------------------------------------- markdown


def load_results() -> dict[str, dict[str, object]]:
    folder = RESULTS / "eval"
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


def _scores(doc: dict[str, object]) -> dict[str, tuple[float, float]]:
    results = doc["results"]
    assert isinstance(results, list)
    return {r["dataset"]: (r["psnr"], r["ssim"]) for r in results}


def _cell(doc: dict[str, object] | None, name: str, digits: int = 2) -> str:
    if doc is None:
        return "not measured"
    psnr, ssim = _scores(doc)[name]
    return f"{psnr:.{digits}f} / {ssim:.4f}"


def _paper(table: dict[tuple[str, int], float], name: str, s: int) -> str:
    value = table.get((name, s))
    return f"{value:.2f} / –" if value is not None else "see paper"


def table1(docs: dict[str, dict[str, object]]) -> list[str]:
    head = "| Scale | Method | Params | " + " | ".join(SETS) + " | Urban100 |"
    lines = [head, "|" + "---|" * (4 + len(SETS))]
    for s in SCALES:
        rows = [("Bicubic (measured)", "–", docs.get(f"bicubic_x{s}"))]
        rows += [
            (f"{p} (OpenCV zoo, measured)", _params(docs.get(f"opencv-{p}_x{s}")), docs.get(f"opencv-{p}_x{s}"))
            for p in PEERS
        ]
        ours = docs.get(f"litesrnet_x{s}_d19")
        for label, params, doc in rows + [("LiteSRNet d19 (ours, measured)", _params(ours), ours)]:
            cells = [_cell(doc, n) for n in SETS]
            lines.append(f"| ×{s} | {label} | {params} | " + " | ".join(cells) + " | not measured |")
        for label, table in (("FSRCNN (published)", PAPER_FSRCNN), ("LiteSRNet (paper)", PAPER_LITESRNET)):
            cells = [_paper(table, n, s) for n in SETS]
            lines.append(f"| ×{s} | {label} | see paper | " + " | ".join(cells) + " | see paper |")
    return lines


def _method_field(doc: dict[str, object] | None, key: str) -> object:
    method = doc.get("method") if doc is not None else None
    return method.get(key) if isinstance(method, dict) else None


def _params(doc: dict[str, object] | None) -> str:
    params = _method_field(doc, "params")
    return f"{params:,}" if isinstance(params, int) else "–"


def _steps(doc: dict[str, object] | None) -> str:
    steps = _method_field(doc, "train_steps")
    return "–" if steps is None else str(steps)


def _budget_steps(slug: str) -> int:
    budget = slug.rsplit("_budget", 1)[1]
    return int(budget) if budget.isdigit() else 10**9  # a checkpoint without a recorded budget sorts last


def table2(docs: dict[str, dict[str, object]]) -> list[str]:
    """Depth ablation at x4: one block of rows per equal step budget (``--ablation-checkpoint``),
    else the bundled models."""
    head = "| Budget (steps) | Depth | Params | Best at step | " + " | ".join(f"{n} ×4 (ours)" for n in SETS)
    lines = [head + " | Paper |", "|" + "---|" * (5 + len(SETS))]
    ablation = {slug: doc for slug, doc in docs.items() if "_budget" in slug and slug.startswith("litesrnet_x4_d")}
    rows = sorted(ablation.items(), key=lambda kv: (_budget_steps(kv[0]), kv[0]))
    if not rows:
        rows = [(f"litesrnet_x4_d{d}", docs[f"litesrnet_x4_d{d}"]) for d in (13, 16, 19)
                if f"litesrnet_x4_d{d}" in docs]
    for slug, doc in rows:
        budget = slug.rsplit("_budget", 1)[1] if "_budget" in slug else "–"
        depth = slug.split("_d", 1)[1].split("_", 1)[0]
        cells = [_cell(doc, n, digits=3) for n in SETS]  # depth differences are hundredths of a dB
        lines.append(f"| {budget} | {depth} | {_params(doc)} | {_steps(doc)} | " + " | ".join(cells) + " | see paper |")
    return lines


def peer_findings(docs: dict[str, dict[str, object]]) -> list[str]:
    """Where an OpenCV zoo model beats bicubic, and by how much (measured)."""
    lines = []
    for s in SCALES:
        bic = docs.get(f"bicubic_x{s}")
        if bic is None:
            continue
        b = _scores(bic)
        for p in PEERS:
            doc = docs.get(f"opencv-{p}_x{s}")
            if doc is None:
                continue
            gains = {n: v[0] - b[n][0] for n, v in _scores(doc).items()}
            text = ", ".join(f"{n} {g:+.2f} dB" for n, g in gains.items())
            lines.append(f"- ×{s} {p} vs bicubic: {text}")
    return lines


def bicubic_check(docs: dict[str, dict[str, object]]) -> list[str]:
    worst = 0.0
    for s in SCALES:
        doc = docs.get(f"bicubic_x{s}")
        for n, (psnr, _ssim) in (_scores(doc) if doc else {}).items():
            worst = max(worst, abs(psnr - LITERATURE_BICUBIC[(n, s)]))
    return [f"- Bicubic vs the literature's bicubic numbers: largest |difference| {worst:.3f} dB (tolerance 0.02)."]


def contrib_notes(docs: dict[str, dict[str, object]]) -> list[str]:
    checks = []
    for slug, doc in docs.items():
        method = doc["method"]
        assert isinstance(method, dict)
        if "contrib_identical" in method:
            checks.append(f"{slug} {method['contrib_identical']}")
    if not checks:
        return ["- Peers ran through `litesr_edge.quality.peers` (plain cv2.dnn); not re-checked against contrib."]
    return [
        "- Peers ran through `litesr_edge.quality.peers` (plain cv2.dnn); images bit-identical to opencv-contrib "
        "`dnn_superres`: " + "; ".join(checks) + "."
    ]


PROTOCOL = (
    "PSNR (dB) / SSIM on the BT.601 Y channel, `scale` border pixels cropped, SSIM with an 11×11 Gaussian "
    "window (σ = 1.5); LR = the canonical MATLAB LR files of `../shared/datasets/test`; a one-channel ground "
    "truth (Set14 img_003) is scored on grey levels. Every method gets 3-channel RGB input."
)


def write_markdown(docs: dict[str, dict[str, object]], run: Run) -> None:
    gen = "Generated by `python benchmarks/tables.py` from `benchmarks/results/eval/*.json`; do not edit by hand."
    notes = [f"- {n}" for n in run.notes]
    t1 = ["# Table 1: quality on the standard benchmarks", "", gen, "", PROTOCOL, "", *table1(docs), ""]
    t1 += ["Notes:", *bicubic_check(docs), *contrib_notes(docs), *notes, "", "OpenCV zoo models vs bicubic:"]
    t1 += [*peer_findings(docs), ""]
    t1 += ["Urban100 is not available here; `litesr-edge eval PATH/Urban100 -s 4` measures it.", ""]
    (RESULTS / "table1.md").write_text("\n".join(t1))
    t2 = ["# Table 2: recurrence depth at ×4", "", gen, "", PROTOCOL, "", *table2(docs), ""]
    t2 += ["Notes:", *notes, ""] if notes else []
    (RESULTS / "table2.md").write_text("\n".join(t2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", type=Path, default=ROOT.parent / "shared/datasets/test")
    ap.add_argument("--peers", type=Path, default=ROOT.parent / "shared/peers/opencv-dnn-superres")
    ap.add_argument("--model", type=Path, nargs="*", default=[], help="extra .onnx models (metadata decides)")
    ap.add_argument("--checkpoint", type=Path, nargs="*", default=[], help=".pt checkpoints, exported first")
    ap.add_argument(
        "--ablation-checkpoint",
        type=Path,
        nargs="*",
        default=[],
        help="x4 checkpoints taken at the ablation's equal step budget (Table 2 rows)",
    )
    ap.add_argument("--no-bundled", action="store_true", help="skip litesr_edge/weights/*.onnx")
    ap.add_argument("--include-untrained", action="store_true")
    ap.add_argument("--skip", nargs="*", default=[], choices=["bicubic", "peers", "ours"])
    ap.add_argument("--contrib", type=Path, help="output folder of benchmarks/peers_contrib.py")
    ap.add_argument("--threads", type=int, help="ONNX Runtime threads for our models")
    ap.add_argument("--reuse", action="store_true", help="only rebuild the markdown from existing JSON")
    args = ap.parse_args()
    args.datasets, args.peers = args.datasets.resolve(), args.peers.resolve()
    args.contrib = args.contrib.resolve() if args.contrib else None
    args.model = [p.resolve() for p in args.model]
    args.checkpoint = [p.resolve() for p in args.checkpoint]
    args.ablation_checkpoint = [p.resolve() for p in args.ablation_checkpoint]
    os.chdir(ROOT)  # dataset paths in the JSON are relative to the repo root
    run = Run()
    if not args.reuse:
        data = args.datasets
        if "bicubic" not in args.skip:
            run_bicubic(data)
        if "peers" not in args.skip:
            run_peers(data, args.peers, args.contrib, run)
        if "ours" not in args.skip:
            bundled = [] if args.no_bundled else sorted((ROOT / "litesr_edge" / "weights").glob("*.onnx"))
            models = [(p, _rel(p)) for p in bundled]
            with tempfile.TemporaryDirectory() as tmp:
                for ckpt in args.checkpoint:
                    try:
                        models.append((_export(ckpt, Path(tmp)), f"{ckpt} (exported)"))
                    except subprocess.CalledProcessError as exc:
                        why = (exc.stderr or "").strip().splitlines()[-1:] or [f"exit {exc.returncode}"]
                        run.notes.append(f"checkpoint {_rel(ckpt)} could not be exported ({why[0]}): skipped")
                models += [(p, _rel(p)) for p in args.model]
                run_ours(models, data, run, args.include_untrained, args.threads)
                ablation = [(_export(c, Path(tmp)), f"{_rel(c)} (exported)") for c in args.ablation_checkpoint]
                for path, label in ablation:
                    budget = read_model_info(path).extra.get("train_budget", "unknown")
                    run_ours([(path, label)], data, run, args.include_untrained, args.threads,
                             suffix=f"_budget{budget}")
    write_markdown(load_results(), run)
    print(f"wrote {_rel(RESULTS / 'table1.md')} and {_rel(RESULTS / 'table2.md')}")


if __name__ == "__main__":
    main()
