"""LiteSRNet (PyTorch, maintainer side): parameters, init that trains, training entry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="needs the maintainer extra: pip install '.[maintainer]'")

from models.litesrnet import PAPER_PARAMS, LiteSRConfig, LiteSRNet, count_params  # noqa: E402

pytestmark = pytest.mark.maintainer


@pytest.mark.parametrize(("scale", "expected"), [(2, 67_715), (3, 67_715), (4, 73_779)])
def test_param_counts_under_75k_and_near_paper(scale: int, expected: int) -> None:
    n = count_params(LiteSRNet(LiteSRConfig(scale)))
    assert n == expected
    assert n <= 75_000
    assert abs(n - PAPER_PARAMS[scale]) / PAPER_PARAMS[scale] < 0.02


def test_recurrent_weight_is_shared() -> None:
    m = LiteSRNet(LiteSRConfig(4, depth=19))
    deep = count_params(m)
    shallow = count_params(LiteSRNet(LiteSRConfig(4, depth=13)))
    assert deep == shallow  # depth adds iterations, never parameters


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_output_shape_any_size(scale: int) -> None:
    m = LiteSRNet(LiteSRConfig(scale, depth=3)).eval()
    for h, w in [(1, 1), (17, 23), (8, 5)]:
        with torch.no_grad():
            y = m(torch.rand(2, 3, h, w))
        assert y.shape == (2, 3, h * scale, w * scale)


def test_untrained_network_is_bicubic() -> None:
    # The tail starts near zero so the global skip (bicubic) dominates at step 0.
    m = LiteSRNet(LiteSRConfig(2, depth=19)).eval()
    x = torch.rand(1, 3, 12, 12)
    with torch.no_grad():
        y = m(x)
        bic = torch.nn.functional.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False)
    assert float((y - bic).abs().max()) < 0.05


def test_all_steps_decodes_every_iteration() -> None:
    m = LiteSRNet(LiteSRConfig(2, depth=4)).eval()
    x = torch.rand(1, 3, 6, 6)
    with torch.no_grad():
        steps = m(x, all_steps=True)
        last = m(x)
    assert steps.shape == (4, 1, 3, 12, 12)
    torch.testing.assert_close(steps[-1], last)


def test_few_steps_reduce_loss_on_tiny_batch() -> None:
    torch.manual_seed(0)
    m = LiteSRNet(LiteSRConfig(2, depth=19, channels=16))
    hr = torch.rand(4, 3, 24, 24)
    hr = torch.nn.functional.avg_pool2d(hr, 3, 1, 1)  # some structure to learn
    lr = torch.nn.functional.interpolate(hr, scale_factor=0.5, mode="area")
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    losses = []
    for _ in range(30):
        loss = torch.nn.functional.mse_loss(m(lr), hr)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.8 * losses[0]


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="scale"):
        LiteSRConfig(5)
    with pytest.raises(ValueError, match="depth"):
        LiteSRConfig(2, depth=0)


def _synthetic_dataset(root: Path, n: int = 4) -> Path:
    import cv2

    rng = np.random.default_rng(0)
    root.mkdir()
    for i in range(n):
        base = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
        img = cv2.resize(base, (64, 48), interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(root / f"img{i}.png"), img)
    return root


@pytest.mark.slow
def test_train_entry_point_logs_checkpoints_and_resumes(tmp_path: Path) -> None:
    from models import train

    data = _synthetic_dataset(tmp_path / "data")
    out = tmp_path / "run"
    common = [
        "--scale",
        "2",
        "--depth",
        "2",
        "--channels",
        "8",
        "--data",
        str(data),
        "--out",
        str(out),
        "--batch",
        "2",
        "--patch",
        "8",
        "--n-val",
        "1",
        "--val-every",
        "3",
        "--threads",
        "1",
    ]
    train.main([*common, "--steps", "6", "--stop-at", "3"])
    ck = torch.load(out / "last.pt", weights_only=False)
    assert ck["step"] == 3
    assert ck["config"] == {"scale": 2, "depth": 2, "channels": 8, "global_skip": True}
    train.main([*common, "--steps", "6"])
    ck = torch.load(out / "last.pt", weights_only=False)
    assert ck["step"] == 6
    rows = (out / "log.csv").read_text().splitlines()
    assert rows[0] == "step,elapsed_s,loss,lr,val_psnr"
    assert [r.split(",")[0] for r in rows[1:]] == ["0", "3", "6"]
    assert (out / "best.pt").exists()
    assert "resumed" in (out / "train.log").read_text()


def test_perceptual_loss_loads_torchvision_layout(tmp_path: Path) -> None:
    from models.perceptual import PerceptualLoss, vgg16_features

    feats = vgg16_features(16)
    torch.save({f"features.{k}": v for k, v in feats.state_dict().items()}, tmp_path / "vgg.pth")
    loss = PerceptualLoss(tmp_path / "vgg.pth")
    a = torch.rand(1, 3, 16, 16)
    assert float(loss(a, a)) == 0.0
    assert float(loss(a, torch.rand(1, 3, 16, 16))) > 0.0
