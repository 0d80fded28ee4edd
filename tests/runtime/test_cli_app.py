"""The ``litesr-edge`` app itself: registration, --version, -h, usage errors, the one error line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

import litesr_edge.cli.upscale as upscale_cli
from litesr_edge import __version__, errors
from litesr_edge.cli import COMMANDS, app
from litesr_edge.cli._output import translate
from litesr_edge.errors import LiteSRError, OutOfMemoryError

REPO = Path(__file__).resolve().parents[2]


def run(*args: object) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def _one_error_line(result: Result, code: int) -> str:
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output and "╭" not in result.output
    return lines[0]


def test_every_command_is_registered_on_import() -> None:
    names = [c.name for c in app.registered_commands]
    assert names == ["upscale", "info", "eval", "bench", "compare", "serve"] == list(COMMANDS)


def test_version() -> None:
    result = run("--version")
    assert result.exit_code == 0 and result.stdout == f"litesr-edge {__version__}\n"


@pytest.mark.parametrize("command", ["", *COMMANDS])
@pytest.mark.parametrize("option", ["-h", "--help"])
def test_short_and_long_help_everywhere(command: str, option: str) -> None:
    result = run(*([command] if command else []), option)
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout
    assert "<bool>" not in result.stdout  # flags take no value


def test_upscale_help_documents_exit_codes_and_output_rule() -> None:
    text = " ".join(run("upscale", "--help").stdout.replace("│", " ").split())
    assert "Exit status: 0 done" in text and "130 interrupted" in text
    assert "ends with / or has no image extension" in text


def test_exit_codes_epilog_covers_every_error_class() -> None:
    classes = {getattr(errors, name) for name in errors.__all__}
    ours = {c for c in classes if isinstance(c, type) and issubclass(c, LiteSRError) and c is not LiteSRError}
    assert ours == set(upscale_cli.EXIT_MEANINGS)
    for cls in ours:
        assert f"; {cls.exit_code} {upscale_cli.EXIT_MEANINGS[cls]}" in upscale_cli.EXIT_STATUS


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["-s", "abc"], ["-s/--scale 'abc'", "litesr-edge upscale --help"]),
        (["-s", "2.5"], ["-s/--scale '2.5'"]),
        (["--scale=2.5"], ["-s/--scale '2.5'"]),
        (["--tile", "x"], ["--tile 'x'"]),
        (["--device", "gpu"], ["--device", "'gpu'"]),
        (["--bogus"], ["no such option: --bogus"]),
    ],
)
def test_usage_errors_are_one_line_naming_flag_and_value(args: list[str], fragments: list[str]) -> None:
    line = _one_error_line(run("upscale", "in.png", *args), 2)
    for fragment in fragments:
        assert fragment in line


def test_missing_argument_is_one_line() -> None:
    assert "missing argument" in _one_error_line(run("upscale"), 2)


@pytest.mark.parametrize(
    ("library", "cli"),
    [
        ("output o.png already exists; pass overwrite=True (--overwrite) to replace it",
         "output o.png already exists; pass --overwrite to replace it"),
        ("max_memory_mb=0.0 must be > 0", "--max-memory 0 must be > 0"),
        ("max_memory_mb=1.5 is too small", "--max-memory 1.5 is too small"),
        ("over the limit of 480; raise max_pixels (--max-pixels) if you trust it",
         "over the limit of 480; raise --max-pixels if you trust it"),
        ("tile=-1 must be >= 0 (0 = whole image, None = from max_memory_mb)",
         "--tile -1 must be >= 0 (0 = whole image, unset = from --max-memory)"),
        ("threads=0 must be >= 1 (or None for all cores)", "--threads 0 must be >= 1 (or unset for all cores)"),
        ("so precision='bf16' would be slow; use precision='fp32' or engine='onnxruntime'",
         "so --precision bf16 would be slow; use --precision fp32 or --engine onnxruntime"),
        ("use engine='openvino' (--engine openvino) for bf16", "use --engine openvino for bf16"),
        ("use precision='bf16'/'fp32' or engine='onnxruntime'", "use --precision bf16/fp32 or --engine onnxruntime"),
        ("lower max_memory_mb (--max-memory) or tile (--tile, now 512)", "lower --max-memory or --tile (now 512)"),
        ("pass providers=None or ['cpu'], or use engine='onnxruntime'",
         "pass --device auto or --device cpu, or use --engine onnxruntime"),
        ("folder a\n   contains  no images", "folder a contains no images"),
        ("model m.onnx is x2; pass -s 2", "model m.onnx is x2; pass -s 2"),
    ],
)
def test_translation_names_flags_not_keywords(library: str, cli: str) -> None:
    assert translate(library) == cli


def _raising_upscaler(exc: BaseException) -> type:
    class Raising:
        def __init__(self, **options: object) -> None:
            raise exc

    return Raising


@pytest.mark.parametrize(
    ("exc", "code", "fragment"),
    [
        (MemoryError("Unable to allocate 3 GiB"), 10, "out of memory (Unable to allocate 3 GiB); lower --max-memory"),
        (OutOfMemoryError("tile too big; lower max_memory_mb (--max-memory)"), 10, "lower --max-memory"),
        (KeyboardInterrupt(), 130, "error: interrupted"),
    ],
)
def test_last_resort_handler(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, exc: BaseException, code: int, fragment: str
) -> None:
    monkeypatch.setattr(upscale_cli, "Upscaler", _raising_upscaler(exc))
    (tmp_path / "p.png").write_bytes(b"x")
    assert fragment in _one_error_line(run("upscale", tmp_path / "p.png"), code)


def _python(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "80"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


def test_console_script_usage_error_exit_code() -> None:
    done = _python("import sys; sys.argv = ['litesr-edge', 'upscale', 'a.png', '-s', 'abc']\n"
                   "from litesr_edge.cli import main\nmain()\n")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("error: invalid value for -s/--scale 'abc'") and done.stderr.count("\n") == 1
