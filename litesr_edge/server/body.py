"""Request bodies: read under a byte limit and a deadline while they stream, then unpacked.

The size limit is enforced chunk by chunk as the upload arrives (a declared Content-Length
over it is refused before reading anything), so a client cannot make the server buffer more
than the limit. The body is kept in memory (at most the limit, for at most ``concurrency +
queue`` requests): no temporary file is ever written. A ``multipart/form-data`` body is
parsed here (no python-multipart needed); any other body is the image itself.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import Message

import anyio
from starlette.requests import ClientDisconnect

from litesr_edge.server.problems import RequestProblem

__all__ = ["IMAGE_TYPES", "Upload", "check_media_type", "discard_refused", "media_type", "read_limited", "unpack"]

# What a request (or a form part) may declare; the bytes are then sniffed by their header.
IMAGE_TYPES = frozenset({
    "image/png", "image/jpeg", "image/pjpeg", "image/webp", "image/bmp", "image/x-ms-bmp", "image/tiff",
    "image/gif", "application/octet-stream",
})
FORM = "multipart/form-data"
# A refused upload up to this size is read before the reply (see discard_refused).
DISCARD_BYTES = 1 << 20
_HINT = "send an image (image/png, image/jpeg, ... or application/octet-stream) or a multipart form with a 'file' field"


@dataclass(frozen=True)
class Upload:
    """The uploaded image's bytes and what the client called it."""

    data: bytes
    filename: str


def _header(value: str) -> Message:
    message = Message()
    message["content-type"] = value
    return message


def media_type(content_type: str | None) -> str:
    """The bare media type of a Content-Type header, lower case; octet-stream when absent."""
    if not content_type:
        return "application/octet-stream"
    return _header(content_type).get_content_type()


def check_media_type(content_type: str | None) -> None:
    """RequestProblem 415 unless the Content-Type is an image, octet-stream or a multipart form."""
    kind = media_type(content_type)
    if kind != FORM and kind not in IMAGE_TYPES:
        raise RequestProblem(415, f"unsupported Content-Type {kind!r}; {_HINT}")


def _too_large(limit: int) -> RequestProblem:
    return RequestProblem(413, f"the upload is larger than the server's limit of {limit / 2**20:g} MB "
                               "(--max-upload-mb); send a smaller file")


async def read_limited(chunks: AsyncIterator[bytes], declared: str | None, limit: int, deadline: float) -> bytes:
    """The whole body, or RequestProblem: 413 past ``limit`` bytes, 408 past ``deadline``, 400 if cut off."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    body = bytearray()
    try:
        with anyio.fail_after(max(0.0, deadline - time.monotonic())):
            async for chunk in chunks:
                body += chunk
                if len(body) > limit:
                    raise _too_large(limit)
    except TimeoutError:
        raise RequestProblem(408, f"the upload did not arrive within the server's timeout ({len(body):,} bytes "
                                  "received); retry on a faster connection") from None
    except ClientDisconnect:
        raise RequestProblem(400, f"the upload ended early ({len(body):,} bytes received)") from None
    if not body:
        raise RequestProblem(400, f"the request has no body; {_HINT}")
    return bytes(body)


async def discard_refused(chunks: AsyncIterator[bytes], declared: str | None, deadline: float) -> None:
    """Read and drop the body of a request refused before its body was read (a 503 or 415).

    The refusal closes the connection; closing a socket while the upload is still arriving makes
    the kernel reset the connection, and the client may then lose the refusal itself and see
    "connection reset" instead of the 503 it can act on. So a body of at most DISCARD_BYTES is
    read first (within ``deadline``, at most 2 s); a larger declared one is not.
    """
    if declared is not None and (not declared.isdigit() or int(declared) > DISCARD_BYTES):
        return
    seen = 0
    with anyio.move_on_after(min(2.0, max(0.0, deadline - time.monotonic()))):
        try:
            async for chunk in chunks:
                seen += len(chunk)
                if seen > DISCARD_BYTES:
                    return
        except ClientDisconnect:
            return


def unpack(body: bytes, content_type: str | None, name: str) -> Upload:
    """The image in ``body``: the body itself, or the form's ``file`` part. 415 for other media types."""
    kind = media_type(content_type)
    if kind == FORM:
        boundary = _header(content_type or "").get_param("boundary")
        if not isinstance(boundary, str) or not boundary:
            raise RequestProblem(400, "the multipart body has no boundary in its Content-Type")
        return _form_file(body, boundary.encode("latin-1"), name)
    check_media_type(content_type)
    return Upload(body, name)


def _form_file(body: bytes, boundary: bytes, name: str) -> Upload:
    # RFC 7578: parts are separated by CRLF "--" boundary; the last one is followed by "--".
    pieces = (b"\r\n" + body).split(b"\r\n--" + boundary)
    closed, parts = False, []
    for piece in pieces[1:]:
        if piece.startswith(b"--"):
            closed = True
            break
        head, sep, data = piece.partition(b"\r\n\r\n")
        if not sep:
            raise RequestProblem(400, "a part of the multipart body has no header block; the form is malformed")
        parts.append(_Part.parse(head, data))
    if not closed:
        raise RequestProblem(400, "the multipart body ends early (no closing boundary); the upload was cut off")
    chosen = [p for p in parts if p.field == "file"] or [p for p in parts if p.filename]
    if not chosen:
        raise RequestProblem(422, "the form has no 'file' field; send the image as file=@photo.png")
    part = chosen[0]
    if part.media_type not in IMAGE_TYPES:
        raise RequestProblem(415, f"unsupported Content-Type {part.media_type!r} of the uploaded file; {_HINT}")
    return Upload(part.data, part.filename or name)


@dataclass(frozen=True)
class _Part:
    field: str | None
    filename: str | None
    media_type: str
    data: bytes

    @classmethod
    def parse(cls, head: bytes, data: bytes) -> _Part:
        headers = Message()
        for line in head.decode("latin-1").split("\r\n"):
            key, colon, value = line.partition(":")
            if colon:
                headers[key.strip()] = value.strip()
        field = headers.get_param("name", header="content-disposition")
        filename = headers.get_filename()
        return cls(field if isinstance(field, str) else None, filename, media_type(headers.get("content-type")), data)
