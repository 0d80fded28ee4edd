"""A slim, folded copy of a training run's checkpoint: what a later session warm-starts from.

    python -m models.slim runs/long_x4/best.pt models/checkpoints/x4_d19_long.pt

``runs/`` is not kept between sessions, and a run's ``best.pt`` holds the re-parameterised
branches and the optimiser state (about 3 MB). The slim copy holds the plain net those branches
fold into (about 276 KB), the step, time and validation PSNR of that state, the run's arguments
and provenance (so ``python -m export`` stamps the same metadata and follows ``--init-from`` back),
and ``folded_from``. Continue it with ``python -m models.train --init-from SLIM --init-all
[--reparam ecb]``: a warm restart (a fresh LR schedule), not an exact resume.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import torch

from .litesrnet import fold, from_checkpoint

KEPT = ("step", "elapsed_s", "best_val_psnr", "args", "provenance")


def slim(ck: dict[str, Any], source: str) -> dict[str, Any]:
    """The slim checkpoint of a training checkpoint ``ck`` read from ``source``."""
    missing = [k for k in ("config", "model", *KEPT) if k not in ck]
    if missing:
        raise ValueError(f"{source} is not a models.train checkpoint: it lacks {', '.join(missing)}")
    net = fold(from_checkpoint(ck))
    return {
        "config": net.config.to_dict(),
        "model": net.state_dict(),
        **{k: ck[k] for k in KEPT},
        "folded_from": {"run": source, "reparam": ck["config"].get("reparam", "")},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m models.slim", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", type=Path, help="a run's best.pt or last.pt")
    ap.add_argument("output", type=Path, help="where the slim copy goes (e.g. models/checkpoints/x4_d19_long.pt)")
    args = ap.parse_args(argv)
    ck = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    try:
        out = slim(ck, str(args.checkpoint))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.output.parent.mkdir(parents=True, exist_ok=True)
    torch.save(out, args.output)
    print(f"{args.output}: step {out['step']}, val {out['best_val_psnr']:.3f} dB, "
          f"{args.output.stat().st_size // 1024} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
