"""Random-weight LiteSRNet ONNX graphs built with onnx.helper (no torch).

Same structure as models/litesrnet.py and the exporter's output: head Conv+ReLU,
ONE shared body Conv+ReLU applied ``depth`` times, ConvTranspose decoder, tail
Conv, plus a cubic Resize of the input. Timing does not depend on the weights,
so these stand in for trained models in speed benchmarks; they also give the
MAC counter and the engines a full-size graph to chew on before exports exist.

    python -m benchmarks.synthetic_model --scale 4 --depth 19 --output /tmp/x4_d19.onnx
"""

from __future__ import annotations

import argparse

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

__all__ = ["build_litesrnet", "decoder_plan"]


def decoder_plan(scale: int, channels: int) -> list[tuple[int, int, int, int, int, int]]:
    """(in, out, kernel, stride, padding, output_padding) per stage; mirrors models/litesrnet.py."""
    if scale == 3:
        return [(channels, 48, 3, 3, 0, 0)]
    plan = [(channels, 48, 3, 2, 1, 1)]
    if scale == 4:
        plan.append((48, 16, 3, 2, 1, 1))
    return plan


def _weight(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int) -> np.ndarray:
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)


def build_litesrnet(
    scale: int, depth: int, channels: int = 64, seed: int = 0, identity_body: bool = True
) -> onnx.ModelProto:
    """A LiteSRNet graph with random weights, input "lr" and output "sr" (dynamic N/H/W, opset 17).

    ``identity_body`` starts the shared conv near the identity (as training does), which keeps
    activations bounded over ``depth`` iterations so numeric comparisons stay meaningful.
    """
    rng = np.random.default_rng(seed)
    c = channels
    inits: list[onnx.TensorProto] = []
    nodes: list[onnx.NodeProto] = []

    def add_init(name: str, arr: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(arr, name))
        return name

    body_w = _weight(rng, (c, c, 3, 3), 9 * c) * 0.05
    if identity_body:
        body_w[np.arange(c), np.arange(c), 1, 1] += 1.0
    add_init("head.w", _weight(rng, (c, 3, 3, 3), 27))
    add_init("head.b", np.zeros(c, np.float32))
    add_init("body.w", body_w)
    add_init("body.b", (rng.standard_normal(c) * 1e-3).astype(np.float32))
    nodes.append(helper.make_node("Conv", ["lr", "head.w", "head.b"], ["h0"], pads=[1, 1, 1, 1]))
    nodes.append(helper.make_node("Relu", ["h0"], ["f0"]))
    for i in range(depth):
        nodes.append(helper.make_node("Conv", [f"f{i}", "body.w", "body.b"], [f"b{i}"], pads=[1, 1, 1, 1]))
        nodes.append(helper.make_node("Relu", [f"b{i}"], [f"f{i + 1}"]))
    feat = f"f{depth}"
    for j, (cin, cout, k, s, p, op) in enumerate(decoder_plan(scale, c)):
        add_init(f"up{j}.w", _weight(rng, (cin, cout, k, k), cin * k * k // (s * s)))
        add_init(f"up{j}.b", np.zeros(cout, np.float32))
        nodes.append(
            helper.make_node(
                "ConvTranspose", [feat, f"up{j}.w", f"up{j}.b"], [f"u{j}"],
                kernel_shape=[k, k], strides=[s, s], pads=[p, p, p, p], output_padding=[op, op],
            )
        )
        nodes.append(helper.make_node("Relu", [f"u{j}"], [f"d{j}"]))
        feat = f"d{j}"
    last = decoder_plan(scale, c)[-1][1]
    add_init("tail.w", (rng.standard_normal((3, last, 3, 3)) * 1e-2).astype(np.float32))
    add_init("tail.b", np.zeros(3, np.float32))
    add_init("resize.scales", np.array([1, 1, scale, scale], np.float32))
    nodes.append(helper.make_node("Conv", [feat, "tail.w", "tail.b"], ["t"], pads=[1, 1, 1, 1]))
    nodes.append(
        helper.make_node(
            "Resize", ["lr", "", "resize.scales"], ["bic"], mode="cubic", cubic_coeff_a=-0.75,
            coordinate_transformation_mode="half_pixel",
        )
    )
    nodes.append(helper.make_node("Add", ["t", "bic"], ["sr"]))
    graph = helper.make_graph(
        nodes, f"litesrnet_x{scale}_d{depth}",
        [helper.make_tensor_value_info("lr", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("sr", TensorProto.FLOAT, ["N", 3, "sH", "sW"])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="synthetic")
    model.ir_version = 8
    params = sum(int(np.prod(t.dims)) for t in inits if t.name != "resize.scales")
    meta = {
        "format_version": "1", "arch": "LiteSRNet", "scale": str(scale), "depth": str(depth),
        "channels": str(c), "receptive_field": str(depth + 2), "params": str(params),
        "input": "NCHW float32 RGB [0,1]", "output": "NCHW float32 RGB [0,1]", "trained": "false",
    }
    helper.set_model_props(model, {f"litesr.{k}": v for k, v in meta.items()})
    onnx.checker.check_model(model)
    return model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=int, default=4)
    ap.add_argument("--depth", type=int, default=19)
    ap.add_argument("--channels", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--output", required=True)
    args = ap.parse_args()
    onnx.save(build_litesrnet(args.scale, args.depth, args.channels, args.seed), args.output)
    print(args.output)


if __name__ == "__main__":
    main()
