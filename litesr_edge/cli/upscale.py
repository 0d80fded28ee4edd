"""``litesr-edge upscale``: upscale image files or folders of images."""

from __future__ import annotations

import time
from enum import Enum
from pathlib import Path
from typing import Annotated, cast

import typer
from rich.console import Console

from litesr_edge.cli._app import memory_message
from litesr_edge.cli._jobs import OUTPUT_HELP, Job, Plan, Request, check_output, plan_jobs, prepare_folder
from litesr_edge.cli._names import DEFAULT_TEMPLATE
from litesr_edge.cli._options import (
    EngineOpt,
    ModeOpt,
    PrecisionOpt,
    VerboseOpt,
    choice_note,
    fallback_as_note,
    fallback_note,
)
from litesr_edge.cli._output import fail, print_error, print_note, stderr_console
from litesr_edge.cli._progress import Bars, TileCallback
from litesr_edge.cli._ray import RayAddress, RayFlag, RayOptions, RayThreads, RayWorkers, ray_options, run_on_ray
from litesr_edge.cli._video import CodecOpt, CrfOpt, PresetOpt, is_video, run_video_job, with_video
from litesr_edge.cli._workflow import (
    FileOptions,
    Format,
    Height,
    NameOpt,
    OutScale,
    Quality,
    Recursive,
    StripMetadata,
    Width,
    chosen_scale,
    file_options,
    naming,
)
from litesr_edge.errors import (
    ClusterError,
    DatasetError,
    EngineUnavailableError,
    ImageReadError,
    ImageTooLargeError,
    ImageWriteError,
    InvalidInputError,
    LiteSRError,
    ModelError,
    OutOfMemoryError,
    ProviderError,
)
from litesr_edge.io import DEFAULT_MAX_PIXELS
from litesr_edge.upscaler import DEFAULT_MAX_MEMORY_MB, EngineName, ModeName, PrecisionName, Upscaler

# Exit status of a batch in which some (not all) inputs failed; single-image
# runs exit with the error's own code (see litesr_edge.errors).
BATCH_FAILED = 1

# What each error's exit code means, for the --help epilog.
EXIT_MEANINGS: dict[type[LiteSRError], str] = {
    InvalidInputError: "bad usage or input",
    ImageReadError: "an input cannot be read",
    ImageWriteError: "an output cannot be written",
    ModelError: "bad model file",
    ProviderError: "--device unavailable",
    ImageTooLargeError: "output over --max-pixels",
    DatasetError: "bad dataset (eval)",
    EngineUnavailableError: "engine/precision or optional extra unavailable",
    OutOfMemoryError: "out of memory",
    ClusterError: "Ray cluster unavailable or lost (--ray)",
}
EXIT_STATUS = (
    "Exit status: 0 done (skipped outputs included); 1 some inputs of several failed (the others are written); "
    + "; ".join(f"{cls.exit_code} {text}" for cls, text in EXIT_MEANINGS.items())
    + "; 130 interrupted. With one input, the code is that error's."
)


class Device(str, Enum):
    """Where to run the model."""

    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


_PROVIDERS: dict[Device, list[str] | None] = {Device.auto: None, Device.cpu: ["cpu"], Device.cuda: ["cuda"]}


def _about(path: Path, message: str) -> str:
    # In a batch, every message must say which input it is about.
    return message if str(path) in message else f"{path}: {message}"


def _upscale_one(
    upscaler: Upscaler, job: Job, opts: FileOptions, overwrite: bool, progress: TileCallback | None
) -> None:
    """upscale_file, with MemoryError from numpy or the engine turned into OutOfMemoryError."""
    try:
        _make_folder(job)
        if is_video(job.src):  # cli/_video.py: decode -> upscale -> encode, other streams copied
            run_video_job(upscaler, job, opts, overwrite, progress)
        elif opts.is_default:  # the plain call: any object with upscale_file(src, dst, ...) serves
            upscaler.upscale_file(job.src, job.dst, overwrite=overwrite, progress=progress)
        else:
            size = opts.size
            upscaler.upscale_file(job.src, job.dst, overwrite=overwrite, progress=progress, outscale=size.outscale,
                                  width=size.width, height=size.height, quality=opts.quality,
                                  strip_metadata=opts.strip_metadata)
    except OutOfMemoryError:
        raise
    except MemoryError as exc:
        raise OutOfMemoryError(f"{job.src}: {memory_message(exc)}") from exc


def _make_folder(job: Job) -> None:
    if job.make_folder and not job.dst.parent.is_dir():
        try:
            job.dst.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ImageWriteError(f"cannot create output folder {job.dst.parent}: {exc.strerror}") from exc


def _run_single(upscaler: Upscaler, plan: Plan, opts: FileOptions, overwrite: bool, quiet: bool, err: Console) -> None:
    if plan.skipped:
        if not quiet:
            typer.echo(f"skipped {plan.skipped[0].dst}: it exists (--overwrite replaces it)")
        return
    job = plan.jobs[0]
    start = time.perf_counter()
    try:
        with Bars(err, None, show=not quiet) as bars:
            _upscale_one(upscaler, job, opts, overwrite, bars.tiles(job.src.name))
    except LiteSRError as exc:
        fail(exc, err)
    if not quiet:
        typer.echo(f"wrote {job.dst} (x{upscaler.scale}, {upscaler.provider}, {time.perf_counter() - start:.2f} s)")


def _run_batch(upscaler: Upscaler, plan: Plan, opts: FileOptions, overwrite: bool, quiet: bool, err: Console) -> None:
    for path, problem in plan.problems:
        print_error(_about(path, str(problem)), err)
    failed = len(plan.problems)
    start = time.perf_counter()
    with Bars(err, len(plan.jobs), show=not quiet) as bars:
        for job in plan.jobs:
            try:
                _upscale_one(upscaler, job, opts, overwrite, bars.tiles(job.src.name))
            except LiteSRError as exc:
                failed += 1
                print_error(_about(job.src, str(exc)), bars.console)
            bars.image_done()
    done = len(plan.jobs) + len(plan.problems) - failed
    if not quiet:
        typer.echo(
            f"upscaled {done}, skipped {len(plan.skipped)}, failed {failed} of {plan.total} inputs "
            f"(x{upscaler.scale}, {upscaler.provider}) in {time.perf_counter() - start:.1f} s"
        )
    if failed:
        raise typer.Exit(BATCH_FAILED)


def _dispatch(upscaler: Upscaler, plan: Plan, opts: FileOptions, overwrite: bool, quiet: bool, err: Console,
              single: bool, cluster: RayOptions | None) -> None:
    if cluster is not None:  # --ray: cli/_ray.py
        run_on_ray(upscaler, plan, opts, overwrite, quiet, err, cluster)
    elif single:
        _run_single(upscaler, plan, opts, overwrite, quiet, err)
    else:
        _run_batch(upscaler, plan, opts, overwrite, quiet, err)


def _plan(request: Request) -> Plan:
    """The jobs; a lone unusable input raises its own error; the -o folder is created when needed."""
    plan = plan_jobs(request)
    if not plan.jobs and not plan.skipped and len(plan.problems) == 1:
        raise plan.problems[0][1]
    if plan.jobs:
        prepare_folder(request.raw_output)
    return plan


def _check_flags(inputs: list[Path], overwrite: bool, skip_existing: bool, output: str | None, single: bool) -> None:
    if overwrite and skip_existing:
        raise InvalidInputError("--overwrite and --skip-existing exclude each other; pick one")
    if single and not inputs[0].exists():
        raise ImageReadError(f"input {inputs[0]} does not exist; check the path")
    check_output(output, single)


# The options, one alias each, so that the command's signature stays readable.
Inputs = Annotated[list[Path], typer.Argument(help="Image files and/or folders of images.", show_default=False)]
Scale = Annotated[
    int | None, typer.Option("-s", "--scale", help="Upscaling factor: 2, 3 or 4 (default 4; with --model, its own).")
]
Output = Annotated[str | None, typer.Option("-o", "--output", help=OUTPUT_HELP, metavar="PATH")]
Depth = Annotated[int | None, typer.Option(help="Recurrence depth of the bundled model (default 19).")]
Model = Annotated[Path | None, typer.Option(help="A custom .onnx written by `python -m export`.", metavar="FILE")]
TileSide = Annotated[
    int | None, typer.Option(help="Tile side in input pixels; 0 = whole image. Default: from --max-memory.")
]
MaxMemory = Annotated[float, typer.Option("--max-memory", help="Inference memory budget per tile, in MB.")]
DeviceOpt = Annotated[Device, typer.Option(help="auto: CUDA/TensorRT/CoreML/DirectML if available, else CPU.")]
Threads = Annotated[int | None, typer.Option(help="CPU threads (default: all cores).")]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace existing output files.")]
SkipExisting = Annotated[
    bool, typer.Option("--skip-existing", help="Leave existing output files alone and count them as skipped.")
]
Quiet = Annotated[
    bool, typer.Option("--quiet", "-q", help="Print errors (and an engine fallback note) only; no progress.")
]
TTA = Annotated[
    bool, typer.Option("--tta", help="Average the 8 flips/rotations of every tile: a little sharper, 8x slower.")
]
MaxPixels = Annotated[
    int, typer.Option("--max-pixels", help="Refuse images whose output would exceed this many pixels.")
]


def upscale_command(
    inputs: Inputs,
    scale: Scale = None,
    output: Output = None,
    depth: Depth = None,
    model: Model = None,
    tile: TileSide = None,
    max_memory: MaxMemory = DEFAULT_MAX_MEMORY_MB,
    device: DeviceOpt = Device.auto,
    threads: Threads = None,
    overwrite: Overwrite = False,
    skip_existing: SkipExisting = False,
    quiet: Quiet = False,
    max_pixels: MaxPixels = DEFAULT_MAX_PIXELS,
    engine: EngineOpt = "auto",
    precision: PrecisionOpt = None,
    tta: TTA = False,
    mode: ModeOpt = None,
    verbose: VerboseOpt = False,
    # The photographer's options (cli/_workflow.py), two lines to keep this signature short.
    recursive: Recursive = False, fmt: Format = None, quality: Quality = None, name: NameOpt = DEFAULT_TEMPLATE,
    outscale: OutScale = None, width: Width = None, height: Height = None, strip_metadata: StripMetadata = False,
    ray: RayFlag = False, address: RayAddress = None, workers: RayWorkers = None, threads_per_worker: RayThreads = None,
    codec: CodecOpt = None, crf: CrfOpt = None, preset: PresetOpt = None,  # video inputs (cli/_video.py)
) -> None:
    """Upscale images with LiteSRNet. Exact tiling bounds the inference memory per tile (--max-memory).

    A progress bar (tiles done, ETA) shows on a terminal unless --quiet.
    """
    err = stderr_console()
    single = len(inputs) == 1 and not inputs[0].is_dir()
    try:
        _check_flags(inputs, overwrite, skip_existing, output, single)
        cluster = ray_options(ray, address, workers, threads_per_worker, _PROVIDERS[device])
        opts = with_video(file_options(outscale, width, height, quality, strip_metadata), codec, crf, preset)
        scale = chosen_scale(scale, model, opts.size)
        with fallback_as_note():
            upscaler = Upscaler(
                scale=scale, depth=depth, model=model, providers=_PROVIDERS[device], tile=tile,
                # Unknown names are the library's to reject: its message lists the valid ones.
                max_memory_mb=max_memory, threads=threads, max_pixels=max_pixels, engine=cast(EngineName, engine),
                precision=cast(PrecisionName | None, precision), fallback=True, tta=tta or None,
                mode=cast(ModeName | None, mode),
            )
        print_note(fallback_note(upscaler.fallback_reason), err)
        print_note(choice_note(upscaler.choice, upscaler.engine, upscaler.precision) if verbose else None, err)
        plan = _plan(Request(inputs, naming(name, fmt, upscaler.scale, opts.size), output, skip_existing, recursive))
    except LiteSRError as exc:
        fail(exc, err)
    _dispatch(upscaler, plan, opts, overwrite, quiet, err, single, cluster)

