"""``litesr-edge info``: nothing cut at 80 columns, and --json carries everything."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from litesr_edge.cli import app
from litesr_edge.registry.info import ModelInfo


def run(*args: object) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def test_info_at_80_columns_cuts_nothing(bundled_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    result = run("info")
    assert result.exit_code == 0, result.output
    assert "…" not in result.stdout and all(len(line) <= 80 for line in result.stdout.splitlines())
    text = " ".join(result.stdout.split())
    assert "receptive field" in text and "a.onnx" in text and "train_data=none" in text
    assert "CPU features:" in text and "Execution providers:" in text


def test_info_json_carries_everything(bundled_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITESR_EDGE_HIDE_CPU", "bf16,vnni")
    result = run("info", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["schema"] == "litesr-edge.info/1"
    model = doc["models"][0]
    assert {f.name for f in fields(ModelInfo)} <= set(model) and model["bundled"] is True
    assert [e["name"] for e in doc["engines"]] == ["onnxruntime", "openvino"]
    assert set(doc["engines"][0]["precisions"]) == {"fp32", "bf16", "int8"}
    assert "CPUExecutionProvider" in doc["providers"]["available"]
    cpu = doc["cpu"]
    assert cpu["hidden"] == ["bf16", "vnni"] and cpu["LITESR_EDGE_HIDE_CPU"] == "bf16,vnni"
    assert cpu["features"]["bf16"] is False and cpu["features"]["vnni"] is False
    assert set(cpu["features"]) == {"bf16", "amx", "vnni", "int8"}


def test_info_json_with_a_model_file(tiny_models: dict[int, Path]) -> None:
    doc = json.loads(run("info", "--model", tiny_models[2], "--json").stdout)
    assert doc["models"][-1]["bundled"] is False and doc["models"][-1]["scale"] == 2


def test_info_bad_hide_switch_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITESR_EDGE_HIDE_CPU", "sse9")
    result = run("info", "--json")
    assert result.exit_code == 2 and result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1
