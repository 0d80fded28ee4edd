"""Export LiteSRNet to ONNX with the recurrence unrolled.

The shared recurrent conv becomes ``depth`` Conv nodes reading ONE weight
initializer, so the file holds each weight once.
The graph is simplified with onnxsim; then the transposed convs and the cubic
Resize of the skip are rewritten as sub-pixel Conv + DepthToSpace (exact, and
ONNX Runtime's kernels for the originals are slow and, for the x3 Resize, not
translation-exact in float32 — see ``fast_graph``), and the tail Conv is folded before the
last pixel shuffle (``--no-fold`` skips it); int8 checkpoints keep the ConvTranspose
decoder (``fast_graph.rewrite_for_int8``). It is checked, verified against PyTorch with
ONNX Runtime on several input sizes, stamped with ``litesr.*`` metadata, and
written deterministically (same checkpoint -> same bytes).
"""

from __future__ import annotations

import argparse
import io
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import onnxsim
import torch

from litesr_edge.registry.info import ModelInfo
from models.litesrnet import LiteSRConfig, LiteSRNet, count_params, from_checkpoint, receptive_field
from models.qat import QuantLiteSRNet, weight_scales

from .fast_graph import rewrite_for_int8, rewrite_for_speed
from .quantize import identity_kernel, quantize_graph

OPSET = 17
VERIFY_SIZES = ((17, 23), (64, 48), (1, 1))
TOLERANCE = 1e-4
# int8: ONNX Runtime and torch's fake quantization round a value lying within float error of a
# step boundary differently now and then (from the order of the sums), and the recurrence carries
# each such one-level flip on: a model whose state grows along the steps (the ecb-trained ones)
# amplifies it to a few output levels at some pixels and to under one level on average on noise,
# as much as a scale a few percent off does. So the whole output is held loosely and each step
# is checked alone, from the graph's own state (verify_int8_steps).
INT8_TOLERANCE = 0.05
INT8_MEAN_TOLERANCE = 0.005
# One int8 step from the same state: only the values next to a rounding flip may move.
STEP_TOLERANCE = 1e-4
STEP_MOVED_FRACTION = 0.01


class ExportError(RuntimeError):
    """The export failed a check; the message says which."""


def _budget(args: dict[str, str]) -> str:
    """Steps the run was given (--stop-at, else --steps): the budget that a best-so-far checkpoint belongs to."""
    stop_at, steps = str(args.get("stop_at", "0")), str(args.get("steps", "unknown"))
    return stop_at if stop_at not in ("0", "None") else steps


def load_checkpoint(path: Path) -> tuple[LiteSRNet | QuantLiteSRNet, dict[str, str]]:
    """Model (eval mode, fp32) and provenance metadata from a training checkpoint.

    A quantization-aware checkpoint (``models.qat``) gives a QuantLiteSRNet, which
    ``export`` writes as an int8 QDQ model.
    """
    ck = torch.load(path, map_location="cpu", weights_only=False)
    model = from_checkpoint(ck)
    prov = ck.get("provenance", {})
    if "act_scales" in ck:
        src = ck.get("qat_from", {})
        cal = prov.get("calibration", {})
        what = (f"{cal.get('patches', '?')} training patches (chosen on validation)" if cal.get("set") != "rich"
                else f"{cal.get('images', '?')} images: whole training photos, their most edge-dense windows and "
                "synthetic hard cases (models/calibration.py)")
        how = ("learned by quantization-aware fine-tuning" if ck.get("step", 0)
               else f"calibrated at the {cal.get('percentile', '?')}th percentile of {what}, no fine-tuning")
        qat_extra = {
            "precision": "int8",
            "quantization": f"QDQ int8: per-channel int8 weights, per-tensor uint8 activations ({how}); "
            "head conv, bicubic skip and output float",
            "qat_from": f"{src.get('checkpoint', 'unknown')} (step {src.get('step', '?')})",
        }
        residual, float_id = bool(ck.get("residual_body", False)), int(ck.get("float_identity", 0))
        if residual:
            added = f"the last {float_id} steps add their float input back, the others their dequantized input"
            qat_extra["quantization"] += f"; recurrent weight stored as W - identity, {added}"
        model_q = QuantLiteSRNet(model, ck["act_scales"], residual, float_id).eval()
        return model_q, {**_provenance(ck, prov), **qat_extra, **_lineage(src.get("checkpoint"), 0, 0.0)}
    lineage = _lineage(ck.get("args", {}).get("init_from"), int(ck.get("step", 0)), float(ck.get("elapsed_s", 0.0)))
    return model.eval(), {**_provenance(ck, prov), **lineage}


def _lineage(first: str | None, steps: int, wall_s: float) -> dict[str, str]:
    """The warm-start chain behind a checkpoint, so the metadata counts every run the weights went through.

    ``train_steps`` is the last run's; each warm start (``--init-from``) is followed back while
    its file is at hand. A run's slim checkpoint keeps the step of its best state, so the totals
    count the steps and time up to each run's best.
    """
    links: list[str] = []
    src = first
    while src and len(links) < 16:
        if not Path(src).is_file():
            links.append(f"{src} (file not at hand)")
            break
        prev = torch.load(src, map_location="cpu", weights_only=False)
        steps, wall_s = steps + int(prev.get("step", 0)), wall_s + float(prev.get("elapsed_s", 0.0))
        links.append(f"{src} ({int(prev.get('step', 0))} steps)")
        src = prev.get("args", {}).get("init_from")
    if not links:
        return {}
    return {"train_warm_start": " <- ".join(links), "train_steps_total": str(steps),
            "train_wall_s_total": f"{wall_s:.0f}"}


def _provenance(ck: dict[str, Any], prov: dict[str, Any]) -> dict[str, str]:
    return {
        "train_data": str(prov.get("data", "unknown")),
        "train_steps": str(ck.get("step", "unknown")),
        "train_budget": _budget(ck.get("args", {})),
        "train_wall_s": f"{float(ck.get('elapsed_s', 0.0)):.0f}",
        "train_hardware": str(prov.get("hardware", "unknown")),
        "train_loss": str(prov.get("loss", "MSE")),
        "val_psnr": f"{float(ck.get('best_val_psnr', float('nan'))):.3f}",
        "val_protocol": "Y channel, border=scale, held-out training-folder images",
    }


def random_model(scale: int, depth: int, seed: int) -> tuple[LiteSRNet, dict[str, str]]:
    """An untrained model (IRNN init) for pipelines that run before training exists."""
    torch.manual_seed(seed)
    model = LiteSRNet(LiteSRConfig(scale=scale, depth=depth))
    with torch.no_grad():
        # Untrained tail weights and biases are ~0, which would export plain
        # bicubic (and let identical zero biases be merged); perturb them so
        # tests exercise every path.
        _plain(model.tail).weight.normal_(0, 0.02)
        for m in (model.head, model.body, model.tail):
            bias = _plain(m).bias
            if bias is not None:
                bias.normal_(0, 0.01)
    return model.eval(), {
        "train_data": "none (UNTRAINED random weights, for pipeline tests only)",
        "seed": str(seed),
    }


def to_onnx(model: LiteSRNet) -> onnx.ModelProto:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (torch.rand(1, 3, 16, 16),),
            buf,  # type: ignore[arg-type]  # a file-like object is accepted (documented), the stub says path
            dynamo=False,
            opset_version=OPSET,
            input_names=["lr"],
            output_names=["sr"],
            dynamic_axes={"lr": {0: "N", 2: "H", 3: "W"}, "sr": {0: "N", 2: "sH", 3: "sW"}},
        )
    proto: onnx.ModelProto = onnx.load_from_string(buf.getvalue())
    return proto


def simplify(proto: onnx.ModelProto) -> onnx.ModelProto:
    simple, ok = onnxsim.simplify(proto)
    if not ok:
        raise ExportError("onnxsim could not validate the simplified graph")
    onnx.checker.check_model(simple, full_check=True)
    result: onnx.ModelProto = simple
    return result


def stamp(proto: onnx.ModelProto, model: LiteSRNet, extra: dict[str, str]) -> ModelInfo:
    cfg = model.config
    info = ModelInfo(
        scale=cfg.scale,
        depth=cfg.depth,
        channels=cfg.channels,
        receptive_field=receptive_field(cfg.depth),
        params=count_params(model),
        trained=not extra.get("train_data", "").startswith("none"),
        precision=extra.get("precision", "fp32"),
        extra={"skip": "bicubic" if cfg.global_skip else "none", "opset": str(OPSET),
               **{k: v for k, v in extra.items() if k != "precision"}},
    )
    del proto.metadata_props[:]
    for key, value in sorted(info.to_metadata().items()):
        proto.metadata_props.add(key=key, value=value)
    proto.producer_name = "litesr-edge export"
    proto.producer_version = "1"
    proto.doc_string = f"LiteSRNet x{cfg.scale} depth {cfg.depth} (recurrence unrolled)"
    return info


def verify(data: bytes, model: LiteSRNet | QuantLiteSRNet) -> float:
    """Largest |ORT - torch| over VERIFY_SIZES (batch 2); raises past TOLERANCE (int8: INT8_TOLERANCE, and
    INT8_MEAN_TOLERANCE on the mean)."""
    tolerance = INT8_TOLERANCE if isinstance(model, QuantLiteSRNet) else TOLERANCE
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    worst = mean = 0.0
    for h, w in VERIFY_SIZES:
        x = rng.random((2, 3, h, w), dtype=np.float32)
        with torch.no_grad():
            ref = model(torch.from_numpy(x)).numpy()
        got = sess.run(["sr"], {"lr": x})[0]
        if got.shape != ref.shape:
            raise ExportError(f"ORT output {got.shape} != torch {ref.shape} for input {h}x{w}")
        worst, mean = max(worst, float(np.abs(got - ref).max())), max(mean, float(np.abs(got - ref).mean()))
    if worst > tolerance:
        raise ExportError(f"ORT differs from torch by {worst:.2e} > {tolerance:.0e}")
    if isinstance(model, QuantLiteSRNet):
        if mean > INT8_MEAN_TOLERANCE:
            raise ExportError(f"ORT differs from torch by {mean:.2e} on average > {INT8_MEAN_TOLERANCE:.0e}")
        verify_int8_steps(data, model, rng.random((1, 3, 32, 32), dtype=np.float32))
    return worst


def verify_int8_steps(data: bytes, model: QuantLiteSRNet, x: np.ndarray) -> None:
    """Each recurrent step and the decoder of the int8 graph against torch, from the graph's own state.

    Over the whole network a one-level rounding flip grows along the recurrence, so the whole
    output cannot tell a wrong scale from such flips; one step from the same input can: a flip
    moves a few values, a scale 2% off re-rounds a fifth of them or more. The torch model rounds
    each bias to int32 as the file stores it, so the two agree exactly but for such flips.
    """
    proto = onnx.load_from_string(data)
    states = [n.output[0] for n in proto.graph.node if n.op_type == "Relu"][: model.config.depth + 1]
    del proto.graph.output[:]
    for name in ["sr", *states]:
        proto.graph.output.add().name = name
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    sr, *got = (torch.from_numpy(a) for a in sess.run(None, {"lr": x}))
    with torch.no_grad():
        pairs = [(f"step {i + 1}", got[i + 1], model.body_step(i, got[i])) for i in range(model.config.depth)]
        pairs.append(("the decoder", sr, model.decode(got[-1], torch.from_numpy(x))))
    for where, ort_out, ref in pairs:
        moved = float(((ort_out - ref).abs() > STEP_TOLERANCE).float().mean())
        if moved > STEP_MOVED_FRACTION:
            raise ExportError(f"int8 graph differs from torch at {where}: {moved:.2%} of its values "
                              f"by more than {STEP_TOLERANCE:.0e} (a rounding flip moves a few)")


def _plain(module: torch.nn.Module) -> torch.nn.Conv2d:
    """A plain conv of an exported (folded) network; re-parameterised blocks are folded first."""
    if not isinstance(module, torch.nn.Conv2d):
        raise ExportError(f"expected a plain Conv2d, got {type(module).__name__}: fold the network first")
    return module


def torch_weight_scales(net: LiteSRNet, residual_body: bool) -> list[np.ndarray]:
    """Per-output-channel int8 weight scales of the quantized layers, in graph order (body, stages, tail)."""
    body = _plain(net.body).weight.detach()
    if residual_body:
        body = body - torch.from_numpy(identity_kernel(tuple(body.shape)))
    layers: list[tuple[torch.Tensor, int]] = [(body, 0)]
    layers += [(m.weight, 1) for m in net.upsample if isinstance(m, torch.nn.ConvTranspose2d)]
    layers.append((_plain(net.tail).weight, 0))
    return [weight_scales(w.detach().float(), axis).numpy().astype(np.float32) for w, axis in layers]


def check_shared_weight(proto: onnx.ModelProto, depth: int) -> None:
    """The recurrent conv must read ONE initializer from ``depth`` Conv nodes."""
    inits = {i.name for i in proto.graph.initializer}
    uses: dict[str, int] = {}
    for node in proto.graph.node:
        if node.op_type == "Conv" and len(node.input) > 1 and node.input[1] in inits:
            uses[node.input[1]] = uses.get(node.input[1], 0) + 1
    if max(uses.values(), default=0) != depth:
        raise ExportError(f"expected one weight shared by {depth} Conv nodes, found uses {uses}")


def export(
    model: LiteSRNet | QuantLiteSRNet, extra: dict[str, str], output: Path, subpixel: bool = True, fold: bool = True
) -> dict[str, Any]:
    """Export, simplify, (rewrite,) (quantize,) check, verify and write; returns a summary.

    ``fold`` (with ``subpixel``) also moves the tail Conv before the last pixel shuffle:
    ONNX Runtime 1.2x faster at x4 (benchmarks/results/ort_tuning.md), which is what puts the
    default path ahead of PyTorch eager, for a file 1.5-2.6x of 4 bytes per parameter.
    A quantized model (``QuantLiteSRNet``) gets ``fast_graph.rewrite_for_int8`` instead
    (only the skip rewritten; ``fold`` does not apply): the form OpenVINO's int8 kernels run fastest.
    """
    quantized = isinstance(model, QuantLiteSRNet)
    net = model.net if isinstance(model, QuantLiteSRNet) else model
    proto = simplify(to_onnx(net))
    if subpixel:
        proto = rewrite_for_int8(proto) if quantized else rewrite_for_speed(proto, fold_shuffle=fold)
        onnx.checker.check_model(proto, full_check=True)
    check_shared_weight(proto, model.config.depth)
    if isinstance(model, QuantLiteSRNet):
        scales = model.act_scales().detach().numpy().astype(np.float32)
        proto = quantize_graph(proto, scales, torch_weight_scales(net, model.residual_body), model.residual_body,
                               model.float_identity)
        onnx.checker.check_model(proto, full_check=True)
    graph = _graph_form(subpixel, fold, quantized)
    info = stamp(proto, net, {"graph": graph, **extra})
    data = proto.SerializeToString(deterministic=True)
    worst = verify(data, model)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(output)
    return {
        "output": str(output),
        "bytes": len(data),
        "params": info.params,
        "max_abs_diff": worst,
        "nodes": len(proto.graph.node),
        "initializers": len(proto.graph.initializer),
    }


def _graph_form(subpixel: bool, fold: bool, quantized: bool) -> str:
    """The ``litesr.graph`` metadata: which of ``fast_graph``'s rewrites the file holds."""
    if not subpixel:
        return "plain"
    if quantized:
        return "subpixel-skip"
    return "subpixel+fold" if fold else "subpixel"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m export", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", type=Path, help="training checkpoint (best.pt / last.pt)")
    src.add_argument("--random", action="store_true", help="export an UNTRAINED model (pipeline tests)")
    ap.add_argument("--scale", type=int, choices=[2, 3, 4], help="with --random")
    ap.add_argument("--depth", type=int, default=19, help="with --random")
    ap.add_argument("--seed", type=int, default=0, help="with --random")
    ap.add_argument("--output", type=Path, required=True)
    ap.add_argument(
        "--plain", action="store_true", help="keep ConvTranspose/Resize (no sub-pixel rewrite; slower in ONNX Runtime)"
    )
    ap.add_argument(
        "--no-fold", action="store_true", help="keep the tail Conv after the last pixel shuffle (smaller file, slower)"
    )
    args = ap.parse_args(argv)
    if args.random and args.scale is None:
        ap.error("--random needs --scale")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.checkpoint is not None:
        if not args.checkpoint.is_file():
            print(f"error: checkpoint {args.checkpoint} does not exist", file=sys.stderr)
            return 2
        model, extra = load_checkpoint(args.checkpoint)
    else:
        model, extra = random_model(args.scale, args.depth, args.seed)
    try:
        summary = export(model, extra, args.output, subpixel=not args.plain, fold=not args.no_fold)
    except ExportError as exc:
        print(f"error: export failed verification: {exc}", file=sys.stderr)
        return 1
    print(" ".join(f"{k}={v}" for k, v in summary.items()))
    return 0
