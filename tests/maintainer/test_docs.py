"""README and docs: the README stays short and keeps .ci/run's test command; links resolve; no overreach."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
TEST_COMMAND = 'pip install ".[dev,maintainer,openvino,video,serve,ray]" && python -m pytest -q'
# Phrases a user-facing page must not contain: a false memory claim, tracker and figure references.
BANNED = ("however large the image", "issue asks", "Issue ", "Figure 4", "litesr_edge/models/")


def test_readme_is_short_and_keeps_the_ci_test_command() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 150
    assert TEST_COMMAND in lines
    assert TEST_COMMAND in (ROOT / ".ci" / "run").read_text().splitlines()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page: Path) -> None:
    links = [u for u in LINK.findall(page.read_text()) if "://" not in u]
    assert [u for u in links if not (page.parent / u).exists()] == []


@pytest.mark.parametrize("page", [p for p in PAGES if p.name != "CHANGELOG.md"], ids=lambda p: p.name)
def test_no_overreaching_or_internal_references(page: Path) -> None:
    text = page.read_text()
    assert [b for b in BANNED if b in text] == []
