"""Limits and vocabularies are stated once and serve Python and JSON Schema alike."""

from __future__ import annotations

import re

import pytest

from service import vocabulary
from service.conversions.webhooks import SOURCES

PATTERNS = {name: value for name, value in vars(vocabulary).items() if name.endswith("_PATTERN")}


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_patterns_are_anchored_and_free_of_python_only_syntax(name):
    pattern = PATTERNS[name]
    assert pattern.startswith("^") and pattern.endswith("$"), name
    for python_only in (r"\Z", r"\A", "(?P<", "(?<=", "(?<!"):
        assert python_only not in pattern, (name, python_only)


def test_a_full_pattern_refuses_a_trailing_newline():
    handle = vocabulary.full(vocabulary.HANDLE_PATTERN)
    assert handle.match("ab.cd")
    assert handle.match("ab.cd\n") is None
    assert re.match(vocabulary.HANDLE_PATTERN, "ab.cd\n")  # what a bare "$" would allow


def test_code_pattern_allows_exactly_the_code_length():
    code = vocabulary.full(vocabulary.CODE_PATTERN)
    assert code.match("a" * vocabulary.CODE_MAX_LENGTH)
    assert code.match("a" * (vocabulary.CODE_MAX_LENGTH + 1)) is None


def test_webhook_sources_are_the_parsers_there_are():
    assert set(SOURCES) == set(vocabulary.WEBHOOK_SOURCES)
