"""``litesr-edge eval``: PSNR/SSIM of a model, the bicubic baseline or a peer on datasets."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import numpy as np
import numpy.typing as npt
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from litesr_edge.cli._options import EngineOpt, PrecisionOpt, fallback_as_note, fallback_note
from litesr_edge.cli._output import fail, print_note
from litesr_edge.errors import InvalidInputError, LiteSRError
from litesr_edge.quality.evaluate import (
    Dataset,
    DatasetScore,
    ImageScore,
    JsonValue,
    Upsampler,
    bicubic_upsampler,
    evaluate,
    find_dataset,
    results_to_json,
)

if TYPE_CHECKING:
    from litesr_edge.upscaler import EngineName, PrecisionName

Method = tuple[Upsampler, dict[str, JsonValue]]


@dataclass(frozen=True)
class EngineChoice:
    """The --engine/--precision pair asked for (precision None: the engine's default)."""

    kind: str
    precision: str | None
    tta: bool = False


def _ours(
    scale: int, depth: int | None, model: Path | None, tile: int | None, threads: int | None, engine: EngineChoice
) -> Method:
    # Imported here: the evaluator itself needs no ONNX Runtime for --bicubic or --peer.
    from litesr_edge.upscaler import Upscaler

    with fallback_as_note():
        upscaler = Upscaler(
            # Unknown names are the library's to reject: its message lists the valid ones.
            scale=scale, depth=depth, model=model, tile=tile, threads=threads, engine=cast("EngineName", engine.kind),
            precision=cast("PrecisionName | None", engine.precision), fallback=True, tta=engine.tta,
        )
    print_note(fallback_note(upscaler.fallback_reason))
    info = upscaler.info
    described: dict[str, JsonValue] = {
        "name": "litesrnet",
        "model": str(upscaler.model_path),
        "scale": info.scale,
        "depth": info.depth,
        "params": info.params,
        "trained": info.trained,
        "engine": upscaler.engine,
        "precision": upscaler.precision,
        "provider": upscaler.provider,
        "requested_engine": engine.kind,
        "requested_precision": engine.precision,
        "fallback_reason": upscaler.fallback_reason,
        "tile": upscaler.tile,
        "tta": upscaler.tta,
    }

    def upsample(lr: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        return upscaler.upscale(lr)

    return upsample, described


def _peer(scale: int, path: Path) -> Method:
    from litesr_edge.quality.peers import OpenCVSuperRes

    peer = OpenCVSuperRes(path)
    if peer.scale != scale:
        raise InvalidInputError(f"peer model {path} upscales x{peer.scale}, not x{scale}; pass -s {peer.scale}")
    return peer, {"name": f"opencv:{peer.name}", "model": str(path), "scale": scale, "depth": None}


def _method(
    scale: int,
    depth: int | None,
    model: Path | None,
    bicubic: bool,
    peer: Path | None,
    tile: int | None,
    threads: int | None,
    engine: EngineChoice,
) -> Method:
    chosen = [flag for flag, on in (("--model", model), ("--bicubic", bicubic), ("--peer", peer)) if on]
    if len(chosen) > 1:
        raise InvalidInputError(f"{' and '.join(chosen)} exclude each other; pick one method to evaluate")
    if (bicubic or peer is not None) and engine != EngineChoice("onnxruntime", None):
        raise InvalidInputError(
            f"--engine/--precision choose how a LiteSRNet model runs, not {chosen[0]}; drop them or pass --model"
        )
    if bicubic:
        return bicubic_upsampler(scale), {"name": "bicubic", "model": None, "scale": scale, "depth": None}
    if peer is not None:
        return _peer(scale, peer)
    return _ours(scale, depth, model, tile, threads, engine)


def _run(datasets: list[Dataset], upsample: Upsampler, show_progress: bool) -> list[DatasetScore]:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    results = []
    with Progress(*columns, console=Console(stderr=True), transient=True, disable=not show_progress) as bar:
        for ds in datasets:
            task = bar.add_task(f"{ds.name} x{ds.scale}", total=len(ds.samples))

            def advance(_score: ImageScore, task: TaskID = task) -> None:
                bar.advance(task)

            results.append(evaluate(ds, upsample, on_image=advance))
    return results


def _print_tables(results: list[DatasetScore], method: str, per_image: bool) -> None:
    console = Console()
    for r in results:
        if per_image:
            title = f"{r.dataset.name} x{r.dataset.scale} -- {method} ({r.dataset.layout})"
            table = Table(title=escape(title))
            for col in ("image", "size", "PSNR (dB)", "SSIM"):
                table.add_column(col, justify="left" if col == "image" else "right")
            for s in r.images:
                grey = " grey" if s.grey else ""
                table.add_row(s.name, f"{s.width}x{s.height}{grey}", f"{s.psnr:.2f}", f"{s.ssim:.4f}")
            table.add_row("mean", f"{len(r.images)} images", f"{r.psnr:.2f}", f"{r.ssim:.4f}", style="bold")
            console.print(table)
    summary = Table(title=escape(f"mean -- {method}"), caption="Y channel, border = scale")
    for col in ("dataset", "scale", "images", "PSNR (dB)", "SSIM"):
        summary.add_column(col, justify="left" if col == "dataset" else "right")
    for r in results:
        summary.add_row(r.dataset.name, f"x{r.dataset.scale}", str(len(r.images)), f"{r.psnr:.2f}", f"{r.ssim:.4f}")
    console.print(summary)


# The options, one alias each, so that the command's signature stays readable.
Datasets = Annotated[
    list[Path],
    typer.Argument(
        help="Dataset folders: the benchmark layout (image_SRF_<s>/*_HR.png + *_LR.png, "
        "e.g. Set5/image_SRF_4/img_001_SRF_4_HR.png) or a plain folder of HR images.",
        show_default=False,
    ),
]
Scale = Annotated[int, typer.Option("-s", "--scale", help="Upscaling factor.")]
Model = Annotated[Path | None, typer.Option("--model", "-m", help="A litesr-edge .onnx model.", metavar="FILE")]
Bicubic = Annotated[bool, typer.Option("--bicubic", help="Evaluate MATLAB bicubic upsampling.")]
Peer = Annotated[Path | None, typer.Option("--peer", help="Evaluate an OpenCV zoo FSRCNN/ESPCN .pb instead.")]
Depth = Annotated[int | None, typer.Option("--depth", help="Recurrence depth of the bundled model (default 19).")]
TileSide = Annotated[int | None, typer.Option("--tile", help="Tile size in LR pixels (0 = whole image).")]
Threads = Annotated[int | None, typer.Option("--threads", help="CPU threads (default: the engine's choice).")]
JsonOut = Annotated[bool, typer.Option("--json", help="Print the JSON document only.")]
Summary = Annotated[bool, typer.Option("--summary", help="Only the mean table, no per-image rows.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
TTA = Annotated[bool, typer.Option("--tta", help="Average the 8 flips/rotations of every tile (8x slower).")]


def eval_command(
    datasets: Datasets,
    scale: Scale = 4,
    model: Model = None,
    bicubic: Bicubic = False,
    peer: Peer = None,
    depth: Depth = None,
    tile: TileSide = None,
    threads: Threads = None,
    engine: EngineOpt = "onnxruntime",
    precision: PrecisionOpt = None,
    json_out: JsonOut = False,
    summary: Summary = False,
    quiet: Quiet = False,
    tta: TTA = False,
) -> None:
    """Measure PSNR/SSIM on the Y channel with the standard SR protocol (border = scale).

    The JSON document (--json) has the schema "litesr-edge.eval/1": {schema, method, protocol,
    results: [{dataset, path, layout, scale, count, psnr, ssim, images: [{name, height, width,
    grey, psnr, ssim}]}]}; PSNR in dB (null if infinite). For a LiteSRNet model, method also
    records the engine, precision and provider that actually ran it, tta, requested_engine and
    requested_precision (the flags given), and fallback_reason (null unless the requested
    --engine/--precision could not run and onnxruntime fp32 ran).
    """
    try:
        if scale < 2:
            raise InvalidInputError(f"scale must be 2 or more, got {scale}")
        found = [find_dataset(p, scale) for p in datasets]
        choice = EngineChoice(engine, precision, tta)
        upsample, method = _method(scale, depth, model, bicubic, peer, tile, threads, choice)
        results = _run(found, upsample, show_progress=not quiet)
    except LiteSRError as exc:
        fail(exc)
    if json_out:
        typer.echo(json.dumps(results_to_json(method, results), indent=2))
    else:
        _print_tables(results, _label(method), per_image=not summary)


def _label(method: dict[str, JsonValue]) -> str:
    """What ran: ``litesrnet openvino bf16``; after a fallback ``litesrnet openvino int8 -> onnxruntime
    fp32 (fallback: <why>)``; the plain name for bicubic and peers. Plain text, not rich markup."""
    if "engine" not in method:
        return str(method["name"])
    ran = f"{method['engine']} {method['precision']}"
    reason = method.get("fallback_reason")
    if reason is None:
        return f"{method['name']} {ran}"
    asked = " ".join(str(method[k]) for k in ("requested_engine", "requested_precision") if method.get(k))
    return f"{method['name']} {asked} -> {ran} (fallback: {' '.join(str(reason).split())})"
