"""``litesr-edge info``: bundled models, the engines usable here, the providers and the CPU.

The text report stacks each model's facts on lines of their own, so nothing is cut at
80 columns; ``--json`` carries everything, for scripts.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.padding import Padding
from rich.text import Text

from litesr_edge.cli._options import EngineStatus, engine_statuses
from litesr_edge.cli._output import fail
from litesr_edge.errors import LiteSRError
from litesr_edge.registry import MODELS_DIR, list_models
from litesr_edge.registry.info import ModelInfo
from litesr_edge.registry.metadata import read_model_info

JsonDoc = dict[str, object]
SCHEMA = "litesr-edge.info/1"


def _model_json(path: Path, info: ModelInfo, bundled: bool) -> JsonDoc:
    return {"file": path.name, "path": str(path), "bundled": bundled, **asdict(info), "extra": dict(info.extra)}


@dataclass(frozen=True)
class Machine:
    """What this machine can run: engines, ONNX Runtime providers, CPU features."""

    engines: list[EngineStatus]
    providers: list[str]
    auto: str
    features: dict[str, bool | None]
    hidden: list[str]
    cpu_class: str = "other"
    choices: tuple[str, ...] = ()


def probe_machine() -> Machine:
    """Engines, providers and CPU features here; LITESR_EDGE_HIDE_CPU applies (and is listed)."""
    # Deferred: importing litesr_edge.cli must not need onnxruntime (eval --bicubic runs without it).
    from litesr_edge.engines.cpu import FEATURES, has_flag, hidden_features
    from litesr_edge.engines.onnxruntime import available_providers, resolve_providers

    engines = engine_statuses()
    openvino = next(s for s in engines if s.name == "openvino")
    # /proc/cpuinfo gives bf16, amx and vnni; only OpenVINO's probe knows int8 kernels.
    features: dict[str, bool | None] = {f: has_flag(f) for f in FEATURES if f != "int8"}
    features["int8"] = openvino.precisions["int8"] if openvino.installed else None
    available = available_providers()
    return Machine(engines, available, resolve_providers(None, available)[0], features, sorted(hidden_features()),
                   *_choices())


def _choices() -> tuple[str, tuple[str, ...]]:
    """This CPU's class and what engine="auto" and each --mode run here (bundled x4 depth 19), with why."""
    from litesr_edge.engines.cpu import cpu_class
    from litesr_edge.engines.modes import mode_lines

    try:
        return cpu_class(), tuple(mode_lines(4))
    except LiteSRError as exc:  # e.g. no bundled models: say so instead of failing the whole report
        return cpu_class(), (f"engine auto -> unknown: {exc}",)


def info_document(models: list[tuple[Path, ModelInfo, bool]], machine: Machine) -> JsonDoc:
    """Everything ``info`` knows, as one JSON-ready document."""
    from litesr_edge import SAMPLE_IMAGE, __version__
    from litesr_edge.engines.cpu import HIDE_ENV

    return {
        "schema": SCHEMA,
        "version": __version__,
        "models_dir": str(MODELS_DIR),
        "models": [_model_json(path, info, bundled) for path, info, bundled in models],
        "engines": [asdict(status) for status in machine.engines],
        "providers": {"available": machine.providers, "auto": machine.auto},
        "cpu": {"features": machine.features, "hidden": machine.hidden, HIDE_ENV: os.environ.get(HIDE_ENV),
                "class": machine.cpu_class},
        "auto": list(machine.choices),
        "sample_image": str(SAMPLE_IMAGE),
    }


def _model_lines(path: Path, info: ModelInfo) -> list[tuple[int, str]]:
    """(indent, text) lines: the file, its facts, one line per metadata key."""
    facts = (
        f"x{info.scale}, depth {info.depth}, {info.params:,} params, receptive field {info.receptive_field} px, "
        f"{info.precision} weights, {'trained' if info.trained else 'NO (untrained)'}"
    )
    return [(2, path.name), (4, facts), *((6, f"{key}={value}") for key, value in sorted(info.extra.items()))]


def _print_text(models: list[tuple[Path, ModelInfo, bool]], machine: Machine) -> None:
    from litesr_edge import SAMPLE_IMAGE, __version__

    out = Console()

    def say(text: str, indent: int = 0) -> None:
        # Never cut: long lines wrap at spaces under their indent, whatever the width.
        out.print(Padding(Text(text, overflow="fold"), (0, 0, 0, indent), expand=False))

    say(f"litesr-edge {__version__}")
    if not any(bundled for _, _, bundled in models):
        say(f"No bundled models in {MODELS_DIR}; pass --model FILE.onnx to upscale.")
    for i, (path, info, bundled) in enumerate(models):
        if i == 0 and bundled:
            say(f"Bundled models ({MODELS_DIR}):")
        if not bundled:
            say("Model file:")
        for indent, line in _model_lines(path, info):
            say(line, indent)
    _print_machine(machine, say)
    say(f"Sample image: {SAMPLE_IMAGE}")


def _print_machine(machine: Machine, say: Callable[[str, int], None]) -> None:
    from litesr_edge.engines.cpu import CPU_CLASSES

    say("Engines (--engine / --precision):", 0)
    for status in machine.engines:
        say(status.line, 2)
    say(f"Execution providers: {', '.join(machine.providers)}", 0)
    say(f"Automatic choice (--device auto): {machine.auto}", 0)
    features = ", ".join(
        f"{name} {'unknown' if on is None else 'yes' if on else 'no'}" for name, on in machine.features.items()
    )
    hidden = f" (hidden by LITESR_EDGE_HIDE_CPU: {', '.join(machine.hidden)})" if machine.hidden else ""
    say(f"CPU features: {features}{hidden}; class {CPU_CLASSES.get(machine.cpu_class, machine.cpu_class)}", 0)
    say("Automatic choice (--engine auto, --mode; x4 depth 19):", 0)
    for line in machine.choices:
        say(line, 2)


def info_command(
    model: Annotated[Path | None, typer.Option(help="Also describe this .onnx file.", metavar="FILE")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON document with everything.")] = False,
) -> None:
    """List the bundled models (scale, depth, params, metadata), the engines usable here, the providers, the CPU."""
    try:
        models = [(m.path, m.info, True) for m in list_models()]
        if model is not None:
            models.append((model, read_model_info(model), False))
        machine = probe_machine()
    except LiteSRError as exc:
        fail(exc)
    if json_out:
        typer.echo(json.dumps(info_document(models, machine), indent=2))
    else:
        _print_text(models, machine)
