"""Video upscaling speed: end-to-end fps (decode + network + encode) beside network-only fps.

    python -m benchmarks.video_bench                    # every engine/precision this machine runs
    python -m benchmarks.video_bench --budget 170 --preset medium --threads 2

Two clips, both to 1280x720 output: 320x180 at x4 and 640x360 at x2 (bundled depth-19 models).
The source clips are H.264 (yuv420p, crf 18) panning over litesr_edge/data/sample.png, built
here with PyAV. For each (clip, engine, precision):

* network-only: the clip's frames are decoded to RGB arrays first (not timed), then
  ``Upscaler.upscale`` runs on each, one after the other, after one warm-up frame;
* end-to-end: ``litesr_edge.video.upscale_video`` on the same clip, encoding H.264 (libx264,
  crf 18, ``--preset``, default veryfast: the library's default is libx264's own, medium), from
  opening the input to the renamed output file, i.e. with pipeline fill and drain, audio-less;
* per clip, what bounds it: decode-only fps (demux + decode + RGB conversion) and encode-only
  fps (RGB 1280x720 -> yuv420p -> libx264 with the same settings, frames prepared beforehand),
  each alone on the machine.

The frame count per cell is chosen from the warm-up frame's time so that the whole run stays
within ``--budget`` seconds (at least 3 frames, at most ``--frames``): on a slow or loaded
machine the clips are short and pipeline fill/drain weighs more in the end-to-end figure.
Writes benchmarks/results/video.{json,md}. Needs PyAV (the video extra); openvino rows need
the openvino extra.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from litesr_edge import Upscaler
from litesr_edge.bench.machine import machine_info
from litesr_edge.errors import LiteSRError
from litesr_edge.video import EncodeSettings, upscale_video

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SAMPLE = ROOT / "litesr_edge" / "data" / "sample.png"
CONFIGS = (("onnxruntime", "fp32"), ("onnxruntime", "int8"), ("openvino", "fp32"), ("openvino", "bf16"),
           ("openvino", "int8"))


@dataclass(frozen=True)
class Clip:
    name: str
    width: int
    height: int
    scale: int


CLIPS = (Clip("320x180 x4 -> 1280x720", 320, 180, 4), Clip("640x360 x2 -> 1280x720", 640, 360, 2))


def make_source(path: Path, clip: Clip, frames: int) -> Path:
    """An H.264 clip panning across the sample photo, ``frames`` long at 25 fps."""
    photo = cv2.cvtColor(cv2.imread(str(SAMPLE)), cv2.COLOR_BGR2RGB)
    scene = cv2.resize(photo, (clip.width * 2, clip.height * 2), interpolation=cv2.INTER_CUBIC)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25, options={"crf": "18", "preset": "fast"})
        stream.width, stream.height, stream.pix_fmt = clip.width, clip.height, "yuv420p"
        for i in range(frames):
            x, y = (i * 7) % clip.width, (i * 3) % clip.height
            view = np.ascontiguousarray(scene[y : y + clip.height, x : x + clip.width])
            frame = av.VideoFrame.from_ndarray(view, format="rgb24").reformat(format="yuv420p")
            frame.pts, frame.time_base = i, Fraction(1, 25)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def decode_all(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def stage_fps(clip: Clip, work: Path, preset: str, frames: int = 12) -> dict[str, float]:
    """Decode-only and encode-only fps of ``frames`` frames of ``clip`` (engine-independent)."""
    src = make_source(work / f"stage_{clip.scale}.mp4", clip, frames)
    start = time.perf_counter()
    images = decode_all(src)
    decode = len(images) / (time.perf_counter() - start)
    big = [cv2.resize(i, (clip.width * clip.scale, clip.height * clip.scale), interpolation=cv2.INTER_CUBIC)
           for i in images]
    start = time.perf_counter()
    with av.open(str(work / "stage_out.mp4"), "w") as out:
        stream = out.add_stream("libx264", rate=25, options={"crf": "18", "preset": preset})
        stream.width, stream.height, stream.pix_fmt = big[0].shape[1], big[0].shape[0], "yuv420p"
        for i, image in enumerate(big):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
            frame.pts, frame.time_base = i, Fraction(1, 25)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    encode = len(big) / (time.perf_counter() - start)
    return {"decode_only_fps": round(decode, 2), "encode_only_fps": round(encode, 2)}


def _upscaler(clip: Clip, engine: str, precision: str, threads: int | None) -> Upscaler | str:
    try:
        return Upscaler(scale=clip.scale, engine=engine, precision=precision, threads=threads)  # type: ignore[arg-type]
    except LiteSRError as exc:
        return " ".join(str(exc).split())


def measure(clip: Clip, engine: str, precision: str, args: argparse.Namespace, share_s: float,
            work: Path) -> dict[str, Any]:
    row: dict[str, Any] = {"clip": clip.name, "engine": engine, "precision": precision}
    up = _upscaler(clip, engine, precision, args.threads)
    if isinstance(up, str):
        return {**row, "skipped": up}
    first = decode_all(make_source(work / "probe.mp4", clip, 1))[0]
    start = time.perf_counter()
    up.upscale(first)  # warm-up, and the estimate that sizes the clip
    estimate = time.perf_counter() - start
    frames = int(max(3, min(args.frames, share_s / (2 * estimate))))
    src = make_source(work / f"src_{clip.scale}_{frames}.mp4", clip, frames)
    images = decode_all(src)
    start = time.perf_counter()
    for image in images:
        up.upscale(image)
    network = len(images) / (time.perf_counter() - start)
    result = upscale_video(up, src, work / "out.mp4", overwrite=True, settings=EncodeSettings(preset=args.preset))
    return {**row, "frames": frames, "network_fps": round(network, 3), "end_to_end_fps": round(result.fps, 3),
            "ratio": round(result.fps / network, 3), "codec": f"{result.codec} {result.pix_fmt}",
            "provider": up.provider, "tile": up.tile}


def _shared(row: dict[str, Any], stages: dict[str, float]) -> float:
    """fps if decode, network and encode each needed the whole CPU and simply added up (no overlap gain)."""
    return 1 / (1 / row["network_fps"] + 1 / stages["decode_only_fps"] + 1 / stages["encode_only_fps"])


def markdown(doc: dict[str, Any]) -> str:
    m = doc["machine"]
    stages = "; ".join(f"{name}: decode-only {v['decode_only_fps']:.1f} fps, encode-only "
                       f"{v['encode_only_fps']:.1f} fps" for name, v in doc["stages"].items())
    lines = ["# video_bench", "", f"Command: `{doc['command']}`", "",
             f"Machine: {m['cpu']} ({m['logical_cpus']} logical CPUs, flags {' '.join(m['cpu_flags'])}); "
             f"load average {m['load_average_1m']} -> {doc['load_average_1m_after']}", "",
             f"Encoder: libx264 crf 18 preset {doc['preset']}; network threads: {doc['threads'] or 'all'}. "
             "End-to-end = decode + network + encode + mux, open to rename, pipeline fill/drain included.", "",
             f"Each stage run by itself, per clip (no other stage running; other processes may be): "
             f"{stages}. The last column is the fps the three stages would give "
             "if each needed the whole CPU and their times simply added up: where end-to-end is near it, the "
             "cores are the bound (encoding and decoding take CPU time from the network); where network-only "
             "is far below encode-only, the network is.", "",
             "| clip | engine | precision | frames | network-only fps | end-to-end fps | end-to-end / network "
             "| all-stages-share-the-CPU fps |",
             "|---|---|---|---|---|---|---|---|"]
    for r in doc["rows"]:
        if "skipped" in r:
            lines.append(f"| {r['clip']} | {r['engine']} | {r['precision']} | skipped: {r['skipped']} | | | | |")
        else:
            lines.append(f"| {r['clip']} | {r['engine']} | {r['precision']} | {r['frames']} | "
                         f"{r['network_fps']:.2f} | {r['end_to_end_fps']:.2f} | {r['ratio']:.2f} | "
                         f"{_shared(r, doc['stages'][r['clip']]):.2f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget", type=float, default=170.0, help="seconds for the whole run (default 170)")
    ap.add_argument("--frames", type=int, default=48, help="most frames per clip (default 48)")
    ap.add_argument("--preset", default="veryfast", help="libx264 preset of the output (default veryfast)")
    ap.add_argument("--threads", type=int, default=None, help="network threads (default: all cores)")
    ap.add_argument("--out", type=Path, default=RESULTS, help="folder for video.json / video.md")
    args = ap.parse_args(argv)
    doc: dict[str, Any] = {"command": "python -m benchmarks.video_bench " + " ".join(sys.argv[1:] if argv is None
                                                                                      else argv),
                           "machine": machine_info(), "preset": args.preset, "threads": args.threads,
                           "pyav": av.__version__, "ffmpeg": av.ffmpeg_version_info, "rows": [], "stages": {}}
    cells = len(CLIPS) * len(CONFIGS)
    with tempfile.TemporaryDirectory() as tmp:
        for clip in CLIPS:
            doc["stages"][clip.name] = stage_fps(clip, Path(tmp), args.preset)
            print(json.dumps({clip.name: doc["stages"][clip.name]}), flush=True)
            for engine, precision in CONFIGS:
                row = measure(clip, engine, precision, args, args.budget / cells, Path(tmp))
                print(json.dumps(row), flush=True)
                doc["rows"].append(row)
    doc["load_average_1m_after"] = round(__import__("os").getloadavg()[0], 2)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "video.json").write_text(json.dumps(doc, indent=2) + "\n")
    (args.out / "video.md").write_text(markdown(doc))
    print(f"wrote {args.out / 'video.json'} and {args.out / 'video.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
