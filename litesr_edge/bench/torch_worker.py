"""PyTorch eager LiteSRNet on the weights of an ONNX file: the process behind bench's PyTorch row.

    python -m litesr_edge.bench.torch_worker --model FILE --width W --height H --threads N

:func:`litesr_edge.bench.candidates.torch_candidate` starts it with the interpreter that
runs ``bench``, so the runtime itself never imports torch; only this process does. It
speaks the line protocol of :mod:`litesr_edge.bench.worker`: one JSON "ready" line, then
one ``{"seconds": ..., "cpu_seconds": ...}`` line per "run" line on stdin, until "quit".

The network is LiteSRNet's forward written with ``torch.nn.functional`` on the weights
:mod:`litesr_edge.bench.torch_weights` reads from the file (any graph form the exporter
writes), in the eager settings that run it fastest on CPU: eval, ``torch.no_grad``, fp32,
channels_last. Its output is compared with ONNX Runtime on the same file before any timing.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from litesr_edge.bench.machine import peak_rss_added_mb
from litesr_edge.bench.torch_weights import ConvWeights, LiteSRWeights, read_weights
from litesr_edge.engines import create_engine
from litesr_edge.errors import LiteSRError

__all__ = ["MAX_DIFF", "TORCH_ENV", "build_network", "main"]

# OpenMP threads that spin after each PyTorch run would steal the CPU from the next row
# timed in the parent; passive waiting costs PyTorch nothing measurable on these convolutions.
TORCH_ENV = {"OMP_WAIT_POLICY": "PASSIVE"}
# Largest |torch - ONNX Runtime| on a random input for the row to count as the same network.
MAX_DIFF = 1e-3

Network = Callable[[Any], Any]


def _say(message: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def build_network(weights: LiteSRWeights, threads: int) -> Network:
    """LiteSRNet's forward on ``weights``: NCHW float32 tensor in, NCHW float32 tensor out."""
    torch = importlib.import_module("torch")
    functional = importlib.import_module("torch.nn.functional")
    torch.set_num_threads(threads)

    def tensors(conv: ConvWeights) -> tuple[Any, Any]:
        weight = torch.from_numpy(np.array(conv.weight, np.float32, copy=True))
        # As nn.Module.to(memory_format=torch.channels_last) does for 4-D parameters.
        return weight.contiguous(memory_format=torch.channels_last), torch.from_numpy(conv.bias.copy())

    head, body, tail = tensors(weights.head), tensors(weights.body), tensors(weights.tail)
    stages = [(conv, *tensors(conv)) for conv in weights.upsample]

    def forward(x: Any) -> Any:
        feat = functional.relu(functional.conv2d(x, *head, padding=1))
        for _ in range(weights.depth):
            feat = functional.relu(functional.conv2d(feat, *body, padding=1))
        for conv, w, b in stages:
            feat = functional.conv_transpose2d(feat, w, b, stride=conv.stride, padding=conv.padding,
                                               output_padding=conv.output_padding)
            feat = functional.relu(feat, inplace=True)
        out = functional.conv2d(feat, *tail, padding=1)
        skip = functional.interpolate(x, scale_factor=weights.scale, mode="bicubic", align_corners=False)
        return out + skip

    return forward


def _input(height: int, width: int, seed: int) -> Any:
    torch = importlib.import_module("torch")
    x = np.random.default_rng(seed).random((1, 3, height, width), dtype=np.float32)
    return torch.from_numpy(x).contiguous(memory_format=torch.channels_last)


def _diff_to_onnxruntime(net: Network, path: Path) -> float:
    """Largest |torch - ONNX Runtime| on a small random input."""
    torch = importlib.import_module("torch")
    x = _input(23, 31, seed=0)
    ref = create_engine("onnxruntime", path, ["cpu"], 1, "fp32").run(np.ascontiguousarray(x.numpy()))
    with torch.no_grad():
        got = net(x).numpy()
    return float(np.abs(got - ref).max())


def _timer(net: Network, x: Any) -> Callable[[], tuple[float, float]]:
    torch = importlib.import_module("torch")

    def run() -> tuple[float, float]:
        start, cpu = time.perf_counter(), time.process_time()
        with torch.no_grad():
            net(x).clamp_(0, 1)
        return time.perf_counter() - start, time.process_time() - cpu

    return run


def _ready(
    path: Path, threads: int, width: int, height: int
) -> tuple[dict[str, object], Callable[[], tuple[float, float]]]:
    """The "ready" message (after the first, memory-measuring run) and the timed run."""
    weights = read_weights(path)
    net = build_network(weights, threads)
    diff = _diff_to_onnxruntime(net, path)
    if not diff <= MAX_DIFF:
        raise ValueError(f"the PyTorch network differs from the ONNX graph by {diff:.2e}")
    run = _timer(net, _input(height, width, seed=1))
    added = peak_rss_added_mb(run)
    torch = importlib.import_module("torch")
    return {
        "ready": True, "name": f"PyTorch eager x{weights.scale} d{weights.depth}",
        "provider": f"torch {torch.__version__} CPU fp32 channels_last no_grad", "params": weights.params,
        "peak_rss_added_mb": added, "note": f"same weights as the ONNX file (max |torch - ORT| = {diff:.1e})",
    }, run


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m litesr_edge.bench.torch_worker",
                                     description="PyTorch eager worker of litesr-edge bench (line protocol).")
    parser.add_argument("--model", type=Path, required=True, help="LiteSRNet .onnx whose weights to run")
    parser.add_argument("--width", type=int, required=True, help="LR width")
    parser.add_argument("--height", type=int, required=True, help="LR height")
    parser.add_argument("--threads", type=int, default=2)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the worker protocol on stdin/stdout; 1 after an {"error": ...} line."""
    args = _arguments(argv)
    try:
        hello, run = _ready(args.model, args.threads, args.width, args.height)
    except ImportError as exc:
        _say({"error": f"PyTorch is not importable ({exc}); pip install torch"})
        return 1
    except (LiteSRError, ValueError, RuntimeError) as exc:
        _say({"error": f"{type(exc).__name__}: {' '.join(str(exc).split())}"})
        return 1
    _say(hello)
    for line in sys.stdin:
        if line.strip() == "quit":
            break
        wall, cpu = run()
        _say({"seconds": wall, "cpu_seconds": cpu})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
