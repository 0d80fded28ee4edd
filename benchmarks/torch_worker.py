"""PyTorch eager LiteSRNet on the weights of an ONNX model, as a `litesr-edge bench` worker.

Maintainer side (needs torch and onnx). Speaks the protocol of litesr_edge/_bench_worker.py:
prints a JSON "ready" line, then one {"seconds": t} line per "run" line on stdin.

    python -m benchmarks.torch_worker --model litesr_edge/models/litesrnet_x4_d19.onnx \\
        --width 320 --height 180 --threads 2

Best eager settings (measured, issue 7): channels_last memory format, torch.no_grad,
eval mode, fp32. The weights are read from the ONNX initializers (either graph form:
as exported, or after export/fast_graph.py's rewrite, whose sub-pixel weights are mapped
back), and the output is checked against ONNX Runtime before any timing.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np


def _rss_kb(key: str) -> int:
    match = re.search(rf"^{key}:\s*(\d+) kB", Path("/proc/self/status").read_text(), re.M)
    return int(match.group(1)) if match else 0


def _weights(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """LiteSRNet state_dict arrays and litesr metadata from an ONNX file (either graph form)."""
    import onnx
    from onnx import helper, numpy_helper

    from export.fast_graph import recover_conv_after_shuffle, recover_convtranspose_weights
    from models.litesrnet import decoder_plan

    model = onnx.load(path)
    meta = {p.key[7:]: p.value for p in model.metadata_props if p.key.startswith("litesr.")}
    scale, channels = int(meta["scale"]), int(meta["channels"])
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    convs = [n for n in model.graph.node if n.op_type in ("Conv", "ConvTranspose")]
    uses: dict[str, int] = {}
    for n in convs:
        uses[n.input[1]] = uses.get(n.input[1], 0) + 1
    body = max(uses, key=lambda k: uses[k])
    group = {n.output[0]: {a.name: helper.get_attribute_value(a) for a in n.attribute}.get("group", 1) for n in convs}
    plain = [n for n in convs if n.input[1] != body and group[n.output[0]] == 1]
    head, decoder, tail = plain[0], plain[1:-1], plain[-1]
    tail_w, tail_b = inits[tail.input[1]], inits[tail.input[2]]
    after_tail = [n for n in model.graph.node if tail.output[0] in n.input]
    if after_tail and after_tail[0].op_type == "DepthToSpace":  # fold_shuffle=True: tail before the shuffle
        block = {a.name: helper.get_attribute_value(a) for a in after_tail[0].attribute}["blocksize"]
        tail_w, tail_b = recover_conv_after_shuffle(tail_w, tail_b, block, 3, 1)
    sd = {"head.weight": inits[head.input[1]], "head.bias": inits[head.input[2]],
          "body.weight": inits[body], "body.bias": inits[next(n.input[2] for n in convs if n.input[1] == body)],
          "tail.weight": tail_w, "tail.bias": tail_b}
    for j, (node, (_cin, _cout, k, s, p, _op)) in enumerate(zip(decoder, decoder_plan(scale, channels), strict=True)):
        w, b = inits[node.input[1]], inits[node.input[2]]
        if node.op_type == "Conv":
            w, b = recover_convtranspose_weights(w, b, s, k, p)
        sd[f"upsample.{2 * j}.weight"], sd[f"upsample.{2 * j}.bias"] = w, b
    return sd, meta


def _build(path: Path, threads: int):  # type: ignore[no-untyped-def]
    import torch

    from models.litesrnet import LiteSRConfig, LiteSRNet

    torch.set_num_threads(threads)
    sd, meta = _weights(path)
    net = LiteSRNet(LiteSRConfig(int(meta["scale"]), int(meta["depth"]), int(meta["channels"]))).eval()
    net.load_state_dict({k: torch.from_numpy(np.array(v, dtype=np.float32, copy=True)) for k, v in sd.items()})
    return net.to(memory_format=torch.channels_last), meta


def _check_against_ort(net, path: Path) -> float:  # type: ignore[no-untyped-def]
    import onnxruntime as ort
    import torch

    x = np.random.default_rng(0).random((1, 3, 23, 31), dtype=np.float32)
    ref = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"lr": x})[0]
    with torch.no_grad():
        got = net(torch.from_numpy(x).contiguous(memory_format=torch.channels_last)).numpy()
    return float(np.abs(got - ref).max())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--width", type=int, required=True, help="LR width")
    ap.add_argument("--height", type=int, required=True, help="LR height")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    try:
        import torch

        net, meta = _build(args.model, args.threads)
        diff = _check_against_ort(net, args.model)
    except (ImportError, KeyError, ValueError, RuntimeError) as exc:
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
        return 1
    if diff > 1e-3:
        print(json.dumps({"error": f"torch model differs from the ONNX graph by {diff:.2e}"}), flush=True)
        return 1
    rng = np.random.default_rng(1)
    x = torch.from_numpy(rng.random((1, 3, args.height, args.width), dtype=np.float32))
    x = x.contiguous(memory_format=torch.channels_last)

    def run() -> tuple[float, float]:
        start, cpu = time.perf_counter(), time.process_time()
        with torch.no_grad():
            net(x).clamp_(0, 1)
        return time.perf_counter() - start, time.process_time() - cpu

    before = _rss_kb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")
    run()
    added = max(0, _rss_kb("VmHWM") - before) / 1024
    print(json.dumps({
        "ready": True, "name": f"PyTorch eager x{meta['scale']} d{meta['depth']}",
        "provider": f"torch {torch.__version__} CPU fp32 channels_last no_grad", "params": sum(
            p.numel() for p in net.parameters()), "peak_rss_added_mb": added,
        "note": f"same weights as the ONNX file (max |torch - ORT| = {diff:.1e})",
    }), flush=True)
    for line in sys.stdin:
        if line.strip() == "quit":
            break
        wall, cpu = run()
        print(json.dumps({"seconds": wall, "cpu_seconds": cpu}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
