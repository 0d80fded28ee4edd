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

from litesr_edge.errors import ImageReadError, ImageWriteError, InvalidInputError, LiteSRError
from litesr_edge.io import IMAGE_SUFFIXES

OUTPUT_HELP = (
    "Where to write. A folder if it ends with / or has no image extension (created if missing), "
    "else one output file (one input only; its folder must exist). "
    "Default: <stem>_x<s>.<ext> beside each input."
)


@dataclass(frozen=True)
class Job:
    """One image to upscale: where it comes from and where it goes."""

    src: Path
    dst: Path


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
    return raw.endswith(separators) or path.is_dir() or path.suffix.lower() not in IMAGE_SUFFIXES


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


def output_path(src: Path, scale: int, output: Path | None, to_folder: bool) -> Path:
    """``<stem>_x<scale><ext>`` beside ``src`` or in folder ``output``; or ``output`` itself as the file."""
    name = f"{src.stem}_x{scale}{src.suffix}"
    if output is None:
        return src.with_name(name)
    return output / name if to_folder else output


def check_output(raw: str | None, single: bool) -> None:
    """InvalidInputError when ``-o`` names one file but several images will be written."""
    if raw is not None and not single and not is_folder_output(raw):
        raise InvalidInputError(
            f"-o {raw} names one file (it has an image extension), but several images will be written; "
            "give a folder (end it with /)"
        )


def _found(path: Path, scale: int, plan: Plan) -> list[Path]:
    if not path.exists():
        plan.problems.append((path, ImageReadError(f"input {path} does not exist; check the path")))
        return []
    if not path.is_dir():
        return [path]
    found = folder_images(path, scale)
    if not found:
        suffixes = ", ".join(IMAGE_SUFFIXES)
        plan.problems.append((path, InvalidInputError(f"folder {path} contains no images ({suffixes})")))
    return found


def plan_jobs(inputs: list[Path], scale: int, raw_output: str | None, skip_existing: bool) -> Plan:
    """Jobs for every image found, the outputs skipped because they exist, and the unusable inputs."""
    plan = Plan()
    output = None if raw_output is None else Path(raw_output)
    to_folder = raw_output is not None and is_folder_output(raw_output)
    seen: dict[Path, Path] = {}
    for path in inputs:
        for src in _found(path, scale, plan):
            job = Job(src, output_path(src, scale, output, to_folder))
            first = seen.setdefault(job.dst.resolve(), job.src)
            if first is not job.src:
                plan.problems.append((src, ImageWriteError(f"{src} and {first} would both write {job.dst}")))
            elif skip_existing and job.dst.exists():
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
