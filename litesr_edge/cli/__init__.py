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
    # Imported for their side effect of adding commands to ``app``.
    import importlib

    for name in ("_upscale", "_info", "_eval", "_compare", "_bench"):
        try:
            importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            # Only a command module that does not exist yet is skipped; a missing
            # dependency inside one is a real error.
            if exc.name != f"{__name__}.{name}":
                raise


def main() -> None:
    """Entry point of the console script."""
    _register()
    app()
