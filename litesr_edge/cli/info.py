"""``litesr-edge info``: bundled models, the engines usable here and the execution providers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from litesr_edge import SAMPLE_IMAGE, __version__
from litesr_edge.cli import app
from litesr_edge.cli._options import engine_lines
from litesr_edge.engines.onnxruntime import available_providers, resolve_providers
from litesr_edge.errors import LiteSRError
from litesr_edge.registry import MODELS_DIR, list_models
from litesr_edge.registry.info import ModelInfo
from litesr_edge.registry.metadata import read_model_info


def _metadata(info: ModelInfo) -> str:
    return "; ".join(f"{key}={value}" for key, value in sorted(info.extra.items()))


def _model_table(title: str, rows: list[tuple[Path, ModelInfo]]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("file", no_wrap=True)
    for column in ("scale", "depth", "params", "receptive field", "weights", "trained"):
        table.add_column(column, justify="right")
    for path, info in rows:
        table.add_row(
            path.name, f"x{info.scale}", str(info.depth), f"{info.params:,}", f"{info.receptive_field} px",
            info.precision, "yes" if info.trained else "NO (untrained)",
        )
    return table


def _print_models(out: Console, title: str, rows: list[tuple[Path, ModelInfo]]) -> None:
    out.print(_model_table(title, rows))
    for path, info in rows:
        out.print(f"  {path.name}: {_metadata(info)}", soft_wrap=True, markup=False, highlight=False)


@app.command("info")
def info_command(
    model: Annotated[Path | None, typer.Option(help="Also describe this .onnx file.")] = None,
) -> None:
    """List the bundled models (scale, depth, params, metadata), the engines usable here and the providers."""
    out = Console()
    try:
        bundled = [(m.path, m.info) for m in list_models()]
        custom = [] if model is None else [(model, read_model_info(model))]
    except LiteSRError as exc:
        Console(stderr=True).print(
            f"error: {' '.join(str(exc).split())}", soft_wrap=True, markup=False, highlight=False
        )
        raise typer.Exit(exc.exit_code) from None
    out.print(f"litesr-edge {__version__}", highlight=False)
    if bundled:
        _print_models(out, f"Bundled models ({MODELS_DIR})", bundled)
    else:
        out.print(f"No bundled models in {MODELS_DIR}; pass --model FILE.onnx to upscale.", highlight=False)
    if custom:
        _print_models(out, "Model file", custom)
    out.print("Engines (--engine / --precision):", highlight=False)
    for line in engine_lines():
        out.print(f"  {line}", soft_wrap=True, markup=False, highlight=False)
    providers = available_providers()
    out.print(f"Execution providers: {', '.join(providers)}", highlight=False)
    out.print(f"Automatic choice (--device auto): {resolve_providers(None, providers)[0]}", highlight=False)
    out.print(f"Sample image: {SAMPLE_IMAGE}", soft_wrap=True, highlight=False)
