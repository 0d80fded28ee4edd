"""models.gpu_burst: pack a tiny synthetic folder, then the CPU dry run of the burst."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="needs the maintainer extra: pip install '.[maintainer]'")
cv2 = pytest.importorskip("cv2", reason="packing reads the images with OpenCV (CPU side)")

from models import gpu_burst  # noqa: E402
from models.litesrnet import LiteSRConfig, LiteSRNet, from_checkpoint  # noqa: E402

pytestmark = pytest.mark.maintainer
ROOT = Path(__file__).resolve().parents[2]
DRY = ["--depth", "2", "--batch", "2", "--patch-schedule", "0:8,0.5:12", "--minutes", "1", "--val-every-s", "0"]


def write_images(folder: Path, n: int = 6) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for i in range(n):
        img = cv2.resize((rng.random((10, 12, 3)) * 255).astype(np.uint8), (60, 48), interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(folder / (f"t{i}.png" if i % 2 else f"{i}.jpg")), img)
    return folder


@pytest.fixture
def packed(tmp_path: Path) -> Path:
    start = tmp_path / "plain.pt"
    net = LiteSRNet(LiteSRConfig(2, depth=2))
    torch.save({"config": net.config.to_dict(), "model": net.state_dict(), "step": 7}, start)
    gpu_burst.main(["pack", "--data", str(write_images(tmp_path / "imgs")), "--scale", "2",
                    "--checkpoint", str(start), "--out", str(tmp_path / "pack"), "--n-val", "2"])
    return tmp_path / "pack"


def test_encoding_is_lossless() -> None:
    img = np.random.default_rng(0).integers(0, 256, (7, 9, 3), dtype=np.uint8)
    assert np.array_equal(gpu_burst.decode(gpu_burst.encode(img), img.shape), img)


def test_pack_holds_the_same_pairs_as_training(packed: Path) -> None:
    from models.data import list_images, make_pairs, split

    size = sum(f.stat().st_size for f in packed.iterdir())
    assert size <= gpu_burst.PACK_CAP and (packed / "start.pt").exists()
    scale, train, val, note = gpu_burst.load_pack(packed)
    ref_train, ref_val = split(list_images(packed.parent / "imgs"), 2)
    assert scale == 2 and [p.name for p in val] == [p.name for p in ref_val] and len(train) == len(ref_train)
    ref = {p.name: p for p in make_pairs([*ref_train, *ref_val], 2)}
    for p in train + val:
        assert np.array_equal(p.lr, ref[p.name].lr)
        assert np.abs(p.hr.astype(int) - ref[p.name].hr).max() <= 1  # JPEGs: another decoder may round differently
    assert "skipped" not in note


def test_dry_run_writes_a_loadable_checkpoint_and_log(packed: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    gpu_burst.main(["run", "--pack", str(packed), "--out", str(out), "--dry-run", *DRY])
    ck_path = out / "burst_x2.pt"
    assert ck_path.exists() and ck_path.stat().st_size <= gpu_burst.CKPT_CAP
    log = (out / "burst.log").read_text()
    assert "warm start" in log and "finished: 3 steps" in log
    assert (out / "burst_log.csv").read_text().count("\n") >= 2
    ck = torch.load(ck_path, map_location="cpu", weights_only=False)
    assert {"model", "ema", "optimizer", "provenance"} <= set(ck) and ck["step"] == 7 + ck["burst_steps"]
    net = from_checkpoint(ck)
    assert net.config == LiteSRConfig(2, depth=2)
    assert "T91 + BSDS400" in ck["provenance"]["data"] and "threads" in ck["provenance"]["hardware"]
    # A returned burst checkpoint, packed again, is continued (optimiser and EMA kept).
    (packed / "start.pt").write_bytes(ck_path.read_bytes())
    gpu_burst.main(["run", "--pack", str(packed), "--out", str(tmp_path / "out2"), "--dry-run", *DRY])
    assert "continued from burst checkpoint" in (tmp_path / "out2" / "burst.log").read_text()


def test_run_needs_no_opencv_and_no_litesr_edge() -> None:
    code = ("import sys; sys.modules['cv2'] = None; import models.gpu_burst; "
            "assert 'litesr_edge' not in sys.modules; print('ok')")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "ok" in res.stdout, res.stderr
