"""Which files ``upscale`` reads and writes: the inputs found, and the ``-o`` rule.

``-o`` is a folder when it ends with a path separator or has no image extension
(``out/``, ``results``); it is then created if missing, for one input as for many.
Otherwise (``big.png``) it is one output file, only valid with one input file, and
its folder must exist.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from litesr_edge._walk import walk_images
from litesr_edge.cli._names import Naming
from litesr_edge.errors import ImageReadError, ImageWriteError, InvalidInputError, LiteSRError
from litesr_edge.io import IMAGE_SUFFIXES
from litesr_edge.video import VIDEO_SUFFIXES

_SUFFIXES = IMAGE_SUFFIXES + VIDEO_SUFFIXES  # videos go to cli/_video.py

OUTPUT_HELP = (
    "Where to write. A folder if it ends with / or has no image extension (created if missing), "
    "else one output file (one input only; its folder must exist). "
    "Default: <stem>_x<s>.<ext> beside each input. With -r, the input tree is mirrored under the folder."
)


@dataclass(frozen=True)
class Job:
    """One image to upscale: where it comes from and where it goes.

    ``make_folder``: ``dst``'s folder is created first (a sub-folder of ``-o`` mirroring
    the input tree in a recursive run).
    """

    src: Path
    dst: Path
    make_folder: bool = False


@dataclass
class Plan:
    """What a run will do: jobs to run, outputs skipped, inputs that cannot become jobs."""

    jobs: list[Job] = field(default_factory=list)
    skipped: list[Job] = field(default_factory=list)
    problems: list[tuple[Path, LiteSRError]] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Every input counted in the summary line."""
        return len(self.jobs) + len(self.skipped) + len(self.problems)


def is_folder_output(raw: str) -> bool:
    """The ``-o`` rule: a trailing separator, an existing folder or no image extension means a folder."""
    path = Path(raw)
    separators = (os.sep, os.altsep) if os.altsep else (os.sep,)
    return raw.endswith(separators) or path.is_dir() or path.suffix.lower() not in _SUFFIXES


def _not_own_outputs(images: list[Path], naming: Naming) -> list[Path]:
    """``images`` minus our own earlier outputs: ``a_x4.png`` goes when ``a.png`` beside it would write it,
    so that re-running on a folder does not upscale its previous results."""
    writers: dict[tuple[Path, str], set[Path]] = {}
    for p in images:
        writers.setdefault((p.parent, naming.name(p)), set()).add(p)
    return [p for p in images if not writers.get((p.parent, p.name), set()) - {p}]


def folder_images(folder: Path, naming: Naming) -> list[Path]:
    """Images directly in ``folder``, sorted, hidden files and our own earlier outputs left out."""
    images = sorted(
        p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in _SUFFIXES
    )
    return _not_own_outputs(images, naming)


def output_path(src: Path, naming: Naming, output: Path | None, to_folder: bool, relative: Path = Path()) -> Path:
    """The template's name beside ``src`` or in folder ``output`` (under ``relative``); or ``output`` itself."""
    name = naming.name(src)
    if output is None:
        return src.with_name(name)
    return output / relative / name if to_folder else output


def check_output(raw: str | None, single: bool) -> None:
    """InvalidInputError when ``-o`` names one file but several images will be written."""
    if raw is not None and not single and not is_folder_output(raw):
        raise InvalidInputError(
            f"-o {raw} names one file (it has an image extension), but several images will be written; "
            "give a folder (end it with /)"
        )


@dataclass(frozen=True)
class Request:
    """What the user asked for: inputs, the ``-o`` value, the naming, and the folder options."""

    inputs: list[Path]
    naming: Naming
    raw_output: str | None = None
    skip_existing: bool = False
    recursive: bool = False


def _found(path: Path, request: Request, plan: Plan) -> list[tuple[Path, Path]]:
    """(image, its folder relative to the input folder) for every image ``path`` stands for."""
    if not path.exists():
        plan.problems.append((path, ImageReadError(f"input {path} does not exist; check the path")))
        return []
    if not path.is_dir():
        return [(path, Path())]
    if request.recursive:
        output = None if request.raw_output is None else Path(request.raw_output)
        found = _not_own_outputs(walk_images(path, exclude=output), request.naming)
    else:
        found = folder_images(path, request.naming)
    if not found:
        suffixes = ", ".join(IMAGE_SUFFIXES)
        where = "folder tree" if request.recursive else "folder"
        plan.problems.append((path, InvalidInputError(f"{where} {path} contains no images ({suffixes})")))
    return [(src, src.parent.relative_to(path)) for src in found]


def plan_jobs(request: Request) -> Plan:
    """Jobs for every image found, the outputs skipped because they exist, and the unusable inputs."""
    plan = Plan()
    raw = request.raw_output
    output = None if raw is None else Path(raw)
    to_folder = raw is not None and is_folder_output(raw)
    seen: dict[Path, Path] = {}
    for path in request.inputs:
        for src, relative in _found(path, request, plan):
            dst = output_path(src, request.naming, output, to_folder, relative)
            job = Job(src, dst, make_folder=relative != Path() and to_folder)
            first = seen.setdefault(job.dst.resolve(), job.src)
            if first is not job.src:
                plan.problems.append((src, ImageWriteError(f"{src} and {first} would both write {job.dst}")))
            elif request.skip_existing and job.dst.exists():
                plan.skipped.append(job)
            else:
                plan.jobs.append(job)
    return plan


def prepare_folder(raw_output: str | None) -> None:
    """Create the ``-o`` folder (and its parents) when ``-o`` is a folder; ImageWriteError if it cannot be."""
    if raw_output is None or not is_folder_output(raw_output):
        return
    output = Path(raw_output)
    if output.exists() and not output.is_dir():
        raise ImageWriteError(f"-o {output} is a file, not a folder; remove it or choose another -o")
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ImageWriteError(f"cannot create output folder {output}: {exc.strerror}") from exc
