"""The CLI side of video upscaling: the --codec/--crf/--preset options and one video job.

``upscale`` hands every input with a video suffix (litesr_edge.video.VIDEO_SUFFIXES) to
:func:`run_video_job` (the encoder flags ride along in the per-file options,
:func:`with_video`); PyAV is only imported then, so image runs never need it. Without
PyAV a video input fails with one ``error:`` line carrying the install hint.
"""

from __future__ import annotations

import re
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from litesr_edge.cli._jobs import Job
from litesr_edge.cli._output import print_note, stderr_console
from litesr_edge.cli._progress import TileCallback
from litesr_edge.cli._workflow import FileOptions
from litesr_edge.errors import InvalidInputError
from litesr_edge.video import EncodeSettings, FrameProgress, VideoResult, is_video, upscale_video

# codec=/crf=/preset= as the library writes them: codec='ffv1', crf=20, preset='warp'.
_KEYWORD = re.compile(r"\b(codec|crf|preset)=(['\"]?)([^'\"\s;,)]+)\2")

if TYPE_CHECKING:
    from litesr_edge.upscaler import Upscaler

__all__ = ["CodecOpt", "CrfOpt", "PresetOpt", "VideoFileOptions", "is_video", "run_video_job", "summary",
           "with_video"]

CodecOpt = Annotated[
    str | None,
    typer.Option("--codec", metavar="NAME", show_default=False, help=(
        "Video inputs: the encoder, e.g. libx264, libx265, libvpx-vp9, ffv1 (lossless). "
        "Default: H.264 (VP9 for .webm), or what PyAV's FFmpeg has instead (a note says which).")),
]
CrfOpt = Annotated[
    float | None,
    typer.Option("--crf", metavar="N", show_default=False, help=(
        "Video inputs: constant quality, lower is better (libx264 0-51, default 18; libvpx-vp9 0-63, default 31).")),
]
PresetOpt = Annotated[
    str | None,
    typer.Option("--preset", metavar="NAME", show_default=False, help=(
        "Video inputs: the encoder's speed preset (libx264/libx265: ultrafast ... veryslow, default medium).")),
]


@dataclass(frozen=True)
class VideoFileOptions(FileOptions):
    """FileOptions plus the encoder flags, so that they travel wherever the per-file options go."""

    video: EncodeSettings = EncodeSettings()


def with_video(opts: FileOptions, codec: str | None, crf: float | None, preset: str | None) -> FileOptions:
    """``opts`` carrying the encoder flags; ``opts`` itself when none is given (the plain image path stays)."""
    if codec is None and crf is None and preset is None:
        return opts
    return VideoFileOptions(**{f.name: getattr(opts, f.name) for f in fields(opts)},
                            video=EncodeSettings(codec=codec, crf=crf, preset=preset))


def run_video_job(
    upscaler: Upscaler, job: Job, opts: FileOptions, overwrite: bool, progress: TileCallback | None
) -> VideoResult:
    """Upscale one video, frames counted on ``progress`` (a bar's callback, None when no bar is shown).

    Its notes (codec fallback, concealed damage) go to stderr, and the closing summary too when
    a bar was shown. Image-only options: --quality and --strip-metadata do not apply; --format
    does not either (the output keeps the input's container); --outscale, --width and --height
    are refused, as the output size of a video is the model's factor.
    """
    if opts.size != type(opts.size)():
        raise InvalidInputError(f"{job.src}: --outscale, --width and --height resize images only; a video is "
                                "upscaled by the model's factor (-s)")
    settings = opts.video if isinstance(opts, VideoFileOptions) else EncodeSettings()
    dst = job.dst if is_video(job.dst) else job.dst.with_suffix(job.src.suffix)  # --format names images
    with ctrl_c_latch() as pressed:
        try:
            result = upscale_video(upscaler, job.src, dst, settings=settings, overwrite=overwrite,
                                   progress=_frame_progress(progress, pressed))
        except InvalidInputError as exc:
            raise InvalidInputError(in_flag_terms(str(exc))) from None
    if pressed.is_set():  # swallowed after the last frame: the finished file stays, the run stops here
        raise KeyboardInterrupt
    err = stderr_console()
    for note in (result.codec_note, result.damage_note):
        if note is not None:
            print_note(f"note: {job.src}: {note}", err)
    if progress is not None:
        print_note(summary(result, upscaler.scale), err)
    return result


@contextmanager
def ctrl_c_latch() -> Iterator[threading.Event]:
    """For the length of the block, Ctrl-C also sets the yielded flag (outside the main thread: never).

    FFmpeg calls back into Python (its log callback) from C code that cannot pass an
    exception on: a KeyboardInterrupt raised in there is swallowed and the encode would go on
    to the end. The flag outlives such a swallowed interrupt; the frame callback re-raises it.
    """
    pressed = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield pressed
        return
    previous = signal.getsignal(signal.SIGINT)

    def latch(signum: int, frame: FrameType | None) -> None:
        pressed.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, latch)
    try:
        yield pressed
    finally:
        signal.signal(signal.SIGINT, previous)


def _frame_progress(bar: TileCallback | None, pressed: threading.Event) -> FrameProgress:
    """The per-frame callback: raises KeyboardInterrupt once Ctrl-C was pressed, then moves the bar if any."""
    def frames(done: int, total: int | None) -> None:
        if pressed.is_set():
            raise KeyboardInterrupt
        if bar is not None:
            bar(done, total or done)  # an unknown length: the bar grows with the frames

    return frames


def in_flag_terms(message: str) -> str:
    """The encoder keywords as flags: ``crf=20`` -> ``--crf 20``, ``codec='ffv1'`` -> ``--codec ffv1``.

    Here rather than in cli/_output.FLAGS because only video runs take these keywords.
    """
    return _KEYWORD.sub(lambda m: f"--{m[1]} {m[3]}", message)


def summary(result: VideoResult, scale: int) -> str:
    """``<dst>: x4, 240 frames 1280x720, libx264 yuv420p, 2 streams copied, 12.3 fps, 19.5 s``."""
    n = result.copied_streams
    copied = f", {n} stream{'s' if n != 1 else ''} copied" if n else ""
    return (f"{result.path}: x{scale}, {result.frames} frames {result.width}x{result.height}, "
            f"{result.codec} {result.pix_fmt}{copied}, {result.fps:.1f} fps end to end, {result.seconds:.1f} s")
