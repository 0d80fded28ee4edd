"""``litesr-edge upscale`` on videos: one video, a folder of images and videos, errors, Ctrl-C and kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner, Result

av = pytest.importorskip("av", reason="the video tests need PyAV: pip install 'litesr-edge[video]'")

from clips import decoded, make_clip, packets  # noqa: E402

from litesr_edge import write_image  # noqa: E402
from litesr_edge._atomic import _unnamed_fd  # noqa: E402
from litesr_edge.cli import app  # noqa: E402
from litesr_edge.cli._video import _frame_progress, ctrl_c_latch  # noqa: E402


def run(*args: object) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def x2(tiny_model_factory: object) -> Path:
    return tiny_model_factory(scale=2)  # type: ignore[no-any-return, operator]


def test_one_video_is_upscaled_with_its_streams(tmp_path: Path, x2: Path) -> None:
    src = make_clip(tmp_path / "clip.mkv", frames=4)
    result = run("upscale", src, "--model", x2, "--codec", "ffv1")
    assert result.exit_code == 0, result.output
    dst = tmp_path / "clip_x2.mkv"
    assert "wrote" in result.stdout and str(dst) in result.stdout
    frames = decoded(dst)
    assert [f[2].shape for f in frames] == [(48, 64, 3)] * 4
    assert packets(dst, "audio") == packets(src, "audio")


def test_a_folder_of_images_and_videos(tmp_path: Path, x2: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    make_clip(folder / "v.mp4", frames=3, codec="libx264", pix_fmt="yuv420p", subtitles=False)
    write_image(folder / "p.png", np.zeros((8, 10, 3), np.uint8))
    result = run("upscale", folder, "--model", x2, "-o", tmp_path / "out", "-q")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["p_x2.png", "v_x2.mp4"]
    assert len(decoded(tmp_path / "out" / "v_x2.mp4")) == 3


def test_a_video_file_as_o(tmp_path: Path, x2: Path) -> None:
    src = make_clip(tmp_path / "clip.mkv", frames=2, subtitles=False)
    result = run("upscale", src, "--model", x2, "-o", tmp_path / "big.mkv", "-q", "--crf", "30")
    assert result.exit_code == 0, result.output
    assert len(decoded(tmp_path / "big.mkv")) == 2


def test_image_options_in_a_mixed_folder(tmp_path: Path, x2: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    make_clip(folder / "v.mkv", frames=2, subtitles=False, audio=False)
    write_image(folder / "p.png", np.zeros((8, 10, 3), np.uint8))
    result = run("upscale", folder, "--model", x2, "-o", tmp_path / "out", "-q", "--format", "jpg")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["p_x2.jpg", "v_x2.mkv"]  # videos keep theirs
    result = run("upscale", folder / "v.mkv", "--model", x2, "--outscale", "3")
    assert result.exit_code == 2 and "resize images only" in result.stderr


def test_truncated_input_is_one_error_line(tmp_path: Path, x2: Path) -> None:
    src = make_clip(tmp_path / "clip.mp4", frames=4, codec="libx264", pix_fmt="yuv420p", subtitles=False)
    src.write_bytes(src.read_bytes()[:2000])
    result = run("upscale", src, "--model", x2)
    assert result.exit_code == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: input ") and "clip.mp4" in lines[0]
    assert not (tmp_path / "clip_x2.mp4").exists()


def test_bad_encoder_flags_are_named_in_flag_terms(tmp_path: Path, x2: Path) -> None:
    src = make_clip(tmp_path / "clip.mkv", frames=2, subtitles=False)
    result = run("upscale", src, "--model", x2, "--codec", "ffv1", "--crf", "20")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "--crf 20" in result.stderr and "ffv1" in result.stderr


def test_without_pyav_a_video_is_one_line_with_the_install_hint(tmp_path: Path, x2: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    src = make_clip(tmp_path / "clip.mkv", frames=1, subtitles=False)
    monkeypatch.setitem(sys.modules, "av", None)
    result = run("upscale", src, "--model", x2)
    assert result.exit_code != 0
    assert result.stderr.strip() == "error: video needs PyAV ('av' is not installed); pip install 'litesr-edge[video]'"


# ---- Ctrl-C and kill -9 mid-encode leave nothing ---------------------------------------------------------------
def _writing_into(pid: int, folder: Path) -> bool:
    """Whether process ``pid`` holds a file open in ``folder`` (the staged output, named or not)."""
    try:
        links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    except OSError:
        return False
    return any(link.startswith(str(folder) + os.sep) for link in links)


def _start_and_wait_for_encoding(src: Path, out: Path, model: Path) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "litesr_edge", "upscale", str(src), "--model", str(model), "--codec", "ffv1",
               "-o", str(out / "clip_x2.mkv"), "--threads", "1"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not _writing_into(proc.pid, out):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the CLI never started encoding: {proc.communicate()}")
        time.sleep(0.02)
    time.sleep(0.3)  # well inside the encode: frames are being written
    assert proc.poll() is None, "the clip was too short to interrupt mid-encode"
    return proc


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 300 frames: seconds of work, so the signal surely lands mid-encode (asserted, not assumed).
    return make_clip(tmp_path_factory.mktemp("long") / "clip.mkv", frames=300, size=(120, 160), audio=False,
                     subtitles=False)


@pytest.mark.slow
@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill-9"])
def test_interrupt_or_kill_mid_encode_leaves_no_file(tmp_path: Path, x2: Path, long_clip: Path,
                                                     how: signal.Signals) -> None:
    out = tmp_path / "out"
    out.mkdir()
    proc = _start_and_wait_for_encoding(long_clip, out, x2)
    proc.send_signal(how)
    _, stderr = proc.communicate(timeout=60)
    if how == signal.SIGINT:
        assert proc.returncode == 130, stderr
        assert stderr.strip().splitlines()[-1] == "error: interrupted"
        assert "Traceback" not in stderr
    else:
        assert proc.returncode == -signal.SIGKILL
    left = sorted(p.name for p in out.iterdir())
    fd = _unnamed_fd(out)
    if fd is not None:  # O_TMPFILE here: not even a temporary name is left
        os.close(fd)
        assert left == []
    else:  # a named temp file may survive kill -9; the next write into the folder sweeps it
        assert all(name.startswith(".litesr-") for name in left)


def test_a_ctrl_c_that_ffmpeg_swallowed_still_stops_at_the_next_frame() -> None:
    # FFmpeg's log callback cannot pass an exception on: simulate the interrupt dying in there.
    # The latch's handler is called as Python calls it on SIGINT; a real SIGINT to this process
    # (which hosts the suite's ONNX Runtime, OpenVINO and Ray threads) crashed the whole run.
    # The real signal is sent to a CLI subprocess in test_interrupt_or_kill_mid_encode_leaves_no_file.
    with ctrl_c_latch() as pressed:
        handler = signal.getsignal(signal.SIGINT)
        assert callable(handler) and handler is not signal.default_int_handler
        with pytest.raises(KeyboardInterrupt):  # raised, then swallowed as inside av.logging's callback
            handler(signal.SIGINT, None)
        progress = _frame_progress(None, pressed)
        with pytest.raises(KeyboardInterrupt):
            progress(1, 10)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
