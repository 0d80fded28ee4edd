"""The video API's plain types and checks: nothing here imports PyAV."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from litesr_edge.errors import EngineUnavailableError, InvalidInputError

VIDEO_INSTALL = "pip install 'litesr-edge[video]'"
# Output suffix -> FFmpeg muxer. Inputs may be anything FFmpeg reads; outputs use these.
CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".avi": "avi"}
VIDEO_SUFFIXES = tuple(CONTAINERS)
# Frames each queue between two stages may hold: enough to hide a slow frame, little memory.
DEFAULT_QUEUE_FRAMES = 8
# ``progress(done_frames, total_frames)``; total is None when the container does not say.
FrameProgress = Callable[[int, int | None], None]


def is_video(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` has a video suffix (:data:`VIDEO_SUFFIXES`, any case)."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def require_av() -> None:
    """EngineUnavailableError with the install hint when PyAV is not importable."""
    try:
        import av  # noqa: F401
    except ModuleNotFoundError as exc:
        raise EngineUnavailableError(
            f"video needs PyAV ({exc.name!r} is not installed); {VIDEO_INSTALL}"
        ) from None


@dataclass(frozen=True)
class EncodeSettings:
    """How the upscaled video stream is encoded.

    Attributes:
        codec: FFmpeg encoder name (``libx264``, ``libx265``, ``libvpx-vp9``, ``ffv1``...);
            None picks H.264 (or VP9 for .webm) and falls back to what this FFmpeg has.
        crf: constant-rate-factor quality (lower is better; libx264 0-51, default 18);
            None is the codec's default here. Only for codecs that have a crf.
        preset: the encoder's speed preset (libx264/libx265: ultrafast ... veryslow,
            default medium; libsvtav1: 0-13). None is the encoder's default.
    """

    codec: str | None = None
    crf: float | None = None
    preset: str | None = None

    def __post_init__(self) -> None:
        if self.codec is not None and (not isinstance(self.codec, str) or not self.codec):
            raise InvalidInputError(f"codec={self.codec!r} is not an encoder name; e.g. 'libx264' or None")
        if self.crf is not None and (isinstance(self.crf, bool) or not isinstance(self.crf, int | float)
                                     or not 0 <= self.crf <= 63):
            raise InvalidInputError(f"crf={self.crf!r} is out of range; give 0-51 for libx264 (lower = better)")
        if self.preset is not None and (not isinstance(self.preset, str) or not self.preset):
            raise InvalidInputError(f"preset={self.preset!r} is not a preset name; e.g. 'medium' or None")


@dataclass(frozen=True)
class UpscaledFrame:
    """One upscaled frame: RGB ``image`` (uint8, or uint16 for >8-bit video) and its timestamp."""

    index: int
    image: NDArray[np.uint8] | NDArray[np.uint16]
    pts: int
    time_base: Fraction

    @property
    def time(self) -> float:
        """Presentation time in seconds."""
        return float(self.pts * self.time_base)


@dataclass(frozen=True)
class VideoResult:
    """What :func:`litesr_edge.video.upscale_video` wrote."""

    path: Path
    frames: int
    width: int
    height: int
    codec: str
    pix_fmt: str
    copied_streams: int
    seconds: float
    codec_note: str | None = None  # why the default H.264 was not used, if it was not
    # The decoder's error lines: damaged packets whose frames FFmpeg concealed (the frames are kept).
    decode_errors: tuple[str, ...] = ()

    @property
    def damage_note(self) -> str | None:
        """One line about the concealed damage, or None when the input decoded cleanly."""
        n = len(self.decode_errors)
        if not n:
            return None
        return (f"the input is damaged: its decoder logged {n} error{'s' if n != 1 else ''} (first: "
                f"{self.decode_errors[0]!r}) and concealed the damage in the frames written")

    @property
    def fps(self) -> float:
        """Frames per second, end to end (decode + upscale + encode)."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0
