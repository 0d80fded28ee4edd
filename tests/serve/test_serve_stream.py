"""Bad clients against a real uvicorn server over a socket: oversized, cut off, drip-fed, garbage.

The 413 must come while the upload is still streaming (the client has more to send), not
after the server has read it all; a client that stalls gets 408 at the deadline; a client
that vanishes frees its slot.
"""

from __future__ import annotations

import select
import socket
import tempfile
import time

import pytest
from serve_helpers import LiveFactory, multipart, png_bytes, request, skip_without_extra

skip_without_extra()

MB = 2**20


def _head(length: int | None = None, chunked: bool = False, ctype: str = "image/png") -> bytes:
    lines = ["POST /v1/upscale HTTP/1.1", "Host: 127.0.0.1", f"Content-Type: {ctype}"]
    lines.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _status(data: bytes) -> int:
    assert data.startswith(b"HTTP/1.1 "), data[:80]
    return int(data.split(b" ", 2)[1])


def _read_reply(sock: socket.socket, timeout: float = 10) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def _feed_until_answered(sock: socket.socket, pieces: list[bytes], pause: float) -> tuple[bytes, int]:
    """Send ``pieces`` one by one until the server answers; (its reply, bytes the client had sent)."""
    sent = 0
    for piece in pieces:
        readable, _, _ = select.select([sock], [], [], 0)
        if readable:
            break
        try:
            sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += len(piece)
        time.sleep(pause)
    return _read_reply(sock), sent


def test_an_oversized_chunked_upload_is_refused_while_it_streams(live_server: LiveFactory) -> None:
    server = live_server(max_upload_mb=1)
    chunk = b"\0" * (64 * 1024)
    pieces = [f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"] * 512  # 32 MB on offer
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(_head(chunked=True))
        reply, sent = _feed_until_answered(sock, pieces, 0.002)
    assert _status(reply) == 413
    # Answered long before the end; "sent" includes what the kernel's socket buffers took unread.
    assert sent < 12 * MB, f"the client sent {sent:,} bytes before a 1 MB limit was enforced"
    assert server.wait_idle() == 0


def test_a_declared_length_over_the_limit_is_refused_before_the_body(live_server: LiveFactory) -> None:
    server = live_server(max_upload_mb=1)
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(_head(length=100 * MB))  # and no body at all
        assert _status(_read_reply(sock, timeout=5)) == 413


def test_a_small_refused_upload_is_read_before_the_refusal_and_a_large_one_is_not(live_server: LiveFactory) -> None:
    # Closing on an upload that is still arriving resets the connection, and the client can
    # lose the refusal itself (the overload test once saw "connection reset" for a 503).
    server = live_server()
    body = b"x" * 2000
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(_head(length=len(body), ctype="text/plain"))
        assert not select.select([sock], [], [], 0.3)[0], "refused before the 2 kB body was read"
        sock.sendall(body)
        assert _status(_read_reply(sock, timeout=5)) == 415
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(_head(length=8 * MB, ctype="text/plain"))  # and no body at all
        assert _status(_read_reply(sock, timeout=5)) == 415
    assert server.wait_idle() == 0


def test_a_client_that_vanishes_mid_upload_frees_its_slot(live_server: LiveFactory) -> None:
    server = live_server()
    data = png_bytes(64, 64)
    for head in (_head(length=len(data)), _head(length=len(data) + 1000)):
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(head + data[: len(data) // 2])
        time.sleep(0.1)
    assert server.wait_idle() == 0
    assert request(server.port, "GET", "/healthz").json()["inside"] == 0
    assert request(server.port, "POST", "/v1/upscale", data, {"Content-Type": "image/png"}).status == 200


def test_a_drip_fed_upload_gets_408_at_the_deadline(live_server: LiveFactory) -> None:
    server = live_server(timeout_s=1.0)
    data = png_bytes(32, 32)
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(_head(length=len(data)))
        reply, sent = _feed_until_answered(sock, [data[i : i + 1] for i in range(len(data))], 0.05)
    assert _status(reply) == 408
    assert sent < len(data) and time.monotonic() - start < 5
    assert server.wait_idle() == 0


@pytest.mark.parametrize("body", [b"\x00garbage" * 100, b"GIF89a" + b"\x01" * 5, png_bytes(16, 16)[:40]])
def test_garbage_over_a_socket_is_400_and_the_server_stays_up(live_server: LiveFactory, body: bytes) -> None:
    server = live_server()
    reply = request(server.port, "POST", "/v1/upscale", body, {"Content-Type": "application/octet-stream"})
    assert reply.status == 400 and reply.json()["status"] == 400
    assert request(server.port, "GET", "/healthz").status == 200


def test_no_temporary_file_is_ever_created(live_server: LiveFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the server created a temporary file")

    for name in ("mkstemp", "mkdtemp", "NamedTemporaryFile", "TemporaryFile", "SpooledTemporaryFile"):
        monkeypatch.setattr(tempfile, name, refuse)
    server = live_server()
    body, ctype = multipart(png_bytes(40, 40))
    assert request(server.port, "POST", "/v1/upscale", body, {"Content-Type": ctype}).status == 200
    assert request(server.port, "POST", "/v1/upscale", body[:-10], {"Content-Type": ctype}).status == 400
