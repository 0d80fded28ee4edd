"""Regenerate the committed test fixtures (maintainer side: needs onnx and the checkout's export/).

    python tests/make_fixtures.py            # both kinds
    python tests/make_fixtures.py --tiny     # tests/fixtures/tiny/*.onnx
    python tests/make_fixtures.py --golden   # tests/fixtures/golden/ (after a bundled weight file changed)

Tiny models: random-weight LiteSRNet-shaped graphs built with onnx.helper (no torch).
They use the real architecture's ops: head Conv+ReLU, ONE shared Conv+ReLU initializer
applied ``depth`` times, ConvTranspose decoder (+ReLU), tail Conv, plus a cubic Resize
skip of the input (half_pixel, a=-0.75, as torch exports bicubic), with ``litesr.*``
metadata. The variants the runtime tests ask for are committed (``COMMITTED``), so that
the runtime can be tested where only its own dependencies are installed;
tests/maintainer/test_fixtures_current.py rebuilds them and fails if they drifted.

Goldens: each bundled model's uint8 output on a fixed crop of litesr_edge/data/sample.png,
ONNX Runtime on CPU, one thread, with a manifest of the weight files' sha256 that
tests/runtime/test_golden.py checks first (so a changed weight file fails loudly).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TINY_DIR = FIXTURES / "tiny"
GOLDEN_DIR = FIXTURES / "golden"
MANIFEST = GOLDEN_DIR / "manifest.json"
REGENERATE = "python tests/make_fixtures.py --golden"
# (top, left, height, width) in sample.png (150x225, HxW): the left eye, whiskers and fur, 48x48 LR.
GOLDEN_CROP = (36, 62, 48, 48)
# What the golden test lets differ between CPUs (AVX2 vs AVX-512 float rounding; for int8,
# kernels with and without VNNI). Chosen against two independent implementations of the same
# graphs on this AVX2 machine (OpenVINO, and onnx's reference evaluator, which never
# saturates): fp32 differed by at most 1 level (PSNR >= 92 dB), int8 by at most 1 level on
# about 1 % of the x2 values (PSNR 67.6 dB; x3/x4 identical). The int8 floor leaves room for
# quantization-boundary flips compounding through the recurrence, yet fails a rounding
# change (floor instead of round: about 51 dB) or a tile seam (far more than 4 levels).
GOLDEN_TOLERANCE = {"fp32": {"max_abs_diff": 1, "psnr_floor": 55.0}, "int8": {"max_abs_diff": 4, "psnr_floor": 55.0}}


@dataclass(frozen=True)
class TinySpec:
    """One tiny test model; ``form`` is "resize" (as exported), "fast" or "int8" (see conftest);
    ``foreign`` drops every metadata key (a model not made by litesr-edge's exporter)."""

    scale: int = 4
    depth: int = 2
    channels: int = 4
    seed: int = 0
    receptive_field: int | None = None
    metadata: tuple[tuple[str, str], ...] = ()
    form: str = "resize"
    residual: bool = False
    foreign: bool = False

    @property
    def filename(self) -> str:
        name = f"x{self.scale}_d{self.depth}_c{self.channels}_s{self.seed}"
        if self.receptive_field is not None:
            name += f"_rf{self.receptive_field}"
        if self.metadata:  # a short digest: values may hold any character
            name += "_m" + hashlib.sha256(json.dumps(self.metadata).encode()).hexdigest()[:8]
        name += "" if self.form == "resize" else f"_{self.form}"
        return name + ("_res" if self.residual else "") + ("_foreign" if self.foreign else "") + ".onnx"


# Every variant tests/runtime asks tiny_model_factory for (grep tiny_model_factory).
COMMITTED: tuple[TinySpec, ...] = (
    *(TinySpec(scale=s) for s in (2, 3, 4)),
    *(TinySpec(scale=s, form="fast") for s in (2, 3, 4)),
    *(TinySpec(scale=s, form="int8", residual=s > 2) for s in (2, 3, 4)),
    TinySpec(scale=4, form="int8"),
    TinySpec(scale=2, receptive_field=1),
    TinySpec(scale=2, receptive_field=1, form="int8"),
    TinySpec(scale=4, depth=6),
    TinySpec(scale=3, depth=5),
    TinySpec(scale=2, metadata=(("scale", "4"),)),
    TinySpec(scale=2, foreign=True),
)


def _decoder_plan(scale: int, channels: int, width: int) -> list[tuple[int, int, int, int, int, int]]:
    """(in, out, kernel, stride, pad, output_pad) per ConvTranspose; mirrors models/litesrnet.py."""
    if scale == 3:
        return [(channels, width, 3, 3, 0, 0)]
    plan = [(channels, width, 3, 2, 1, 1)]
    if scale == 4:
        plan.append((width, max(2, width // 2), 3, 2, 1, 1))
    return plan


class _Graph:
    """Nodes and seeded random initializers of one tiny graph."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[Any] = []
        self.inits: list[Any] = []

    def init(self, name: str, shape: tuple[int, ...], std: float) -> str:
        from onnx import numpy_helper

        self.inits.append(numpy_helper.from_array((self.rng.standard_normal(shape) * std).astype(np.float32), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        from onnx import helper

        self.nodes.append(helper.make_node(op, inputs, [output], **attrs))
        return output


def _encoder(g: _Graph, c: int, depth: int) -> str:
    # Weights big enough that every layer mixes neighbours visibly (so a too-small
    # tile margin shows), small enough that outputs stay near [0, 1].
    from onnx import numpy_helper

    g.node("Conv", ["lr", g.init("head.w", (c, 3, 3, 3), 0.3), g.init("head.b", (c,), 0.05)], "h", pads=[1, 1, 1, 1])
    g.node("Relu", ["h"], "f0")
    body_w = g.rng.standard_normal((c, c, 3, 3)).astype(np.float32) * np.float32(0.6 / np.sqrt(9 * c))
    body_w[np.arange(c), np.arange(c), 1, 1] += 0.5
    g.inits.append(numpy_helper.from_array(body_w, "body.w"))
    g.init("body.b", (c,), 0.02)
    for i in range(depth):  # the recurrence, unrolled: every node reads the SAME initializer
        g.node("Conv", [f"f{i}", "body.w", "body.b"], f"b{i}", pads=[1, 1, 1, 1])
        g.node("Relu", [f"b{i}"], f"f{i + 1}")
    return f"f{depth}"


def _decoder(g: _Graph, feat: str, scale: int, c: int) -> None:
    from onnx import numpy_helper

    plan = _decoder_plan(scale, c, width=max(2, c))
    for j, (cin, cout, k, s, p, op) in enumerate(plan):
        weights = [g.init(f"up{j}.w", (cin, cout, k, k), 0.4), g.init(f"up{j}.b", (cout,), 0.02)]
        g.node("ConvTranspose", [feat, *weights], f"u{j}", kernel_shape=[k, k], strides=[s, s],
               pads=[p, p, p, p], output_padding=[op, op])
        feat = g.node("Relu", [f"u{j}"], f"d{j}")
    g.inits.append(numpy_helper.from_array(np.array([1, 1, scale, scale], np.float32), "resize.scales"))
    tail = [g.init("tail.w", (3, plan[-1][1], 3, 3), 0.1), g.init("tail.b", (3,), 0.02)]
    g.node("Conv", [feat, *tail], "t", pads=[1, 1, 1, 1])
    g.node("Resize", ["lr", "", "resize.scales"], "bic", mode="cubic", cubic_coeff_a=-0.75,
           coordinate_transformation_mode="half_pixel")
    g.node("Add", ["t", "bic"], "sr")


def build_tiny_model(
    scale: int,
    depth: int = 2,
    channels: int = 4,
    seed: int = 0,
    receptive_field: int | None = None,
    metadata: dict[str, str] | None = None,
) -> Any:
    """A random-weight LiteSRNet graph (onnx.ModelProto), input "lr" (N,3,H,W) -> "sr" (N,3,sH,sW).

    ``receptive_field`` defaults to the true one, depth + 2 (as models/litesrnet.py);
    ``metadata`` overrides or adds ``litesr.*`` keys.
    """
    import pytest

    onnx = pytest.importorskip("onnx", reason="building test models needs the onnx package (dev extra)")
    from onnx import TensorProto, helper

    g = _Graph(seed)
    _decoder(g, _encoder(g, channels, depth), scale, channels)
    graph = helper.make_graph(
        g.nodes, f"tiny_x{scale}_d{depth}",
        [helper.make_tensor_value_info("lr", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("sr", TensorProto.FLOAT, ["N", 3, "sH", "sW"])],
        g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="litesr-tests")
    model.ir_version = 8
    params = sum(int(np.prod(t.dims)) for t in g.inits if t.name != "resize.scales")
    meta = {
        "format_version": "1", "arch": "LiteSRNet", "scale": str(scale), "depth": str(depth),
        "channels": str(channels), "receptive_field": str(depth + 2 if receptive_field is None else receptive_field),
        "params": str(params), "input": "NCHW float32 RGB [0,1]", "output": "NCHW float32 RGB [0,1]",
        "trained": "false", "train_data": "none (tiny random test model)",
    }
    meta.update(metadata or {})
    helper.set_model_props(model, {f"litesr.{k}": v for k, v in meta.items()})
    onnx.checker.check_model(model)
    return model


def build_spec(spec: TinySpec) -> bytes:
    """The serialized model for ``spec``; "fast" and "int8" go through the checkout's export/ package."""
    metadata = dict(spec.metadata)
    if spec.form == "int8":
        metadata["precision"] = "int8"
    proto = build_tiny_model(spec.scale, spec.depth, spec.channels, spec.seed, spec.receptive_field, metadata)
    if spec.form != "resize":
        import pytest

        fast_graph = pytest.importorskip("export.fast_graph", reason="needs the exporter's fast_graph module")
        proto = fast_graph.rewrite_for_int8(proto) if spec.form == "int8" else fast_graph.rewrite_for_speed(proto)
    if spec.form == "int8":
        from export.quantize import graph_weight_scales, quantize_graph

        # Post-training scales: every activation 4/255, weights max|w|/127 per channel.
        points = spec.depth + len(_decoder_plan(spec.scale, spec.channels, spec.channels)) + 1
        proto = quantize_graph(proto, np.full(points, 4 / 255, np.float32),
                               graph_weight_scales(proto, spec.residual), spec.residual)
    if spec.foreign:
        del proto.metadata_props[:]
    return bytes(proto.SerializeToString())


def normalize(spec: TinySpec) -> TinySpec:
    """``residual`` only means something for int8 (it is how the recurrent weight is quantized)."""
    return spec if spec.form == "int8" else replace(spec, residual=False)


def write_tiny() -> list[Path]:
    """Rebuild every committed tiny model, removing files no variant names."""
    TINY_DIR.mkdir(parents=True, exist_ok=True)
    wanted = {spec.filename: spec for spec in COMMITTED}
    for stray in TINY_DIR.glob("*.onnx"):
        if stray.name not in wanted:
            stray.unlink()
    for name, spec in wanted.items():
        (TINY_DIR / name).write_bytes(build_spec(spec))
    return [TINY_DIR / name for name in wanted]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def golden_input() -> np.ndarray:
    """The fixed uint8 RGB crop of the bundled sample image every golden is computed on."""
    from litesr_edge import SAMPLE_IMAGE
    from litesr_edge.io import read_image

    top, left, h, w = GOLDEN_CROP
    return np.ascontiguousarray(read_image(SAMPLE_IMAGE)[top : top + h, left : left + w, :3])


def golden_output(scale: int, depth: int, precision: str) -> tuple[Path, np.ndarray]:
    """(model file, uint8 output) of the bundled model run as the golden test runs it."""
    from litesr_edge import Upscaler

    up = Upscaler(scale=scale, depth=depth, precision=precision, engine="onnxruntime",
                  providers=["cpu"], threads=1)
    return up.model_path, up.upscale(golden_input())


def write_golden() -> dict[str, Any]:
    """Recompute every bundled model's golden PNG and the manifest."""
    import cv2

    from litesr_edge import SAMPLE_IMAGE
    from litesr_edge.registry import list_models

    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    for stale in GOLDEN_DIR.glob("*.png"):
        stale.unlink()
    entries: dict[str, Any] = {}
    for model in list_models():
        info = model.info
        path, out = golden_output(info.scale, info.depth, info.precision)
        if path != model.path:
            raise SystemExit(f"x{info.scale} d{info.depth} {info.precision} resolves to {path}, not {model.path}")
        png = GOLDEN_DIR / f"{model.path.stem}.png"
        cv2.imwrite(str(png), np.ascontiguousarray(out[..., ::-1]), [cv2.IMWRITE_PNG_COMPRESSION, 9])
        entries[model.path.name] = {
            "scale": info.scale, "depth": info.depth, "precision": info.precision,
            "weights_sha256": sha256(model.path), "golden": png.name, "golden_sha256": sha256(png),
            **GOLDEN_TOLERANCE[info.precision],
        }
    doc = {"image": SAMPLE_IMAGE.name, "image_sha256": sha256(SAMPLE_IMAGE), "crop_top_left_height_width":
           list(GOLDEN_CROP), "engine": "onnxruntime", "providers": ["cpu"], "threads": 1, "models": entries}
    MANIFEST.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return doc


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="only the tiny models")
    parser.add_argument("--golden", action="store_true", help="only the golden outputs")
    args = parser.parse_args(argv)
    # Run as a script, tests/ is on sys.path but the checkout (export/, litesr_edge/) is not.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    if args.tiny or not args.golden:
        print(f"wrote {len(write_tiny())} tiny models to {TINY_DIR}")
    if args.golden or not args.tiny:
        print(f"wrote {len(write_golden()['models'])} goldens and {MANIFEST}")


if __name__ == "__main__":
    main()
