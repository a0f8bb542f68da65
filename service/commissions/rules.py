"""Commission rules and their maths: pure functions over integer minor units.

No Flask, no SQLAlchemy, no floats. Rates are exact fractions, amounts are ints, and
every rounding goes through :func:`service.money.round_half_even`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from service.money import MoneyError, format_amount, parse_amount, parse_rate, round_half_even
from service.vocabulary import BUDGET, MONTHLY_CAP

# Each rule type and the fields it takes besides "type", all required; nothing else.
RULE_FIELDS: dict[str, tuple[str, ...]] = {
    "percent": ("rate",),
    "flat": ("amount",),
    "tiered_percent": ("tiers",),
    "cpc": ("amount",),
    "per_post": ("amount",),
}
RULE_TYPES = tuple(RULE_FIELDS)
# A tier's fields: "rate" (required) and "up_to" (absent or null: no upper bound).
TIER_FIELDS = ("up_to", "rate")
MAX_RULES = 10
MAX_TIERS = 20


class RuleError(ValueError):
    """A commission rule that cannot be accepted; ``path`` says where."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.path = path


@dataclass(frozen=True)
class Tier:
    up_to_minor: int | None  # None: no upper bound
    rate: Fraction


@dataclass(frozen=True)
class Rule:
    type: str
    rate: Fraction | None = None
    amount_minor: int | None = None
    tiers: tuple[Tier, ...] = ()
    # The stored form per currency, worked out once (see :meth:`stored`).
    _stored: dict[str, dict[str, Any]] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )

    def to_json(self, currency: str) -> dict[str, Any]:
        """The canonical stored form (decimal strings), also shown by the API."""
        return self._json(currency)

    def stored(self, currency: str) -> dict[str, Any]:
        """:meth:`to_json`, worked out once per rule and currency and shared by every
        line written under it (a settlement writes thousands under a few rules): read
        only."""
        kept = self._stored.get(currency)
        if kept is None:
            kept = self._stored[currency] = self._json(currency)
        return kept

    def _json(self, currency: str) -> dict[str, Any]:
        if self.type == "percent":
            return {"type": "percent", "rate": _rate_str(self.rate)}
        if self.type == "tiered_percent":
            return {
                "type": "tiered_percent",
                "tiers": [
                    {
                        "up_to": None
                        if t.up_to_minor is None
                        else format_amount(t.up_to_minor, currency),
                        "rate": _rate_str(t.rate),
                    }
                    for t in self.tiers
                ],
            }
        assert self.amount_minor is not None
        return {"type": self.type, "amount": format_amount(self.amount_minor, currency)}


def _rate_str(rate: Fraction | None) -> str:
    assert rate is not None
    percent = rate * 100
    if percent.denominator == 1:
        return str(percent.numerator)
    # parse_rate allows at most 6 decimals, so this terminates exactly.
    whole, rest = divmod(percent.numerator, percent.denominator)
    digits = ""
    while rest and len(digits) < 6:
        rest *= 10
        d, rest = divmod(rest, percent.denominator)
        digits += str(d)
    return f"{whole}.{digits}"


def parse_rules(raw: object, currency: str) -> list[Rule]:
    """Validate rule objects as the API receives them; amounts in ``currency``."""
    if not isinstance(raw, list):
        raise RuleError("commission_rules must be a list")
    if len(raw) > MAX_RULES:
        raise RuleError(f"at most {MAX_RULES} rules")
    rules = [_parse_rule(item, currency, f"{i}") for i, item in enumerate(raw)]
    return rules


def _parse_rule(item: object, currency: str, path: str) -> Rule:
    if not isinstance(item, Mapping):
        raise RuleError("a rule must be an object", path)
    kind = item.get("type")
    if kind not in RULE_TYPES:
        raise RuleError(f"type must be one of {', '.join(RULE_TYPES)}", f"{path}.type")
    unknown = set(item) - set(RULE_FIELDS[kind]) - {"type"}
    if unknown:
        raise RuleError(f"unknown field(s) {', '.join(sorted(unknown))}", path)
    try:
        if kind == "percent":
            return Rule("percent", rate=parse_rate(item.get("rate")))
        if kind == "tiered_percent":
            return Rule("tiered_percent", tiers=_parse_tiers(item.get("tiers"), currency, path))
        amount = parse_amount(item.get("amount"), currency)
    except MoneyError as exc:
        raise RuleError(str(exc), path) from None
    if amount <= 0:
        raise RuleError("amount must be more than zero", f"{path}.amount")
    return Rule(kind, amount_minor=amount)


def _parse_tiers(raw: object, currency: str, path: str) -> tuple[Tier, ...]:
    if not isinstance(raw, list) or not raw:
        raise RuleError("tiers must be a non-empty list", f"{path}.tiers")
    if len(raw) > MAX_TIERS:
        raise RuleError(f"at most {MAX_TIERS} tiers", f"{path}.tiers")
    tiers: list[Tier] = []
    previous = 0
    for i, t in enumerate(raw):
        where = f"{path}.tiers.{i}"
        if not isinstance(t, Mapping) or set(t) - set(TIER_FIELDS):
            raise RuleError('a tier is {"up_to": amount or null, "rate": percent}', where)
        up_to = t.get("up_to")
        rate = parse_rate(t.get("rate"))
        if up_to is None:
            if i != len(raw) - 1:
                raise RuleError("only the last tier may have no upper bound", where)
            tiers.append(Tier(None, rate))
            continue
        bound = parse_amount(up_to, currency)
        if bound <= previous:
            raise RuleError("tier bounds must increase", where)
        previous = bound
        tiers.append(Tier(bound, rate))
    if tiers[-1].up_to_minor is not None:
        raise RuleError("the last tier must have up_to: null", f"{path}.tiers")
    return tuple(tiers)


def rules_from_json(raw: Sequence[Mapping[str, Any]], currency: str) -> list[Rule]:
    """Stored rules back into :class:`Rule` objects (they were validated on the way in)."""
    return parse_rules(list(raw), currency)


def tiered_commission(total_minor: int, tiers: Sequence[Tier]) -> Fraction:
    """Marginal brackets: the exact (unrounded) commission on ``total_minor`` of sales.
    Summed in integers over the rates' common denominator, one Fraction at the end (a
    month's settlement works out thousands)."""
    denominator = _common_denominator(tuple(tier.rate.denominator for tier in tiers))
    scaled = 0
    lower = 0
    for tier in tiers:
        upper = tier.up_to_minor
        if total_minor <= lower:
            break
        span = (min(total_minor, upper) if upper is not None else total_minor) - lower
        scaled += span * tier.rate.numerator * (denominator // tier.rate.denominator)
        if upper is None:
            break
        lower = upper
    return Fraction(scaled, denominator)


@functools.lru_cache(maxsize=1024)
def _common_denominator(denominators: tuple[int, ...]) -> int:
    return math.lcm(1, *denominators)


@dataclass(frozen=True)
class SaleLine:
    rule_index: int
    rule: Rule
    amount_minor: int
    currency: str


def sale_lines(
    rules: Sequence[Rule],
    *,
    basis_minor: int,
    order_currency: str,
    campaign_currency: str,
    month_to_date_minor: int = 0,
) -> list[SaleLine]:
    """The commission lines one attributed order earns.

    ``percent`` and ``tiered_percent`` are in the order's currency; ``flat`` is in the
    campaign's currency. ``cpc`` and ``per_post`` never come from an order.
    ``month_to_date_minor`` is the influencer's net attributable sales in the campaign
    for the month before this order, in the order's currency (tiered brackets).
    """
    lines: list[SaleLine] = []
    for index, rule in enumerate(rules):
        if rule.type == "percent":
            assert rule.rate is not None
            amount = round_half_even(basis_minor * rule.rate)
            lines.append(SaleLine(index, rule, amount, order_currency))
        elif rule.type == "flat":
            assert rule.amount_minor is not None
            lines.append(SaleLine(index, rule, rule.amount_minor, campaign_currency))
        elif rule.type == "tiered_percent":
            if order_currency == campaign_currency:
                before = max(month_to_date_minor, 0)
                exact = tiered_commission(before + basis_minor, rule.tiers) - tiered_commission(
                    before, rule.tiers
                )
            else:
                # Brackets are in the campaign's currency and afftrack does no FX:
                # a foreign-currency order earns the first bracket's rate.
                exact = basis_minor * rule.tiers[0].rate
            lines.append(SaleLine(index, rule, round_half_even(exact), order_currency))
    return lines


def tiered_month_amount(net_sales_minor: int, tiers: Sequence[Tier]) -> int:
    """What a month's tiered lines must total: the bracket formula over the month's net
    sales, rounded half-even once (the true-up brings the lines to it). A net below
    zero earns nothing."""
    return round_half_even(tiered_commission(max(net_sales_minor, 0), tiers))


def cpc_amount(clicks: int, amount_minor: int) -> int:
    """A month's cost-per-click commission: unique, non-bot clicks times the rate."""
    return max(clicks, 0) * amount_minor


@dataclass(frozen=True)
class CapRoom:
    """What is left under each cap before a sale, in the campaign's currency (None: the
    campaign has no such cap)."""

    month: int | None = None  # monthly_cap_per_influencer less the month's net lines
    budget: int | None = None  # the campaign budget less its net lines

    @property
    def any(self) -> bool:
        return self.month is not None or self.budget is not None


@dataclass(frozen=True)
class CappedLine:
    line: SaleLine
    amount_minor: int  # what the ledger records
    cut_minor: int = 0  # what the caps took off
    cap: str | None = None  # monthly_cap | budget: the cap that cut it last


def apply_caps(
    lines: Sequence[SaleLine], room: CapRoom, campaign_currency: str
) -> list[CappedLine]:
    """Cut each positive line in the campaign's currency to fit what is left under the
    monthly cap per influencer and the campaign budget, in order. Lines in another
    currency are not capped (afftrack does no FX to compare them)."""
    month, budget = room.month, room.budget
    out: list[CappedLine] = []
    for line in lines:
        if line.currency != campaign_currency or line.amount_minor <= 0 or not room.any:
            out.append(CappedLine(line, line.amount_minor))
            continue
        allowed, cap = line.amount_minor, None
        if month is not None and allowed > max(month, 0):
            allowed, cap = max(month, 0), MONTHLY_CAP
        if budget is not None and allowed > max(budget, 0):
            allowed, cap = max(budget, 0), BUDGET
        if month is not None:
            month -= allowed
        if budget is not None:
            budget -= allowed
        out.append(CappedLine(line, allowed, line.amount_minor - allowed, cap))
    return out


def reversal_amount(
    line_amount_minor: int, basis_minor: int, refunded_before_minor: int, refunded_now_minor: int
) -> int:
    """The negative amount that reverses a line for a refund of ``refunded_now_minor``.

    Cumulative: the total reversed after this refund is the line's share of everything
    refunded so far, rounded once, so a full refund always nets the line to exactly
    zero and partial refunds never reverse more than the line.
    """
    if basis_minor <= 0:
        return -line_amount_minor if refunded_now_minor > 0 and refunded_before_minor == 0 else 0
    before = min(refunded_before_minor, basis_minor)
    after = min(refunded_before_minor + refunded_now_minor, basis_minor)
    reversed_before = round_half_even(Fraction(line_amount_minor * before, basis_minor))
    reversed_after = round_half_even(Fraction(line_amount_minor * after, basis_minor))
    return -(reversed_after - reversed_before)


def reversal_of(
    line_amount_minor: int,
    cut_minor: int,
    basis_minor: int,
    refunded_before_minor: int,
    refunded_now_minor: int,
    *,
    cancels_free_order: bool = False,
) -> tuple[int, int]:
    """The reversal of a line and of what a cap cut off it, for one refund or cancel:
    ``(amount, cut share)``, both negative or zero. Cancelling a free order (nothing to
    refund) still takes the whole line back, as it takes a flat line on it."""
    if cancels_free_order:
        return -line_amount_minor, -cut_minor
    return (
        reversal_amount(line_amount_minor, basis_minor, refunded_before_minor, refunded_now_minor),
        reversal_amount(cut_minor, basis_minor, refunded_before_minor, refunded_now_minor),
    )


def preview(
    rules: Sequence[Rule],
    *,
    currency: str,
    order_minor: int = 0,
    clicks: int = 0,
    posts: int = 0,
    month_to_date_minor: int = 0,
    room: CapRoom | None = None,
) -> list[CappedLine]:
    """What each rule earns for an example: one order of ``order_minor`` (after discount,
    without tax or shipping) in the campaign's ``currency`` with ``month_to_date_minor``
    of the month's sales before it, ``clicks`` unique clicks in a month and ``posts``
    approved posts — one line per rule, in rule order, worked out by the functions the
    ledger's lines come from (:func:`sale_lines`, :func:`cpc_amount`, the post fee) and cut
    to fit ``room`` (what the caps leave) as :func:`apply_caps` cuts them."""
    by_order = {
        line.rule_index: line
        for line in sale_lines(
            rules,
            basis_minor=max(order_minor, 0),
            order_currency=currency,
            campaign_currency=currency,
            month_to_date_minor=month_to_date_minor,
        )
    }
    lines: list[SaleLine] = []
    for index, rule in enumerate(rules):
        if index in by_order:
            lines.append(by_order[index])
        elif rule.type == "cpc":
            assert rule.amount_minor is not None
            lines.append(SaleLine(index, rule, cpc_amount(clicks, rule.amount_minor), currency))
        elif rule.type == "per_post":
            assert rule.amount_minor is not None
            lines.append(SaleLine(index, rule, max(posts, 0) * rule.amount_minor, currency))
    return apply_caps(lines, room or CapRoom(), currency)
