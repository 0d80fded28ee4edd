"""``litesr-edge upscale``: upscale image files or folders of images."""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from litesr_edge.cli import app
from litesr_edge.cli._options import ENGINE_HELP, PRECISION_HELP, fallback_as_note, fallback_note
from litesr_edge.errors import ImageReadError, ImageWriteError, InvalidInputError, LiteSRError
from litesr_edge.io import DEFAULT_MAX_PIXELS, IMAGE_SUFFIXES
from litesr_edge.upscaler import DEFAULT_MAX_MEMORY_MB, Upscaler

# Exit status of a batch in which some (not all) inputs failed; single-image
# runs exit with the error's own code (see litesr_edge.errors).
BATCH_FAILED = 1


class Device(str, Enum):
    """Where to run the model."""

    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


_PROVIDERS: dict[Device, list[str] | None] = {Device.auto: None, Device.cpu: ["cpu"], Device.cuda: ["cuda"]}


@dataclass(frozen=True)
class Job:
    """One image to upscale: where it comes from and where it goes."""

    src: Path
    dst: Path


def _one_line(message: str) -> str:
    return " ".join(message.split())


def _error(console: Console, message: str) -> None:
    # soft_wrap: one line whatever the terminal width, so scripts can parse it.
    console.print(f"error: {_one_line(message)}", soft_wrap=True, markup=False, highlight=False)


def _note(console: Console, note: str | None) -> None:
    if note is not None:
        console.print(note, soft_wrap=True, markup=False, highlight=False)


def _about(path: Path, exc: LiteSRError) -> str:
    # In a batch, every message must say which input it is about.
    return str(exc) if str(path) in str(exc) else f"{path}: {exc}"


def folder_images(folder: Path, scale: int) -> list[Path]:
    """Images directly in ``folder``, sorted, minus our own earlier outputs.

    ``a_x4.png`` is skipped when ``a.png``-like source sits beside it, so that
    re-running on a folder does not upscale its previous results.
    """
    images = sorted(
        p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES
    )
    stems = {p.stem for p in images}
    tag = f"_x{scale}"
    return [p for p in images if not (p.stem.endswith(tag) and p.stem[: -len(tag)] in stems)]


def output_path(src: Path, scale: int, output: Path | None, single: bool) -> Path:
    """``<stem>_x<scale><ext>`` beside ``src``, in folder ``output``, or ``output`` itself for one file."""
    name = f"{src.stem}_x{scale}{src.suffix}"
    if output is None:
        return src.with_name(name)
    if single and not output.is_dir():
        return output
    return output / name


def plan_jobs(
    inputs: list[Path], scale: int, output: Path | None, single: bool
) -> tuple[list[Job], list[tuple[Path, LiteSRError]]]:
    """Jobs for every image found, and the inputs that cannot become jobs."""
    jobs: list[Job] = []
    problems: list[tuple[Path, LiteSRError]] = []
    for path in inputs:
        if not path.exists():
            problems.append((path, ImageReadError(f"input {path} does not exist; check the path")))
        elif path.is_dir():
            found = folder_images(path, scale)
            if not found:
                problems.append(
                    (path, InvalidInputError(f"folder {path} contains no images ({', '.join(IMAGE_SUFFIXES)})"))
                )
            jobs.extend(Job(src, output_path(src, scale, output, single)) for src in found)
        else:
            jobs.append(Job(path, output_path(path, scale, output, single)))
    seen: dict[Path, Path] = {}
    unique: list[Job] = []
    for job in jobs:
        first = seen.setdefault(job.dst.resolve(), job.src)
        if first is job.src:
            unique.append(job)
        else:
            problems.append((job.src, ImageWriteError(f"{job.src} and {first} would both write {job.dst}")))
    return unique, problems


def _run_single(upscaler: Upscaler, job: Job, overwrite: bool, quiet: bool, err: Console) -> None:
    start = time.perf_counter()
    try:
        upscaler.upscale_file(job.src, job.dst, overwrite=overwrite)
    except LiteSRError as exc:
        _error(err, str(exc))
        raise typer.Exit(exc.exit_code) from None
    if not quiet:
        typer.echo(f"wrote {job.dst} (x{upscaler.scale}, {upscaler.provider}, {time.perf_counter() - start:.2f} s)")


def _run_batch(
    upscaler: Upscaler, jobs: list[Job], problems: list[tuple[Path, LiteSRError]], overwrite: bool, quiet: bool,
    err: Console,
) -> None:
    for path, problem in problems:
        _error(err, _about(path, problem))
    failed = len(problems)
    start = time.perf_counter()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True, disable=quiet) as progress:
        task = progress.add_task(f"x{upscaler.scale}", total=len(jobs))
        for job in jobs:
            try:
                upscaler.upscale_file(job.src, job.dst, overwrite=overwrite)
            except LiteSRError as exc:
                failed += 1
                _error(progress.console, _about(job.src, exc))
            progress.advance(task)
    done = len(jobs) + len(problems) - failed
    if not quiet:
        typer.echo(
            f"upscaled {done} of {len(jobs) + len(problems)} inputs (x{upscaler.scale}, {upscaler.provider}) "
            f"in {time.perf_counter() - start:.1f} s" + (f"; {failed} failed" if failed else "")
        )
    if failed:
        raise typer.Exit(BATCH_FAILED)


@app.command("upscale")
def upscale_command(
    inputs: Annotated[list[Path], typer.Argument(help="Image files and/or folders of images.", show_default=False)],
    scale: Annotated[
        int | None,
        typer.Option("-s", "--scale", help="Upscaling factor: 2, 3 or 4 (default 4; with --model, its own)."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o", "--output", help="Output file (one input) or folder. Default: <stem>_x<s>.<ext> beside each input."
        ),
    ] = None,
    depth: Annotated[int | None, typer.Option(help="Recurrence depth of the bundled model (default 19).")] = None,
    model: Annotated[Path | None, typer.Option(help="A custom .onnx written by `python -m export`.")] = None,
    tile: Annotated[
        int | None, typer.Option(help="Tile side in input pixels; 0 = whole image. Default: from --max-memory.")
    ] = None,
    max_memory: Annotated[
        float, typer.Option("--max-memory", help="Inference memory budget per tile, in MB.")
    ] = DEFAULT_MAX_MEMORY_MB,
    device: Annotated[
        Device, typer.Option(help="auto: CUDA/TensorRT/CoreML/DirectML if available, else CPU.")
    ] = Device.auto,
    threads: Annotated[int | None, typer.Option(help="CPU threads (default: all cores).")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace existing output files.")] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print errors (and an engine fallback note) only.")
    ] = False,
    max_pixels: Annotated[
        int, typer.Option("--max-pixels", help="Refuse images whose output would exceed this many pixels.")
    ] = DEFAULT_MAX_PIXELS,
    engine: Annotated[str, typer.Option(help=ENGINE_HELP)] = "onnxruntime",
    precision: Annotated[str | None, typer.Option(help=PRECISION_HELP, show_default=False)] = None,
) -> None:
    """Upscale images with LiteSRNet. Exact tiling keeps memory flat on large images.

    Exit status: 0 on success; for one image, the error's code; for several
    images, 1 if any failed (the others are still written).
    """
    err = Console(stderr=True)
    single = len(inputs) == 1 and not inputs[0].is_dir()
    if single and not inputs[0].exists():
        _error(err, f"input {inputs[0]} does not exist; check the path")
        raise typer.Exit(ImageReadError.exit_code)
    try:
        with fallback_as_note():
            upscaler = Upscaler(
                scale=scale, depth=depth, model=model, providers=_PROVIDERS[device], tile=tile,
                max_memory_mb=max_memory, threads=threads, max_pixels=max_pixels, engine=engine,
                precision=precision, fallback=True,
            )
        _note(err, fallback_note(upscaler.fallback_reason))
        jobs, problems = plan_jobs(inputs, upscaler.scale, output, single)
        if not single and output is not None and jobs:
            _prepare_folder(output)
    except LiteSRError as exc:
        _error(err, str(exc))
        raise typer.Exit(exc.exit_code) from None
    if single:
        _run_single(upscaler, jobs[0], overwrite, quiet, err)
    elif not jobs and len(problems) == 1:
        _error(err, str(problems[0][1]))
        raise typer.Exit(problems[0][1].exit_code)
    else:
        _run_batch(upscaler, jobs, problems, overwrite, quiet, err)


def _prepare_folder(output: Path) -> None:
    if output.exists() and not output.is_dir():
        raise ImageWriteError(f"-o {output} is a file; with several inputs or a folder, -o must be a folder")
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ImageWriteError(f"cannot create output folder {output}: {exc.strerror}") from exc
