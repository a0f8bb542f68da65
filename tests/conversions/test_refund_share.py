"""The share of an order a refund reverses (service.conversions.refunds), and Stripe's
integer amounts in ISO minor units: pure functions, properties over any input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.conversions.refunds import OrderBasis, share_of
from service.conversions.webhooks.stripe import to_minor
from service.errors import InvalidInput
from service.money import format_amount

CURRENCIES = ["JPY", "EUR", "KWD", "USD", "BHD", "CLP"]


def basis(currency: str, attributable: int, tax: int, remaining: int, gross_before: int = 0):
    return OrderBasis(currency, attributable, tax, False, remaining, gross_before)


@given(
    currency=st.sampled_from(CURRENCIES),
    attributable=st.integers(0, 10**9),
    tax=st.integers(0, 10**8),
    shipping=st.integers(0, 10**6),
    cuts=st.lists(st.integers(1, 10**9), min_size=0, max_size=6),
)
def test_gross_refunds_of_the_whole_order_net_it_to_exactly_zero(
    currency: str, attributable: int, tax: int, shipping: int, cuts: list[int]
) -> None:
    """However the gross paid is split into refunds, refunding all of it reverses exactly
    the attributable amount, and no refund ever takes more than what is left."""
    gross_total = attributable + tax + shipping
    points = sorted({c % (gross_total + 1) for c in cuts} | {gross_total})
    refunded = gross_before = 0
    previous = 0
    for point in points:
        gross = point - previous
        previous = point
        if gross == 0:
            continue
        share = share_of(
            "gross",
            format_amount(gross, currency),
            None,
            currency,
            basis(currency, attributable, tax, attributable - refunded, gross_before),
        )
        assert 0 <= share.amount_minor <= attributable - refunded
        refunded += share.amount_minor
        gross_before += share.gross_minor
    assert refunded == attributable


@given(
    attributable=st.integers(1, 10**9),
    tax=st.integers(0, 10**8),
    gross=st.integers(1, 10**9),
)
def test_a_gross_refund_is_its_share_of_attributable_plus_tax(
    attributable: int, tax: int, gross: int
) -> None:
    share = share_of(
        "gross",
        format_amount(gross, "EUR"),
        None,
        "EUR",
        basis("EUR", attributable, tax, attributable),
    )
    exact = gross * attributable / (attributable + tax)  # float only to bound the check
    assert abs(share.amount_minor - min(exact, attributable)) <= 1


def test_items_claim_drops_the_tax_only_when_prices_include_it() -> None:
    inclusive = OrderBasis("EUR", 10000, 1900, True, 10000)
    exclusive = OrderBasis("EUR", 10000, 1900, False, 10000)
    assert share_of("items", "59.50", "9.50", "EUR", inclusive).amount_minor == 5000
    assert share_of("items", "50.00", "9.50", "EUR", exclusive).amount_minor == 5000


def test_a_claim_in_another_currency_is_not_applied() -> None:
    share = share_of("attributable", "10.00", None, "USD", basis("EUR", 10000, 0, 10000))
    assert share.amount_minor == 0 and "USD" in (share.note or "")


def test_more_than_is_left_is_capped_with_a_note() -> None:
    share = share_of("attributable", "80.00", None, None, basis("EUR", 10000, 0, 3000))
    assert share.amount_minor == 3000 and "capped" in (share.note or "")


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        (1050, "EUR", 1050),  # two decimals both sides
        (1500, "JPY", 1500),  # zero-decimal both sides
        (12340, "KWD", 12340),  # three decimals both sides
        (50000, "ISK", 500),  # Stripe two-decimal, ISO zero-decimal
        (500, "MGA", 50000),  # Stripe zero-decimal, ISO two-decimal
    ],
)
def test_stripe_amounts_become_iso_minor_units(amount: int, currency: str, minor: int) -> None:
    assert to_minor(amount, currency, "amount") == minor


def test_a_fractional_krona_from_stripe_is_refused() -> None:
    with pytest.raises(InvalidInput):
        to_minor(50050, "ISK", "amount")
