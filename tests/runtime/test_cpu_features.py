"""The CPU-feature switch: LITESR_EDGE_HIDE_CPU makes the library believe features are absent."""

from __future__ import annotations

import pytest

from litesr_edge import InvalidInputError
from litesr_edge.engines.cpu import FEATURES, HIDE_ENV, has_flag, hidden_features, visible


def test_nothing_is_hidden_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(HIDE_ENV, raising=False)
    assert hidden_features() == frozenset()
    assert visible("bf16", True) and not visible("bf16", False)


@pytest.mark.parametrize(
    ("value", "hidden"),
    [("all", set(FEATURES)), ("bf16", {"bf16"}), (" AMX , vnni ", {"amx", "vnni"}), ("int8,all", set(FEATURES))],
)
def test_hidden_features_are_parsed(monkeypatch: pytest.MonkeyPatch, value: str, hidden: set[str]) -> None:
    monkeypatch.setenv(HIDE_ENV, value)
    assert hidden_features() == hidden
    for feature in FEATURES:
        assert visible(feature, True) == (feature not in hidden)
        if feature in hidden and feature != "int8":
            assert not has_flag(feature)


def test_an_unknown_feature_names_the_value_and_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HIDE_ENV, "bf16,avx9")
    with pytest.raises(InvalidInputError, match=r"avx9.*bf16, amx, vnni, int8, or all"):
        hidden_features()


def test_hiding_int8_makes_openvino_int8_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("openvino", reason="the openvino extra is not installed")
    from litesr_edge.engines.openvino import bf16_supported, int8_supported

    monkeypatch.setenv(HIDE_ENV, "all")
    assert not bf16_supported() and not int8_supported()
