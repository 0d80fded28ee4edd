"""Load and bad clients against ``litesr-edge serve``: latency, throughput, 503s, RSS.

    python -m benchmarks.serve_load [--requests 300] [--clients 16] [--size 32] [--scale 2]

Starts the real CLI server (``python -m litesr_edge serve``) on 127.0.0.1 and a free port,
in a subprocess, twice: once with room for every client (--concurrency 2 --queue 16), then
with a small queue (--queue 2) under 3x the clients, to see 503s and that they clear.
Compares the per-request latency with the CLI's per-image time on the same images, feeds
the first server oversized, truncated, drip-fed and garbage uploads, and reads the
server's RSS before and after. Bounded to well under 3 minutes. Writes
benchmarks/results/serve_load.{json,md}. Localhost only; timings depend on the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import json
import os
import platform
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results"


@dataclass
class Load:
    """What a run of ``drive`` saw."""

    latencies_s: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)  # 0: a transport error
    retry_after: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_s)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")

    @property
    def server_errors(self) -> int:
        """5xx other than 503 (back-pressure), plus transport errors."""
        return sum(n for s, n in self.statuses.items() if s == 0 or (s >= 500 and s != 503))

    def summary(self) -> dict[str, object]:
        """Latency of the 200s (client side: send to full reply), rates, statuses."""
        ok = self.statuses[200]
        return {
            "requests": sum(self.statuses.values()), "statuses": dict(sorted(self.statuses.items())),
            "wall_s": round(self.wall_s, 3), "throughput_rps": round(sum(self.statuses.values()) / self.wall_s, 2),
            "ok_rps": round(ok / self.wall_s, 2), "wall_ms_per_ok": round(self.wall_s / ok * 1000, 1) if ok else None,
            "p50_ms": round(self.percentile(0.5) * 1000, 1), "p99_ms": round(self.percentile(0.99) * 1000, 1),
            "mean_ms": round(statistics.fmean(self.latencies_s) * 1000, 1) if ok else None,
            "retry_after_values": sorted(set(self.retry_after)),
        }


def png_bytes(size: int, seed: int) -> bytes:
    """A random RGB PNG, size x size."""
    image = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    return bytes(cv2.imencode(".png", image)[1])


def drive(port: int, bodies: list[bytes], path: str, total: int, clients: int, timeout: float = 60) -> Load:
    """``total`` POSTs of ``bodies`` (raw image/png, round robin) from ``clients`` threads on keep-alive connections."""
    load, lock, counter = Load(), threading.Lock(), itertools.count()

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        while (i := next(counter)) < total:
            start = time.perf_counter()
            try:
                conn.request("POST", path, body=bodies[i % len(bodies)], headers={"Content-Type": "image/png"})
                resp = conn.getresponse()
                resp.read()
                status, retry = resp.status, resp.getheader("Retry-After")
                if resp.will_close:
                    conn.close()
            except (OSError, http.client.HTTPException):
                status, retry = 0, None
                conn.close()
            with lock:
                load.statuses[status] += 1
                if status == 200:
                    load.latencies_s.append(time.perf_counter() - start)
                if retry is not None:
                    load.retry_after.append(retry)
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    load.wall_s = time.perf_counter() - start
    return load


def _cpu() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.machine()


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class CliServer:
    """``python -m litesr_edge serve --port 0 ...`` in a subprocess; the port from its start line."""

    def __init__(self, *flags: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "litesr_edge", "serve", "--port", "0", *flags],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        readable, _, _ = select.select([self.proc.stdout], [], [], 120)
        line = self.proc.stdout.readline() if readable else ""
        if "http://127.0.0.1:" not in line:
            self.proc.kill()
            raise RuntimeError(f"serve did not start: {line!r} {self.proc.stderr.read() if self.proc.stderr else ''}")
        self.port = int(line.split("http://127.0.0.1:")[1].split("/")[0])

    def stop(self) -> int:
        self.proc.send_signal(2)  # Ctrl-C
        self.proc.communicate(timeout=30)
        return self.proc.returncode


def health(port: int) -> dict[str, object]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/healthz")
    body = json.loads(conn.getresponse().read())
    conn.close()
    return dict(body)


def _raw(port: int, head: str, body: bytes = b"", close_after: bool = False, timeout: float = 15) -> int:
    """Send ``head`` + ``body`` on a raw socket; the reply's status (0: none, the connection was dropped)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        with contextlib.suppress(OSError):  # the server may close first: its reply is what counts
            sock.sendall(head.encode() + body)
        if close_after:
            return 0
        try:
            data = sock.recv(4096)
        except OSError:
            return 0
        return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else 0


def _head(length: int | None, chunked: bool = False) -> str:
    size = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {length}"
    return f"POST /v1/upscale HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n{size}\r\n\r\n"


def _streamed_oversize(port: int) -> tuple[int, int]:
    """A chunked upload of 32 MB at a server limit of 1 MB: (status, bytes sent before the reply).

    "Sent" counts what the kernel accepted: on localhost its socket buffers take several MB
    that the server never reads.
    """
    chunk = b"\0" * 65536
    piece = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(_head(None, chunked=True).encode())
        for _ in range(512):
            if select.select([sock], [], [], 0)[0]:
                break
            try:
                sock.sendall(piece)
            except OSError:
                break
            sent += len(piece)
        data = sock.recv(4096)
    return (int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else 0), sent


def _drip(port: int, body: bytes) -> int:
    """One byte every 50 ms until the server answers (its --timeout)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(_head(len(body)).encode())
        for byte in body:
            if select.select([sock], [], [], 0)[0]:
                break
            sock.sendall(bytes([byte]))
            time.sleep(0.05)
        data = sock.recv(4096)
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else 0


def bad_clients(port: int, image: bytes, rounds: int = 20) -> dict[str, object]:
    """Oversized, truncated, drip-fed and garbage uploads; the statuses each got."""
    statuses: dict[str, Counter[int]] = {k: Counter() for k in ("declared_100mb", "truncated", "garbage", "drip")}
    sent_before_413 = []
    for _ in range(rounds):
        statuses["declared_100mb"][_raw(port, _head(100 * 2**20))] += 1
        statuses["truncated"][_raw(port, _head(len(image)), image[: len(image) // 2], close_after=True)] += 1
        statuses["garbage"][_raw(port, _head(4096), b"\x00junk" * 819 + b"\x00")] += 1
    streamed = Counter()
    for _ in range(5):
        status, sent = _streamed_oversize(port)
        streamed[status] += 1
        sent_before_413.append(sent)
    drips: list[int] = []
    threads = [threading.Thread(target=lambda: drips.append(_drip(port, image))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses["drip"].update(drips)
    return {**{k: dict(v) for k, v in statuses.items()}, "chunked_32mb_at_1mb_limit": dict(streamed),
            "max_bytes_sent_before_413": max(sent_before_413)}


def cli_times(images: list[bytes], scale: int) -> dict[str, float]:
    """The CLI on the same images: one process per image, and per image in one batch."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        for i, data in enumerate(images):
            (folder / f"img{i:02d}.png").write_bytes(data)
        cmd = [sys.executable, "-m", "litesr_edge", "upscale", "-q", "-s", str(scale)]
        start = time.perf_counter()
        subprocess.run([*cmd, str(folder / "img00.png"), "-o", str(Path(tmp) / "one.png")], check=True)
        one = time.perf_counter() - start
        start = time.perf_counter()
        subprocess.run([*cmd, str(folder), "-o", str(Path(tmp) / "out") + "/"], check=True)
        batch = time.perf_counter() - start
    return {"one_process_per_image_ms": round(one * 1000, 1),
            "batch_per_image_ms_incl_startup": round(batch / len(images) * 1000, 1),
            "batch_per_image_ms_excl_startup": round(max(0.0, batch - one) / max(1, len(images) - 1) * 1000, 1)}


def _markdown(result: dict[str, object]) -> str:
    normal, over = result["load"], result["overload"]
    assert isinstance(normal, dict) and isinstance(over, dict)
    rss, cli = result["rss_mb"], result["cli"]
    assert isinstance(rss, dict) and isinstance(cli, dict)
    cfg = result["config"]
    lines = [
        "# litesr-edge serve under load", "",
        f"`python -m benchmarks.serve_load` on {result['machine']}: {cfg}. Localhost, real CLI server.", "",
        "| run | requests | clients | statuses | p50 ms | p99 ms | requests/s (all) | 200s/s | wall ms per 200 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, run in (("load (queue 16)", normal), ("overload (queue 2)", over), ("after overload", result["after"])):
        assert isinstance(run, dict)
        lines.append(f"| {name} | {run['requests']} | {run.get('clients', '')} | {run['statuses']} | {run['p50_ms']} | "
                     f"{run['p99_ms']} | {run['throughput_rps']} | {run['ok_rps']} | {run['wall_ms_per_ok']} |")
    lines += [
        "", "Latency is the client's, send to full reply, of the 200s: with more clients than workers it is "
        "mostly waiting in the queue. \"Wall ms per 200\" is the figure to set against the CLI's per-image time.",
        "", f"CLI on the same images: {cli}.", "",
        f"Server RSS (MB): {rss}.", "",
        f"Bad clients (status -> count; 0 = connection dropped, as expected for a truncated upload): "
        f"{result['bad_clients']}.", "",
        f"Zero 5xx other than 503: {result['zero_5xx']}; 503s cleared after the overload: {result['cleared']}.", "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--size", type=int, default=32, help="input side in pixels")
    parser.add_argument("--scale", type=int, default=2)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    images = [png_bytes(args.size, seed) for seed in range(16)]
    path = f"/v1/upscale?scale={args.scale}"
    flags = ("-s", str(args.scale), "--concurrency", "2", "--max-upload-mb", "1", "--timeout", "5")
    server = CliServer(*flags, "--queue", "16")
    rss = {"started": rss_mb(server.proc.pid)}
    drive(server.port, images, path, 20, 2)  # warm-up: both workers' first runs
    rss["warm"] = rss_mb(server.proc.pid)
    load = drive(server.port, images, path, args.requests, args.clients)
    rss["after_load"] = rss_mb(server.proc.pid)
    bad = bad_clients(server.port, images[0])
    rss["after_bad_clients"] = rss_mb(server.proc.pid)
    inside_after_bad = health(server.port)["inside"]
    server.stop()
    small = CliServer(*flags, "--queue", "2")
    over = drive(small.port, images, path, args.requests, args.clients * 3)
    time.sleep(0.5)
    after = drive(small.port, images, path, 30, 1)
    small.stop()
    result: dict[str, object] = {
        "machine": f"{_cpu()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "config": f"x{args.scale}, {args.size}x{args.size} PNGs, --concurrency 2, --timeout 5, --max-upload-mb 1",
        "load": {**load.summary(), "clients": args.clients},
        "overload": {**over.summary(), "clients": args.clients * 3},
        "after": {**after.summary(), "clients": 1}, "bad_clients": {**bad, "inside_after": inside_after_bad},
        "rss_mb": {k: round(v, 1) for k, v in rss.items()}, "cli": cli_times(images, args.scale),
        "zero_5xx": load.server_errors == 0 and over.server_errors == 0 and after.server_errors == 0,
        "cleared": after.statuses == Counter({200: 30}),
        "note": "under load: other jobs shared the CPU when these figures were taken",
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "serve_load.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "serve_load.md").write_text(_markdown(result))
    print(_markdown(result))


if __name__ == "__main__":
    main()
