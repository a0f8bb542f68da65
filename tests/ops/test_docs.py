"""The README and the docs stand on their own: every link they make into the repository
leads to a file (and a heading) that exists, and the README's links stay inside it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.markdown import FENCE, anchors, links

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


def test_no_heading_is_named_after_an_issue_or_a_review() -> None:
    named = [
        f"{page.relative_to(ROOT)}: {line}"
        for page in PAGES
        for line in FENCE.sub("", page.read_text()).splitlines()
        if line.startswith("#") and re.search(r"\bissue\s*#?\d|\breview\b", line, re.IGNORECASE)
    ]
    assert named == []


POINTER = re.compile(r"\b(docs/[\w/.-]+\.md)(?:#([\w-]+))?")
CODE = [
    p
    for folder in ("service", "bench", "deploy", "tests")
    for p in sorted((ROOT / folder).rglob("*"))
    if p.is_file() and p.suffix in {".py", ".sh", ".yaml", ".conf", ".md"}
] + [ROOT / "Dockerfile"]


def test_pointers_from_the_code_into_the_docs_resolve() -> None:
    broken = []
    for source in CODE:
        for path, anchor in POINTER.findall(source.read_text()):
            target = ROOT / path
            if not target.exists() or (anchor and anchor not in anchors(target)):
                broken.append(f"{source.relative_to(ROOT)}: {path}#{anchor}")
    assert broken == []
