"""Quantization-aware training (models/qat.py) and its int8 export (export/quantize.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="needs the maintainer extra: pip install '.[maintainer]'")
onnx = pytest.importorskip("onnx", reason="needs the maintainer extra: pip install '.[maintainer]'")
pytest.importorskip("onnxsim", reason="needs the maintainer extra: pip install '.[maintainer]'")

import onnxruntime as ort  # noqa: E402
from onnx import numpy_helper  # noqa: E402

from export import onnx_export  # noqa: E402
from export.quantize import identity_kernel  # noqa: E402
from litesr_edge.registry.metadata import read_model_info  # noqa: E402
from models.litesrnet import LiteSRConfig, LiteSRNet  # noqa: E402
from models.qat import QuantLiteSRNet, act_quant, calibrate, n_act_points, weight_quant  # noqa: E402

pytestmark = pytest.mark.maintainer


def _tiny(scale: int, depth: int = 3, channels: int = 8, seed: int = 0) -> LiteSRNet:
    torch.manual_seed(seed)
    net = LiteSRNet(LiteSRConfig(scale, depth=depth, channels=channels))
    with torch.no_grad():  # trained-looking weights: IRNN init alone leaves the tail ~0
        net.tail.weight.normal_(0, 0.05)
        for m in (net.head, net.body, net.tail):
            m.bias.normal_(0, 0.01)
    return net.eval()


def _photos(folder: Path, n: int, shape: tuple[int, int], seed: int) -> Path:
    """``n`` random-noise PNGs of ``shape`` (H, W) in ``folder``, made for a test run of models.qat."""
    import cv2

    folder.mkdir()
    rng = np.random.default_rng(seed)
    for i in range(n):
        cv2.imwrite(str(folder / f"img{i}.png"), rng.integers(0, 256, (*shape, 3), dtype=np.uint8))
    return folder


def _quantized(scale: int, residual: bool = True, float_identity: int = 0, depth: int = 3) -> QuantLiteSRNet:
    net = _tiny(scale, depth=depth)
    batches = [torch.rand(2, 3, 12, 10, generator=torch.Generator().manual_seed(i)) for i in range(3)]
    return QuantLiteSRNet(net, calibrate(net, batches), residual, float_identity).eval()


def test_weight_quant_is_a_per_channel_int8_grid() -> None:
    w = torch.randn(6, 4, 3, 3)
    q = weight_quant(w, axis=0)
    scale = w.abs().amax(dim=(1, 2, 3)) / 127
    levels = q / scale.view(-1, 1, 1, 1)
    assert torch.allclose(levels, levels.round(), atol=1e-4) and levels.abs().max() <= 127 + 1e-4
    assert torch.allclose(q.abs().amax(dim=(1, 2, 3)), w.abs().amax(dim=(1, 2, 3)))  # the extreme is exact
    assert (q - w).abs().max() <= scale.max() / 2 + 1e-6


def test_act_quant_clips_rounds_and_trains_its_scale() -> None:
    x = torch.tensor([-1.0, 0.0, 0.26, 0.74, 3.0, 200.0])
    s = torch.tensor(0.5, requires_grad=True)
    y = act_quant(x, s)
    assert y.tolist() == [0.0, 0.0, 0.5, 0.5, 3.0, 127.5]  # uint8 grid: 0.74 / 0.5 = 1.48 -> 1; 400 -> 255
    y.sum().backward()
    assert s.grad is not None and s.grad.item() != 0  # LSQ: the scale is learned


def test_calibration_gives_one_scale_per_quantized_input() -> None:
    for scale, stages in ((2, 1), (3, 1), (4, 2)):
        q = _quantized(scale)
        assert q.act_scales().numel() == n_act_points(q.config) == 3 + stages + 1
        assert bool((q.act_scales() > 0).all())


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_int8_export_matches_the_fake_quantized_model(tmp_path: Path, scale: int) -> None:
    q = _quantized(scale)
    path = tmp_path / "q.onnx"
    summary = onnx_export.export(q, {"train_data": "none (test)", "precision": "int8"}, path)
    assert summary["max_abs_diff"] <= onnx_export.INT8_TOLERANCE
    assert read_model_info(path).precision == "int8"
    x = np.random.default_rng(scale).random((1, 3, 15, 11), dtype=np.float32)
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"lr": x})[0]
    with torch.no_grad():
        ref = q(torch.from_numpy(x)).numpy()
    assert np.abs(got - ref).mean() < 1e-3


def test_int8_export_of_the_plain_graph(tmp_path: Path) -> None:
    # --plain keeps the ConvTranspose decoder: its weights are quantized per output channel on axis 1.
    q = _quantized(4)
    summary = onnx_export.export(q, {"train_data": "none (test)", "precision": "int8"}, tmp_path / "p.onnx",
                                 subpixel=False)
    assert summary["max_abs_diff"] <= onnx_export.INT8_TOLERANCE
    dq = [n for n in onnx.load(str(tmp_path / "p.onnx")).graph.node if n.op_type == "DequantizeLinear"]
    assert any(a.name == "axis" and a.i == 1 for n in dq for a in n.attribute)


@pytest.mark.parametrize("residual", [True, False])
def test_stored_int8_weights_are_the_qat_weights(tmp_path: Path, residual: bool) -> None:
    # The body conv: dequantized file weights (+ the identity the graph adds back) == the
    # fake-quantized torch weights.
    q = _quantized(4, residual)
    path = tmp_path / "q.onnx"
    onnx_export.export(q, {"train_data": "none (test)", "precision": "int8"}, path)
    proto = onnx.load(str(path))
    inits = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
    stored = inits["body.weight_int8"].astype(np.float32) * inits["body.weight_scale"].reshape(-1, 1, 1, 1)
    if residual:
        stored = stored + identity_kernel(stored.shape)
    np.testing.assert_allclose(stored, q.body_weight().detach().numpy(), rtol=1e-6, atol=1e-7)
    assert inits["body.weight_int8"].dtype == np.int8
    adds = [n for n in proto.graph.node if n.name.endswith("_AddInput")]
    assert len(adds) == (q.config.depth if residual else 0)


@pytest.mark.parametrize("float_identity", [1, 3, 5])
def test_float_identity_export_matches_the_fake_quantized_model(tmp_path: Path, float_identity: int) -> None:
    # The last K steps add the float tensor (a ReLU output, before its QuantizeLinear) back,
    # the others the dequantized one, in the file as in the torch model.
    q = _quantized(4, float_identity=float_identity, depth=5)
    path = tmp_path / "f.onnx"
    summary = onnx_export.export(q, {"train_data": "none (test)", "precision": "int8"}, path)
    assert summary["max_abs_diff"] <= onnx_export.INT8_TOLERANCE
    graph = onnx.load(str(path)).graph
    made_by = {o: n.op_type for n in graph.node for o in n.output}
    adds = [n for n in graph.node if n.name.endswith("_AddInput")]
    kinds = [made_by[n.input[1]] for n in adds]
    assert kinds == ["DequantizeLinear"] * (5 - float_identity) + ["Relu"] * float_identity
    x = np.random.default_rng(1).random((1, 3, 13, 9), dtype=np.float32)
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"lr": x})[0]
    with torch.no_grad():
        ref = q(torch.from_numpy(x)).numpy()
        other = QuantLiteSRNet(q.net, q.act_scales(), True, 0)(torch.from_numpy(x)).numpy()
    assert np.abs(got - ref).mean() < 1e-3
    assert np.abs(other - ref).mean() > 10 * np.abs(got - ref).mean()  # the two forms really differ


def test_float_identity_keeps_the_rounding_off_the_state() -> None:
    # Same weights and scales: adding the float input back leaves the int8 rounding only the
    # small W - I path, so the output is nearer the fp32 model than the dequantized form's.
    net = _tiny(2, depth=8, channels=16)
    with torch.no_grad():
        net.body.weight.normal_(0, 0.02).add_(torch.from_numpy(identity_kernel(tuple(net.body.weight.shape))))
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(3))
    scales = calibrate(net, [x]) * 4  # coarse steps, as on a smooth image
    with torch.no_grad():
        ref = net(x)
        err = [(QuantLiteSRNet(net, scales, True, k)(x) - ref).pow(2).mean().item() for k in (0, 8)]
    assert err[1] < err[0] / 2


def test_float_identity_needs_the_residual_form_and_fits_the_depth() -> None:
    net = _tiny(2)
    with pytest.raises(ValueError, match="residual_body"):
        QuantLiteSRNet(net, torch.ones(n_act_points(net.config)), False, 1)
    with pytest.raises(ValueError, match="0..3"):
        QuantLiteSRNet(net, torch.ones(n_act_points(net.config)), True, 4)


def test_residual_body_quantizes_the_recurrent_weight_finely() -> None:
    # A trained recurrent weight is ~identity + small terms: max|W| per channel is the ~1 centre
    # tap, so quantizing W leaves the rest ~1 step; W - identity gets ~10x finer steps.
    net = _tiny(4, channels=16)
    with torch.no_grad():
        net.body.weight.normal_(0, 0.03).add_(torch.from_numpy(identity_kernel(tuple(net.body.weight.shape))))
    w = net.body.weight.detach()
    scales = [QuantLiteSRNet(net, torch.ones(n_act_points(net.config)), r).body_weight() for r in (False, True)]
    plain, residual = ((s - w).abs().mean().item() for s in scales)
    assert residual < plain / 5


def test_qat_checkpoint_exports_as_int8_with_provenance(tmp_path: Path) -> None:
    q = _quantized(2)
    ck = {
        "config": q.config.to_dict(), "model": q.net.state_dict(), "act_scales": q.act_scales().detach(),
        "step": 40, "elapsed_s": 3.0, "best_val_psnr": 30.0, "args": {"steps": "40"},
        "provenance": {"data": "synthetic", "hardware": "cpu", "loss": "MSE (quantization-aware fine-tuning)"},
        "qat_from": {"checkpoint": "runs/x2/best.pt", "step": 4000},
    }
    torch.save(ck, tmp_path / "qat.pt")
    assert onnx_export.main(["--checkpoint", str(tmp_path / "qat.pt"), "--output", str(tmp_path / "m.onnx")]) == 0
    info = read_model_info(tmp_path / "m.onnx")
    assert info.precision == "int8" and info.extra["qat_from"] == "runs/x2/best.pt (step 4000)"
    assert "QDQ int8" in info.extra["quantization"] and info.extra["train_steps"] == "40"


@pytest.mark.slow
def test_qat_entry_point_fine_tunes_and_keeps_the_best(tmp_path: Path) -> None:
    import cv2

    from models import qat

    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        base = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
        cv2.imwrite(str(data / f"img{i}.png"), cv2.resize(base, (64, 48), interpolation=cv2.INTER_CUBIC))
    net = _tiny(2, depth=2)
    torch.save({"config": net.config.to_dict(), "model": net.state_dict(), "step": 10}, tmp_path / "fp32.pt")
    args = ["--data", str(data), "--batch", "2", "--patch", "8", "--n-val", "1", "--val-every", "2",
            "--threads", "1", "--calib-batches", "2"]
    qat.main(["--checkpoint", str(tmp_path / "fp32.pt"), "--out", str(tmp_path / "run"), "--steps", "4",
              "--distill", "1", "--percentiles", "99,100", "--float-identity", "2", *args])
    log = (tmp_path / "run" / "train.log").read_text()
    assert "calibration at percentile 99.0" in log and "calibration at percentile 100.0" in log
    ck = torch.load(tmp_path / "run" / "best.pt", weights_only=False)
    assert ck["act_scales"].numel() == n_act_points(net.config)
    assert ck["qat_from"]["checkpoint"] == str(tmp_path / "fp32.pt") and ck["residual_body"] is True
    assert ck["float_identity"] == 2
    rows = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["0", "2", "4"]
    # A second stage continues from the QAT checkpoint, keeps its scales and records both stages.
    qat.main(["--checkpoint", str(tmp_path / "run" / "best.pt"), "--out", str(tmp_path / "run2"), "--steps", "2",
              "--distill", "1", *args])
    ck2 = torch.load(tmp_path / "run2" / "best.pt", weights_only=False)
    assert len(ck2["qat_history"]) == 2 and ck2["qat_from"]["checkpoint"] == str(tmp_path / "fp32.pt")
    assert ck2["residual_body"] is True and ck2["float_identity"] == 2  # the form travels with the scales
    assert onnx_export.main(["--checkpoint", str(tmp_path / "run2" / "best.pt"), "--output",
                             str(tmp_path / "m.onnx")]) == 0
    text = read_model_info(tmp_path / "m.onnx").extra["quantization"]
    assert "W - identity" in text and "the last 2 steps add their float input back" in text
    with pytest.raises(ValueError, match="--plain-body"):
        qat.main(["--checkpoint", str(tmp_path / "fp32.pt"), "--out", str(tmp_path / "bad"), "--steps", "0",
                  "--plain-body", "--float-identity", "1", *args])


def test_topk_percentiles_match_numpy_and_the_maximum_is_exact() -> None:
    from models.calibration import TopK

    rng = np.random.default_rng(0)
    chunks = [rng.random(5000, dtype=np.float32) * (i + 1) for i in range(4)]
    stats = TopK(1, k=300)
    for c in chunks:
        stats.add([torch.from_numpy(c)])
    every = np.concatenate(chunks)
    assert stats.count == [every.size]
    assert stats.scales(100)[0].item() * 255 == pytest.approx(float(every.max()), rel=1e-6)
    want = float(np.percentile(every, 99.9))
    assert stats.scales(99.9)[0].item() * 255 == pytest.approx(want, rel=2e-3)


def test_edge_window_finds_the_edges() -> None:
    from models.calibration import edge_window

    img = np.full((60, 80, 3), 128, np.uint8)
    img[30:42, 50:62] = np.indices((12, 12)).sum(axis=0)[..., None] % 2 * 255  # a small checkerboard
    win = edge_window(img, 16)
    assert win.shape == (16, 16, 3) and win.min() == 0 and win.max() == 255  # it holds the checkerboard
    assert edge_window(img[:10, :10], 16).shape == (10, 10, 3)  # smaller than the window: the whole image


@pytest.mark.slow
def test_rich_calibration_covers_every_calibration_value(tmp_path: Path) -> None:
    from models import qat
    from models.calibration import activation_stats, quantized_inputs, rich_calibration_set
    from models.data import list_images, split

    data = _photos(tmp_path / "data", 5, (40, 56), seed=1)
    net = _tiny(2, depth=2)
    train, _ = split(list_images(data), 1)  # the photos qat.main calibrates on with --n-val 1
    images = rich_calibration_set(train, 2, n_full=2, edge_side=8, variants=1)
    scales = activation_stats(net, images, n_act_points(net.config)).scales(100)
    for x in images[:3] + images[-3:]:
        for t, s in zip(quantized_inputs(net, x), scales, strict=True):
            assert float(t.max()) <= float(s) * 255 * (1 + 1e-6)  # at the maximum nothing it saw is clipped
    torch.save({"config": net.config.to_dict(), "model": net.state_dict(), "step": 10}, tmp_path / "fp32.pt")
    qat.main(["--checkpoint", str(tmp_path / "fp32.pt"), "--out", str(tmp_path / "run"), "--steps", "0",
              "--data", str(data), "--batch", "2", "--patch", "8", "--n-val", "1", "--threads", "1",
              "--calib-set", "rich", "--calib-full", "2", "--calib-variants", "1", "--percentiles", "100"])
    ck = torch.load(tmp_path / "run" / "best.pt", weights_only=False)
    assert ck["provenance"]["calibration"]["set"] == "rich"
    torch.testing.assert_close(ck["act_scales"], scales)
    assert onnx_export.main(["--checkpoint", str(tmp_path / "run" / "best.pt"), "--output",
                             str(tmp_path / "m.onnx")]) == 0
    assert "most edge-dense windows" in read_model_info(tmp_path / "m.onnx").extra["quantization"]


def test_rich_crops_are_patches_of_the_calibration_images() -> None:
    from models.qat import RichCrops

    big = torch.arange(3 * 20 * 30, dtype=torch.float32).reshape(1, 3, 20, 30)
    small = torch.zeros(1, 3, 4, 4)  # smaller than the patch: never drawn
    crops = RichCrops([big, small], patch=8, seed=0).batch(6)
    assert crops.shape == (6, 3, 8, 8)
    values = set(big.flatten().tolist())
    assert all(v in values for v in crops.flatten().tolist())
    with pytest.raises(ValueError, match="side >= 8"):
        RichCrops([small], patch=8, seed=0)


def test_rich_mix_fine_tunes_on_distillation_only(tmp_path: Path) -> None:
    from models import qat

    data = _photos(tmp_path / "data", 4, (48, 64), seed=2)
    net = _tiny(2, depth=2)
    torch.save({"config": net.config.to_dict(), "model": net.state_dict(), "step": 10}, tmp_path / "fp32.pt")
    common = ["--checkpoint", str(tmp_path / "fp32.pt"), "--data", str(data), "--batch", "4", "--patch", "8",
              "--n-val", "1", "--val-every", "2", "--threads", "1", "--calib-set", "rich", "--calib-full", "2",
              "--calib-variants", "1", "--percentiles", "100", "--steps", "2"]
    with pytest.raises(ValueError, match="--distill"):
        qat.main([*common, "--out", str(tmp_path / "bad"), "--rich-mix", "0.5"])
    with pytest.raises(ValueError, match="nothing to learn"):
        qat.main([*common, "--out", str(tmp_path / "bad2"), "--hr-weight", "0"])
    qat.main([*common, "--out", str(tmp_path / "run"), "--rich-mix", "0.5", "--distill", "1", "--hr-weight", "0"])
    ck = torch.load(tmp_path / "run" / "best.pt", weights_only=False)
    assert "distillation only" in ck["provenance"]["loss"] and "HR" not in ck["provenance"]["loss"]
    rows = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["0", "2"]
    assert torch.load(tmp_path / "run" / "last.pt", weights_only=False)["step"] == 2


def test_freeze_scales_trains_the_weights_only() -> None:
    from models.qat import QuantLiteSRNet, _optimizer

    net = _tiny(2, depth=2)
    model = QuantLiteSRNet(net, torch.full((n_act_points(net.config),), 0.01))
    before = model.act_scales().clone()
    opt = _optimizer(model, 1e-3, freeze_scales=True)
    assert all(p is not model.log_scales for g in opt.param_groups for p in g["params"])
    model(torch.rand(1, 3, 8, 8)).square().mean().backward()
    opt.step()
    torch.testing.assert_close(model.act_scales(), before)
    learned = QuantLiteSRNet(net, before)
    opt2 = _optimizer(learned, 1e-3, freeze_scales=False)
    learned(torch.rand(1, 3, 8, 8)).square().mean().backward()
    opt2.step()
    assert not torch.equal(learned.act_scales(), before)


def test_db_weights_favour_the_patches_fp32_gets_right() -> None:
    from models.qat import _db_weights

    hr = torch.zeros(3, 3, 4, 4)
    target = torch.stack([torch.full((3, 4, 4), v) for v in (0.01, 0.1, 0.2)] + [torch.ones(3, 4, 4)])
    w = _db_weights(target, hr)
    assert w.shape == (4,) and w[3] == 1.0  # the rich crop (no HR) keeps weight 1
    assert w[0] > w[1] > w[2] and float(w[0]) <= 20.0
    assert float(w[1] / w[2]) == pytest.approx(4.0, rel=1e-3)  # 1 / error: error ratio 0.04 / 0.01


@pytest.mark.parametrize("where", ["body", "decoder"])
def test_step_check_catches_a_scale_two_percent_off(tmp_path: Path, where: str) -> None:
    # One step at a time from the graph's own state, torch (bias rounded to int32 as the file
    # stores it) matches the graph exactly; a 2% wrong activation scale re-rounds most values.
    q = _quantized(2, float_identity=3, depth=3)
    with torch.no_grad():  # away from the IRNN identity, so that W - I sees the rounding
        q.net.body.weight.add_(torch.randn(q.net.body.weight.shape, generator=torch.Generator().manual_seed(0)) * 0.05)
    path = tmp_path / "q.onnx"
    onnx_export.export(q, {"train_data": "none (test)", "precision": "int8"}, path)
    x = np.random.default_rng(2).random((1, 3, 16, 16), dtype=np.float32)
    onnx_export.verify_int8_steps(path.read_bytes(), q, x)
    proto = onnx.load(str(path))
    k = 1 if where == "body" else q.config.depth
    target = float(q.act_scales().detach()[k])
    hits = [t for t in proto.graph.initializer
            if t.data_type == onnx.TensorProto.FLOAT and numpy_helper.to_array(t).size == 1
            and np.isclose(float(numpy_helper.to_array(t)), target, rtol=1e-7)]
    assert len(hits) == 1
    hits[0].CopyFrom(numpy_helper.from_array(np.array(target * 1.02, np.float32), hits[0].name))
    with pytest.raises(onnx_export.ExportError, match="step 2" if where == "body" else "the decoder"):
        onnx_export.verify_int8_steps(proto.SerializeToString(), q, x)
