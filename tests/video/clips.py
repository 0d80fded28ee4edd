"""Short synthetic clips built with PyAV for the video tests: video, audio, subtitles, VFR."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

SRT = "1\n00:00:00,100 --> 00:00:00,300\nHello\n\n2\n00:00:00,250 --> 00:00:00,400\nWorld\n\n"


def frames_rgb(count: int, height: int, width: int, seed: int = 0) -> list[np.ndarray]:
    """Smooth moving gradients plus noise: like video, and different every frame."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    out = []
    for i in range(count):
        base = np.stack([(x * 7 + i * 9) % 256, (y * 5 + i * 3) % 256, ((x + y) * 3 + i * 11) % 256], axis=-1)
        out.append(np.clip(base + rng.integers(-20, 21, base.shape), 0, 255).astype(np.uint8))
    return out


def make_clip(
    path: Path,
    *,
    frames: int = 6,
    size: tuple[int, int] = (24, 32),
    codec: str = "ffv1",
    pix_fmt: str = "bgr0",
    pts: Sequence[int] | None = None,
    time_base: Fraction = Fraction(1, 25),
    audio: bool = True,
    subtitles: bool = True,
    rotation: int = 0,
    options: dict[str, str] | None = None,
    colour: tuple[int, int, int, int] | None = None,
) -> Path:
    """Write a clip: ``frames`` RGB frames (at ``pts``, default 0, 1, 2...), optional AAC audio and SRT.

    ``colour``: (range, primaries, trc, colorspace) tags, FFmpeg's AVColor* values.
    """
    height, width = size
    out = av.open(str(path), "w")
    video = out.add_stream(codec, rate=Fraction(1) / time_base, options=options or {})
    video.width, video.height, video.pix_fmt = width, height, pix_fmt
    video.codec_context.time_base = time_base
    if rotation:
        video.set_display_rotation(rotation)
    ctx = video.codec_context
    if colour is not None:
        ctx.color_range, ctx.color_primaries, ctx.color_trc, ctx.colorspace = colour
    streams = [video]
    sound = out.add_stream("aac", rate=48000) if audio else None
    srt = None
    if subtitles:
        srt_path = path.with_suffix(".srt")
        srt_path.write_text(SRT)
        srt = av.open(str(srt_path))
        streams.append(out.add_stream_from_template(srt.streams[0]))
    for i, image in enumerate(frames_rgb(frames, height, width)):
        rgb = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame = rgb.reformat(format=pix_fmt, dst_colorspace=None if colour is None else colour[3],
                             dst_color_range=None if colour is None else colour[0])
        frame.pts, frame.time_base = (i if pts is None else pts[i]), time_base
        out.mux(video.encode(frame))
    if sound is not None:
        _write_audio(out, sound, seconds=float(frames * time_base) + 0.1)
    if srt is not None:
        for packet in srt.demux():
            if packet.size:
                packet.stream = streams[1]
                out.mux(packet)
        srt.close()
    out.mux(video.encode(None))
    out.close()
    return path


def _write_audio(out: av.container.OutputContainer, sound: av.audio.stream.AudioStream, seconds: float) -> None:
    rng = np.random.default_rng(1)
    for i in range(int(seconds * 48000 / 1024) + 1):
        chunk = (rng.standard_normal((1, 1024)) * 0.1).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = 48000, i * 1024, Fraction(1, 48000)
        out.mux(sound.encode(frame))
    out.mux(sound.encode(None))


def decoded(path: Path, fmt: str = "rgb24") -> list[tuple[int, Fraction, np.ndarray]]:
    """(pts, time in seconds, RGB array) of every video frame of ``path``."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [(f.pts, f.pts * stream.time_base, f.to_ndarray(format=fmt)) for f in container.decode(stream)]


def packets(path: Path, kind: str) -> list[tuple[int | None, float, bytes]]:
    """(pts, time, payload) of every non-empty packet of the first ``kind`` stream of ``path``."""
    with av.open(str(path)) as container:
        stream = next(s for s in container.streams if s.type == kind)
        return [(p.pts, float(p.pts * p.time_base), bytes(p)) for p in container.demux(stream) if p.size]
