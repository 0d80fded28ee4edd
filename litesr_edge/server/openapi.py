"""OpenAPI descriptions of what FastAPI cannot infer: the streamed request body, image and error replies."""

from __future__ import annotations

from typing import Any

__all__ = ["ERROR_RESPONSES", "UPSCALE_BODY", "UPSCALE_OK"]

_BINARY = {"schema": {"type": "string", "format": "binary"}}
UPSCALE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The image itself, or a multipart form with the image in its `file` field.",
        "content": {
            "multipart/form-data": {
                "schema": {"type": "object", "required": ["file"],
                           "properties": {"file": {"type": "string", "format": "binary"}}},
            },
            "image/png": _BINARY, "image/jpeg": _BINARY, "image/webp": _BINARY, "image/bmp": _BINARY,
            "image/tiff": _BINARY, "application/octet-stream": _BINARY,
        },
    }
}
UPSCALE_OK: dict[str, Any] = {
    "description": "The upscaled image. Headers X-LiteSR-Model, -Scale, -Depth, -Engine, -Precision, -Provider, "
    "-Size and -Time-Ms (and -Fallback when another engine ran) say what produced it; Server-Timing has "
    "the queue and upscale times.",
    "content": {"image/png": _BINARY, "image/jpeg": _BINARY, "image/webp": _BINARY, "image/tiff": _BINARY},
}
_ERROR = {"application/json": {"schema": {
    "type": "object", "required": ["status", "detail"],
    "properties": {"status": {"type": "integer"}, "detail": {"type": "string"}},
}}}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": _ERROR}
    for status, text in (
        (400, "the body is not a readable image, is empty or was cut off"),
        (408, "the upload did not arrive within the timeout"),
        (413, "the upload is over --max-upload-mb, or the output would exceed --max-pixels"),
        (415, "the Content-Type is not an image or a multipart form"),
        (422, "a bad parameter (scale, depth, engine, precision, format) or a form without `file`"),
        (503, "the queue is full (see Retry-After)"),
        (504, "the image was not upscaled within the timeout"),
    )
}
