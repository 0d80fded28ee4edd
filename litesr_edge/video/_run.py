"""Runs a video through the stages: decode thread -> upscale thread -> encode/mux in the caller.

The caller's thread does the muxing, so that Ctrl-C (delivered to the main thread) lands in
code that can stop the stage threads, drop the staged output and re-raise.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from av.container import InputContainer
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from litesr_edge._args import check_bool, check_int
from litesr_edge.errors import ImageReadError, InvalidInputError
from litesr_edge.video._codecs import choose_encoder
from litesr_edge.video._logs import decoder_errors
from litesr_edge.video._pipeline import Channel, Pipeline
from litesr_edge.video._sink import Sink, VideoSpec
from litesr_edge.video._source import (
    Decoder,
    Item,
    Picture,
    colour_of,
    copied_streams,
    frame_rate,
    main_stream,
    open_input,
    total_frames,
)
from litesr_edge.video._staged import check_destination, staged_file
from litesr_edge.video._types import CONTAINERS, EncodeSettings, FrameProgress, UpscaledFrame, VideoResult

if TYPE_CHECKING:
    from litesr_edge.upscaler import Upscaler


@dataclass
class _Opened:
    """An input, primed up to its first frame (whose format, colour and rotation set up the output)."""

    container: InputContainer
    video: VideoStream
    first: VideoFrame
    items: Iterator[tuple[Item, VideoFrame | None]]
    held: list[Item]


def _prime(upscaler: Upscaler, path: Path, copy: bool) -> _Opened:
    container = open_input(path)
    try:
        video = main_stream(container, path)
        upscaler.check_size(video.height, video.width, f"frames of {path}")
        streams = copied_streams(container, video) if copy else []
        items = Decoder(container, video, streams, path).items()
        held: list[Item] = []
        for item, frame in items:
            held.append(item)
            if frame is not None:
                return _Opened(container, video, frame, items, held)
    except BaseException:
        container.close()
        raise
    container.close()
    raise ImageReadError(f"input {path} has no decodable video frame (empty, truncated or corrupt)")


def _start(pipeline: Pipeline, upscaler: Upscaler, opened: _Opened, size: int) -> Channel[Item]:
    decoded: Channel[Item] = pipeline.channel(size)
    upscaled: Channel[Item] = pipeline.channel(size)

    def decode() -> None:
        for item in opened.held:
            decoded.put(item)
        opened.held.clear()
        for item, _ in opened.items:
            decoded.put(item)
        decoded.close()

    def upscale() -> None:
        for item in decoded:
            if isinstance(item, Picture):
                item = replace(item, image=upscaler.upscale(item.image))
            upscaled.put(item)
        upscaled.close()

    pipeline.start("decode", decode)
    pipeline.start("upscale", upscale)
    return upscaled


def _check_run(queue_frames: object, overwrite: object, dst: Path) -> str:
    check_int("queue_frames", queue_frames, minimum=1, hint="frames per queue, e.g. 8")
    check_bool("overwrite", overwrite)
    muxer = CONTAINERS.get(dst.suffix.lower())
    if muxer is None:
        raise InvalidInputError(f"output {dst} has no video suffix; use one of {', '.join(CONTAINERS)}")
    return muxer


def _spec(upscaler: Upscaler, opened: _Opened) -> VideoSpec:
    s, video = upscaler.scale, opened.video
    return VideoSpec(
        opened.first.width * s, opened.first.height * s, video.time_base or frame_rate(video) ** -1,
        frame_rate(video), colour_of(opened.first), int(opened.first.rotation or 0),
        video.sample_aspect_ratio, dict(video.metadata),
    )


def _mux_all(pipeline: Pipeline, items: Channel[Item], sink: Sink, total: int | None,
             progress: FrameProgress | None) -> int:
    done = 0
    if progress is not None:
        progress(0, total)
    for item in pipeline.drain(items):
        if isinstance(item, Picture):
            sink.write_frame(item.image, item.pts)
            done += 1
            if progress is not None:
                progress(done, total if total is None else max(total, done))
        else:
            sink.write_packet(item)
    return done


def _encode(upscaler: Upscaler, opened: _Opened, sink: Sink, settings: EncodeSettings, muxer: str,
            progress: FrameProgress | None, queue_frames: int) -> VideoResult:
    copies = copied_streams(opened.container, opened.video)
    sink.add_copies(copies)
    encoder = choose_encoder(settings, muxer, sink.supported_codecs, opened.first.format)
    spec = _spec(upscaler, opened)
    sink.add_video(encoder, spec)
    pipeline = Pipeline()
    with decoder_errors(opened.video.codec_context.name) as damage:
        try:
            items = _start(pipeline, upscaler, opened, queue_frames)
            frames = _mux_all(pipeline, items, sink, total_frames(opened.video, opened.container), progress)
        finally:
            pipeline.stop()  # on error or Ctrl-C: the stage threads end before the input is closed
    sink.finish()
    return VideoResult(sink.path, frames, spec.width, spec.height, encoder.codec, encoder.pix_fmt, len(copies), 0.0,
                       encoder.note, tuple(damage))


def run_upscale(upscaler: Upscaler, src: Path, dst: Path, settings: EncodeSettings, overwrite: bool,
                progress: FrameProgress | None, queue_frames: int) -> VideoResult:
    """See :func:`litesr_edge.video.upscale_video`."""
    muxer = _check_run(queue_frames, overwrite, dst)
    check_destination(src, dst, overwrite)
    start = time.perf_counter()
    opened = _prime(upscaler, src, copy=True)
    try:
        with staged_file(dst, overwrite) as handle:
            sink = Sink(handle, muxer, dst)
            try:
                result = _encode(upscaler, opened, sink, settings, muxer, progress, queue_frames)
            except BaseException:
                sink.abort()
                raise
    finally:
        opened.container.close()
    return replace(result, seconds=time.perf_counter() - start)


def run_frames(upscaler: Upscaler, src: Path, queue_frames: int) -> Iterator[UpscaledFrame]:
    """See :func:`litesr_edge.video.iter_video`; checks run before the first frame is asked for."""
    check_int("queue_frames", queue_frames, minimum=1, hint="frames per queue, e.g. 8")
    opened = _prime(upscaler, src, copy=False)
    return _frames(upscaler, opened, queue_frames)


def _frames(upscaler: Upscaler, opened: _Opened, queue_frames: int) -> Iterator[UpscaledFrame]:
    pipeline = Pipeline()
    time_base = opened.video.time_base or frame_rate(opened.video) ** -1
    try:
        for item in pipeline.drain(_start(pipeline, upscaler, opened, queue_frames)):
            if isinstance(item, Picture):
                yield UpscaledFrame(item.index, item.image, item.pts, time_base)
    finally:
        pipeline.stop()
        opened.container.close()
