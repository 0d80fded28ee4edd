"""Cost of keeping metadata and of the exact-size resize, next to the encode they follow.

    python -m benchmarks.workflow_metadata [--sizes 2048x1536 4000x3000] [--repeat 3]

No network runs: for each output size and format it times OpenCV's encode, reading the
metadata blocks from an input file, and writing them into the encoded output (EXIF with
GPS, a 570 KB ICC profile split into 9 JPEG chunks, XMP); and ``resize_to`` down (x3 -> x2.5) and
up (x4 -> x6). Median of ``--repeat`` runs. Writes benchmarks/results/workflow_metadata.{json,md}.
Bounded to about a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import struct
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from litesr_edge._embed import embed
from litesr_edge._metadata import Metadata, read_metadata
from litesr_edge._tiff import Entry, Node, pack_exif
from litesr_edge.io import encode_image
from litesr_edge.resize import resize_to

OUT = Path(__file__).resolve().parents[1] / "benchmarks" / "results"


def _metadata() -> Metadata:
    ifd0 = [Entry(0x010F, 2, 6, b"Canon\x00"), Entry(0x0112, 3, 1, struct.pack("<H", 1))]
    exif = Node([Entry(0x9003, 2, 20, b"2024:05:01 10:00:00\x00"), Entry(0x927C, 7, 4000, bytes(4000))])
    gps = Node([Entry(2, 5, 3, struct.pack("<6I", 52, 1, 30, 1, 25, 2))])
    blob = pack_exif(Node(ifd0, {0x8769: exif, 0x8825: gps}), "<")
    icc = bytes(16) + b"RGB " + bytes(570_000 - 20)
    return Metadata(blob, icc, b"<x:xmpmeta>" + b" " * 8000 + b"</x:xmpmeta>")


def _median(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _rows(width: int, height: int, repeat: int) -> list[dict[str, object]]:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    meta = _metadata()
    rows: list[dict[str, object]] = []
    for ext in (".jpg", ".png", ".webp", ".tiff"):
        encoded = encode_image(Path("x" + ext), image, 90)
        with_meta = embed(encoded, ext, meta, width, height)
        rows.append({
            "size": f"{width}x{height}", "format": ext[1:],
            "encode_s": round(_median(lambda e=ext: encode_image(Path("x" + e), image, 90), repeat), 4),
            "read_metadata_s": round(_median(lambda b=with_meta: read_metadata(b), repeat), 5),
            "embed_s": round(_median(lambda b=encoded, e=ext: embed(b, e, meta, width, height), repeat), 5),
        })
        print(json.dumps(rows[-1]), flush=True)
    small = rng.integers(0, 256, (height // 4, width // 4, 3), dtype=np.uint8)
    for label, source, factor in (("x3->x2.5 (down)", 3, 2.5), ("x4->x6 (up)", 4, 6.0)):
        net = np.ascontiguousarray(np.repeat(np.repeat(small, source, 0), source, 1))
        target = (round(small.shape[0] * factor), round(small.shape[1] * factor))
        rows.append({"size": f"{width // 4}x{height // 4} in", "format": label,
                     "resize_s": round(_median(lambda n=net, t=target: resize_to(n, *t), repeat), 4)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def _markdown(rows: list[dict[str, object]], machine: str) -> str:
    lines = ["# Metadata and resize cost (benchmarks/workflow_metadata.py)", "", f"Machine: {machine}.", "",
             "| size | format / resize | encode s | read metadata s | embed s | resize s |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        cells = [r.get(k, "") for k in ("size", "format", "encode_s", "read_metadata_s", "embed_s", "resize_s")]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.workflow_metadata", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", default=["2048x1536", "4000x3000"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    rows = []
    for size in args.sizes:
        width, height = (int(v) for v in size.split("x"))
        rows += _rows(width, height, args.repeat)
    machine = f"{platform.processor() or platform.machine()}, {platform.system()}"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "workflow_metadata.json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=1) + "\n")
    (args.out / "workflow_metadata.md").write_text(_markdown(rows, machine))


if __name__ == "__main__":
    main()
