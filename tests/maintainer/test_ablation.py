"""models.ablation: each row is the shipped recipe with exactly its one change, and the table reads right."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch", reason="needs the maintainer extra: pip install '.[maintainer]'")
pytest.importorskip("cv2", reason="models.data reads images with OpenCV")

from models import ablation, train  # noqa: E402

pytestmark = pytest.mark.maintainer


def _args(row: str) -> dict[str, object]:
    cmd = ablation.train_cmd(row, Path("runs/abl"), 3000, Path("data"))
    assert cmd[1:3] == ["-m", "models.train"]
    return vars(train.parse_args(cmd[3:]))


@pytest.mark.parametrize("row", sorted(set(ablation.ROWS) - {"base"}))
def test_each_row_changes_only_its_own_options(row: str) -> None:
    base, got = _args("base"), _args(row)
    changed = {k for k in base if base[k] != got[k]} - {"out"}
    named = {ablation.ROWS[row][i].lstrip("-").replace("-", "_") for i in range(0, len(ablation.ROWS[row]), 2)}
    assert changed and changed <= named


def test_the_rows_share_budget_seed_and_scale() -> None:
    for row in ablation.ROWS:
        a = _args(row)
        assert (a["steps"], a["seed"], a["scale"], a["depth"]) == (3000, 0, 4, 19)
        assert a["out"] == Path("runs/abl") / row


def _result(row: str, psnr: float) -> dict[str, object]:
    sets = {s: {"psnr": psnr + i, "ssim": 0.9, "worst": psnr - 5 + i} for i, s in enumerate(ablation.SETS)}
    return {"row": row, "command": "python -m models.train ...", "eval": sets}


def test_table_shows_mean_worst_and_the_change_against_base() -> None:
    text = ablation.table([_result("base", 30.0), _result("l1", 30.125)])
    lines = text.splitlines()
    assert lines[0].startswith("| row | change | Set5 mean (worst)")
    assert lines[2].startswith("| base | `(shipped recipe)` | 30.00 (25.00) | 31.00 (26.00)")
    assert lines[3].startswith("| l1 | `--loss l1` | 30.12 (25.12)")
    assert lines[3].endswith("| +0.125 / +0.125 / +0.125 |")


def test_unknown_row_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="unknown row 'nope'"):
        ablation.main(["--out", str(tmp_path), "--rows", "nope"])


def test_threads_override_the_base_and_are_recorded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    ran: list[list[str]] = []
    monkeypatch.setattr(ablation.subprocess, "run", lambda cmd, check: ran.append(cmd))
    monkeypatch.setattr(ablation, "evaluate", lambda ckpt, test_root, scale: {"Set5": {"psnr": 30.0}})
    args = argparse.Namespace(out=tmp_path, steps=3000, data=Path("data"), test=Path("test"), threads=1)
    result = ablation.run_row("l1", args)
    assert ran[0][-2:] == ["--threads", "1"] and train.parse_args(ran[0][3:]).threads == 1
    assert result["command"].endswith("--threads 1") and "--loss l1" in result["command"]
