"""engine="auto" (the default) and mode=: decisions from the measured table, reasons, overrides, the CLI lines.

The table is replaced by a small fake in most tests, so they pin the rule (the accuracy bar,
the speed gain, availability, explicit settings) rather than today's numbers; the last tests
check the committed table itself against the same rule.
"""

from __future__ import annotations

import importlib.util
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from litesr_edge import EngineFallbackWarning, InvalidInputError, Upscaler
from litesr_edge.cli import app
from litesr_edge.engines import ENGINES, auto, modes
from litesr_edge.engines import _auto_table as table
from litesr_edge.engines.cpu import CPU_CLASSES
from litesr_edge.registry import file_digest, find_model

ALL = ("Set14", "Set5", "hard_cases")


def _evidence(worst: float, sources: tuple[str, ...] = ALL, mean: float = -0.01) -> table.Evidence:
    return {"worst_image_db": worst, "worst_set_mean_db": mean, "images": 99, "sources": sources}


def _digest(scale: int, depth: int, precision: str = "fp32") -> str:
    return file_digest(find_model(scale, depth, precision=precision).path)


@pytest.fixture
def fake_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """An "avx2" CPU where OpenVINO fp32 qualifies (1.5x), int8 is faster but fails the bar, bf16 lacks hard cases."""
    monkeypatch.setattr(auto, "cpu_class", lambda: "avx2")
    monkeypatch.setattr(modes, "cpu_class", lambda: "avx2")
    monkeypatch.setattr(table, "SPEED", {"avx2": {"openvino fp32": 1.5, "openvino int8": 2.4,
                                                  "openvino bf16": 3.0, "onnxruntime int8": 0.6}})
    monkeypatch.setattr(table, "ACCURACY", {"avx2": {
        "openvino fp32": _evidence(-0.0004, mean=-0.0001), "openvino int8": _evidence(-0.124, mean=-0.018),
        "openvino bf16": _evidence(-0.02, ("Set14", "Set5"))}})
    monkeypatch.setattr(table, "DEPTH_SPEED", {"avx2": {13: 1.4, 16: 1.2, 19: 1.0}})


@pytest.fixture
def everything_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every engine/precision counts as available (package, CPU, model file)."""
    monkeypatch.setattr(auto, "unavailable", lambda key, source: None)
    monkeypatch.setattr(modes, "unavailable", lambda key, source: None)


def test_auto_picks_the_fastest_that_meets_the_bar(fake_table: None, everything_runs: None) -> None:
    choice = auto.choose(None, (4, 19), ["cpu"])
    assert (choice.engine, choice.precision) == ("openvino", "fp32")
    assert choice.line.startswith("engine auto -> openvino fp32: 1.50x onnxruntime fp32 on x86-64 AVX2 CPUs")
    # The faster ones are named with why they were not used: int8 fails the bar, bf16 lacks hard cases.
    assert "openvino int8: worst image -0.124 dB" in choice.line
    assert "openvino bf16: not measured on hard_cases" in choice.line
    assert "\n" not in choice.line


def test_int8_is_chosen_once_the_table_says_it_passes(fake_table: None, everything_runs: None,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    table.ACCURACY["avx2"]["openvino int8"] = _evidence(-0.03)
    assert auto.choose(None, (4, 19), None if _no_gpu() else ["cpu"]).precision == "int8"


def _no_gpu() -> bool:
    from litesr_edge.engines.onnxruntime import available_providers, resolve_providers

    return resolve_providers(None, available_providers())[0] == "CPUExecutionProvider"


def test_a_small_gain_keeps_the_reference(fake_table: None, everything_runs: None) -> None:
    table.SPEED["avx2"] = {"openvino fp32": auto.MIN_GAIN - 0.05}
    choice = auto.choose(None, (4, 19), ["cpu"])
    assert (choice.engine, choice.precision) == ("onnxruntime", None)
    assert "the exact reference" in choice.line and choice.line.startswith("engine auto -> onnxruntime fp32:")


def test_an_unmeasured_cpu_class_keeps_the_reference(fake_table: None, everything_runs: None,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auto, "cpu_class", lambda: "other")
    choice = auto.choose(None, (4, 19), ["cpu"])
    assert choice.engine == "onnxruntime" and "no measurements on other CPUs" in choice.why


def test_missing_openvino_falls_back_to_the_reference_with_the_reason(
    fake_table: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "openvino" else real(name, *a))
    choice = auto.choose(None, (4, 19), ["cpu"])
    assert choice.engine == "onnxruntime"
    assert "openvino fp32: openvino is not installed (pip install 'litesr-edge[openvino]')" in choice.why


def test_a_gpu_provider_means_onnxruntime(fake_table: None, everything_runs: None) -> None:
    choice = auto.choose(None, (4, 19), ["cuda"])
    assert choice.engine == "onnxruntime" and "onnxruntime only" in choice.why


def test_an_explicit_precision_skips_the_bar_and_picks_its_fastest_engine(
    fake_table: None, everything_runs: None
) -> None:
    choice = auto.choose("int8", (4, 19), ["cpu"])
    assert (choice.engine, choice.precision) == ("openvino", "int8")
    assert "worst image" not in choice.why.split(" (not used")[0]


def test_a_model_file_is_considered_in_its_stored_precision(fake_table: None, tiny_models: dict[int, Path],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auto, "_openvino_problem", lambda precision: None)
    choice = auto.choose(None, tiny_models[2], ["cpu"])  # an fp32 file: int8 is not an option for it
    assert (choice.engine, choice.precision) == ("openvino", "fp32")


def test_upscaler_defaults_to_auto_and_reports_the_choice(tiny_models: dict[int, Path]) -> None:
    up = Upscaler(model=tiny_models[2], tile=0)
    assert up.choice is not None and up.choice.startswith(f"engine auto -> {up.engine} {up.precision}:")
    assert Upscaler(model=tiny_models[2], engine="onnxruntime").choice is None


def test_auto_runs_openvino_with_the_reference_result(fake_table: None, tiny_models: dict[int, Path],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("openvino", reason="the openvino extra is not installed (pip install 'litesr-edge[openvino]')")
    image = np.random.default_rng(0).integers(0, 256, (20, 24, 3), dtype=np.uint8)
    up = Upscaler(model=tiny_models[2], tile=0, providers=["cpu"])
    assert up.engine == "openvino" and up.precision == "fp32"
    ref = Upscaler(model=tiny_models[2], tile=0, engine="onnxruntime", precision="fp32")
    assert ref.engine == "onnxruntime" and ref.choice is None  # the exact reference stays one flag away
    assert np.abs(up.upscale(image).astype(int) - ref.upscale(image).astype(int)).max() <= 1


def test_a_chosen_engine_that_cannot_start_falls_back_with_a_warning(
    fake_table: None, everything_runs: None, tiny_models: dict[int, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(ENGINES, "openvino", "litesr_edge.engines.not_there:Nothing")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        up = Upscaler(model=tiny_models[2], providers=["cpu"])
    assert up.engine == "onnxruntime" and up.fallback_reason is not None
    assert any(issubclass(w.category, EngineFallbackWarning) for w in caught)
    assert up.choice is not None and "openvino fp32" in up.choice


def test_mode_best_is_the_reference_with_tta(tiny_models: dict[int, Path]) -> None:
    up = Upscaler(model=tiny_models[2], mode="best")
    assert (up.engine, up.precision, up.tta) == ("onnxruntime", "fp32", True)
    assert up.choice is not None and up.choice.startswith("mode best ->")
    assert Upscaler(model=tiny_models[2], mode="best", tta=False).tta is False  # explicit wins


def _bundled_like(key: str, source: object) -> str | None:
    """Availability as with the bundled models on a CPU without bf16: int8 at depth 19 only."""
    if "bf16" in key:
        return "no bf16 here"
    return "no int8 model" if "int8" in key and isinstance(source, tuple) and source[1] != 19 else None


def test_mode_fast_weighs_depth_against_precision(fake_table: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(modes, "unavailable", _bundled_like)
    monkeypatch.setattr(table, "DEPTH_DB", {4: {13: -0.031, 16: -0.0275, 19: 0.0}})
    # int8 d19 (2.4x, -0.018 dB) beats fp32 d13 on openvino (1.5 x 1.4 = 2.1x, -0.031 dB); both within 0.1 dB.
    assert modes.fast_choice(4, None, "auto", None)[:3] == (19, "openvino", "int8")
    table.ACCURACY["avx2"]["openvino int8"] = _evidence(-0.124, mean=-0.2)  # now over the fast bar
    depth, engine, precision, why = modes.fast_choice(4, None, "auto", None)
    assert (depth, engine, precision) == (13, "openvino", "fp32")
    assert "about 2.10x" in why and "bar 0.1 dB" in why
    assert modes.fast_choice(4, 19, "onnxruntime", None)[:3] == (19, "onnxruntime", "fp32")  # explicit wins


def test_mode_fast_keeps_depth_19_when_the_shallower_depths_lose_too_much(fake_table: None,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(modes, "unavailable", _bundled_like)
    monkeypatch.setattr(table, "DEPTH_DB", {4: {13: -0.244, 16: -0.240, 19: 0.0}})  # the long-run d19's lead
    table.ACCURACY["avx2"]["openvino int8"] = _evidence(-0.124, mean=-0.2)
    assert modes.fast_choice(4, None, "auto", None)[:3] == (19, "openvino", "fp32")


def test_mode_fast_on_the_bundled_models_runs_a_bundled_depth(tmp_path: Path) -> None:
    up = Upscaler(mode="fast", tile=0)
    assert up.info.depth in (13, 16, 19) and up.choice is not None and up.choice.startswith("mode fast ->")
    assert Upscaler(mode="fast", depth=19, tile=0).info.depth == 19


def test_bad_mode_names_the_choices(tiny_models: dict[int, Path]) -> None:
    with pytest.raises(InvalidInputError, match="fast, balanced, best"):
        Upscaler(model=tiny_models[2], mode="quick")  # type: ignore[arg-type]


def test_cli_verbose_prints_the_choice_on_one_line(tiny_models: dict[int, Path], tmp_path: Path) -> None:
    src = tmp_path / "in.png"
    import cv2

    cv2.imwrite(str(src), np.full((12, 10, 3), 128, np.uint8))
    result = CliRunner().invoke(app, ["upscale", str(src), "--model", str(tiny_models[2]), "-v", "-q"])
    assert result.exit_code == 0, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("engine auto -> ")]
    assert len(lines) == 1
    asked = CliRunner().invoke(app, ["upscale", str(src), "--model", str(tiny_models[2]), "-v", "-q", "--overwrite",
                                     "--engine", "onnxruntime", "--precision", "fp32"])
    assert "engine onnxruntime fp32: as asked" in asked.stderr
    best = CliRunner().invoke(app, ["upscale", str(src), "--model", str(tiny_models[2]), "-v", "-q", "--overwrite",
                                    "--mode", "best"])
    assert best.exit_code == 0, best.output
    assert "mode best -> onnxruntime fp32 + test-time augmentation" in best.stderr


def test_info_says_what_auto_and_each_mode_run(monkeypatch: pytest.MonkeyPatch) -> None:
    text = CliRunner().invoke(app, ["info"])
    assert text.exit_code == 0, text.output
    flat = " ".join(text.stdout.split())
    for start in ("engine auto -> ", "mode fast -> ", "mode balanced -> ", "mode best -> "):
        assert start in flat
    doc = json.loads(CliRunner().invoke(app, ["info", "--json"]).stdout)
    assert doc["cpu"]["class"] in CPU_CLASSES
    assert doc["auto"][0].startswith("engine auto -> ") and len(doc["auto"]) == 4


@pytest.mark.parametrize("model", [(2, 19), (3, 19), (4, 13), (4, 16), (4, 19)])
@pytest.mark.parametrize("cls", sorted(CPU_CLASSES))
def test_the_committed_table_never_lets_auto_pick_what_fails_the_bar(
    cls: str, model: tuple[int, int], everything_runs: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auto, "cpu_class", lambda: cls)
    choice = auto.choose(None, model, ["cpu"])
    key = f"{choice.engine} {choice.precision or 'fp32'}"
    if key != auto.REFERENCE:
        found = table.ACCURACY[cls][key]
        name = f"x{model[0]} d{model[1]}"
        worst = found.get("by_model", {}).get(name, found["worst_image_db"])
        assert abs(worst) <= auto.BAR_DB and set(table.REQUIRED_SOURCES) <= set(found["sources"])
        assert table.SPEED[cls][key] >= auto.MIN_GAIN


def test_each_bundled_model_is_judged_by_its_own_images(fake_table: None, everything_runs: None) -> None:
    # bf16 as measured on AMX: fine at x4 d19, a hard case at x2 moves 0.21 dB.
    table.ACCURACY["avx2"]["openvino bf16"] = {**_evidence(0.2085), "by_model": {"x4 d19": -0.0218, "x2 d19": 0.2085},
                                               "files": {"x4 d19": _digest(4, 19), "x2 d19": _digest(2, 19)}}
    x4 = auto.choose(None, (4, 19), ["cpu"])
    assert (x4.engine, x4.precision) == ("openvino", "bf16")
    assert "worst image -0.0218 dB on x4 d19" in x4.line
    x2 = auto.choose(None, (2, 19), ["cpu"])
    assert (x2.engine, x2.precision) == ("openvino", "fp32")
    assert "openvino bf16: worst image +0.208 dB on x2 d19" in x2.line
    # A model the table has no row of its own for is judged by the worst of all.
    assert auto.choose(None, (3, 19), ["cpu"]).precision == "fp32"


def test_a_row_measured_on_an_earlier_file_of_the_model_does_not_count(fake_table: None,
                                                                      everything_runs: None) -> None:
    # The x4 model was retrained after the table was measured: its old numbers judge nothing.
    table.ACCURACY["avx2"]["openvino bf16"] = {**_evidence(-0.0218), "by_model": {"x4 d19": -0.0218},
                                               "files": {"x4 d19": "0123456789abcdef"}}
    choice = auto.choose(None, (4, 19), ["cpu"])
    assert (choice.engine, choice.precision) == ("openvino", "fp32")
    assert "openvino bf16: measured on an earlier x4 d19 file than litesrnet_x4_d19.onnx" in choice.line
    del table.ACCURACY["avx2"]["openvino bf16"]["files"]  # a row that does not say which file: the same
    assert auto.choose(None, (4, 19), ["cpu"]).precision == "fp32"
    table.ACCURACY["avx2"]["openvino bf16"]["files"] = {"x4 d19": _digest(4, 19)}
    assert auto.choose(None, (4, 19), ["cpu"]).precision == "bf16"


def test_every_row_of_the_committed_table_says_which_files_it_measured() -> None:
    for cls, rows in table.ACCURACY.items():
        for key, row in rows.items():
            assert set(row.get("by_model", {})) == set(row.get("files", {})), (cls, key)


def test_a_users_model_file_is_judged_by_the_worst_of_all_models(
    fake_table: None, tiny_models: dict[int, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auto, "_openvino_problem", lambda precision: None)
    table.ACCURACY["avx2"]["openvino bf16"] = {**_evidence(0.2085), "by_model": {"x4 d19": -0.0218}}
    choice = auto.choose(None, tiny_models[4], ["cpu"])
    assert (choice.engine, choice.precision) == ("openvino", "fp32")
    assert "worst image +0.208 dB on all bundled models" in choice.line


def test_the_committed_table_is_well_formed() -> None:
    engines = {f"{e} {p}" for e in ("onnxruntime", "openvino") for p in ("fp32", "bf16", "int8")}
    assert isinstance(table.VERSION, int) and table.VERSION >= 1
    for rows in (table.SPEED, table.ACCURACY, table.DEPTH_SPEED, table.RECORDS):
        assert set(rows) <= set(CPU_CLASSES)
    for cls, speed in table.SPEED.items():
        assert set(speed) <= engines and all(v > 0 for v in speed.values()) and cls in table.RECORDS
    for evidence in table.ACCURACY.values():
        assert set(evidence) <= engines
        assert all(e["images"] > 0 and set(e["sources"]) >= {"Set5", "Set14"} for e in evidence.values())
