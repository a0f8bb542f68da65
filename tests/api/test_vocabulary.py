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


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        ("https://shop.example/p?a=1#f", True),
        ("https://bücher.example/x", True),
        ("https://例え.jp/", True),
        ("http://[::1]:8080/x", True),
        ("http://user:pw@h.example:8080/", True),
        ("http://a b/", False),
        ("http://h\\x/", False),
        ("ftp://x/", False),
        ("https:///x", False),
    ],
)
def test_a_url_of_any_script_or_an_ipv6_host_is_a_url(url, accepted):
    from marshmallow import ValidationError

    from service.schemas import http_url

    assert bool(vocabulary.full(vocabulary.URL_PATTERN).match(url)) is accepted
    if accepted:
        http_url(url)
    else:
        with pytest.raises(ValidationError):
            http_url(url)
