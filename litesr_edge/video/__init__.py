"""Video in, video out: decode -> Upscaler -> encode, with audio/subtitle/data streams copied.

Needs the optional extra ``pip install 'litesr-edge[video]'`` (PyAV, which carries its own
FFmpeg). Importing this package does not import PyAV: :data:`VIDEO_SUFFIXES` and
:func:`is_video` work without it, and the functions below raise EngineUnavailableError with
the install hint when it is missing.

Decoding, upscaling and encoding run in overlapping stages joined by bounded queues, so
memory stays flat however long the file is; the output is written to an unnamed (or
hidden) temporary file in the destination folder and only appears, complete, at the end.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from litesr_edge.video._types import (
    DEFAULT_QUEUE_FRAMES,
    VIDEO_INSTALL,
    VIDEO_SUFFIXES,
    EncodeSettings,
    FrameProgress,
    UpscaledFrame,
    VideoResult,
    is_video,
    require_av,
)

if TYPE_CHECKING:
    from litesr_edge.upscaler import Upscaler

__all__ = [
    "DEFAULT_QUEUE_FRAMES",
    "VIDEO_INSTALL",
    "VIDEO_SUFFIXES",
    "EncodeSettings",
    "FrameProgress",
    "UpscaledFrame",
    "VideoResult",
    "is_video",
    "iter_video",
    "upscale_video",
]


def upscale_video(
    upscaler: Upscaler,
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    settings: EncodeSettings | None = None,
    overwrite: bool = False,
    progress: FrameProgress | None = None,
    queue_frames: int = DEFAULT_QUEUE_FRAMES,
) -> VideoResult:
    """Upscale every frame of the video ``src`` with ``upscaler`` and write ``dst`` atomically.

    The video stream is re-encoded (``settings``: codec, crf, preset; default H.264 where
    PyAV's FFmpeg has an encoder for it, see :attr:`VideoResult.codec_note`); every audio,
    subtitle and data stream is copied packet for packet. Frame timestamps (variable frame
    rate included), rotation and colour tags (range, primaries, transfer, matrix) are kept;
    8-bit input gives 8-bit output and 10-bit input 10-bit output where the codec allows.
    ``progress(done, total)`` is called after each frame (total None when unknown).
    Raises ImageReadError (unreadable, truncated or corrupt input: a corrupt video packet
    is fatal), ImageWriteError, InvalidInputError, ImageTooLargeError (``max_pixels`` is
    per frame); nothing is left at ``dst`` on any error, on Ctrl-C or on kill -9.
    """
    require_av()
    from litesr_edge.video._run import run_upscale

    return run_upscale(upscaler, Path(src), Path(dst), settings or EncodeSettings(), overwrite, progress,
                       queue_frames)


def iter_video(
    upscaler: Upscaler, src: str | os.PathLike[str], *, queue_frames: int = DEFAULT_QUEUE_FRAMES
) -> Iterator[UpscaledFrame]:
    """The upscaled frames of ``src``, in presentation order, as RGB numpy arrays with timestamps.

    Decoding and upscaling run ahead in background threads (at most ``queue_frames``
    frames each); closing the iterator early stops them. Same errors as :func:`upscale_video`.
    """
    require_av()
    from litesr_edge.video._run import run_frames

    return run_frames(upscaler, Path(src), queue_frames)
