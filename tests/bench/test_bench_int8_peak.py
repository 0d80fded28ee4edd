"""bench's int8 peak: measured through OpenVINO's int8 GEMM, shown as "% int8 peak" on int8 rows only."""

from __future__ import annotations

import sys

import pytest

from litesr_edge.bench.machine import GemmPeak
from litesr_edge.bench.report import COLUMNS, cells, machine_line, to_csv
from litesr_edge.bench.run import BenchReport, Candidate, Latency, _row


def test_int8_peak_is_none_without_openvino(monkeypatch: pytest.MonkeyPatch) -> None:
    from litesr_edge.bench.int8_peak import int8_peak

    monkeypatch.setitem(sys.modules, "openvino", None)
    assert int8_peak(1, n=64, seconds=0.01) is None


def test_int8_peak_runs_an_int8_kernel() -> None:
    pytest.importorskip("openvino", reason="the openvino extra is not installed (pip install 'litesr-edge[openvino]')")
    from litesr_edge.bench.int8_peak import int8_peak

    peak = int8_peak(1, n=128, seconds=0.05)
    assert peak is not None and peak.gmacs > 0 and peak.n == 128 and peak.threads == 1 and peak.repeats >= 5
    # The compiled GEMM's runtime precision: u8/i8 means the int8 kernel really ran, not an fp32 fallback.
    assert peak.blas.startswith("OpenVINO ") and peak.blas.endswith(("(u8)", "(i8)")), peak.blas


def _candidate(precision: str) -> Candidate:
    return Candidate(name=f"m {precision}", kind="litesr", run=lambda: None, scale=4, input_size=(320, 180), depth=19,
                     engine="openvino", precision=precision, macs=44_000_000_000)


def test_int8_rows_show_their_share_of_the_int8_peak() -> None:
    fp32, int8 = GemmPeak(100.0, 512, 2, 9, "blas"), GemmPeak(400.0, 512, 2, 9, "OpenVINO x jit_gemm_I8 (u8)")
    lat = Latency(0.44, 0.5, 0.4, 3)
    row8 = _row(_candidate("int8"), lat, None, (fp32, int8), None)
    row32 = _row(_candidate("fp32"), lat, None, (fp32, int8), None)
    assert row8.pct_int8_peak == pytest.approx(25.0) and row8.pct_fp32_peak == pytest.approx(100.0)
    assert row32.pct_int8_peak is None  # an fp32 row is not measured against the int8 roof
    at = COLUMNS.index("% int8 peak")
    assert cells(row8)[at] == "25" and cells(row32)[at] == ""
    report = BenchReport({"cpu": "x"}, {}, fp32, (row8, row32), int8_peak=int8)
    assert "int8 GEMM peak 400.0 GMAC/s" in machine_line(report) and "jit_gemm_I8" in machine_line(report)
    assert to_csv(report).splitlines()[0].split(",").count("pct_int8_peak") == 1
    assert "int8 GEMM peak not measured" in machine_line(BenchReport({}, {}, None, ()))
