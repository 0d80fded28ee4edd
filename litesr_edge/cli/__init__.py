"""The ``litesr-edge`` command line: the only place that prints or exits.

Each sub-command lives in its own module and registers itself on ``app``.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="litesr-edge",
    help="Fast, exact image super-resolution with LiteSRNet (ONNX Runtime).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    # Imported for their side effect of adding commands to ``app``; deferred so
    # that importing ``litesr_edge.cli`` stays cheap.
    from litesr_edge.cli import bench, compare, eval, info, upscale  # noqa: F401


def main() -> None:
    """Entry point of the console script."""
    _register()
    app()
