"""How the portal writes money, dates, counts and rates in English, French and Swedish:
Babel's own forms, the amounts exact (never through a float)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from flask import Flask, render_template_string

from service.portal_site import formatting

NNBSP, NBSP = "\u202f", "\xa0"  # French groups digits with a narrow space, Swedish a wide one


def _in(app: Flask, lang: str, template: str, **values: object) -> str:
    with app.test_request_context("/portal/", headers={"Cookie": f"afftrack_lang={lang}"}):
        return render_template_string(template, **values)


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", "€1,234.50"),
        ("fr", f"1{NNBSP}234,50{NBSP}€"),
        ("sv", f"1{NBSP}234,50{NBSP}€"),
    ],
)
def test_money_is_written_in_the_pages_language(
    sqlite_app: Flask, lang: str, expected: str
) -> None:
    assert _in(sqlite_app, lang, "{{ 123450|portal_money('EUR') }}") == expected


def test_amounts_stay_exact_whatever_their_size_or_places(sqlite_app: Flask) -> None:
    # 14 digits before the point: a float would lose the cents.
    assert _in(sqlite_app, "en", "{{ 1234567890123456|portal_money('SEK') }}") == (
        "SEK12,345,678,901,234.56"
    )
    assert _in(sqlite_app, "sv", "{{ 1234567890123456|portal_money('SEK') }}") == (
        f"12{NBSP}345{NBSP}678{NBSP}901{NBSP}234,56{NBSP}kr"
    )
    assert _in(sqlite_app, "en", "{{ -50|portal_money('EUR') }}") == "-€0.50"
    assert _in(sqlite_app, "en", "{{ 1500|portal_money('JPY') }}") == "¥1,500"
    assert _in(sqlite_app, "fr", "{{ 1234|portal_money('BHD') }}") == f"1,234{NBSP}BHD"
    assert formatting.amount(123450, "EUR") == Decimal("1234.50")
    assert isinstance(formatting.amount(1, "EUR"), Decimal)


def test_dates_counts_and_rates_in_each_language(sqlite_app: Flask) -> None:
    values = {"d": date(2026, 9, 5), "t": datetime(2026, 9, 5, 14, 30, tzinfo=UTC)}
    template = (
        "{{ d|portal_day }}|{{ t|portal_moment }}|{{ 12345|portal_number }}"
        "|{{ '0.0325'|portal_percent }}"
    )
    en = _in(sqlite_app, "en", template, **values).split("|")
    fr = _in(sqlite_app, "fr", template, **values).split("|")
    sv = _in(sqlite_app, "sv", template, **values).split("|")
    assert en[0] == "Sep 5, 2026"
    assert fr[0] == "5 sept. 2026"
    assert sv[0] == "5 sep. 2026"
    assert en[1].startswith("Sep 5, 2026") and "2:30:00" in en[1]
    assert "14:30:00" in fr[1] and "14:30:00" in sv[1]
    assert (en[2], fr[2], sv[2]) == ("12,345", f"12{NNBSP}345", f"12{NBSP}345")
    assert (en[3], fr[3], sv[3]) == ("3.25%", f"3,25{NBSP}%", f"3,25{NBSP}%")


def test_a_missing_figure_is_a_dash(sqlite_app: Flask) -> None:
    template = (
        "{{ none|portal_money('EUR') }} {{ none|portal_percent }} {{ none|portal_day }} "
        "{{ none|portal_number }}"
    )
    assert _in(sqlite_app, "en", template) == " ".join([formatting.DASH] * 4)


def test_a_commission_rule_in_words(sqlite_app: Flask) -> None:
    template = "{{ rule|portal_rule_words('EUR') }}"
    percent = {"type": "percent", "rate": "10"}
    flat = {"type": "flat", "amount": "2.50"}
    assert _in(sqlite_app, "en", template, rule=percent) == (
        "10% of each order&#39;s amount after discounts."
    )
    assert _in(sqlite_app, "fr", template, rule=flat).startswith(f"2,50{NBSP}€")
    tiered = {
        "type": "tiered_percent",
        "tiers": [{"rate": "5", "up_to": "1000.00"}, {"rate": "12.5", "up_to": None}],
    }
    assert _in(sqlite_app, "en", template, rule=tiered) == (
        "A rate by the month&#39;s sales: 5% up to €1,000.00; 12.5% above that."
    )
