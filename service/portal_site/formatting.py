"""How the portal writes money, dates and numbers: in the page's language (Babel), the
amounts exact.

An amount arrives as integer minor units and a currency; it becomes an exact
``Decimal`` (never a float) with the currency's places (``service.money``) and is
written by Babel's ``format_currency`` without rounding: ``123450`` EUR is "€1,234.50"
in English, "1 234,50 €" in French and Swedish. Dates and times are written by
Flask-Babel in the page's locale (times in UTC, as every figure of afftrack is). A
refusal the domain or a form's check words (``service.errors.Words``: the influencer's
payout e-mail already, a closed request, "Fill this in.") is written from the catalogue
by ``words``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from babel import Locale
from babel.numbers import format_currency, format_decimal, format_percent
from flask import Flask
from flask_babel import format_date, format_datetime, get_locale
from flask_babel import gettext as _

from service.errors import Words
from service.money import exponent, parse_amount

DASH = "\u2013"  # an en dash: no figure


def _locale() -> Locale:
    found = get_locale()
    return found if found is not None else Locale.parse("en")


def amount(minor: int, currency: str) -> Decimal:
    """``123450`` EUR → ``Decimal("1234.50")``: exact, with the currency's places."""
    return Decimal(int(minor)).scaleb(-exponent(currency))


def money(minor: int | None, currency: str) -> str:
    """An amount in minor units as the page's language writes it, with its currency;
    never rounded (an amount with more places than Babel's usual keeps them)."""
    if minor is None:
        return DASH
    return str(
        format_currency(
            amount(minor, currency),
            currency,
            locale=_locale(),
            currency_digits=True,
            decimal_quantization=False,
        )
    )


def day(value: date | None) -> str:
    """A day as the page's language writes it ("Sep 5, 2026", "5 sept. 2026")."""
    if value is None:
        return DASH
    return str(format_date(value, "medium"))


def moment(value: datetime | None) -> str:
    """A moment, in UTC, as the page's language writes it."""
    if value is None:
        return DASH
    return str(format_datetime(value, "medium"))


def number(value: int | None) -> str:
    """A count with the page's language's digit grouping ("12,345", "12 345")."""
    if value is None:
        return DASH
    return str(format_decimal(value, locale=_locale()))


def percent(ratio: str | Decimal | None) -> str:
    """A ratio (``"0.0325"``) as a percentage ("3.25%", "3,25 %"), as exact as given."""
    if ratio is None:
        return DASH
    return str(format_percent(Decimal(ratio), locale=_locale(), decimal_quantization=False))


def _rule_money(text: str, currency: str) -> str:
    return money(parse_amount(text, currency), currency)


def _rule_rate(text: str) -> str:
    """A rule's rate, a percentage as the rules store it (``"10"`` is 10 %)."""
    return percent(Decimal(text).scaleb(-2))


def rule_words(rule: dict[str, Any], currency: str) -> str:
    """A commission rule the influencer earns by, in a sentence of the page's language."""
    kind = rule.get("type")
    if kind == "percent":
        return str(
            _("%(rate)s of each order's amount after discounts.", rate=_rule_rate(rule["rate"]))
        )
    if kind == "flat":
        return str(_("%(amount)s per order.", amount=_rule_money(rule["amount"], currency)))
    if kind == "cpc":
        return str(
            _(
                "%(amount)s per unique click by a person.",
                amount=_rule_money(rule["amount"], currency),
            )
        )
    if kind == "per_post":
        return str(_("%(amount)s per approved post.", amount=_rule_money(rule["amount"], currency)))
    if kind == "tiered_percent":
        brackets = []
        for tier in rule.get("tiers", []):
            upper = tier.get("up_to")
            rate = _rule_rate(tier["rate"])
            brackets.append(
                _("%(rate)s up to %(amount)s", rate=rate, amount=_rule_money(upper, currency))
                if upper is not None
                else _("%(rate)s above that", rate=rate)
            )
        return str(
            _(
                "A rate by the month's sales: %(brackets)s.",
                brackets="; ".join(str(b) for b in brackets),
            )
        )
    return str(_("A commission agreed with the brand."))


def words(text: str | None) -> str:
    """A sentence the domain or a form's check wrote (``service.errors.Words``) in the
    page's language, its numbers as the language writes them; any other text (the
    brand's own words) as it is."""
    if text is None:
        return ""
    if not isinstance(text, Words):
        return text
    values = {k: number(v) if isinstance(v, int) else v for k, v in text.params.items()}
    return str(_(text.template, **values))


# Named apart from the dashboard's filters (``money``, ``percent``: other forms), which
# share the app's Jinja environment.
FILTERS = {
    "portal_money": money,
    "portal_day": day,
    "portal_moment": moment,
    "portal_number": number,
    "portal_percent": percent,
    "portal_rule_words": rule_words,
    "portal_words": words,
}


def init_app(app: Flask) -> None:
    """The filters for the portal's templates, such as
    ``{{ line.amount_minor|portal_money(line.currency) }}``."""
    clash = set(FILTERS) & set(app.jinja_env.filters)
    assert not clash, f"template filters named twice: {clash}"
    app.jinja_env.filters.update(FILTERS)
