"""models.train recipe options on a tiny synthetic image folder (CPU, a few steps each)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="needs the maintainer extra: pip install '.[maintainer]'")
cv2 = pytest.importorskip("cv2", reason="models.data reads images with OpenCV")

from models import recipe, train  # noqa: E402
from models.data import list_images, make_pairs, split  # noqa: E402
from models.litesrnet import from_checkpoint  # noqa: E402
from models.patches import Pair, PatchSampler  # noqa: E402

pytestmark = pytest.mark.maintainer
TINY = ["--scale", "2", "--depth", "2", "--channels", "8", "--batch", "2", "--patch", "8", "--n-val", "2",
        "--val-every", "2", "--seed", "0"]


def write_images(folder: Path, n: int = 6) -> Path:
    """Smooth random photos, half PNG and half JPEG (like T91 + BSDS400)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        small = (rng.random((12, 16, 3)) * 255).astype(np.uint8)
        img = cv2.resize(small, (64, 48), interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(folder / (f"t{i}.png" if i % 2 else f"{i}.jpg")), img)
    return folder


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_images(tmp_path_factory.mktemp("train_images"))


def run(images: Path, out: Path, steps: int, *extra: str) -> dict:
    train.main([*TINY, "--data", str(images), "--out", str(out), "--steps", str(steps), *extra])
    return torch.load(out / "last.pt", map_location="cpu", weights_only=False)


@pytest.mark.parametrize("option", [
    [], ["--loss", "l1"], ["--loss", "charbonnier"], ["--ema", "0.9"], ["--patch-schedule", "0:8,0.5:12"],
    ["--jpeg-hr", "downscale2"], ["--jpeg-hr", "weight:0.3"], ["--reparam", "rep"], ["--reparam", "ecb"],
])
def test_each_option_trains_and_records_its_recipe(images: Path, tmp_path: Path, option: list[str]) -> None:
    ck = run(images, tmp_path / "r", 3, *option)
    assert ck["step"] == 3
    rec = ck["provenance"]["recipe"]
    assert {"loss", "ema", "patch_schedule", "jpeg_hr", "reparam"} <= set(rec)
    assert "threads" in ck["provenance"]["hardware"] and "T91 + BSDS400" in ck["provenance"]["data"]
    assert ck["provenance"]["autocast"] in ("bf16", "fp32")
    net = from_checkpoint(ck)
    assert net.config.reparam == ""
    assert math.isfinite(ck["best_val_psnr"])


def test_resume_continues_from_last_with_the_step_count(images: Path, tmp_path: Path) -> None:
    out = tmp_path / "r"
    first = run(images, out, 4, "--stop-at", "2", "--ema", "0.9", "--reparam", "rep")
    assert first["step"] == 2
    again = run(images, out, 4, "--ema", "0.9", "--reparam", "rep")
    assert again["step"] == 4 and again["ema_updates"] == 4
    steps = [int(r["step"]) for r in csv.DictReader((out / "log.csv").open())]
    assert steps == [0, 2, 4]
    assert "resumed from" in (out / "train.log").read_text()


def test_resume_is_the_same_as_one_run(images: Path, tmp_path: Path) -> None:
    one = run(images, tmp_path / "one", 4)
    run(images, tmp_path / "two", 4, "--stop-at", "2")
    two = run(images, tmp_path / "two", 4)
    for k, v in one["model"].items():
        assert torch.allclose(v, two["model"][k], atol=1e-6), k


def test_losses() -> None:
    sr, hr = torch.tensor([[0.5, 0.0]]), torch.tensor([[0.0, 0.0]])
    assert float(recipe.pixel_loss(sr, hr, "mse")) == pytest.approx(0.125)
    assert float(recipe.pixel_loss(sr, hr, "l1")) == pytest.approx(0.25)
    charb = (math.sqrt(0.25 + 1e-6) + 1e-3) / 2
    assert float(recipe.pixel_loss(sr, hr, "charbonnier")) == pytest.approx(charb)
    w = torch.tensor([1.0, 0.0])
    two = torch.stack([sr, hr]), torch.stack([hr, sr])
    assert float(recipe.pixel_loss(*two, "l1", w)) == pytest.approx(0.25)
    with pytest.raises(ValueError):
        recipe.pixel_loss(sr, hr, "l2")


def test_patch_schedule_switches_at_the_right_step() -> None:
    sched = recipe.parse_patch_schedule("0:48,0.7:64,0.9:96", 48)
    sizes = [recipe.patch_at(s, 100, sched) for s in range(100)]
    assert sizes[69] == 48 and sizes[70] == 64 and sizes[89] == 64 and sizes[90] == 96
    assert recipe.parse_patch_schedule("", 40) == [(0.0, 40)]
    for bad in ("0.5:64", "0:48,x:64", "0:48,1.2:64"):
        with pytest.raises(ValueError):
            recipe.parse_patch_schedule(bad, 48)


def test_sampler_changes_patch_size_and_skips_images_too_small() -> None:
    rng = np.random.default_rng(0)
    hr, lr = (rng.integers(0, 255, (n, n, 3), dtype=np.uint8) for n in (80, 40))
    big = Pair("big", hr, lr)
    small = Pair("small", big.hr[:40, :40], big.lr[:20, :20])
    sampler = PatchSampler([big, small], 2, 16, seed=0)
    assert sampler.batch(3)[0].shape == (3, 3, 16, 16)
    sampler.patch = 32
    lr, hr = sampler.batch(2)
    assert lr.shape == (2, 3, 32, 32) and hr.shape == (2, 3, 64, 64)
    assert [p.name for p in sampler.pairs] == ["big"]
    sampler.patch = 48
    with pytest.raises(ValueError, match="no training image"):
        sampler.batch(1)


def test_jpeg_policies(images: Path) -> None:
    paths = list_images(images)
    plain = {p.name: p for p in make_pairs(paths, 2)}
    halved = {p.name: p for p in make_pairs(paths, 2, "downscale2")}
    weighted = {p.name: p for p in make_pairs(paths, 2, "weight:0.25")}
    assert halved["0.jpg"].hr.shape == (24, 32, 3) and plain["0.jpg"].hr.shape == (48, 64, 3)
    assert halved["t1.png"].hr.shape == plain["t1.png"].hr.shape
    assert weighted["0.jpg"].weight == 0.25 and weighted["t1.png"].weight == 1.0
    with pytest.raises(ValueError):
        make_pairs(paths, 2, "weight:x")


def test_best_is_judged_on_the_ema(images: Path, tmp_path: Path) -> None:
    out = tmp_path / "r"
    run(images, out, 6, "--ema", "0.5", "--lr", "5e-3")
    best = torch.load(out / "best.pt", map_location="cpu", weights_only=False)
    assert "ema" in best
    _, val_paths = split(list_images(images), 2)
    val = make_pairs(val_paths, 2)
    device = torch.device("cpu")
    ema_score = train.validate(from_checkpoint(best), val, 2, device)
    raw = from_checkpoint({"config": best["config"], "model": best["model"]})
    assert ema_score == pytest.approx(best["best_val_psnr"], abs=1e-9)
    assert train.validate(raw, val, 2, device) != pytest.approx(ema_score, abs=1e-9)


def test_bf16_only_where_native() -> None:
    import argparse

    args = argparse.Namespace(fp32=False)
    assert train.use_autocast(args, torch.device("cpu")) == recipe.native_bf16()
    assert train.use_autocast(argparse.Namespace(fp32=True), torch.device("cpu")) is False
