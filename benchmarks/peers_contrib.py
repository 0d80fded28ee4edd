"""Run the OpenCV zoo peers through opencv-contrib's real ``cv2.dnn_superres``.

Run with a Python that has opencv-contrib-python-headless (it cannot share an
environment with opencv-python-headless), e.g.::

    python3 -m venv ../venv-peers && ../venv-peers/bin/pip install numpy opencv-contrib-python-headless
    ../venv-peers/bin/python benchmarks/peers_contrib.py --out /tmp/contrib

It writes ``OUT/<model>/<set>/x<s>/<image>.png`` (the SR, as contrib returns it)
for every LR file of the benchmark sets. ``benchmarks/tables.py`` compares these
with ``litesr_edge.quality.peers`` (plain ``cv2.dnn``) image by image. Standalone on
purpose: it imports nothing from litesr_edge.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("FSRCNN", "FSRCNN-small", "ESPCN")
SETS = ("Set5", "Set14", "BSD100")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--peers", type=Path, default=ROOT.parent / "shared/peers/opencv-dnn-superres")
    ap.add_argument("--datasets", type=Path, default=ROOT.parent / "shared/datasets/test")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--sets", nargs="+", default=list(SETS))
    args = ap.parse_args()
    for model in MODELS:
        for scale in (2, 3, 4):
            sr = cv2.dnn_superres.DnnSuperResImpl_create()
            sr.readModel(str(args.peers / f"{model}_x{scale}.pb"))
            sr.setModel(model.split("-")[0].lower(), scale)
            for name in args.sets:
                out = args.out / model / name / f"x{scale}"
                out.mkdir(parents=True, exist_ok=True)
                for lr_path in sorted((args.datasets / name / f"image_SRF_{scale}").glob("*_LR.png")):
                    # Colour input, as users feed it (grey files are repeated to 3 channels).
                    lr = cv2.imread(str(lr_path), cv2.IMREAD_COLOR)
                    stem = lr_path.name[: -len(f"_SRF_{scale}_LR.png")]
                    cv2.imwrite(str(out / f"{stem}.png"), sr.upsample(lr))
            print(f"{model} x{scale} done")


if __name__ == "__main__":
    main()
