"""``litesr-edge serve``: the start line, a real request, Ctrl-C, and one-line startup errors."""

from __future__ import annotations

import http.client
import os
import select
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from serve_helpers import decode, multipart, skip_without_extra
from typer.testing import CliRunner, Result

import litesr_edge
from litesr_edge import Upscaler
from litesr_edge.cli import app
from litesr_edge.cli.serve import _start_line
from litesr_edge.server import ServeConfig, is_loopback

skip_without_extra()


def _run(*args: object) -> Result:
    return CliRunner().invoke(app, ["serve", *map(str, args)])


def _assert_one_line_error(result: Result, code: int, *fragments: str) -> None:
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def _first_line(proc: subprocess.Popen[str], timeout: float = 60) -> str:
    assert proc.stdout is not None
    readable, _, _ = select.select([proc.stdout], [], [], timeout)
    assert readable, "serve printed no start line"
    return proc.stdout.readline()


def test_serve_answers_the_readme_curl_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "litesr_edge", "serve", "--port", "0", "--log", str(log)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = _first_line(proc)
        auto = Upscaler(scale=4)  # what engine "auto", the default, picks on this CPU
        assert "bound to localhost only" in line and f"x4 d19 {auto.engine} {auto.precision}" in line, line
        port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
        # What `curl -F file=@litesr_edge/data/sample.png 'http://127.0.0.1:8000/v1/upscale?scale=4'` sends.
        body, ctype = multipart(litesr_edge.SAMPLE_IMAGE.read_bytes(), "sample.png")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        conn.request("POST", "/v1/upscale?scale=4", body=body, headers={"Content-Type": ctype})
        reply = conn.getresponse()
        data = reply.read()
        conn.close()
        assert reply.status == 200 and reply.getheader("Content-Type") == "image/png"
        assert decode(data).shape == (600, 900, 3)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out.strip().endswith("stopped")
    assert err == ""  # no uvicorn log, no traceback on the terminal
    assert "POST /v1/upscale?scale=4" in log.read_text()  # the access log went to --log


def test_a_busy_port_is_one_error_line() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        _assert_one_line_error(_run("--port", port, "-s", "2"), 2, f"port {port}", "in use", "--port")


@pytest.mark.parametrize(("args", "fragments"), [
    (["--timeout", "0"], ["--timeout 0", "> 0"]),
    (["--max-upload-mb", "-1"], ["--max-upload-mb -1"]),
    (["--concurrency", "0"], ["--concurrency", "0"]),
    (["--port", "70000"], ["--port", "70000"]),
    (["--engine", "torch"], ["--engine", "torch"]),
    (["-s", "5"], ["scale 5", "2, 3, 4"]),
])
def test_bad_options_are_one_error_line(args: list[str], fragments: list[str]) -> None:
    _assert_one_line_error(_run(*args), 2, *fragments)


def test_without_the_extra_it_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if not installed
    _assert_one_line_error(_run(), 9, "'uvicorn'", "pip install 'litesr-edge[serve]'")


def test_the_start_line_says_whether_other_machines_can_connect() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org")
    assert "bound to localhost only" in _start_line(ServeConfig(), 8000, "x4")
    assert "reachable from other machines" in _start_line(ServeConfig(host="0.0.0.0"), 8000, "x4")
    assert "http://[::1]:8000/" in _start_line(ServeConfig(host="::1"), 8000, "x4")


def test_a_log_file_that_cannot_be_opened_is_one_error_line(tmp_path: Path) -> None:
    bad = tmp_path / "missing" / "serve.log"
    _assert_one_line_error(_run("--port", "0", "-s", "2", "--log", bad), 2, "--log", "cannot be opened")
