"""``litesr-edge upscale --ray``: the planned jobs run on a Ray cluster, the summary printed here.

Names, formats and pixels are the local run's: the plan is the local plan
(``cli/_jobs.py``), and each actor runs the local per-file function
(``upscale._upscale_one``) on an Upscaler rebuilt with the same model, engine,
precision and tile. Ray's own log lines, progress bars and warnings are kept from
the user; progress is our bar, advanced by the status rows Ray streams back.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Annotated

import typer
from rich.console import Console

from litesr_edge.cli._jobs import Job, Plan
from litesr_edge.cli._output import fail, print_error
from litesr_edge.cli._progress import Bars
from litesr_edge.cli._workflow import FileOptions
from litesr_edge.errors import InvalidInputError, LiteSRError
from litesr_edge.upscaler import Upscaler

BATCH_FAILED = 1  # as upscale.BATCH_FAILED: some inputs failed, the others are written
RayFlag = Annotated[bool, typer.Option("--ray", help="Run on a Ray cluster (needs the ray extra; see docs/ray.md).")]
RayAddress = Annotated[
    str | None, typer.Option(
        "--address", help="With --ray: the cluster, auto | HOST:PORT | ray://HOST:10001. Default: a local one.",
        metavar="ADDRESS", show_default=False)
]
RayWorkers = Annotated[
    int | None, typer.Option("--workers", help="With --ray: actors (default: the cluster's CPUs / threads).",
                             show_default=False)
]
RayThreads = Annotated[
    int | None, typer.Option("--threads-per-worker", help="With --ray: CPUs per actor = its ONNX Runtime threads (1).",
                             show_default=False)
]


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide ``--ray`` runs."""

    address: str | None = None
    workers: int | None = None
    threads_per_worker: int = 1
    providers: list[str] | None = None


def ray_options(
    ray: bool, address: str | None, workers: int | None, threads: int | None, providers: list[str] | None
) -> RayOptions | None:
    """The ``--ray`` settings, or None for a local run; InvalidInputError for a Ray option without ``--ray``."""
    given = [flag for flag, value in (("--address", address), ("--workers", workers),
                                      ("--threads-per-worker", threads)) if value is not None]
    if not ray:
        if given:
            raise InvalidInputError(f"{given[0]} only applies with --ray; add --ray or drop it")
        return None
    for flag, value in (("--workers", workers), ("--threads-per-worker", threads)):
        if value is not None and value < 1:
            raise InvalidInputError(f"{flag} {value} is not a positive number of {flag[2:]}; give 1 or more")
    return RayOptions(address, workers, 1 if threads is None else threads, providers)


@dataclass(frozen=True)
class CliJob:
    """The local run's per-file function (``upscale._upscale_one``) as a picklable callable for the actors.

    ``folders``: the absolute outputs whose folder is to be created first (``Job.make_folder``).
    """

    opts: FileOptions
    folders: frozenset[str] = frozenset()

    def __call__(self, upscaler: Upscaler, src: str, dst: str, overwrite: bool) -> None:
        """Upscale ``src`` into ``dst`` exactly as the local run does."""
        from litesr_edge.cli.upscale import _upscale_one  # deferred: upscale imports this module

        _upscale_one(upscaler, Job(Path(src), Path(dst), dst in self.folders), self.opts, overwrite, None)


@contextmanager
def _quiet_ray() -> Iterator[None]:
    """Keep Ray's warnings and stdout lines from the user for the run (log levels: ``_quiet_data``).

    Ray's driver prints cluster events ("(raylet) Task ... failed ... will be retried") to
    stdout from a thread of its own, whatever ``log_to_driver`` says; this command prints
    nothing to stdout while Ray runs, so stdout goes to the null device until Ray is shut down.
    """
    with warnings.catch_warnings(), open(os.devnull, "w") as null, redirect_stdout(null):
        warnings.simplefilter("ignore")
        yield


def _quiet_data(ray: ModuleType) -> None:
    warnings.simplefilter("ignore")  # again: importing ray puts its own filters in front of ours
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    context.enable_auto_log_stats = False
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)


@dataclass
class _Tally:
    failures: dict[str, str] = field(default_factory=dict)
    nodes: set[str] = field(default_factory=set)
    written: int = 0


def _execute(upscaler: Upscaler, plan: Plan, job: CliJob, overwrite: bool, bars: Bars, options: RayOptions
             ) -> tuple[_Tally, int]:
    from litesr_edge.raydata import FAILED, WorkerSpec, connected, iter_statuses, pool_size, upscale_files

    tally = _Tally()
    pairs = [(job.src, job.dst) for job in plan.jobs]
    with _quiet_ray(), connected(options.address) as ray:
        _quiet_data(ray)
        spec = WorkerSpec.like(upscaler, threads=options.threads_per_worker,
                               providers=None if options.providers is None else tuple(options.providers))
        workers = pool_size(options.workers, spec.threads)
        results = upscale_files(pairs, spec, overwrite=overwrite, workers=workers, job=job)
        for status in iter_statuses(pairs, results):
            tally.nodes.add(status.node)
            if status.outcome == FAILED:
                tally.failures[status.src] = status.reason
            else:
                tally.written += 1
            bars.image_done()
    return tally, workers


def run_on_ray(
    upscaler: Upscaler, plan: Plan, opts: FileOptions, overwrite: bool, quiet: bool, err: Console, options: RayOptions
) -> None:
    """Run ``plan`` on Ray; print each failure (input order), then the local run's summary line."""
    for path, problem in plan.problems:
        print_error(problem_line(path, str(problem)), err)
    start = time.perf_counter()
    tally, workers = _Tally(), 0
    if plan.jobs:
        try:
            with Bars(err, len(plan.jobs), show=not quiet) as bars:
                # Absolute as upscale_files makes them: that is what the actors are given.
                cli_job = CliJob(opts, frozenset(os.path.abspath(j.dst) for j in plan.jobs if j.make_folder))
                tally, workers = _execute(upscaler, plan, cli_job, overwrite, bars, options)
        except LiteSRError as exc:
            fail(exc, err)
    for job in plan.jobs:  # the summary lists every failed input with its one-line reason
        reason = tally.failures.get(str(job.src))
        if reason is not None:
            print_error(problem_line(job.src, reason), err)
    failed = len(plan.problems) + len(tally.failures)
    if not quiet:
        where = f"ray: {workers} workers, {options.threads_per_worker} threads each, {len(tally.nodes)} nodes"
        typer.echo(
            f"upscaled {tally.written}, skipped {len(plan.skipped)}, failed {failed} of {plan.total} inputs "
            f"(x{upscaler.scale}, {upscaler.provider}; {where}) in {time.perf_counter() - start:.1f} s"
        )
    if failed:
        raise typer.Exit(BATCH_FAILED)


def problem_line(path: Path, message: str) -> str:
    """``<path>: <message>`` unless the message names the path already (as the local batch does)."""
    return message if str(path) in message else f"{path}: {message}"
