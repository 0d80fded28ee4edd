"""Upscale lists of files, folders, and in-memory image datasets on Ray Data."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from litesr_edge._args import check_int
from litesr_edge.errors import ImageWriteError
from litesr_edge.io import IMAGE_SUFFIXES
from litesr_edge.raydata._errors import ray_errors
from litesr_edge.raydata._session import import_ray
from litesr_edge.raydata._worker import FAILED, WRITTEN, ArrayWorker, FileJob, FileWorker, WorkerSpec

if TYPE_CHECKING:
    from ray.data import Dataset

# Files per Ray task: small, so that a killed actor redoes little and work spreads evenly;
# each actor holds one image at a time whatever this is.
DEFAULT_BATCH_SIZE = 4
# Restarts of a dead actor, and retries of the batch it was running.
DEFAULT_RETRIES = 3
SKIPPED = "skipped"
PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class FileStatus:
    """What became of one input: ``outcome`` is "written", "failed" (see ``reason``) or "skipped".

    ``node``, ``pid``: the Ray node and actor process that ran it; ``seconds``: its time there.
    """

    src: str
    dst: str
    outcome: str
    reason: str = ""
    node: str = ""
    seconds: float = 0.0
    pid: int = 0


@dataclass
class Report:
    """Every input of a run, in input order, with its outcome."""

    statuses: list[FileStatus] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        """How many inputs ended with ``outcome``."""
        return sum(1 for s in self.statuses if s.outcome == outcome)

    @property
    def failed(self) -> list[FileStatus]:
        """The inputs that failed, each with its one-line reason."""
        return [s for s in self.statuses if s.outcome == FAILED]


def pool_size(workers: int | None, threads: int) -> int:
    """``workers``, or as many actors of ``threads`` CPUs as the cluster (or this machine) has."""
    if workers is not None:
        check_int("workers", workers, minimum=1, hint="actors, e.g. 2")
        return workers
    ray = import_ray()
    cpus = int(ray.cluster_resources().get("CPU", 1)) if ray.is_initialized() else os.cpu_count() or 1
    return max(1, cpus // threads)


def upscale_files(
    pairs: Sequence[tuple[PathLike, PathLike]], spec: WorkerSpec, *, overwrite: bool = False,
    workers: int | None = None, batch_size: int = DEFAULT_BATCH_SIZE, retries: int = DEFAULT_RETRIES,
    job: FileJob | None = None,
) -> Dataset:
    """A lazy Dataset that upscales each ``(src, dst)`` file pair on an actor pool when consumed.

    Its rows are small statuses, one per pair, in no fixed order: ``index`` (into
    ``pairs``), ``outcome`` ("written"/"failed"), ``reason``, ``seconds``, ``node``, ``pid``.
    A bad image fails its row, not the job. Paths are made absolute here, because
    workers do not share this process's working directory; every node must see them.
    ``job(upscaler, src, dst, overwrite)`` replaces the per-file work
    (default: ``Upscaler.upscale_file``). The object store holds these path rows and
    statuses only, never pixels; see docs/ray.md for the memory bound.
    """
    check_int("batch_size", batch_size, minimum=1, hint="files per Ray task, e.g. 4")
    check_int("retries", retries, minimum=0, hint="restarts of a dead actor, e.g. 3")
    ray = import_ray()
    rows = [
        {"index": i, "src": os.path.abspath(src), "dst": os.path.abspath(dst), "fresh": not os.path.lexists(dst)}
        for i, (src, dst) in enumerate(pairs)
    ]
    blocks = max(1, -(-len(rows) // batch_size))
    ds = ray.data.from_items(rows, override_num_blocks=blocks)
    with _bounded_retries():
        return ds.map_batches(  # type: ignore[no-any-return]
            FileWorker, fn_constructor_kwargs={"spec": spec, "overwrite": overwrite, "job": job},
            batch_size=batch_size, batch_format="numpy", compute=_pool(ray, workers, spec.threads),
            num_cpus=spec.threads, max_restarts=retries, max_task_retries=retries,
        )


def _pool(ray: ModuleType, workers: int | None, threads: int) -> Any:
    """A fixed-size actor pool: one Upscaler per actor, for the whole run."""
    return ray.data.ActorPoolStrategy(size=pool_size(workers, threads))


@contextmanager
def _bounded_retries() -> Iterator[None]:
    # Ray 2.60 deprecates map_batches' ray_remote_args but offers no other way to bound
    # actor restarts and task retries (its default, -1, retries a crashing input forever).
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="`ray_remote_args` is deprecated")
        yield


def iter_statuses(pairs: Sequence[tuple[PathLike, PathLike]], results: Dataset) -> Iterator[FileStatus]:
    """Stream the status rows of ``upscale_files(pairs, ...)`` as batches finish, Ray errors translated."""
    with ray_errors():
        for batch in results.iter_batches(batch_format="numpy", batch_size=None):
            for i, outcome, reason, node, seconds, pid in zip(
                batch["index"], batch["outcome"], batch["reason"], batch["node"], batch["seconds"], batch["pid"],
                strict=True,
            ):
                src, dst = (str(p) for p in pairs[int(i)])
                # The worker saw absolute paths: name the input as the caller did.
                shown = str(reason).replace(os.path.abspath(src), src).replace(os.path.abspath(dst), dst)
                yield FileStatus(src, dst, str(outcome), shown, str(node), float(seconds), int(pid))


def folder_pairs(src: Path, dst: Path, scale: int) -> list[tuple[Path, Path]]:
    """``(image, dst/<stem>_x<scale><ext>)`` for the images directly in ``src``, sorted, as the CLI names them.

    Hidden files and our own earlier outputs (``a_x4.png`` beside ``a.png``) are left out.
    """
    images = sorted(
        p for p in src.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES
    )
    stems, tag = {p.stem for p in images}, f"_x{scale}"
    kept = [p for p in images if not (p.stem.endswith(tag) and p.stem[: -len(tag)] in stems)]
    return [(p, dst / f"{p.stem}{tag}{p.suffix}") for p in kept]


def upscale_folder(
    src: PathLike, dst: PathLike, spec: WorkerSpec, *, overwrite: bool = False, skip_existing: bool = False,
    workers: int | None = None, batch_size: int = DEFAULT_BATCH_SIZE, retries: int = DEFAULT_RETRIES,
    job: FileJob | None = None,
) -> Report:
    """Upscale every image in folder ``src`` into folder ``dst`` (created) on Ray; return the Report.

    Names and formats are the CLI's (``<stem>_x<scale><ext>``). An Upscaler is built here
    first, so a bad argument fails before any actor starts. Connect first (``connected``)
    or Ray Data starts a local cluster itself.
    """
    scale = spec.build().scale
    pairs = folder_pairs(Path(src), Path(dst), scale)
    skipped = [p for p in pairs if skip_existing and p[1].exists()]
    todo = [p for p in pairs if p not in skipped]
    try:
        Path(dst).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ImageWriteError(f"cannot create output folder {dst}: {exc.strerror}") from exc
    done = {s.src: s for s in iter_statuses(todo, upscale_files(
        todo, spec, overwrite=overwrite, workers=workers, batch_size=batch_size, retries=retries, job=job))}
    report = Report()
    for a, b in pairs:
        status = done.get(str(a))
        report.statuses.append(status if status is not None else FileStatus(str(a), str(b), SKIPPED))
    return report


def upscale_dataset(
    ds: Dataset, spec: WorkerSpec, *, column: str = "image", workers: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE, retries: int = DEFAULT_RETRIES,
) -> Dataset:
    """``ds`` (e.g. from ``ray.data.read_images``) with the images of ``column`` upscaled, lazily.

    Each image comes out with its own dtype and layout, exactly as
    ``Upscaler.upscale`` gives it. Here pixels do travel through the object store:
    Ray Data's streaming backpressure bounds how many batches are in flight.
    A bad image raises its LiteSRError from the job, wrapped by Ray.
    """
    check_int("batch_size", batch_size, minimum=1, hint="images per Ray task, e.g. 4")
    kwargs: dict[str, Any] = {"spec": spec, "column": column}
    with _bounded_retries():
        return ds.map_batches(
            ArrayWorker, fn_constructor_kwargs=kwargs, batch_size=batch_size, batch_format="numpy",
            compute=_pool(import_ray(), workers, spec.threads), num_cpus=spec.threads,
            max_restarts=retries, max_task_retries=retries,
        )


__all__ = ["DEFAULT_BATCH_SIZE", "DEFAULT_RETRIES", "SKIPPED", "WRITTEN", "FileStatus", "Report", "folder_pairs",
           "iter_statuses", "pool_size", "upscale_dataset", "upscale_files", "upscale_folder"]
