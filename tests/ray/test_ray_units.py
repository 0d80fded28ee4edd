"""The Ray side without a Ray cluster: the missing extra, option checks, errors, the worker spec."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest
from ray_helpers import RAY_REASON
from typer.testing import CliRunner, Result

import litesr_edge.raydata._session as session
from litesr_edge import Upscaler, write_image
from litesr_edge.cli import app
from litesr_edge.errors import ClusterError, ImageReadError, InvalidInputError
from litesr_edge.raydata import WorkerSpec, translate


def run(*args: object) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def test_missing_ray_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.import_module

    def without_ray(name: str, package: str | None = None) -> object:
        if name.split(".")[0] == "ray":
            raise ModuleNotFoundError(f"No module named {name!r}", name="ray")
        return real(name, package)

    monkeypatch.setattr(session.importlib, "import_module", without_ray)
    with pytest.raises(ClusterError, match=r"'ray', which is not installed; try pip install 'litesr-edge\[ray\]'"):
        session.import_ray()


@pytest.mark.parametrize(("flags", "message"), [
    (["--workers", "0"], "--workers 0 is not a positive number of workers"),
    (["--threads-per-worker", "-1"], "--threads-per-worker -1 is not a positive number"),
])
def test_bad_ray_options_are_usage_errors_before_ray_starts(tmp_path: Path, tiny_models: dict[int, Path],
                                                            flags: list[str], message: str) -> None:
    src = write_image(tmp_path / "a.png", np.zeros((4, 4, 3), np.uint8))
    result = run("upscale", src, "--model", tiny_models[2], "--ray", *flags)
    assert result.exit_code == InvalidInputError.exit_code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    assert not (tmp_path / "a_x2.png").exists()


def test_a_remote_library_error_comes_back_plain() -> None:
    exceptions = pytest.importorskip("ray.exceptions", reason=RAY_REASON)
    original = ImageReadError("input /data/a.png is truncated; re-copy it")
    wrapped = exceptions.RayTaskError("FileWorker.__call__", "Traceback...\nlong text", original).as_instanceof_cause()
    assert isinstance(wrapped, ImageReadError)  # Ray's wrapper is both: the test must see through it
    assert translate(wrapped) is original


def test_a_ray_failure_is_one_cluster_error_line() -> None:
    exceptions = pytest.importorskip("ray.exceptions", reason=RAY_REASON)
    error = translate(exceptions.RayError("actor died\nunexpectedly: worker exit"))
    assert isinstance(error, ClusterError) and "\n" not in str(error)
    assert "unexpectedly: worker exit" in str(error) and "retries" in str(error)


def test_worker_spec_rebuilds_the_same_upscaler(tiny_models: dict[int, Path]) -> None:
    custom = Upscaler(model=tiny_models[3], tile=5)
    spec = WorkerSpec.like(custom, threads=2)
    assert spec.model == str(tiny_models[3]) and spec.tile == 5 and spec.threads == 2
    rebuilt = spec.build()
    assert (rebuilt.model_path, rebuilt.tile, rebuilt.engine, rebuilt.precision, rebuilt.scale) == (
        custom.model_path, custom.tile, custom.engine, custom.precision, custom.scale)
    bundled = WorkerSpec.like(Upscaler(scale=2, engine="onnxruntime"))
    assert bundled.model is None and (bundled.scale, bundled.depth) == (2, 19)  # named, not by this machine's path


@pytest.mark.timeout(60)  # the bug was ray.init retrying for minutes: a hang, not a slow pass
def test_an_address_nobody_listens_on_fails_fast_with_one_cluster_error() -> None:
    import socket

    from litesr_edge.errors import ClusterError
    from litesr_edge.raydata._session import connected

    pytest.importorskip("ray", reason="needs the ray extra")
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ClusterError, match=rf"address='127.0.0.1:{port}'.*ray start --head"), \
            connected(f"127.0.0.1:{port}"):
        pass
