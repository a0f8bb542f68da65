"""The README and the docs stand on their own: every link they make into the repository
leads to a file (and a heading) that exists, and the README's links stay inside it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.markdown import anchors, links

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def test_anchor_rules_match_github() -> None:
    page = ROOT / "docs" / "product.md"
    assert {"9-configuration", "4-attribution"} <= anchors(page)


def test_the_readme_links_only_into_the_repository() -> None:
    outside = [t for t in links(ROOT / "README.md") if re.match(r"[a-z]+:", t)]
    assert outside == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_into_the_repository_resolves(page: Path) -> None:
    broken = []
    for target in links(page):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists() or (
            anchor and resolved.suffix == ".md" and anchor not in anchors(resolved)
        ):
            broken.append(target)
    assert broken == []
