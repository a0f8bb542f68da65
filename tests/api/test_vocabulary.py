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


RATES = [
    *("0", "00", "000", "5", "12.5", "099", "99.999999", "100", "100.0", "100.000000"),
    *("100.0000001", "100.5", "101", "999", "1000", "12.1234567", "-1", "+1", ".5", "5."),
    *("1e2", "", " 10", "10 ", "10\n", "\u0661\u0660"),
]


@pytest.mark.parametrize("text", RATES)
def test_the_rate_pattern_allows_exactly_the_percentages_the_server_reads(text):
    from service.money import MoneyError, parse_rate

    try:
        parse_rate(text)
        read = True
    except MoneyError:
        read = False
    assert bool(vocabulary.full(vocabulary.RATE_PATTERN).match(text)) is read


@pytest.mark.parametrize(
    ("text", "positive"),
    [
        ("1", True),
        ("0.01", True),
        ("000.001", True),
        ("12.50", True),
        ("9" * 18, True),
        ("0", False),
        ("0.000000", False),
        ("-0", False),
        ("-5.00", False),
        ("9" * 19, False),
        ("1.0000001", False),
        ("1,00", False),
    ],
)
def test_the_positive_amount_pattern_allows_amounts_over_zero(text, positive):
    assert bool(vocabulary.full(vocabulary.POSITIVE_AMOUNT_PATTERN).match(text)) is positive
    assert bool(vocabulary.full(vocabulary.AMOUNT_PATTERN).match(text)) is (
        positive or text in ("0", "0.000000", "-0", "-5.00")
    )
