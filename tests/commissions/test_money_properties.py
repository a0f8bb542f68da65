"""Properties of the commission maths in ``service.commissions.rules`` for currencies of
every ISO 4217 exponent afftrack knows (0, 2 and 3 — ISO has no active one-decimal
currency, so exponent 1 is covered through ``parse_decimal``).

Expected values are computed here without the code under test: decimal strings by hand,
brackets with :class:`fractions.Fraction`, rounding with Python's own half-even
``round`` on a Fraction.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.commissions.rules import (
    CapRoom,
    Rule,
    SaleLine,
    apply_caps,
    cpc_amount,
    parse_rules,
    reversal_amount,
    reversal_of,
    sale_lines,
    tiered_commission,
    tiered_month_amount,
)
from service.money import (
    MAX_MINOR,
    Money,
    MoneyError,
    exponent,
    format_amount,
    parse_amount,
    parse_decimal,
    round_half_even,
)
from tests.support.brackets import by_hand

# ISO 4217 minor units, written down here rather than read from service.money.
EXPONENT = {"JPY": 0, "KRW": 0, "CLP": 0, "EUR": 2, "USD": 2, "GBP": 2, "KWD": 3, "BHD": 3}
CURRENCIES = sorted(EXPONENT)
currencies = st.sampled_from(CURRENCIES)


def render(minor: int, places: int) -> str:
    """Minor units as the canonical decimal string, by hand."""
    sign = "-" if minor < 0 else ""
    digits = str(abs(minor)).rjust(places + 1, "0")
    if places == 0:
        return sign + digits
    return f"{sign}{digits[:-places]}.{digits[-places:]}"


def is_int(value: object) -> bool:
    return type(value) is int  # not bool, not float, not Fraction


@pytest.mark.parametrize("currency", CURRENCIES)
def test_the_exponents_are_iso_4217(currency: str):
    assert exponent(currency) == EXPONENT[currency]


def test_the_hand_renderer():
    assert render(0, 0) == "0"
    assert render(5, 2) == "0.05"
    assert render(-123456, 3) == "-123.456"
    assert render(1500, 0) == "1500"
    assert render(7, 1) == "0.7"


# --- parse/format round trip ---------------------------------------------------------------


@given(currency=currencies, minor=st.integers(-MAX_MINOR, MAX_MINOR))
def test_amounts_round_trip_through_their_decimal_string(currency: str, minor: int):
    places = EXPONENT[currency]
    text = format_amount(minor, currency)
    assert text == render(minor, places)
    parsed = parse_amount(text, currency, allow_negative=True)
    assert is_int(parsed) and parsed == minor
    # Trailing zeros are exact; one more significant digit is over-precise.
    padded = text + ("0" if places else ".0")
    assert parse_amount(padded, currency, allow_negative=True) == minor
    with pytest.raises(MoneyError):
        parse_amount(text + ("1" if places else ".1"), currency, allow_negative=True)
    if minor < 0:
        with pytest.raises(MoneyError):
            parse_amount(text, currency)


@given(places=st.integers(0, 3), minor=st.integers(-(10**15), 10**15))
def test_parse_decimal_reads_every_exponent_from_zero_to_three(places: int, minor: int):
    text = render(minor, places)
    parsed = parse_decimal(text, places, allow_negative=True)
    assert is_int(parsed) and parsed == minor
    assert Decimal(text).scaleb(places) == parsed  # the same value, read another way


@given(currency=currencies, value=st.floats(allow_nan=False, allow_infinity=False))
def test_floats_are_refused_everywhere(currency: str, value: float):
    with pytest.raises(MoneyError):
        parse_amount(value, currency)  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        Money(value, currency)  # type: ignore[arg-type]


@given(
    numerator=st.integers(-(10**12), 10**12),
    denominator=st.one_of(st.sampled_from([2, 4, 8]), st.integers(1, 10**6)),  # ties too
)
def test_round_half_even_is_pythons_round(numerator: int, denominator: int):
    value = Fraction(numerator, denominator)
    result = round_half_even(value)
    assert is_int(result) and result == round(value)


# --- reversals -----------------------------------------------------------------------------


@given(
    currency=currencies,
    basis=st.integers(1, 10**12),
    rate=st.one_of(
        st.sampled_from([Fraction(1, 10), Fraction(1, 8), Fraction(1, 2), Fraction(1)]),
        st.fractions(min_value=0, max_value=1, max_denominator=10**6),
    ),
    cuts=st.lists(st.one_of(st.sampled_from([2, 4]), st.integers(1, 10**12)), max_size=10),
)
def test_refunds_never_reverse_more_than_the_line_and_a_full_refund_nets_zero(
    currency: str, basis: int, rate: Fraction, cuts: list[int]
):
    # Amounts as the shop would send them in this currency: parse them from strings.
    places = EXPONENT[currency]
    basis = parse_amount(render(basis, places), currency)
    line = round(basis * rate)  # a percent line on that basis
    refunded, reversed_total = 0, 0
    for cut in cuts:
        if cut in (2, 4):  # a half or a quarter of the order: where ties are
            cut = max(1, basis // cut)
        now = min(cut, basis - refunded)
        if now <= 0:
            break
        amount = reversal_amount(line, basis, refunded, now)
        assert is_int(amount)
        assert amount <= 0  # a refund never adds to a positive line
        reversed_total += amount
        refunded += now
        # Cumulative: the share of everything refunded so far, rounded once.
        assert reversed_total == -round(Fraction(line * refunded, basis))
        assert 0 <= -reversed_total <= line
    rest = basis - refunded
    if rest > 0:
        reversed_total += reversal_amount(line, basis, refunded, rest)
    assert line + reversed_total == 0
    # Nothing is left to reverse once it is all refunded.
    assert reversal_amount(line, basis, basis, 1) == 0


@given(
    basis=st.integers(0, 10**9),
    line=st.integers(0, 10**8),
    cut=st.integers(0, 10**8),
    refunds=st.lists(st.one_of(st.sampled_from([2, 4]), st.integers(1, 10**9)), max_size=6),
)
def test_a_reversal_takes_the_same_share_of_the_line_and_of_its_cut(
    basis: int, line: int, cut: int, refunds: list[int]
):
    """A capped line keeps what a cap cut off it (``cut``); each refund reverses the
    refunded share of the line and of the cut alike, both rounded cumulatively, so a
    full refund (or a cancel) leaves the line and its cut at exactly zero."""
    refunded, taken, cut_taken = 0, 0, 0
    for part in refunds:
        if part in (2, 4):
            part = max(1, basis // part)
        now = min(part, basis - refunded)
        if now <= 0:
            break
        amount, share = reversal_of(line, cut, basis, refunded, now)
        assert is_int(amount) and is_int(share)
        assert amount <= 0 and share <= 0
        taken, cut_taken, refunded = taken + amount, cut_taken + share, refunded + now
        assert -taken == round(Fraction(line * refunded, basis))
        assert -cut_taken == round(Fraction(cut * refunded, basis))
    # The rest refunded (or cancelled; a free order's cancel takes the whole line).
    amount, share = reversal_of(
        line, cut, basis, refunded, basis - refunded, cancels_free_order=basis == 0
    )
    assert (line + taken + amount, cut + cut_taken + share) == (0, 0)


# --- caps ----------------------------------------------------------------------------------


FLAT = Rule("flat", amount_minor=1)


def capped_by_hand(amounts: list[int], month: int | None, budget: int | None) -> list[int]:
    out = []
    for amount in amounts:
        if amount <= 0 or (month is None and budget is None):
            out.append(amount)
            continue
        allowed = amount
        for room in (month, budget):
            if room is not None:
                allowed = min(allowed, max(room, 0))
        month = None if month is None else month - allowed
        budget = None if budget is None else budget - allowed
        out.append(allowed)
    return out


@given(
    currency=currencies,
    amounts=st.lists(st.integers(-(10**7), 10**8), max_size=10),
    month=st.one_of(st.none(), st.integers(-(10**6), 10**8)),
    budget=st.one_of(st.none(), st.integers(-(10**6), 10**8)),
    foreign=st.lists(st.booleans(), max_size=10),
)
def test_caps_are_never_exceeded_and_what_is_cut_adds_back(
    currency: str, amounts: list[int], month: int | None, budget: int | None, foreign: list[bool]
):
    other = "USD" if currency != "USD" else "EUR"
    flags = (foreign + [False] * len(amounts))[: len(amounts)]
    lines = [
        SaleLine(i, FLAT, a, other if f else currency)
        for i, (a, f) in enumerate(zip(amounts, flags, strict=True))
    ]
    capped = apply_caps(lines, CapRoom(month, budget), currency)
    assert [c.line for c in capped] == lines
    home = [c for c in capped if c.line.currency == currency]
    assert [c.amount_minor for c in home] == capped_by_hand(
        [c.line.amount_minor for c in home], month, budget
    )
    for c in capped:
        assert is_int(c.amount_minor) and is_int(c.cut_minor)
        assert c.amount_minor + c.cut_minor == c.line.amount_minor
        assert c.cut_minor >= 0
        assert (c.cut_minor > 0) == (c.cap is not None)
        assert c.cap in (None, "monthly_cap", "budget")
        if c.line.currency != currency:
            assert (c.amount_minor, c.cut_minor) == (c.line.amount_minor, 0)
    taken = sum(c.amount_minor for c in home if c.line.amount_minor > 0)
    for room in (month, budget):
        if room is not None:
            assert taken <= max(room, 0)


# --- tiered sale lines and the true-up --------------------------------------------------------


@st.composite
def tier_tables(draw: st.DrawFn, currency: str) -> list[dict]:
    """Tiers as the API takes them: increasing bounds in ``currency``, percent rates."""
    places = EXPONENT[currency]
    steps = draw(st.lists(st.integers(1, 10**6), min_size=0, max_size=4))
    rates = draw(
        st.lists(
            st.one_of(
                st.sampled_from(["10", "12.5", "5", "2.5", "15", "50"]),
                st.integers(0, 100_000).map(lambda m: render(m, 3).rstrip("0").rstrip(".")),
            ),
            min_size=len(steps) + 1,
            max_size=len(steps) + 1,
        )
    )
    bounds, upto = [], 0
    for step in steps:
        upto += step
        bounds.append(render(upto, places))
    return [
        {"up_to": bound, "rate": rate} for bound, rate in zip([*bounds, None], rates, strict=True)
    ]


def brackets_by_hand(tiers: list[dict], places: int) -> list[tuple[int | None, Fraction]]:
    return [
        (
            None if t["up_to"] is None else int(Decimal(t["up_to"]).scaleb(places)),
            Fraction(Decimal(t["rate"])) / 100,
        )
        for t in tiers
    ]


@given(data=st.data(), currency=currencies)
def test_sale_lines_plus_the_true_up_equal_the_formula_rounded_once(
    data: st.DataObject, currency: str
):
    places = EXPONENT[currency]
    tiers = data.draw(tier_tables(currency))
    brackets = brackets_by_hand(tiers, places)
    rules = parse_rules([{"type": "tiered_percent", "tiers": tiers}], currency)
    # Amounts ending in 5 meet a 10% or 12.5% rate half-way between two minor units.
    amounts = st.one_of(st.integers(0, 3 * 10**6), st.integers(0, 10**5).map(lambda k: 10 * k + 5))
    orders = data.draw(st.lists(amounts, max_size=12))
    month_to_date, recorded = 0, 0
    for basis in orders:
        [line] = sale_lines(
            rules,
            basis_minor=basis,
            order_currency=currency,
            campaign_currency=currency,
            month_to_date_minor=month_to_date,
        )
        assert is_int(line.amount_minor) and line.currency == currency
        marginal = by_hand(month_to_date + basis, brackets) - by_hand(month_to_date, brackets)
        assert line.amount_minor == round(marginal)
        recorded += line.amount_minor
        month_to_date += basis
    exact = tiered_commission(month_to_date, rules[0].tiers)
    assert isinstance(exact, Fraction) and exact == by_hand(month_to_date, brackets)
    true_up = tiered_month_amount(month_to_date, rules[0].tiers) - recorded
    assert is_int(true_up)
    assert recorded + true_up == round(by_hand(month_to_date, brackets))
    # Each line is off by at most half a minor unit, the total rounds once more.
    assert abs(true_up) * 2 <= len(orders) + 1
    # Settling again with the true-up recorded leaves nothing to do.
    assert tiered_month_amount(month_to_date, rules[0].tiers) - (recorded + true_up) == 0


@given(
    data=st.data(),
    currency=currencies,
    net=st.integers(-(10**7), 10**7),
    recorded=st.integers(-(10**6), 10**6),
)
def test_a_negative_net_earns_nothing(data: st.DataObject, currency: str, net: int, recorded: int):
    tiers = data.draw(tier_tables(currency))
    rules = parse_rules([{"type": "tiered_percent", "tiers": tiers}], currency)
    expected = round(by_hand(max(net, 0), brackets_by_hand(tiers, EXPONENT[currency])))
    assert tiered_month_amount(net, rules[0].tiers) - recorded == expected - recorded


@given(
    data=st.data(), currency=currencies, basis=st.integers(0, 10**9), before=st.integers(0, 10**9)
)
def test_a_foreign_currency_order_earns_the_first_brackets_rate(
    data: st.DataObject, currency: str, basis: int, before: int
):
    tiers = data.draw(tier_tables(currency))
    rules = parse_rules([{"type": "tiered_percent", "tiers": tiers}], currency)
    other = "JPY" if currency != "JPY" else "KWD"
    [line] = sale_lines(
        rules,
        basis_minor=basis,
        order_currency=other,
        campaign_currency=currency,
        month_to_date_minor=before,
    )
    first_rate = Fraction(Decimal(tiers[0]["rate"])) / 100
    assert line.currency == other
    assert is_int(line.amount_minor) and line.amount_minor == round(basis * first_rate)


@given(
    currency=currencies,
    basis=st.one_of(st.integers(0, 10**10), st.integers(0, 10**6).map(lambda k: 10 * k + 5)),
    percent=st.one_of(st.sampled_from([10_000_000, 2_500_000, 50_000_000]), st.integers(0, 10**8)),
    flat=st.integers(1, 10**7),
)
def test_percent_and_flat_lines_are_exact_integers(
    currency: str, basis: int, percent: int, flat: int
):
    places = EXPONENT[currency]
    rate = render(percent, 6).rstrip("0").rstrip(".") or "0"
    rules = parse_rules(
        [{"type": "percent", "rate": rate}, {"type": "flat", "amount": render(flat, places)}],
        currency,
    )
    lines = sale_lines(
        rules, basis_minor=basis, order_currency=currency, campaign_currency=currency
    )
    assert [line.amount_minor for line in lines] == [
        round(basis * Fraction(Decimal(rate)) / 100),
        flat,
    ]
    assert all(is_int(line.amount_minor) for line in lines)
    # The stored form shows the amounts as exact decimal strings.
    assert rules[1].to_json(currency) == {"type": "flat", "amount": render(flat, places)}
    assert Decimal(rules[0].to_json(currency)["rate"]) == Decimal(rate)


@given(clicks=st.integers(-100, 10**6), amount=st.integers(1, 10**6))
def test_cpc_is_clicks_times_the_amount(clicks: int, amount: int):
    result = cpc_amount(clicks, amount)
    assert is_int(result)
    assert result == (clicks * amount if clicks > 0 else 0)
