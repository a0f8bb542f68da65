"""Month-end settlement: the tiered ``true_up`` lines and the ``cpc`` lines (docs/product.md §5).

Closing a month writes its settlement (:func:`settle`); building the export of a
month that is still open shows the same lines without writing them
(:func:`projected_lines`), with the ids, amounts and dates closing will give them (a
month still running: as if it ended now, from its clicks and sales so far).
Settling is a difference against the ledger, never a rewrite of it: for every
partnership and rule it computes what the month must total, reads what the ledger
already holds for that month (counting what a cap cut off), and plans one line for the
difference. Settling again with nothing new plans nothing; a later refund or a late
click settles as one more line. Writers are serialised by an advisory lock, and each
line's key ends in a sequence number, so a difference is written once.

- ``tiered_percent``: the month's net attributable sales (orders in the campaign's
  currency with a sale line on that rule that is not rejected, less refunds,
  cancellations at zero) through the brackets, rounded half-even once, less the sale,
  reversal and earlier true-up lines (and their cuts).
- ``cpc``: unique, non-bot clicks that were redirected (not sent to the fallback)
  during the month, times the rule's amount, in the campaign's currency.

A close settles the months since the last close and, for tiered rules, earlier months
whose orders changed since (:func:`months_to_settle`). Settlement lines occur at the
month's last instant, so they count against that month's cap: a ``cpc`` line is due
then, a ``true_up`` line when the last line it corrects is due. A positive line is cut
to fit the caps like a sale line. A rejected settlement line counts as settled.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from service import clock
from service.campaigns.models import Campaign, Partnership
from service.clicks.counts import cpc_clicks
from service.commissions.engine import (
    SaleTerms,
    budget_used,
    is_tiered,
    lock_caps,
    month_used_by_influencer,
    settlement_key,
    worked_out,
)
from service.commissions.ledger import append_lines
from service.commissions.models import (
    CommissionLine,
    LineKind,
    LinePurpose,
    LineStatus,
    TieredSalesDaily,
    WorkedOut,
)
from service.commissions.rules import (
    CappedLine,
    CapRoom,
    Rule,
    SaleLine,
    apply_caps,
    cpc_amount,
    tiered_month_amount,
)
from service.conversions.models import Conversion, ConversionEvent, ConversionStatus
from service.db import advisory_lock, derived_id
from service.errors import Unavailable
from service.exports.models import Export
from service.links.models import Link
from service.periods import (
    next_period,
    period_bounds,
    period_of,
    period_of_day,
    periods_between,
    utc_midnight,
)

LAST_INSTANT = timedelta(microseconds=1)
SETTLE_LOCK = "commissions:settle"
# How far before the last close a change still counts as "since" it: a line stamped
# just before a close but committed after the close read the ledger (webhooks do not
# take the settle lock) is found by the next close. Re-settling a month that needed
# nothing writes nothing, so the overlap only costs a little work.
SETTLE_OVERLAP = timedelta(hours=1)


@dataclass
class Settled:
    months: list[str] = field(default_factory=list)
    true_ups: int = 0
    cpc: int = 0


@dataclass(frozen=True)
class Months:
    """The months a settlement covers, per kind."""

    tiered: tuple[str, ...] = ()
    cpc: tuple[str, ...] = ()

    def all(self) -> list[str]:
        return sorted(set(self.tiered) | set(self.cpc))


@dataclass
class Plan:
    """One partnership's settled rules: rule index → rule."""

    terms: SaleTerms
    starts_on: date
    tiered: dict[int, Rule] = field(default_factory=dict)
    cpc: dict[int, Rule] = field(default_factory=dict)


@dataclass
class Recorded:
    amount: int = 0  # what the ledger holds, plus what caps cut off
    cut: int = 0  # the part of ``amount`` that caps cut off (net of refunded shares)
    lines: int = 0  # settlement lines already written (the next key's sequence number)
    due_at: datetime | None = None  # the latest due date among the lines counted
    changed_at: datetime | None = None  # when the latest sale or reversal was recorded

    @property
    def paid(self) -> int:
        """What the ledger holds for the month (paid or not yet)."""
        return self.amount - self.cut


def settle(session: Session, period: str, zone: str = "UTC") -> Settled:
    """Write the settlement of ``period`` into the ledger (closing does this first).
    Nothing for a month that has not ended. The caller commits."""
    if clock.now_utc() < period_bounds(period, zone)[1]:
        return Settled()
    return _settle(session, lambda plans: months_to_settle(session, plans, period, zone), zone)


def settle_month(session: Session, month: str, zone: str = "UTC") -> Settled:
    """Settle exactly ``month`` now (``afftrack ledger settle``): for clicks or refunds
    that reached an already closed month. Nothing if the month has not ended."""
    return _settle(session, lambda _plans: Months((month,), (month,)), zone)


@dataclass(frozen=True, slots=True)
class PlannedLine(WorkedOut):
    """A ledger line as closing would write it, not written: what a preview shows.
    Plain attributes: a preview plans tens of thousands, and ORM objects cost more
    (docs/BENCHMARKS.md#export-figures-without-a-recorded-date)."""

    id: str
    idempotency_key: str
    influencer_id: str
    campaign_id: str
    kind: LineKind
    purpose: LinePurpose
    amount_minor: int
    currency: str
    occurred_at: datetime
    due_at: datetime
    recorded_at: datetime
    partnership_id: str | None = None
    conversion_id: str | None = None
    reverses_line_id: str | None = None
    rule: dict[str, Any] | None = None
    basis_minor: int | None = None
    reason: str | None = None
    status: LineStatus = LineStatus.PENDING
    export_id: str | None = None


def projected_lines(session: Session, period: str, zone: str = "UTC") -> list[Projected]:
    """The lines closing ``period`` would write now, not added to the session: what an
    export of the open month shows. Same ids, amounts and dates as closing writes; for
    a month still running, as if it ended now (its clicks and sales so far). Each is
    worked out in full only when its :attr:`Projected.line` is asked for."""
    plans = plans_of(session)
    if not plans:
        return []
    months = months_to_settle(session, plans, period, zone)
    now = clock.now_utc()
    return [
        Projected.of(planned, now) for planned in _planned(session, plans, months, zone, lock=False)
    ]


@dataclass(slots=True)
class Projected:
    """A line closing would write, as a statement's sums need it: whose, in which
    currency, how much and when due. Its whole line (id, key, rule, how its amount was
    worked out) is made when :attr:`line` is first read: a month's page sums thousands
    of them and shows a few (docs/BENCHMARKS.md, "Every dashboard page under 300 ms at
    10,000,000 clicks")."""

    influencer_id: str
    currency: str
    amount_minor: int
    due_at: datetime
    _make: Callable[[], PlannedLine]
    _line: PlannedLine | None = None

    @classmethod
    def of(cls, planned: _Planned, now: datetime) -> Projected:
        terms = planned.gap.plan.terms
        return cls(
            terms.influencer_id,
            terms.campaign_currency,
            planned.amount,
            planned.due_at,
            lambda: PlannedLine(**planned.row(), recorded_at=now),
        )

    @classmethod
    def made(cls, line: PlannedLine) -> Projected:
        """A line already worked out (a carry-forward line)."""
        return cls(
            line.influencer_id, line.currency, line.amount_minor, line.due_at, lambda: line, line
        )

    @property
    def line(self) -> PlannedLine:
        if self._line is None:
            self._line = self._make()
        return self._line

    @property
    def id(self) -> str:
        return self.line.id


def _settle(
    session: Session,
    months_of: Callable[[dict[str, Plan]], Months],
    zone: str,
) -> Settled:
    plans = plans_of(session)
    if not plans:
        return Settled()
    months = months_of(plans)
    now = clock.now_utc()
    months = Months(
        tuple(m for m in months.tiered if now >= period_bounds(m, zone)[1]),
        tuple(m for m in months.cpc if now >= period_bounds(m, zone)[1]),
    )
    if not months.all():
        return Settled()
    if not advisory_lock(session, SETTLE_LOCK, wait_seconds=30):
        raise Unavailable("commissions are being settled; retry later", code="retry")
    done = Settled(months.all())
    rows = [planned.row() for planned in _planned(session, plans, months, zone, lock=True)]
    for kind in append_lines(session, rows):
        if kind == LineKind.CPC:
            done.cpc += 1
        else:
            done.true_ups += 1
    return done


def months_to_settle(session: Session, plans: dict[str, Plan], period: str, zone: str) -> Months:
    """What closing ``period`` settles: every month since the last closed one up to
    ``period`` and, for tiered rules, every earlier month whose orders changed since
    that close (a refund, a cancel, a late order, a rejected line). A month still
    running is included as if it ended now (for a preview; :func:`_settle` writes
    ended months only)."""
    last = last_close(session)
    first_open = next_period(last.period) if last is not None else None
    tiered: list[str] = []
    if any(plan.tiered for plan in plans.values()):
        since = first_tiered_month(session, zone) if last is None else first_open
        changed = (
            None
            if last is None
            else _changed_since(
                session,
                last.closed_at - SETTLE_OVERLAP,
                period_bounds(min(first_open or period, period), zone)[0],
                zone,
            )
        )
        begin = min(m for m in (since, changed, period) if m is not None)
        tiered = periods_between(begin, period)
    cpc: list[str] = []
    if any(plan.cpc for plan in plans.values()):
        begin = first_open or min(period_of_day(p.starts_on) for p in plans.values() if p.cpc)
        cpc = periods_between(min(begin, period), period)
    return Months(tuple(tiered), tuple(cpc))


def last_close(session: Session) -> Export | None:
    """The export of the latest month closed."""
    return session.scalar(select(Export).order_by(Export.period.desc()).limit(1))


def first_tiered_month(session: Session, zone: str) -> str | None:
    """The month of the first tiered sale line."""
    L = CommissionLine
    earliest = session.scalar(
        select(func.min(L.occurred_at)).where(L.kind == LineKind.SALE, is_tiered())
    )
    return period_of(earliest, zone) if earliest is not None else None


def _changed_since(session: Session, since: datetime, before: datetime, zone: str) -> str | None:
    """The earliest month of an order that occurred before ``before`` (later months are
    settled anyway) and whose tiered lines changed after ``since``."""
    L, C, E = CommissionLine, Conversion, ConversionEvent
    by_event = (
        select(func.min(C.occurred_at))
        .select_from(E)
        .join(C, C.id == E.conversion_id)
        .where(E.applied_at > since, C.occurred_at < before, C.partnership_id.is_not(None))
    )
    by_line = (
        select(func.min(C.occurred_at))
        .select_from(L)
        .join(C, C.id == L.conversion_id)
        .where(
            L.recorded_at > since,
            C.occurred_at < before,
            or_(
                and_(L.kind.in_((LineKind.SALE, LineKind.REVERSAL)), is_tiered()),
                L.purpose == LinePurpose.REJECTION,
            ),
        )
    )
    found = [m for m in (session.scalar(by_event), session.scalar(by_line)) if m is not None]
    return period_of(min(found), zone) if found else None


def _planned(
    session: Session, plans: dict[str, Plan], months: Months, zone: str, *, lock: bool
) -> list[_Planned]:
    """The settlement lines for ``months``, cut to fit the caps. Month by month, oldest
    first (each month's true-up before its clicks): a campaign budget goes to the
    earlier month, so a month's lines come out the same in its own export, in a later
    month's projection and when it is closed."""
    caps = _Caps(session, zone, lock)
    planned: list[_Planned] = []
    for month in months.all():
        if month in months.tiered:
            planned += _lines(caps, true_up_gaps(session, plans, month, zone), month, zone)
        if month in months.cpc:
            planned += _lines(caps, cpc_gaps(session, plans, month, zone), month, zone)
    return planned


class _Caps:
    """What is left under each cap, read once per campaign and month (one grouped query
    for all its influencers) and once per campaign budget, then used up line by line,
    so lines planned together share it."""

    def __init__(self, session: Session, zone: str, lock: bool) -> None:
        self.session, self.zone, self.lock = session, zone, lock
        self.used: dict[tuple[str, str], dict[str, int]] = {}  # (campaign, month) → used
        self.budget: dict[str, int] = {}  # campaign → budget used

    def room(self, terms: SaleTerms, at: datetime) -> CapRoom:
        if not terms.capped():
            return CapRoom()
        used = self._month(terms, at)
        month = None
        if terms.monthly_cap_minor is not None:
            month = terms.monthly_cap_minor - used.get(terms.influencer_id, 0)
        budget = None
        if terms.budget_minor is not None:
            budget = terms.budget_minor - self.budget[terms.campaign_id]
        return CapRoom(month, budget)

    def take(self, terms: SaleTerms, at: datetime, amount: int) -> None:
        """Use up (or, negative, give back) room for a planned line."""
        if not terms.capped():
            return
        used = self._month(terms, at)
        used[terms.influencer_id] = used.get(terms.influencer_id, 0) + amount
        self.budget[terms.campaign_id] += amount

    def _month(self, terms: SaleTerms, at: datetime) -> dict[str, int]:
        month = period_of(at, self.zone)
        key = (terms.campaign_id, month)
        if key not in self.used:
            if self.lock:
                lock_caps(self.session, terms)
            start, end = period_bounds(month, self.zone)
            self.used[key] = month_used_by_influencer(self.session, terms, start, end)
        if terms.campaign_id not in self.budget:
            self.budget[terms.campaign_id] = budget_used(self.session, terms)
        return self.used[key]


def plans_of(session: Session) -> dict[str, Plan]:
    """Every partnership with a rule that settles (tiered, cpc). Read as plain columns
    (no ORM entities for tens of thousands of partnerships), and a campaign's rules
    parsed once for all the partnerships that follow them."""
    C, P = Campaign, Partnership
    campaigns = {
        row.id: row
        for row in session.execute(
            select(
                C.id,
                C.commission_rules,
                C.currency,
                C.hold_days,
                C.monthly_cap_minor,
                C.budget_minor,
                C.starts_on,
            )
        )
    }
    parsed: dict[tuple[str, str], list[Rule]] = {}  # (campaign, own rules) → rules
    plans: dict[str, Plan] = {}
    partnerships = session.execute(
        select(P.id, P.campaign_id, P.influencer_id, P.commission_rules).order_by(P.id)
    )
    for pid, campaign_id, influencer_id, own in partnerships:
        campaign = campaigns[campaign_id]
        rules = own if own is not None else campaign.commission_rules
        if not any(r.get("type") in ("tiered_percent", "cpc") for r in rules):
            continue
        terms = SaleTerms(
            pid,
            campaign_id,
            influencer_id,
            rules,
            campaign.currency,
            campaign.hold_days,
            campaign.monthly_cap_minor,
            campaign.budget_minor,
        )
        key = (campaign_id, "" if own is None else json.dumps(own, sort_keys=True))
        if key not in parsed:
            parsed[key] = terms.parsed_rules()
        plan = Plan(terms, campaign.starts_on)
        for index, rule in enumerate(parsed[key]):
            if rule.type == "tiered_percent":
                plan.tiered[index] = rule
            elif rule.type == "cpc":
                plan.cpc[index] = rule
        plans[pid] = plan
    return plans


@dataclass
class Gap:
    """What one partnership's rule earned in a month against what the ledger holds."""

    plan: Plan
    index: int
    rule: Rule
    kind: LineKind  # true_up | cpc
    month: str
    recorded: Recorded
    expected: int
    working: dict[str, Any]
    basis: int | None = None

    @property
    def delta(self) -> int:
        return self.expected - self.recorded.amount


def true_up_gaps(
    session: Session, plans: dict[str, Plan], month: str, zone: str, *, from_lines: bool = False
) -> list[Gap]:
    """Each tiered rule's month: the bracket formula over its net sales, and what the
    ledger holds for it. Rules changed since their lines were written are left out.
    ``from_lines``: read the month's lines, not the roll-up (``ledger verify``)."""
    start, end = period_bounds(month, zone)
    sales: dict[tuple[str, int], int] = defaultdict(int)
    recorded: dict[tuple[str, int], Recorded] = defaultdict(Recorded)
    sums = _tiered_lines if from_lines else _tiered_sums
    for pid, idx, net, amount, cut, due_at, recorded_at in sums(session, start, end):
        key = (pid, int(idx))
        sales[key] += int(net)
        seen = recorded[key]
        _count(seen, int(amount), int(cut), due_at)
        seen.changed_at = _later(seen.changed_at, recorded_at)
    _add_settled_lines(session, recorded, LineKind.TRUE_UP, month, start, end)
    gaps = []
    for pid, idx in sorted(set(sales) | set(recorded)):
        plan = plans.get(pid)
        rule = plan.tiered.get(idx) if plan else None
        if plan is None or rule is None:
            continue  # the rule changed since; its lines stand as they were written
        net = sales[(pid, idx)]
        seen = recorded[(pid, idx)]
        working = {"month": month, "sales_minor": net, "recorded_minor": seen.amount}
        expected = tiered_month_amount(net, rule.tiers)
        gaps.append(Gap(plan, idx, rule, LineKind.TRUE_UP, month, seen, expected, working, net))
    return gaps


def _tiered_sums(session: Session, start: datetime, end: datetime) -> list[Any]:
    """Per partnership and tiered rule, for the orders of ``[start, end)``: net sales,
    amount recorded, cut by caps, latest due and recorded times (rows of those, to be
    added up). The whole UTC days inside come from the roll-up
    (:class:`TieredSalesDaily`), the parts of the edge days inside from the lines."""
    first, last = utc_midnight(start, up=True), utc_midnight(end, up=False)
    if first >= last:  # no whole UTC day inside
        return _tiered_lines(session, start, end)
    T = TieredSalesDaily
    rows: list[Any] = list(
        session.execute(
            select(
                T.partnership_id,
                T.rule_index,
                func.sum(T.sales_minor),
                func.sum(T.amount_minor),
                func.sum(T.cut_minor),
                func.max(T.due_max),
                func.max(T.changed_max),
            )
            .where(T.day >= first.date(), T.day < last.date())
            .group_by(T.partnership_id, T.rule_index)
        )
    )
    for lo, hi in ((start, first), (last, end)):
        if lo < hi:
            rows.extend(_tiered_lines(session, lo, hi))
    return rows


def _tiered_lines(session: Session, start: datetime, end: datetime) -> list[Any]:
    """:func:`_tiered_sums` from the lines of the orders of ``[start, end)``, as the
    roll-up counts them."""
    L, C = CommissionLine, Conversion
    counted = case(
        (
            and_(L.kind == LineKind.SALE, C.status != ConversionStatus.CANCELLED),
            C.amount_minor - C.refunded_minor,
        ),
        else_=0,
    )
    return list(
        session.execute(
            select(
                L.partnership_id,
                L.rule_index,
                func.sum(counted),
                func.sum(L.amount_minor),
                func.coalesce(func.sum(L.cut_minor), 0),
                func.max(L.due_at),
                func.max(L.recorded_at),
            )
            .select_from(C)
            .join(L, L.conversion_id == C.id)
            .join(Campaign, Campaign.id == L.campaign_id)
            .where(
                C.occurred_at >= start,
                C.occurred_at < end,
                L.kind.in_((LineKind.SALE, LineKind.REVERSAL)),
                L.status != LineStatus.REJECTED,
                L.currency == Campaign.currency,
                L.partnership_id.is_not(None),
                L.rule_index.is_not(None),
                is_tiered(),
            )
            .group_by(L.partnership_id, L.rule_index)
        )
    )


def cpc_gaps(session: Session, plans: dict[str, Plan], month: str, zone: str) -> list[Gap]:
    """Each cpc rule's month: its clicks times the rate, and what the ledger holds."""
    start, end = period_bounds(month, zone)
    # From the click roll-up, not a scan of the month's clicks (service/clicks/counts.py).
    clicks = cpc_clicks(session, start, end, Link.partnership_id)
    recorded: dict[tuple[str, int], Recorded] = defaultdict(Recorded)
    _add_settled_lines(session, recorded, LineKind.CPC, month, start, end)
    gaps = []
    for pid in sorted(plans):
        plan = plans[pid]
        for idx, rule in sorted(plan.cpc.items()):
            count = int(clicks.get(pid, 0))
            assert rule.amount_minor is not None
            expected = cpc_amount(count, rule.amount_minor)
            working = {"month": month, "clicks": count}
            gaps.append(
                Gap(plan, idx, rule, LineKind.CPC, month, recorded[(pid, idx)], expected, working)
            )
    return gaps


@dataclass(frozen=True, slots=True)
class _Planned:
    """A settlement line's amount, worked out; :meth:`row` makes the line to insert."""

    gap: Gap
    capped: CappedLine
    withheld: int  # what the caps withhold from the month after this line
    occurred_at: datetime
    due_at: datetime

    @property
    def amount(self) -> int:
        return self.capped.amount_minor

    def row(self) -> dict[str, Any]:
        gap, terms = self.gap, self.gap.plan.terms
        seen = gap.recorded
        working = {**gap.working}
        if self.withheld or seen.cut:
            working["withheld_minor"] = self.withheld
        key = settlement_key(gap.kind, terms.partnership_id, gap.index, gap.month, seen.lines)
        return {
            "id": derived_id("cml", self.occurred_at, key),
            "idempotency_key": key,
            "influencer_id": terms.influencer_id,
            "campaign_id": terms.campaign_id,
            "partnership_id": terms.partnership_id,
            "kind": gap.kind,
            "purpose": LinePurpose(gap.kind),
            **worked_out(self.capped, terms.campaign_currency, **working),
            "basis_minor": gap.basis,
            "amount_minor": self.amount,
            "currency": terms.campaign_currency,
            "occurred_at": self.occurred_at,
            "due_at": self.due_at,
        }


def _lines(caps: _Caps, gaps: list[Gap], month: str, zone: str) -> list[_Planned]:
    """One line per gap that is not closed. The month's lines are brought to what the
    rule earned, as far as the caps allow: a positive difference is cut to fit the room
    left, and what caps cut off earlier is given back first, before a negative
    difference takes back anything the ledger holds. The line's ``cut`` is the change in
    what the caps withhold from the month (negative when they now withhold less), and
    ``withheld`` what they withhold after it."""
    _start, end = period_bounds(month, zone)
    last = end - LAST_INSTANT
    planned = []
    for gap in gaps:
        terms = gap.plan.terms
        currency = terms.campaign_currency
        seen = gap.recorded
        want = gap.expected - seen.paid
        if want > 0 and terms.capped():
            (capped,) = apply_caps(
                [SaleLine(gap.index, gap.rule, want, currency)], caps.room(terms, last), currency
            )
            amount, cap = capped.amount_minor, capped.cap
        else:
            amount, cap = want, None
        withheld = gap.expected - (seen.paid + amount)  # what the caps withhold after
        if amount == 0 and withheld == seen.cut:
            continue
        caps.take(terms, last, amount)
        sale = SaleLine(gap.index, gap.rule, amount, currency)
        line = CappedLine(sale, amount, withheld - seen.cut, cap)
        # A true-up is never due before the lines it corrects.
        due_at = max(last, seen.due_at or last) if gap.kind == LineKind.TRUE_UP else last
        planned.append(_Planned(gap, line, withheld, last, due_at))
    return planned


def _add_settled_lines(
    session: Session,
    recorded: dict[tuple[str, int], Recorded],
    kind: LineKind,
    month: str,
    start: datetime,
    end: datetime,
) -> None:
    """Count the month's settlement lines of ``kind`` already written, rejected ones
    included (a rejection stands)."""
    L = CommissionLine
    rows = session.execute(
        select(
            L.partnership_id,
            L.rule_index,
            func.sum(L.amount_minor),
            func.coalesce(func.sum(L.cut_minor), 0),
            func.count(),
            func.max(L.due_at),
        )
        .where(
            L.kind == kind,
            L.occurred_at >= start,
            L.occurred_at < end,
            L.month == month,
        )
        .group_by(L.partnership_id, L.rule_index)
    ).all()
    for pid, idx, amount, cut, count, due_at in rows:
        if pid is None or idx is None:  # never: a settlement line is written for its rule
            continue
        seen = recorded[(pid, int(idx))]
        _count(seen, int(amount), int(cut or 0), due_at)
        seen.lines += int(count)


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    return a if b is None or a >= b else b


def _count(seen: Recorded, amount: int, cut: int, due_at: datetime | None) -> None:
    """Lines that hold ``amount`` after caps cut ``cut`` off: they count as both."""
    seen.amount += amount + cut
    seen.cut += cut
    if due_at is not None and (seen.due_at is None or due_at > seen.due_at):
        seen.due_at = due_at
