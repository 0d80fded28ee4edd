"""``upscale``: the -o rule, --skip-existing, tile progress, out of memory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner, Result

import litesr_edge.cli.upscale as upscale_cli
from litesr_edge import read_image, write_image
from litesr_edge.cli import app
from litesr_edge.errors import OutOfMemoryError


def run(*args: object) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def _image(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (10, 12, 3)).astype(np.uint8)


@pytest.fixture
def x2(tiny_models: dict[int, Path]) -> Path:
    return tiny_models[2]


# ---- the -o rule ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("output", ["new/", "new", "deep/er"])
def test_missing_output_folder_is_created_for_one_input(tmp_path: Path, x2: Path, output: str) -> None:
    src = write_image(tmp_path / "p.png", _image())
    target = str(tmp_path / output) + ("/" if output.endswith("/") else "")
    result = run("upscale", src, "--model", x2, "-o", target, "-q")
    assert result.exit_code == 0, result.output
    assert read_image(Path(target) / "p_x2.png").shape == (20, 24, 3)


def test_missing_output_folder_is_created_for_a_folder_input(tmp_path: Path, x2: Path) -> None:
    (tmp_path / "in").mkdir()
    write_image(tmp_path / "in" / "a.png", _image())
    assert run("upscale", tmp_path / "in", "--model", x2, "-o", tmp_path / "out", "-q").exit_code == 0
    assert (tmp_path / "out" / "a_x2.png").exists()


def test_image_named_output_with_several_inputs_is_bad_usage(tmp_path: Path, x2: Path) -> None:
    a, b = write_image(tmp_path / "a.png", _image()), write_image(tmp_path / "b.png", _image(1))
    result = run("upscale", a, b, "--model", x2, "-o", tmp_path / "big.png")
    assert result.exit_code == 2 and "names one file" in result.stderr and "end it with /" in result.stderr
    assert not (tmp_path / "big.png").exists()


# ---- --skip-existing -----------------------------------------------------------------------------------------------
def test_skip_existing_in_a_batch(tmp_path: Path, x2: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        write_image(folder / f"{i}.png", _image(i))
    (tmp_path / "out").mkdir()
    for i in range(2):
        (tmp_path / "out" / f"{i}_x2.png").write_bytes(b"old")
    result = run("upscale", folder, "--model", x2, "-o", tmp_path / "out", "--skip-existing")
    assert result.exit_code == 0, result.output
    assert "upscaled 1, skipped 2, failed 0 of 3 inputs" in result.stdout and result.stderr == ""
    assert (tmp_path / "out" / "0_x2.png").read_bytes() == b"old"
    assert read_image(tmp_path / "out" / "2_x2.png").shape == (20, 24, 3)


def test_skip_existing_single_input(tmp_path: Path, x2: Path) -> None:
    src = write_image(tmp_path / "p.png", _image())
    (tmp_path / "p_x2.png").write_bytes(b"old")
    result = run("upscale", src, "--model", x2, "--skip-existing")
    assert result.exit_code == 0 and "skipped" in result.stdout and "exists" in result.stdout
    assert (tmp_path / "p_x2.png").read_bytes() == b"old"
    assert run("upscale", src, "--model", x2, "--skip-existing", "-q").stdout == ""


def test_skip_existing_and_overwrite_exclude_each_other(tmp_path: Path, x2: Path) -> None:
    src = write_image(tmp_path / "p.png", _image())
    result = run("upscale", src, "--model", x2, "--skip-existing", "--overwrite")
    assert result.exit_code == 2 and "exclude each other" in result.stderr


# ---- progress and out of memory, with a fake Upscaler ----------------------------------------------------------------
class FakeUpscaler:
    """Records the progress callback it is given and reports 3 tiles; ``fail`` names inputs that raise."""

    calls: list[object] = []
    fail: dict[str, BaseException] = {}

    def __init__(self, **options: object) -> None:
        self.scale, self.provider, self.fallback_reason = 2, "FakeProvider", None

    def upscale_file(self, src: Path, dst: Path, *, overwrite: bool = False, progress: object = None) -> None:
        FakeUpscaler.calls.append(progress)
        if src.name in FakeUpscaler.fail:
            raise FakeUpscaler.fail[src.name]
        if callable(progress):
            for done in range(4):
                progress(done, 3)
        Path(dst).write_bytes(b"fake")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> type[FakeUpscaler]:
    monkeypatch.setattr(upscale_cli, "Upscaler", FakeUpscaler)
    monkeypatch.setattr(FakeUpscaler, "calls", [])
    monkeypatch.setattr(FakeUpscaler, "fail", {})
    return FakeUpscaler


def _terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upscale_cli, "stderr_console", lambda: Console(stderr=True, force_terminal=True, width=80))


def test_no_progress_when_stderr_is_not_a_terminal(tmp_path: Path, fake: type[FakeUpscaler]) -> None:
    (tmp_path / "p.png").write_bytes(b"x")
    result = run("upscale", tmp_path / "p.png")
    assert result.exit_code == 0 and result.stderr == "" and fake.calls == [None]


def test_tile_progress_on_a_terminal(tmp_path: Path, fake: type[FakeUpscaler], monkeypatch: pytest.MonkeyPatch) -> None:
    _terminal(monkeypatch)
    (tmp_path / "p.png").write_bytes(b"x")
    result = run("upscale", tmp_path / "p.png")
    assert result.exit_code == 0, result.output
    assert len(fake.calls) == 1 and callable(fake.calls[0])
    assert "wrote" in result.stdout
    assert run("upscale", tmp_path / "p.png", "-q", "--overwrite").exit_code == 0
    assert fake.calls[1] is None  # --quiet: no bar


def test_batch_progress_and_errors_on_a_terminal(
    tmp_path: Path, fake: type[FakeUpscaler], monkeypatch: pytest.MonkeyPatch
) -> None:
    _terminal(monkeypatch)
    for name in ("a.png", "b.png"):
        (tmp_path / name).write_bytes(b"x")
    fake.fail["b.png"] = MemoryError("Unable to allocate 9 GiB")
    result = run("upscale", tmp_path / "a.png", tmp_path / "b.png", "-o", tmp_path / "out")
    assert result.exit_code == 1
    assert all(callable(c) for c in fake.calls) and len(fake.calls) == 2
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "b.png" in errors[0] and "--max-memory" in errors[0]
    assert "upscaled 1, skipped 0, failed 1 of 2 inputs" in result.stdout


@pytest.mark.parametrize(
    "exc",
    [MemoryError("Unable to allocate 9 GiB"),
     OutOfMemoryError("not enough memory to run a 512x512 tile; lower max_memory_mb (--max-memory) or tile "
                      "(--tile, now 512)")],
)
def test_out_of_memory_single_input(tmp_path: Path, fake: type[FakeUpscaler], exc: BaseException) -> None:
    (tmp_path / "p.png").write_bytes(b"x")
    fake.fail["p.png"] = exc
    result = run("upscale", tmp_path / "p.png")
    assert result.exit_code == 10, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "--max-memory" in lines[0]
    assert "max_memory_mb" not in lines[0]


def test_tta_flag_gives_the_api_tta_result(tmp_path: Path, tiny_models: dict[int, Path]) -> None:
    from litesr_edge import Upscaler

    src = write_image(tmp_path / "in.png", np.random.default_rng(0).integers(0, 256, (12, 15, 3), dtype=np.uint8))
    out = tmp_path / "out.png"
    result = CliRunner().invoke(app, ["upscale", str(src), "--model", str(tiny_models[2]), "--tta", "-o", str(out)])
    assert result.exit_code == 0, result.output
    want = Upscaler(model=tiny_models[2], tta=True).upscale(read_image(src))
    np.testing.assert_array_equal(read_image(out), want)
