"""Time a candidate that lives in another process (e.g. PyTorch eager, which the runtime never imports).

The worker is any command that speaks this line protocol on stdin/stdout:

* at start it prints one JSON object: ``{"ready": true, "name": ..., "provider": ...,
  "params": int, "peak_rss_added_mb": float | null, "note": str}`` after running the
  image once (that first run is where it measures its own memory), or ``{"error": str}``;
* for each ``run`` line it upscales the image once and prints ``{"seconds": float,
  "cpu_seconds": float}`` (wall time and process CPU time of that run);
* ``quit`` ends it.

The parent times each run by the worker's own clock, so pipe latency is not counted, and
interleaves the worker's runs with its own candidates (same-run ratios).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from litesr_edge.errors import EngineUnavailableError

__all__ = ["Worker"]


class Worker:
    """A started worker process; ``run()`` returns the seconds one upscale took."""

    def __init__(self, command: Sequence[str], cwd: Path | None = None, env: Mapping[str, str] | None = None) -> None:
        try:
            self._proc = subprocess.Popen(
                list(command), cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True, bufsize=1, env={**os.environ, **(env or {})},
            )
        except OSError as exc:
            raise EngineUnavailableError(f"cannot start worker {command[0]!r}: {exc.strerror}") from exc
        self.hello = self._read()
        if "error" in self.hello or not self.hello.get("ready"):
            self.close()
            raise EngineUnavailableError(f"worker {' '.join(command)} failed: {self.hello.get('error', self.hello)}")

    def _read(self) -> dict[str, object]:
        if self._proc.stdout is None:
            raise EngineUnavailableError("worker has no stdout pipe")
        line = self._proc.stdout.readline()
        if not line:
            err = self._proc.stderr.read() if self._proc.stderr else ""
            last = err.strip().splitlines()[-1] if err.strip() else "no output"
            raise EngineUnavailableError(f"worker exited: {last}")
        try:
            message = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EngineUnavailableError(f"worker said {line.strip()!r}, not JSON") from exc
        if not isinstance(message, dict):
            raise EngineUnavailableError(f"worker said {line.strip()!r}, not a JSON object")
        return message

    def run(self) -> tuple[float, float | None]:
        """One upscale in the worker: (wall seconds, CPU seconds or None)."""
        if self._proc.stdin is None:
            raise EngineUnavailableError("worker has no stdin pipe")
        self._proc.stdin.write("run\n")
        self._proc.stdin.flush()
        reply = self._read()
        seconds, cpu = reply.get("seconds"), reply.get("cpu_seconds")
        if not isinstance(seconds, (int, float)):
            raise EngineUnavailableError(f"worker returned no duration ({seconds!r})")
        return float(seconds), float(cpu) if isinstance(cpu, (int, float)) else None

    def close(self) -> None:
        """Ask the worker to quit; kill it if it does not."""
        if self._proc.poll() is None:
            try:
                if self._proc.stdin is not None:
                    self._proc.stdin.write("quit\n")
                    self._proc.stdin.flush()
                self._proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()
