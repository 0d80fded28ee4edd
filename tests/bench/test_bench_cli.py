"""`litesr-edge bench`: report schema, formats, plots, optional rows and errors (no timing assertions)."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

import cv2
import pytest
from typer.testing import CliRunner, Result

from litesr_edge.bench.macs import count_macs
from litesr_edge.bench.onnx_graph import read_graph
from litesr_edge.bench.run import SCHEMA
from litesr_edge.cli import app

QUICK = ["--size", "32x24", "--runs", "1", "--warmup", "1", "--no-peak", "--threads", "1"]
# The OpenCV zoo .pb files: LITESR_EDGE_PEERS (as for `bench --peers`), else the checkout's neighbour.
CHECKOUT_PEERS = Path(__file__).resolve().parents[2].parent / "shared" / "peers" / "opencv-dnn-superres"
PEERS = Path(os.environ.get("LITESR_EDGE_PEERS") or CHECKOUT_PEERS)


def _bench(*args: object) -> Result:
    return CliRunner().invoke(app, ["bench", *[str(a) for a in args]])


def _json(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_json_schema_and_counts(tiny_models: dict[int, Path]) -> None:
    model = tiny_models[4]
    data = _json(_bench("--model", model, *QUICK, "--compare", "none", "--json"))
    assert data["schema"] == SCHEMA
    assert set(data) >= {"machine", "settings", "gemm_peak", "rows", "notes", "convention", "scaling"}
    assert {"cpu", "logical_cpus", "versions", "load_average_1m", "load_average_1m_after"} <= set(data["machine"])
    assert data["gemm_peak"] is None  # --no-peak
    (row,) = data["rows"]
    assert row["kind"] == "litesr" and row["scale"] == 4 and row["engine"] == "onnxruntime"
    assert row["input_size"] == [8, 6] and row["output_size"] == [32, 24]
    assert row["macs_g"] == pytest.approx(count_macs(read_graph(model), (1, 3, 6, 8)).macs / 1e9)
    assert row["latency"]["runs"] == 1 and row["latency"]["median_s"] > 0
    assert row["latency"]["min_s"] <= row["latency"]["median_s"] <= row["latency"]["p90_s"]
    assert row["latency"]["cpu_median_s"] is not None and row["latency"]["cpu_median_s"] >= 0
    assert row["speedup_vs_ort_fp32"] == pytest.approx(1.0)
    assert row["pct_fp32_peak"] is None and row["paper_macs_g"] is None
    assert row["peak_rss_added_mb"] is None or row["peak_rss_added_mb"] >= 0
    assert "untrained" in row["note"]


def test_gemm_peak_and_comparison_rows(tiny_models: dict[int, Path]) -> None:
    args = ["--model", tiny_models[2], *QUICK[:-3], "--threads", "1", "--compare", "bicubic,tiled", "--json"]
    data = _json(_bench(*[a for a in args if a != "--no-peak"]))
    peak = data["gemm_peak"]
    assert peak["gmacs"] > 0 and peak["threads"] == 1 and peak["n"] == 512
    int8 = data["int8_peak"]  # None only without openvino; fp32 rows carry no % of it
    assert int8 is None or (int8["gmacs"] > 0 and int8["threads"] == 1)
    assert all(r["pct_int8_peak"] is None for r in data["rows"])
    kinds = [(r["kind"], r["tile"]) for r in data["rows"]]
    assert ("baseline", None) in kinds and ("litesr", 0) in kinds
    assert any(k == "litesr" and t and t > 0 for k, t in kinds)
    for row in data["rows"]:
        assert row["pct_fp32_peak"] is not None and row["pct_fp32_peak"] > 0


def test_csv_has_one_line_per_row(tiny_models: dict[int, Path]) -> None:
    result = _bench("--model", tiny_models[3], "--model", tiny_models[2], *QUICK, "--compare", "bicubic", "--csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["kind"] for r in rows] == ["litesr", "baseline", "litesr", "baseline"]
    assert {r["scale"] for r in rows} == {"2", "3"}
    assert float(rows[0]["macs_g"]) > 0


def test_table_plot_and_scaling(tiny_models: dict[int, Path], tmp_path: Path) -> None:
    plot = tmp_path / "bench.png"
    out = tmp_path / "bench.json"
    result = _bench("--model", tiny_models[2], *QUICK, "--compare", "none", "--plot", plot, "--output", out,
                    "--scaling", "16,24")
    assert result.exit_code == 0, result.output
    assert "LiteSRNet x2" in result.stdout and "provider CPUExecutionProvider" in result.stdout
    for png in (plot, tmp_path / "bench_scaling.png"):
        img = cv2.imread(str(png))
        assert img is not None and img.shape[0] > 100
    data = json.loads(out.read_text())
    sides = sorted({(p["lr_side"], p["tile"] == 0) for p in data["scaling"]})
    assert sides == [(16, False), (16, True), (24, False), (24, True)]
    assert all(p["median_s"] > 0 for p in data["scaling"])


def test_missing_openvino_is_a_note_not_a_failure(
    tiny_models: dict[int, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "openvino", None)
    monkeypatch.delitem(sys.modules, "litesr_edge.engines.openvino", raising=False)
    data = _json(_bench("--model", tiny_models[2], *QUICK, "--compare", "openvino", "--json"))
    assert len(data["rows"]) == 1
    assert any("openvino bf16" in n and "skipped" in n and "litesr-edge[openvino]" in n for n in data["notes"])


def test_explicit_openvino_engine(tiny_models: dict[int, Path]) -> None:
    pytest.importorskip("openvino", reason="the openvino extra is not installed")
    data = _json(_bench("--model", tiny_models[2], *QUICK, "--engine", "onnxruntime,openvino", "--precision",
                        "fp32", "--compare", "none", "--json"))
    assert [(r["engine"], r["precision"]) for r in data["rows"]] == [("onnxruntime", "fp32"), ("openvino", "fp32")]
    assert data["rows"][1]["speedup_vs_ort_fp32"] > 0


@pytest.mark.data
@pytest.mark.skipif(not PEERS.is_dir(), reason=f"OpenCV zoo peers not found at {PEERS}")
def test_peer_rows(tiny_models: dict[int, Path]) -> None:
    data = _json(_bench("--model", tiny_models[4], *QUICK, "--compare", "peers", "--peers", PEERS, "--json"))
    peers = {r["name"].split(" ")[0]: r for r in data["rows"] if r["kind"] == "peer"}
    assert set(peers) == {"ESPCN_x4", "FSRCNN_x4", "FSRCNN-small_x4"}
    # ESPCN: 5x5x1x64 + 3x3x64x32 + 3x3x32x16 weights, all applied at LR (8x6 here).
    assert peers["ESPCN_x4"]["macs_g"] == pytest.approx(24640 * 48 / 1e9)


def test_missing_peers_folder_is_a_note(tiny_models: dict[int, Path], tmp_path: Path) -> None:
    data = _json(_bench("--model", tiny_models[2], *QUICK, "--compare", "peers", "--peers", tmp_path, "--json"))
    assert len(data["rows"]) == 1 and any("peers skipped" in n for n in data["notes"])


def test_peers_default_to_none_with_a_hint(tiny_models: dict[int, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    # No folder is assumed (an installed package has no checkout beside it): the note says what to pass.
    monkeypatch.delenv("LITESR_EDGE_PEERS", raising=False)
    data = _json(_bench("--model", tiny_models[2], *QUICK, "--compare", "peers", "--json"))
    (note,) = [n for n in data["notes"] if "peers skipped" in n]
    assert "--peers FOLDER" in note and "LITESR_EDGE_PEERS" in note and "shared" not in note


def test_peers_folder_from_the_environment(
    tiny_models: dict[int, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LITESR_EDGE_PEERS", str(tmp_path))
    data = _json(_bench("--model", tiny_models[2], *QUICK, "--compare", "peers", "--json"))
    assert any(f"no *_x2.pb in {tmp_path}" in n for n in data["notes"])


def test_help_names_no_checkout_path_or_issue() -> None:
    result = _bench("--help")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "LITESR_EDGE_PEERS" in text
    for word in ("shared", "issue", "Issue", "Figure"):
        assert word not in text


def test_rows_time_the_upscaler(tiny_models: dict[int, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    # The LiteSRNet rows call Upscaler.upscale (what users run), not a copy of its tile loop.
    from litesr_edge.upscaler import Upscaler

    calls: list[int] = []
    real = Upscaler.upscale

    def counted(self: Upscaler, image: Any) -> Any:
        calls.append(self.tile)
        return real(self, image)

    monkeypatch.setattr(Upscaler, "upscale", counted)
    data = _json(_bench("--model", tiny_models[2], *QUICK, "--tile", "0,5", "--runs", "2", "--compare", "none",
                        "--json"))
    assert [r["tile"] for r in data["rows"]] == [0, 5]
    # per row: the memory run (Linux only), warm-up - 1 more, then the 2 timed runs
    assert calls.count(0) == calls.count(5) in (2, 3) and len(calls) == 2 * calls.count(0)


def test_unwritable_output_is_one_line_error(tiny_models: dict[int, Path], tmp_path: Path) -> None:
    result = _bench("--model", tiny_models[2], *QUICK, "--compare", "none", "--output", tmp_path / "no" / "r.json")
    assert result.exit_code == 4
    assert "--output" in result.output and "Traceback" not in result.output


def test_missing_torch_is_a_note(tiny_models: dict[int, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    data = _json(_bench("--model", tiny_models[2], *QUICK, "--compare", "torch", "--json"))
    assert len(data["rows"]) == 1
    assert any("PyTorch x2 skipped" in n and "pip install torch" in n for n in data["notes"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--size", "12by5"], "WIDTHxHEIGHT"),
        (["--precision", "bf16"], "onnxruntime"),
        (["--compare", "magic"], "--compare magic is unknown"),
        (["--runs", "0"], "--runs 0"),
        (["--tile", "-3"], "--tile"),
        (["--scale", "two"], "comma-separated integers"),
    ],
)
def test_bad_options_are_one_line_errors(tiny_models: dict[int, Path], args: list[str], message: str) -> None:
    result = _bench("--model", tiny_models[2], "--no-peak", "--compare", "none", *args)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_unknown_scale_lists_bundled(bundled_dir: Path) -> None:
    result = _bench("-s", "3", "--no-peak")
    assert result.exit_code == 2 and "bundled: x2 d2, x4 d2" in result.output
