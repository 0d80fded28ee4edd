"""Exporter: unrolled recurrence with one shared weight, onnxsim, metadata, ORT == torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="needs the maintainer extra: pip install '.[maintainer]'")
onnx = pytest.importorskip("onnx", reason="needs the maintainer extra: pip install '.[maintainer]'")
pytest.importorskip("onnxsim", reason="needs the maintainer extra: pip install '.[maintainer]'")

import onnxruntime as ort  # noqa: E402

from export import onnx_export  # noqa: E402
from litesr_edge.registry.info import ModelInfo  # noqa: E402
from models.litesrnet import LiteSRConfig, LiteSRNet, count_params  # noqa: E402

pytestmark = pytest.mark.maintainer
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[int, tuple[Path, LiteSRNet]]:
    out = {}
    for scale in (2, 3, 4):
        model, extra = onnx_export.random_model(scale, 19, seed=scale)
        path = tmp_path_factory.mktemp("onnx") / f"x{scale}.onnx"
        onnx_export.export(model, extra, path)
        out[scale] = (path, model)
    return out


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_recurrence_unrolled_with_one_shared_initializer(exported, scale: int) -> None:
    proto = onnx.load(str(exported[scale][0]))
    inits = {i.name: i for i in proto.graph.initializer}
    convs = [n for n in proto.graph.node if n.op_type == "Conv"]
    body = [n for n in convs if list(inits[n.input[1]].dims) == [64, 64, 3, 3]]
    assert len(body) == 19
    assert len({n.input[1] for n in body}) == 1
    assert sum(1 for i in proto.graph.initializer if list(i.dims) == [64, 64, 3, 3]) == 1
    assert proto.opset_import[0].version >= 17
    onnx.checker.check_model(proto, full_check=True)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_file_size_is_about_four_bytes_per_param(exported, scale: int, tmp_path: Path) -> None:
    path, model = exported[scale]
    n = count_params(model)
    # The sub-pixel decoder stores transposed-conv kernels as phase kernels with
    # structural zeros (at most +42% here), and the tail folded before the last shuffle
    # adds more (x3: 2.6x in all); the recurrent weight is still stored once.
    assert 4 * n <= path.stat().st_size <= 2.7 * 4 * n
    onnx_export.export(model, {"train_data": "none (test)"}, tmp_path / "nofold.onnx", fold=False)
    assert 4 * n <= (tmp_path / "nofold.onnx").stat().st_size <= 1.5 * 4 * n
    onnx_export.export(model, {"train_data": "none (test)"}, tmp_path / "plain.onnx", subpixel=False)
    assert 4 * n <= (tmp_path / "plain.onnx").stat().st_size <= 4 * n + 20_000


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_dynamic_batch_height_width_match_torch(exported, scale: int) -> None:
    path, model = exported[scale]
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1)
    for n, h, w in [(1, 1, 1), (3, 17, 23), (1, 64, 48), (2, 5, 40)]:
        x = rng.random((n, 3, h, w), dtype=np.float32)
        got = sess.run(["sr"], {"lr": x})[0]
        with torch.no_grad():
            ref = model(torch.from_numpy(x)).numpy()
        assert got.shape == (n, 3, h * scale, w * scale)
        assert float(np.abs(got - ref).max()) <= 1e-4


def test_metadata_describes_the_model(exported) -> None:
    path, model = exported[4]
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    info = ModelInfo.from_metadata(sess.get_modelmeta().custom_metadata_map, path)
    assert (info.scale, info.depth, info.channels) == (4, 19, 64)
    assert info.params == count_params(model)
    assert info.receptive_field == 19 + 2
    assert info.trained is False
    assert "UNTRAINED" in info.extra["train_data"]
    assert info.input_layout.startswith("NCHW float32 RGB")


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_receptive_field_bounds_the_influence_of_a_pixel(tmp_path: Path, scale: int) -> None:
    # Positive weights keep every ReLU open, so influence spreads as far as the
    # architecture allows and the metadata radius is tested for tightness too.
    model = LiteSRNet(LiteSRConfig(scale, depth=5))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.rand_like(p) / max(1, p[0].numel()))
    onnx_export.export(model, {"train_data": "none (test)"}, tmp_path / "m.onnx")
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    info = ModelInfo.from_metadata(sess.get_modelmeta().custom_metadata_map, "m.onnx")
    size, c = 40, 20
    x = np.random.default_rng(2).random((1, 3, size, size), dtype=np.float32)
    y0 = sess.run(["sr"], {"lr": x})[0]
    x[0, :, c, c] += 0.5
    changed = np.abs(sess.run(["sr"], {"lr": x})[0] - y0).max(axis=(0, 1)) > 0
    ys, xs = np.nonzero(changed)
    lo, hi = (c - info.receptive_field) * scale, (c + 1 + info.receptive_field) * scale
    assert ys.min() >= lo and ys.max() < hi and xs.min() >= lo and xs.max() < hi
    # ...and it is tight: the first LR pixel inside the radius is reached.
    assert ys.min() < lo + scale and xs.min() < lo + scale


def test_plain_and_subpixel_graphs_agree(tmp_path: Path) -> None:
    model, extra = onnx_export.random_model(3, 4, seed=3)
    onnx_export.export(model, extra, tmp_path / "fast.onnx")
    onnx_export.export(model, extra, tmp_path / "plain.onnx", subpixel=False)
    onnx_export.export(model, extra, tmp_path / "nofold.onnx", fold=False)
    ops = {n.op_type for n in onnx.load(str(tmp_path / "fast.onnx")).graph.node}
    assert "ConvTranspose" not in ops and "Resize" not in ops and "DepthToSpace" in ops
    plain_ops = {n.op_type for n in onnx.load(str(tmp_path / "plain.onnx")).graph.node}
    assert {"ConvTranspose", "Resize"} <= plain_ops
    x = np.random.default_rng(3).random((1, 3, 21, 19), dtype=np.float32)
    run = lambda p: ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(["sr"], {"lr": x})[0]  # noqa: E731
    assert float(np.abs(run(tmp_path / "fast.onnx") - run(tmp_path / "plain.onnx")).max()) < 1e-5
    assert float(np.abs(run(tmp_path / "nofold.onnx") - run(tmp_path / "plain.onnx")).max()) < 1e-5


def test_export_is_deterministic(tmp_path: Path) -> None:
    model, extra = onnx_export.random_model(2, 5, seed=7)
    onnx_export.export(model, extra, tmp_path / "a.onnx")
    model2, extra2 = onnx_export.random_model(2, 5, seed=7)
    onnx_export.export(model2, extra2, tmp_path / "b.onnx")
    assert (tmp_path / "a.onnx").read_bytes() == (tmp_path / "b.onnx").read_bytes()


def test_checkpoint_export_carries_provenance_and_config(tmp_path: Path) -> None:
    cfg = LiteSRConfig(3, depth=13)
    model = LiteSRNet(cfg)
    ck = {
        "config": cfg.to_dict(),
        "model": model.state_dict(),
        "step": 1234,
        "elapsed_s": 99.0,
        "best_val_psnr": 30.5,
        "provenance": {"data": "T91 + BSDS400", "hardware": "cpu", "loss": "MSE"},
    }
    torch.save(ck, tmp_path / "best.pt")
    rc = onnx_export.main(["--checkpoint", str(tmp_path / "best.pt"), "--output", str(tmp_path / "m.onnx")])
    assert rc == 0
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    info = ModelInfo.from_metadata(sess.get_modelmeta().custom_metadata_map, "m.onnx")
    assert (info.scale, info.depth, info.trained) == (3, 13, True)
    assert info.extra["train_steps"] == "1234"
    assert info.extra["val_psnr"] == "30.500"
    assert info.extra["train_data"] == "T91 + BSDS400"


def test_checkpoint_export_counts_its_warm_starts(tmp_path: Path) -> None:
    # run b warm-started from a, c from b: the metadata names the chain and totals its steps and time.
    cfg = LiteSRConfig(2, depth=3)
    state = LiteSRNet(cfg).state_dict()
    base = {"config": cfg.to_dict(), "model": state, "best_val_psnr": 30.0, "provenance": {}}
    missing = str(tmp_path / "gone.pt")
    torch.save({**base, "step": 100, "elapsed_s": 10.0, "args": {"init_from": missing}}, tmp_path / "a.pt")
    torch.save({**base, "step": 200, "elapsed_s": 20.0, "args": {"init_from": str(tmp_path / "a.pt")}},
               tmp_path / "b.pt")
    torch.save({**base, "step": 300, "elapsed_s": 30.0, "args": {"init_from": str(tmp_path / "b.pt")}},
               tmp_path / "c.pt")
    _, extra = onnx_export.load_checkpoint(tmp_path / "c.pt")
    assert extra["train_steps"] == "300"
    assert extra["train_steps_total"] == "600" and extra["train_wall_s_total"] == "60"
    assert extra["train_warm_start"] == (f"{tmp_path / 'b.pt'} (200 steps) <- {tmp_path / 'a.pt'} (100 steps) "
                                         f"<- {missing} (file not at hand)")
    _, first = onnx_export.load_checkpoint(tmp_path / "a.pt")
    assert "train_steps_total" in first  # its own source is named even though the file is gone


def test_verify_rejects_a_mismatch() -> None:
    model, extra = onnx_export.random_model(2, 3, seed=0)
    proto = onnx_export.simplify(onnx_export.to_onnx(model))
    other, _ = onnx_export.random_model(2, 3, seed=1)
    with pytest.raises(onnx_export.ExportError, match="differs"):
        onnx_export.verify(proto.SerializeToString(), other)


def test_missing_maintainer_dependency_is_one_line(tmp_path: Path) -> None:
    code = (
        "import sys, runpy; sys.modules['onnxsim'] = None; sys.argv = ['export', '--random', '--scale', '2',"
        f" '--output', {str(tmp_path / 'x.onnx')!r}]; runpy.run_module('export', run_name='__main__')"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "pip install '.[maintainer]'" in proc.stderr
    assert not (tmp_path / "x.onnx").exists()
