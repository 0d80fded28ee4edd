"""The output side: one encoded video stream plus the copied streams, muxed in input order."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np
from av.container import OutputContainer
from av.stream import Stream
from av.video.frame import VideoFrame
from av.video.reformatter import Colorspace
from av.video.stream import VideoStream

from litesr_edge.errors import ImageWriteError, InvalidInputError
from litesr_edge.video._codecs import Encoder
from litesr_edge.video._source import Colour, Packet

# AVColorSpace -> the swscale matrix that converts RGB back to it (others: swscale's default, BT.601).
_SWS_MATRIX = {1: Colorspace.ITU709, 4: Colorspace.FCC, 5: Colorspace.ITU601, 6: Colorspace.SMPTE170M,
               7: Colorspace.SMPTE240M, 9: Colorspace.BT2020, 10: Colorspace.BT2020}
# Tags the muxer writes itself; copying the source's would describe the source, not the output.
_OWN_TAGS = frozenset({"duration", "encoder", "number_of_frames", "number_of_bytes", "bps",
                       "_statistics_tags", "_statistics_writing_app", "_statistics_writing_date_utc"})


def _tags(metadata: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in metadata.items() if k.lower().split("-")[0] not in _OWN_TAGS}


def reason(exc: BaseException) -> str:
    """An FFmpeg or OS error as one short line."""
    text = getattr(exc, "strerror", None) or str(exc)
    return " ".join(str(text).split())


@dataclass(frozen=True)
class VideoSpec:
    """What the encoded stream looks like: size, timing, colour, orientation and source tags."""

    width: int
    height: int
    time_base: Fraction
    rate: Fraction
    colour: Colour
    rotation: int
    sample_aspect_ratio: Fraction | None
    metadata: dict[str, str]


class Sink:
    """Encodes upscaled frames and muxes them with the copied packets into ``handle``."""

    def __init__(self, handle: BinaryIO, muxer: str, dst: Path) -> None:
        self._dst, self._muxer = dst, muxer
        self._out: OutputContainer = av.open(handle, "w", format=muxer)
        self._copies: dict[int, Stream] = {}
        self._video: VideoStream | None = None
        self._spec: VideoSpec | None = None
        self._pix_fmt = ""

    @property
    def path(self) -> Path:
        """Where the output goes once complete."""
        return self._dst

    @property
    def supported_codecs(self) -> set[str]:
        """Codec names the output container can store."""
        return set(self._out.supported_codecs)

    def add_copies(self, streams: list[Stream]) -> None:
        """An output stream for each input stream copied unchanged; InvalidInputError if the muxer cannot hold it."""
        for stream in streams:
            try:
                out = self._out.add_stream_from_template(stream)
            except ValueError:
                codec = stream.codec_context.name if stream.codec_context is not None else stream.type
                raise InvalidInputError(
                    f"{self._muxer} files cannot hold input stream #{stream.index} ({stream.type}, {codec}); "
                    "write the output as .mkv, which takes most streams"
                ) from None
            out.metadata.update(_tags(dict(stream.metadata)))
            out.disposition = stream.disposition
            self._copies[stream.index] = out

    def add_video(self, encoder: Encoder, spec: VideoSpec) -> None:
        """The encoded video stream; call once, after :meth:`add_copies` order does not matter."""
        stream = self._out.add_stream(encoder.codec, rate=spec.rate, options=dict(encoder.options))
        if not isinstance(stream, VideoStream):
            raise InvalidInputError(f"codec={encoder.codec!r} is not a video encoder; pick one such as 'libx264'")
        stream.width, stream.height, stream.pix_fmt = spec.width, spec.height, encoder.pix_fmt
        ctx = stream.codec_context
        ctx.time_base = spec.time_base  # the source's: every pts passes through unchanged
        stream.time_base = spec.time_base
        if spec.sample_aspect_ratio:
            ctx.sample_aspect_ratio = spec.sample_aspect_ratio
        ctx.color_range, ctx.color_primaries = spec.colour.range, spec.colour.primaries
        ctx.color_trc, ctx.colorspace = spec.colour.trc, spec.colour.space
        if spec.rotation:
            stream.set_display_rotation(spec.rotation)
        stream.metadata.update(_tags(spec.metadata))
        self._video, self._spec, self._pix_fmt = stream, spec, encoder.pix_fmt

    def write_frame(self, image: np.ndarray, pts: int) -> None:
        """Encode one upscaled RGB frame with the source frame's ``pts``."""
        video, spec = self._video, self._spec
        if video is None or spec is None:
            raise RuntimeError("add_video() must be called before write_frame()")  # a bug in this package
        if image.shape[:2] != (spec.height, spec.width):
            raise InvalidInputError(f"the video's frame size changes at pts {pts} (to {image.shape[1]}x"
                                    f"{image.shape[0]} upscaled, from {spec.width}x{spec.height}); not supported")
        rgb = VideoFrame.from_ndarray(image, format="rgb48le" if image.dtype == np.uint16 else "rgb24")
        frame = rgb.reformat(format=self._pix_fmt, dst_colorspace=_SWS_MATRIX.get(spec.colour.space),
                             dst_color_range=spec.colour.range or None)
        frame.pts, frame.time_base = pts, spec.time_base
        frame.color_primaries, frame.color_trc = spec.colour.primaries, spec.colour.trc
        self._encode(frame)

    def write_packet(self, packet: Packet) -> None:
        """Mux a copied packet as it is (its timestamps are rebased to the output stream)."""
        packet.stream = self._copies[packet.stream_index]
        try:
            self._out.mux(packet)
        except av.FFmpegError as exc:
            raise ImageWriteError(f"cannot write {self._dst}: copying a {packet.stream.type} packet failed "
                                  f"({reason(exc)})") from None

    def _encode(self, frame: VideoFrame | None) -> None:
        if self._video is None:
            return
        try:
            self._out.mux(self._video.encode(frame))
        except av.FFmpegError as exc:
            raise ImageWriteError(f"cannot encode {self._dst} with {self._video.codec_context.name}: "
                                  f"{reason(exc)}") from None

    def finish(self) -> None:
        """Flush the encoder and write the container's trailer."""
        self._encode(None)
        try:
            self._out.close()
        except (av.FFmpegError, OSError) as exc:
            raise ImageWriteError(f"cannot write {self._dst}: {reason(exc)}; check free space") from None

    def abort(self) -> None:
        """Close without finishing (the staged file is then dropped)."""
        try:
            self._out.close()
        except (av.FFmpegError, OSError):  # the output is thrown away: its trailer does not matter
            return
