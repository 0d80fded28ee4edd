"""upscale_video / iter_video on clips built here with PyAV: streams, timestamps, exact frames, errors."""

from __future__ import annotations

import threading
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av", reason="the video tests need PyAV: pip install 'litesr-edge[video]'")

from clips import decoded, make_clip, packets  # noqa: E402

from litesr_edge import Upscaler  # noqa: E402
from litesr_edge.errors import (  # noqa: E402
    EngineUnavailableError,
    ImageReadError,
    ImageTooLargeError,
    ImageWriteError,
    InvalidInputError,
)
from litesr_edge.video import EncodeSettings, is_video, iter_video, upscale_video  # noqa: E402

FFV1 = EncodeSettings(codec="ffv1")


@pytest.fixture(scope="module")
def up(tiny_model_factory: object) -> Upscaler:
    return Upscaler(model=tiny_model_factory(scale=2), threads=1)  # type: ignore[operator]


def _duration(path: Path) -> float:
    with av.open(str(path)) as container:
        return container.duration / 1_000_000


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_lossless_output_is_exactly_the_upscaled_frames_with_streams_copied(tmp_path: Path, up: Upscaler) -> None:
    src = make_clip(tmp_path / "clip.mkv", frames=7)
    result = upscale_video(up, src, tmp_path / "out.mkv", settings=FFV1)
    assert (result.frames, result.width, result.height, result.copied_streams) == (7, 64, 48, 2)
    before, after = decoded(src), decoded(result.path)
    assert len(after) == len(before) == 7
    for (_, t_in, image), (_, t_out, out) in zip(before, after, strict=True):
        assert t_out == t_in
        assert out.shape == (48, 64, 3)
        np.testing.assert_array_equal(out, up.upscale(image))
    assert packets(result.path, "audio") == packets(src, "audio")
    assert packets(result.path, "subtitle") == packets(src, "subtitle")
    assert _duration(result.path) == pytest.approx(_duration(src), abs=0.05)


def test_variable_frame_rate_keeps_every_timestamp_in_mp4_with_h264(tmp_path: Path, up: Upscaler) -> None:
    pts = [0, 1, 3, 4, 8, 9, 10, 15, 16]
    src = make_clip(tmp_path / "vfr.mp4", frames=len(pts), pts=pts, codec="libx264", pix_fmt="yuv420p",
                    subtitles=False, time_base=Fraction(1, 30))
    result = upscale_video(up, src, tmp_path / "vfr_x2.mp4")
    assert (result.codec, result.pix_fmt, result.codec_note) == ("libx264", "yuv420p", None)
    times = [t for _, t, _ in decoded(result.path)]
    assert times == [Fraction(p, 30) for p in pts]
    assert all(a < b for a, b in zip(times, times[1:], strict=False))
    assert packets(result.path, "audio") == packets(src, "audio")


def test_ten_bit_in_gives_ten_bit_out_and_16_bit_frames(tmp_path: Path, up: Upscaler) -> None:
    src = make_clip(tmp_path / "deep.mkv", frames=3, codec="libx264", pix_fmt="yuv420p10le", audio=False,
                    subtitles=False, options={"qp": "0"})
    result = upscale_video(up, src, tmp_path / "deep_x2.mkv")
    assert result.pix_fmt == "yuv420p10le"
    with av.open(str(result.path)) as container:
        assert container.streams.video[0].codec_context.pix_fmt == "yuv420p10le"
    frames = list(iter_video(up, src))
    assert [f.image.dtype for f in frames] == [np.uint16] * 3
    assert any(np.any(f.image % 257) for f in frames)  # real 16-bit values, not 8-bit ones widened


def test_eight_bit_codec_formats_fall_back_to_the_same_depth(tmp_path: Path, up: Upscaler) -> None:
    src = make_clip(tmp_path / "rgb.mkv", frames=2, audio=False, subtitles=False)  # bgr0: libx264 has none
    assert upscale_video(up, src, tmp_path / "o.mkv", settings=EncodeSettings(codec="libx264")).pix_fmt == "yuv420p"


def test_without_libx264_the_fallback_encoder_is_named(tmp_path: Path, up: Upscaler,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import litesr_edge.video._codecs as codecs

    real = codecs._has_encoder
    monkeypatch.setattr(codecs, "_has_encoder", lambda name: name not in ("libx264", "libopenh264") and real(name))
    src = make_clip(tmp_path / "clip.mkv", frames=2, subtitles=False, audio=False)
    result = upscale_video(up, src, tmp_path / "o.mp4")
    assert result.codec == "mpeg4"
    assert result.codec_note == "PyAV's FFmpeg has no libx264 encoder; encoding with mpeg4 instead"
    assert len(decoded(result.path)) == 2


def test_rotation_and_colour_tags_are_carried_over(tmp_path: Path, up: Upscaler) -> None:
    colour = (2, 1, 1, 1)  # full range, BT.709 primaries, transfer and matrix
    src = make_clip(tmp_path / "tagged.mp4", frames=3, codec="libx264", pix_fmt="yuv420p", subtitles=False,
                    audio=False, rotation=90, colour=colour)
    result = upscale_video(up, src, tmp_path / "tagged_x2.mp4")
    with av.open(str(result.path)) as container:
        frame = next(container.decode(video=0))
    assert frame.rotation == 90
    assert (frame.color_range, frame.color_primaries, frame.color_trc, frame.colorspace) == colour
    # Full-range BT.709 in and out: the colours survive the YUV -> RGB -> YUV round trip.
    out = decoded(result.path)[0][2].astype(int)
    reference = up.upscale(decoded(src)[0][2]).astype(int)
    assert np.abs(out - reference).mean() < 6


def test_iter_video_yields_the_upscaled_frames_with_their_times(tmp_path: Path, up: Upscaler) -> None:
    src = make_clip(tmp_path / "clip.mkv", frames=5, audio=False, subtitles=False)
    frames = list(iter_video(up, src))
    assert [f.index for f in frames] == list(range(5))
    assert [f.time for f in frames] == [float(t) for _, t, _ in decoded(src)]
    for frame, (_, _, image) in zip(frames, decoded(src), strict=True):
        np.testing.assert_array_equal(frame.image, up.upscale(image))


def test_closing_iter_video_early_stops_its_threads(tmp_path: Path, up: Upscaler) -> None:
    src = make_clip(tmp_path / "clip.mkv", frames=40, audio=False, subtitles=False)
    frames = iter_video(up, src, queue_frames=2)
    next(frames)
    frames.close()  # type: ignore[attr-defined]
    assert not [t for t in threading.enumerate() if t.name.startswith("litesr-video")]


def test_a_failing_stage_leaves_no_output_and_no_threads(tmp_path: Path, up: Upscaler,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    src = make_clip(tmp_path / "clip.mkv", frames=12)
    calls = []

    def broken(image: np.ndarray) -> np.ndarray:
        calls.append(1)
        if len(calls) == 4:
            raise ImageTooLargeError("boom on frame 4")
        return np.zeros((image.shape[0] * 2, image.shape[1] * 2, 3), np.uint8)

    monkeypatch.setattr(up, "upscale", broken)
    with pytest.raises(ImageTooLargeError, match="boom on frame 4"):
        upscale_video(up, src, tmp_path / "out.mkv", settings=FFV1)
    assert _listing(tmp_path) == ["clip.mkv", "clip.srt"]
    assert not [t for t in threading.enumerate() if t.name.startswith("litesr-video")]


def test_existing_output_is_kept_unless_overwrite(tmp_path: Path, up: Upscaler) -> None:
    src = make_clip(tmp_path / "clip.mkv", frames=2)
    dst = tmp_path / "out.mkv"
    dst.write_bytes(b"old")
    with pytest.raises(ImageWriteError, match="already exists"):
        upscale_video(up, src, dst, settings=FFV1)
    assert dst.read_bytes() == b"old"
    upscale_video(up, src, dst, settings=FFV1, overwrite=True)
    assert len(decoded(dst)) == 2


def test_truncated_input_is_one_read_error_and_nothing_is_written(tmp_path: Path, up: Upscaler) -> None:
    src = make_clip(tmp_path / "clip.mp4", frames=4, codec="libx264", pix_fmt="yuv420p", subtitles=False)
    data = src.read_bytes()
    src.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="clip.mp4") as info:
        upscale_video(up, src, tmp_path / "out.mp4")
    assert "\n" not in str(info.value)
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.parametrize(
    ("settings", "suffix", "match"),
    [
        (EncodeSettings(codec="ffv1", crf=20), ".mkv", "has no crf"),
        (EncodeSettings(preset="warp"), ".mkv", "not one of libx264's"),
        (EncodeSettings(codec="nope264"), ".mkv", "no encoder"),
        (EncodeSettings(codec="ffv1"), ".webm", "cannot be stored"),
        (EncodeSettings(crf=60), ".mp4", "over libx264's largest"),
        (EncodeSettings(), ".gif", "no video suffix"),
    ],
)
def test_bad_encode_settings_fail_before_any_output(tmp_path: Path, up: Upscaler, settings: EncodeSettings,
                                                    suffix: str, match: str) -> None:
    src = make_clip(tmp_path / "clip.mkv", frames=2, subtitles=False, audio=False)
    with pytest.raises(InvalidInputError, match=match):
        upscale_video(up, src, tmp_path / f"out{suffix}", settings=settings)
    assert _listing(tmp_path) == ["clip.mkv"]


def test_a_stream_the_output_cannot_hold_is_an_error_not_a_silent_drop(tmp_path: Path, up: Upscaler) -> None:
    src = make_clip(tmp_path / "clip.mkv", frames=2)  # SRT subtitles: MP4 only takes mov_text
    with pytest.raises(InvalidInputError, match=r"mp4 files cannot hold input stream #\d \(subtitle, srt\).*\.mkv"):
        upscale_video(up, src, tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists()


def test_max_pixels_applies_per_frame(tmp_path: Path, tiny_model_factory: object) -> None:
    small = Upscaler(model=tiny_model_factory(scale=2), max_pixels=64 * 48 - 1)  # type: ignore[operator]
    src = make_clip(tmp_path / "clip.mkv", frames=2, subtitles=False)
    with pytest.raises(ImageTooLargeError, match="frames of"):
        upscale_video(small, src, tmp_path / "out.mkv")


def test_bad_arguments_are_named(tmp_path: Path, up: Upscaler) -> None:
    with pytest.raises(InvalidInputError, match="crf"):
        EncodeSettings(crf=-1)
    with pytest.raises(ImageReadError, match="does not exist"):
        upscale_video(up, tmp_path / "missing.mp4", tmp_path / "o.mp4")
    src = make_clip(tmp_path / "clip.mkv", frames=1, subtitles=False)
    with pytest.raises(InvalidInputError, match="queue_frames"):
        upscale_video(up, src, tmp_path / "o.mkv", queue_frames=0)


def test_is_video_goes_by_suffix() -> None:
    assert is_video("a.MP4") and is_video(Path("b.mkv")) and not is_video("c.png")


def test_missing_pyav_names_the_extra(monkeypatch: pytest.MonkeyPatch, up: Upscaler, tmp_path: Path) -> None:
    monkeypatch.setitem(__import__("sys").modules, "av", None)
    with pytest.raises(EngineUnavailableError, match=r"pip install 'litesr-edge\[video\]'"):
        upscale_video(up, tmp_path / "a.mp4", tmp_path / "b.mp4")


def test_damage_the_decoder_conceals_is_reported_and_the_frames_kept(tmp_path: Path, up: Upscaler) -> None:
    src = make_clip(tmp_path / "crc.mkv", frames=8, audio=False, subtitles=False,
                    options={"level": "3", "slicecrc": "1"})  # FFV1 with slice CRCs: damage is detected
    clean = upscale_video(up, src, tmp_path / "clean.mkv", settings=FFV1)
    assert (clean.decode_errors, clean.damage_note) == ((), None)
    with av.open(str(src)) as container:
        start, size = [(p.pos, p.size) for p in container.demux(video=0) if p.size][3]
    data = bytearray(src.read_bytes())
    for i in range(start + size // 3, start + size // 3 + 40):
        data[i] ^= 0x55
    src.write_bytes(bytes(data))
    result = upscale_video(up, src, tmp_path / "damaged.mkv", settings=FFV1)
    assert result.frames == 8
    assert result.damage_note is not None and "CRC" in result.damage_note
    assert av.logging.get_level() is None  # PyAV's logging is left as it was
