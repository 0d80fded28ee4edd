"""The input side: open a video, find its streams, decode frames to RGB arrays.

A corrupt video packet (or a demuxer error, e.g. a cut-off file) is fatal: ImageReadError
naming the file and the time, so that no output is written from a damaged source.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TypeAlias

import av
import numpy as np
from av.container import InputContainer
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from litesr_edge.errors import ImageReadError, InvalidInputError

# Stream kinds copied packet for packet into the output.
COPIED_KINDS = ("audio", "subtitle", "data", "video")


@dataclass(frozen=True)
class Colour:
    """Colour tags of the source frames (FFmpeg AVColor* values), carried to the output."""

    range: int
    primaries: int
    trc: int
    space: int


@dataclass(frozen=True)
class Picture:
    """One decoded (later: upscaled) frame, as an RGB array and its timestamp in the stream's time base."""

    index: int
    pts: int
    image: np.ndarray  # uint8 or uint16 RGB, HxWx3


Packet: TypeAlias = "av.Packet[av.stream.Stream]"  # generic only in PyAV's stubs
Item: TypeAlias = "Picture | Packet"


def open_input(path: Path) -> InputContainer:
    """The opened container; ImageReadError if it is missing, not a video, or unreadable."""
    if not path.is_file():
        raise ImageReadError(f"input {path} does not exist or is not a file; check the path")
    try:
        return av.open(str(path), "r")
    except av.FFmpegError as exc:
        raise ImageReadError(f"input {path} is not a readable video (truncated or corrupt?): {_reason(exc)}") from None


def _reason(exc: av.FFmpegError) -> str:
    return " ".join(str(exc.strerror or exc).split())


def main_stream(container: InputContainer, path: Path) -> VideoStream:
    """The first video stream that is not cover art; InvalidInputError if there is none."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            stream.thread_type = "AUTO"  # frame threads: decoding keeps up without the network's cores
            return stream
    raise InvalidInputError(f"input {path} has no video stream; is it an audio file?")


def copied_streams(container: InputContainer, video: VideoStream) -> list[av.stream.Stream]:
    """Every stream other than ``video`` that is copied into the output unchanged."""
    return [s for s in container.streams if s.index != video.index and s.type in COPIED_KINDS]


def frame_rate(stream: VideoStream) -> Fraction:
    """The stream's average (else guessed) frame rate; 25 when the container gives none."""
    rate = stream.average_rate or stream.guessed_rate
    return Fraction(rate) if rate else Fraction(25)


def total_frames(stream: VideoStream, container: InputContainer) -> int | None:
    """Frames in the stream as the container says, else estimated from duration and rate; None if unknown."""
    if stream.frames:
        return int(stream.frames)
    if container.duration:
        return max(1, round(container.duration / 1_000_000 * frame_rate(stream)))
    return None


def colour_of(frame: VideoFrame) -> Colour:
    """The colour tags of ``frame``."""
    return Colour(int(frame.color_range), int(frame.color_primaries), int(frame.color_trc), int(frame.colorspace))


def is_high_depth(fmt: av.VideoFormat) -> bool:
    """More than 8 bits per sample: decoded to 16-bit RGB so nothing is rounded away."""
    return max((c.bits for c in fmt.components), default=8) > 8


class Decoder:
    """Demuxes ``container``, decoding ``video`` to :class:`Picture` and passing other packets through."""

    def __init__(self, container: InputContainer, video: VideoStream, copy: list[av.stream.Stream],
                 path: Path) -> None:
        self._container, self._video, self._path = container, video, path
        self._wanted = [video, *copy]
        self._copy = {s.index for s in copy}
        self._rate_step = max(1, round(1 / (frame_rate(video) * video.time_base))) if video.time_base else 1
        self._last_pts: int | None = None
        self._count = 0

    def items(self) -> Iterator[tuple[Item, VideoFrame | None]]:
        """Every item in file order: (Picture, its source frame) or (packet to copy, None)."""
        for packet in self._demux():
            if packet.stream_index in self._copy:
                if packet.size:  # the empty packets demux yields at the end are no data
                    yield packet, None
                continue
            for frame in self._decode(packet):
                yield self._picture(frame), frame

    def _demux(self) -> Iterator[Packet]:
        demux = self._container.demux(*self._wanted)
        while True:
            try:
                packet = next(demux)
            except StopIteration:
                return
            except av.FFmpegError as exc:
                raise ImageReadError(f"input {self._path} cannot be read past frame {self._count} "
                                     f"(truncated or corrupt): {_reason(exc)}") from None
            yield packet

    def _decode(self, packet: Packet) -> list[VideoFrame]:
        try:
            return self._video.decode(packet)
        except av.error.EOFError:  # a second flush packet (one per demuxed stream) after the decoder drained
            return []
        except av.FFmpegError as exc:
            at = f"{float(packet.pts * packet.time_base):.3f} s" if packet.pts is not None and packet.time_base \
                else f"frame {self._count}"
            raise ImageReadError(f"input {self._path} has a corrupt video packet at {at}: {_reason(exc)}; "
                                 "the file is damaged, re-copy or re-encode it") from None

    def _picture(self, frame: VideoFrame) -> Picture:
        pts = frame.pts
        if pts is None:  # some containers (AVI, raw streams) leave gaps: continue at the frame rate
            pts = 0 if self._last_pts is None else self._last_pts + self._rate_step
        self._last_pts = pts
        fmt = "rgb48le" if is_high_depth(frame.format) else "rgb24"
        picture = Picture(self._count, pts, frame.to_ndarray(format=fmt))
        self._count += 1
        return picture
