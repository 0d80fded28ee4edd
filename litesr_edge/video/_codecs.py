"""Which encoder, pixel format and encoder options the upscaled video stream gets."""

from __future__ import annotations

from dataclasses import dataclass

import av

from litesr_edge.errors import InvalidInputError
from litesr_edge.video._types import EncodeSettings

# Default encoders per muxer, best first: H.264 wherever the container takes it. Hardware
# encoders (nvenc, qsv, v4l2m2m) are listed by FFmpeg even where no device is, so never defaults.
_H264 = ("libx264", "libopenh264", "mpeg4")
DEFAULT_ENCODERS: dict[str, tuple[str, ...]] = {
    "mp4": _H264, "mov": _H264, "matroska": _H264, "avi": _H264,
    "webm": ("libvpx-vp9", "libsvtav1", "libaom-av1", "libvpx"),
}
# crf: (option name, default, largest value); other encoders take no crf.
_CRF: dict[str, tuple[str, float, float]] = {
    "libx264": ("crf", 18, 51), "libx264rgb": ("crf", 18, 51), "libx265": ("crf", 20, 51),
    "libvpx-vp9": ("crf", 31, 63), "libvpx": ("crf", 10, 63), "libsvtav1": ("crf", 30, 63),
    "libaom-av1": ("crf", 30, 63),
}
_X26X_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
                 "placebo")
_PRESETS: dict[str, tuple[str, ...]] = {
    "libx264": _X26X_PRESETS, "libx264rgb": _X26X_PRESETS, "libx265": _X26X_PRESETS,
    "libsvtav1": tuple(str(n) for n in range(14)),
}
# Formats to try, in order, when the encoder cannot take the input's own pixel format.
_FALLBACK_8 = ("yuv420p", "yuv444p", "bgr0", "rgb24", "nv12")
_FALLBACK_HIGH = ("yuv420p10le", "yuv422p10le", "yuv444p10le", "gbrp10le", "p010le", "yuv420p12le")


@dataclass(frozen=True)
class Encoder:
    """The chosen encoder: its name, pixel format, options, and why the default was not used."""

    codec: str
    pix_fmt: str
    options: dict[str, str]
    note: str | None


def _has_encoder(name: str) -> bool:
    try:
        av.codec.Codec(name, "w")
    except (av.codec.codec.UnknownCodecError, ValueError):
        return False
    return True


def pick_codec(settings: EncodeSettings, muxer: str, supported: set[str]) -> tuple[str, str | None]:
    """The encoder name and, when the first default could not be used, a note naming the fallback."""
    if settings.codec is not None:
        if not _has_encoder(settings.codec):
            raise InvalidInputError(f"codec={settings.codec!r} has no encoder in PyAV's FFmpeg here; "
                                    "pick another, e.g. 'libx264' or 'ffv1'")
        if settings.codec not in supported:
            raise InvalidInputError(f"codec={settings.codec!r} cannot be stored in a {muxer} file; "
                                    "choose another codec or output suffix (.mkv takes most)")
        return settings.codec, None
    candidates = DEFAULT_ENCODERS[muxer]
    for name in candidates:
        if name in supported and _has_encoder(name):
            note = None if name == candidates[0] else (
                f"PyAV's FFmpeg has no {candidates[0]} encoder; encoding with {name} instead")
            return name, note
    raise InvalidInputError(f"PyAV's FFmpeg has none of the encoders {', '.join(candidates)} for {muxer}; "
                            "pass codec= (--codec) with one it has")


def _bits(fmt: av.VideoFormat) -> int:
    return max((c.bits for c in fmt.components), default=8)


def pick_pix_fmt(codec: str, source: av.VideoFormat) -> str:
    """The input's own pixel format if the encoder takes it, else one of the same bit depth."""
    formats = [f.name for f in av.codec.Codec(codec, "w").video_formats or ()]
    if not formats or source.name in formats:
        return source.name
    for name in _FALLBACK_HIGH if _bits(source) > 8 else _FALLBACK_8:
        if name in formats:
            return name
    return formats[0]


def encoder_options(codec: str, settings: EncodeSettings) -> dict[str, str]:
    """crf and preset as the encoder's own options; InvalidInputError where it has none."""
    options: dict[str, str] = {}
    crf = _CRF.get(codec)
    if crf is None and settings.crf is not None:
        raise InvalidInputError(f"crf={settings.crf:g} is set but codec {codec!r} has no crf; "
                                f"drop it or pick one of {', '.join(_CRF)}")
    if crf is not None:
        key, default, top = crf
        value = default if settings.crf is None else settings.crf
        if value > top:
            raise InvalidInputError(f"crf={value:g} is over {codec}'s largest, {top:g}; lower it")
        options[key] = f"{value:g}"
        if codec.startswith("libvpx"):
            options["b"] = "0"  # constant quality: without it crf is only a cap on a bitrate
    presets = _PRESETS.get(codec)
    if settings.preset is not None:
        if presets is None:
            raise InvalidInputError(f"preset={settings.preset!r} is set but codec {codec!r} has no presets; drop it")
        if settings.preset not in presets:
            raise InvalidInputError(f"preset={settings.preset!r} is not one of {codec}'s: {', '.join(presets)}")
        options["preset"] = settings.preset
    return options


def choose_encoder(settings: EncodeSettings, muxer: str, supported: set[str], source: av.VideoFormat) -> Encoder:
    """Everything the output video stream needs, checked before any frame is decoded."""
    codec, note = pick_codec(settings, muxer, supported)
    return Encoder(codec, pick_pix_fmt(codec, source), encoder_options(codec, settings), note)
