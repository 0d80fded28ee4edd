"""The ``litesr-edge`` command line: the only place that prints or exits.

One module per command; each defines a plain function and this module registers all
of them on ``app`` explicitly (no import side effects). ``app``'s own ``main`` turns
every failure into one ``error:`` line and an exit code, also under ``CliRunner``.
"""

from __future__ import annotations

from collections.abc import Callable

import typer

from litesr_edge.cli import bench, compare, eval, info, serve, upscale
from litesr_edge.cli._app import Command, Group, version_callback
from litesr_edge.cli._stderr import silence_native_stderr

HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}

app = typer.Typer(
    name="litesr-edge",
    cls=Group,
    help="Fast, exact image super-resolution with LiteSRNet (ONNX Runtime or OpenVINO).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings=HELP_OPTIONS,
)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=version_callback, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Fast, exact image super-resolution with LiteSRNet (ONNX Runtime or OpenVINO)."""

# name -> (function, epilog of its --help)
COMMANDS: dict[str, tuple[Callable[..., None], str | None]] = {
    "upscale": (upscale.upscale_command, upscale.EXIT_STATUS),
    "info": (info.info_command, None),
    "eval": (eval.eval_command, None),
    "bench": (bench.bench_command, None),
    "compare": (compare.compare_command, None),
    "serve": (serve.serve_command, None),
}


def _register_all() -> None:
    for name, (function, epilog) in COMMANDS.items():
        app.command(name, cls=Command, context_settings=HELP_OPTIONS, epilog=epilog)(function)


_register_all()


def main() -> None:
    """Entry point of the console script."""
    silence_native_stderr()
    app()
