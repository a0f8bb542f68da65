"""``afftrack ledger verify``: recompute every line from stored orders, clicks,
deliverables and events, and report each difference.

Each line records the rule it was written under (rules can be edited later), so a
line is recomputed from its own rule and the facts behind it:

- ``sale``: percent, flat or tiered (from the month's sales before the order, which the
  line records) of the order's attributable amount, less what a cap cut off; every
  attributed order has a line for each rule of its partnership unless a line exists;
- ``reversal``: the refunded share of its line, cumulative over the order's applied
  refunds and cancellation, never more than the line;
- ``per_post``: the rule's fee for an approved deliverable, less any cut;
- ``true_up`` and ``cpc``: the month's bracket formula and clicks times the rate equal what the
  month's lines hold (a month changed since it was settled is reported as not yet
  settled, which is not a difference);
- ``adjustment``: a reason and the key that made it (carry-forward and rejection
  records: their counterpart);
- caps: no influencer's month and no campaign's budget holds more than its cap,
  manual adjustments aside;
- paid lines belong to a closed export, and each closed export still rebuilds to its
  stored checksum;
- the ledger's roll-ups (migration 0024) hold what the lines say.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.campaigns.models import Campaign, Partnership
from service.commissions.engine import per_post_key, reversal_key, sale_key
from service.commissions.models import (
    GROSS_KINDS,
    CommissionLine,
    LineKind,
    LinePurpose,
    LineStatus,
    TieredSalesDaily,
)
from service.commissions.rules import (
    Rule,
    RuleError,
    cpc_amount,
    reversal_of,
    rules_from_json,
    sale_lines,
)
from service.commissions.settlement import (
    SETTLE_OVERLAP,
    Gap,
    Plan,
    cpc_gaps,
    first_tiered_month,
    last_close,
    plans_of,
    true_up_gaps,
)
from service.conversions.models import Conversion, ConversionEvent, ConversionStatus, EventKind
from service.deliverables.models import Deliverable
from service.exports.models import Export, StatementDaily
from service.money import MoneyError, format_amount
from service.periods import period_of, period_of_day, periods_between


@dataclass
class Report:
    checked: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # worth knowing, not a difference

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(session: Session, zone: str = "UTC") -> Report:
    from service.exports.service import checksum  # exports build on the ledger

    report = Report()
    lines = session.scalars(select(CommissionLine).order_by(CommissionLine.id)).all()
    report.checked = len(lines)
    campaigns = {c.id: c for c in session.scalars(select(Campaign))}
    uncapped = {
        c.id for c in campaigns.values() if c.monthly_cap_minor is None and c.budget_minor is None
    }
    check = _Checker(report, {line.idempotency_key: line for line in lines}, uncapped)

    partnerships = {p.id: p for p in session.scalars(select(Partnership))}
    for line in lines:
        owner = partnerships.get(line.partnership_id or "")
        if line.partnership_id is not None and (
            owner is None
            or (owner.influencer_id, owner.campaign_id) != (line.influencer_id, line.campaign_id)
        ):
            report.problems.append(f"line {line.id}: not its partnership's influencer or campaign")
        if line.kind in (LineKind.PER_POST, LineKind.CPC) and line.due_at != line.occurred_at:
            report.problems.append(f"line {line.id}: a {line.kind} line is due when it occurs")
        if line.kind == LineKind.TRUE_UP and line.due_at < line.occurred_at:
            report.problems.append(f"line {line.id}: a true-up due before its month ends")
        if line.status == LineStatus.PAID and line.export_id is None:
            report.problems.append(f"line {line.id} is paid but belongs to no export")

    _sales_and_reversals(session, check, lines, campaigns)
    _per_post(session, check, lines, campaigns)
    _settlements(session, report, lines, zone)
    _adjustments(report, lines)
    _caps(report, lines, campaigns, zone)
    _roll_ups(session, report, lines, campaigns)

    for line in lines:
        if (
            line.kind in (LineKind.SALE, LineKind.REVERSAL, LineKind.PER_POST)
            and line.idempotency_key not in check.seen
        ):
            report.problems.append(
                f"line {line.id} ({line.idempotency_key}) has no event behind it"
            )
    for export in session.scalars(select(Export).order_by(Export.period)):
        if checksum(session, export.period, zone) != export.checksum:
            report.problems.append(f"export {export.period} no longer matches its checksum")
    return report


@dataclass
class _Checker:
    report: Report
    by_key: dict[str, CommissionLine]
    uncapped: set[str]  # campaigns with neither a monthly cap nor a budget
    seen: set[str] = field(default_factory=set)

    def expect(self, key: str, amount: int, currency: str, what: str) -> None:
        line = self.by_key.get(key)
        self.seen.add(key)
        if line is None:
            if amount != 0:
                self.report.problems.append(
                    f"missing line {key}: {what} should be {amount} {currency}"
                )
            return
        if line.amount_minor != amount or line.currency != currency:
            self.report.problems.append(
                f"line {line.id} ({key}): {line.amount_minor} {line.currency}, "
                f"expected {amount} {currency} for {what}"
            )


def _line_rule(line: CommissionLine, currency: str) -> Rule:
    (rule,) = rules_from_json([line.rule or {}], currency)
    return rule


def _recompute(
    check: _Checker,
    line: CommissionLine,
    campaign_currency: str,
    what: str,
    amount_of: Callable[[Rule, CommissionLine], int],
) -> None:
    """Check ``line`` against ``amount_of(its rule, the line)`` less its cut."""
    check.seen.add(line.idempotency_key)
    cut = line.cut_minor or 0
    try:
        rule = _line_rule(line, campaign_currency)
        full = amount_of(rule, line)
    except (RuleError, MoneyError, ValueError) as exc:
        check.report.problems.append(f"line {line.id}: its rule cannot be read ({exc})")
        return
    if cut > max(full, 0):
        check.report.problems.append(f"line {line.id}: cut {cut} is more than {full}")
    if cut and line.campaign_id in check.uncapped:
        check.report.problems.append(f"line {line.id}: cut {cut} by a campaign without caps")
    check.expect(line.idempotency_key, full - cut, line.currency, what)


def _sales_and_reversals(
    session: Session,
    check: _Checker,
    lines: Sequence[CommissionLine],
    campaigns: Mapping[str, Campaign],
) -> None:
    by_conversion = _order_lines_by_conversion(lines)
    conversions = session.scalars(
        select(Conversion).where(Conversion.partnership_id.is_not(None))
    ).all()
    partnerships = {p.id: p for p in session.scalars(select(Partnership))}
    current: dict[str, list[Rule]] = {}  # each partnership's rules today
    events = _applied_events(session)
    for conv in conversions:
        partnership = partnerships[conv.partnership_id or ""]
        campaign = campaigns[partnership.campaign_id]
        currency = campaign.currency
        mine = by_conversion.get(conv.id, [])
        sales = [line for line in mine if line.kind == LineKind.SALE]
        what = f"order {conv.source}/{conv.order_id}"
        _check_owner(check, conv, mine)
        _check_sales(check, conv, campaign, sales, what)
        if partnership.id not in current:
            current[partnership.id] = rules_from_json(partnership.effective_rules, currency)
        _check_missing_sales(check, conv, current[partnership.id], currency, sales, what)
        _check_reversals(check, conv, sales, events.get(conv.id, []))
    _check_reversed_totals(check, lines)


def _order_lines_by_conversion(
    lines: Sequence[CommissionLine],
) -> dict[str, list[CommissionLine]]:
    by_conversion: dict[str, list[CommissionLine]] = defaultdict(list)
    for line in lines:
        if line.conversion_id is not None and line.kind in (LineKind.SALE, LineKind.REVERSAL):
            by_conversion[line.conversion_id].append(line)
    return by_conversion


def _applied_events(session: Session) -> dict[str, list[ConversionEvent]]:
    """Each conversion's applied events, in the order they were applied."""
    events: dict[str, list[ConversionEvent]] = defaultdict(list)
    for ev in session.scalars(
        select(ConversionEvent)
        .where(ConversionEvent.applied_at.is_not(None))
        .order_by(ConversionEvent.applied_at, ConversionEvent.id)
    ):
        events[ev.conversion_id or ""].append(ev)
    return events


def _check_owner(check: _Checker, conv: Conversion, mine: Sequence[CommissionLine]) -> None:
    """Whose money: the order's partnership."""
    for line in mine:
        if (line.partnership_id, line.influencer_id, line.campaign_id) != (
            conv.partnership_id,
            conv.influencer_id,
            conv.campaign_id,
        ):
            check.report.problems.append(f"line {line.id}: not the order's partnership")


def _check_sales(
    check: _Checker,
    conv: Conversion,
    campaign: Campaign,
    sales: Sequence[CommissionLine],
    what: str,
) -> None:
    """Each sale line's amount under its own rule, and when: due after the hold."""
    for line in sales:
        _recompute(check, line, campaign.currency, what, _sale_amount(conv, campaign.currency))
        due = conv.occurred_at + timedelta(days=campaign.hold_days)
        if line.occurred_at != conv.occurred_at or line.due_at != due:
            check.report.problems.append(
                f"line {line.id}: occurs {line.occurred_at.isoformat()}, due "
                f"{line.due_at.isoformat()}; the order says {conv.occurred_at.isoformat()}, "
                f"due {due.isoformat()}"
            )


def _check_missing_sales(
    check: _Checker,
    conv: Conversion,
    rules: Sequence[Rule],
    currency: str,
    sales: Sequence[CommissionLine],
    what: str,
) -> None:
    """Every rule of the partnership that earns on an order has its line."""
    written = {line.idempotency_key for line in sales}
    for index, rule in enumerate(rules):
        key = sale_key(conv.id, index)
        if key in written or rule.type not in ("percent", "flat", "tiered_percent"):
            continue
        if rule.type == "tiered_percent":  # its amount depended on the month so far
            check.report.problems.append(f"missing line {key}: tiered line of {what}")
            continue
        (due_line,) = sale_lines(
            [rule],
            basis_minor=conv.amount_minor,
            order_currency=conv.currency,
            campaign_currency=currency,
        )
        check.expect(key, due_line.amount_minor, due_line.currency, what)


def _check_reversals(
    check: _Checker,
    conv: Conversion,
    sales: Sequence[CommissionLine],
    events: Sequence[ConversionEvent],
) -> None:
    """Each applied refund or cancellation reverses its share of every sale line, and
    the events add up to what the order says was refunded."""
    refunded = 0
    for ev in events:
        for sale in sales:
            _check_reversal(check, conv, ev, sale, refunded)
        refunded += ev.amount_minor or 0
    if refunded != conv.refunded_minor:
        check.report.problems.append(
            f"conversion {conv.id}: refunded {conv.refunded_minor}, events add up to {refunded}"
        )


def _check_reversal(
    check: _Checker,
    conv: Conversion,
    ev: ConversionEvent,
    sale: CommissionLine,
    refunded: int,
) -> None:
    """The reversal of ``sale`` by ``ev``, after ``refunded`` of the order so far."""
    key = reversal_key(ev.id, sale.id)
    if sale.status == LineStatus.REJECTED and key not in check.by_key:
        return
    cut = sale.cut_minor or 0
    amount, cut_share = reversal_of(
        sale.amount_minor,
        cut,
        conv.amount_minor,
        refunded,
        ev.amount_minor or 0,
        cancels_free_order=conv.amount_minor <= 0 and ev.kind == EventKind.CANCEL,
    )
    what = f"{ev.kind} {ev.external_id} of order {conv.order_id}"
    check.expect(key, amount, sale.currency, what)
    reversal = check.by_key.get(key)
    if reversal is None or not cut_share:
        return
    recorded_cut = reversal.cut_minor
    if recorded_cut != cut_share:
        shown = None if recorded_cut is None else format_amount(recorded_cut, reversal.currency)
        check.report.problems.append(
            f"line {reversal.id} ({key}): cut {shown}, expected {cut_share} "
            f"{sale.currency} for {what}"
        )


def _check_reversed_totals(check: _Checker, lines: Sequence[CommissionLine]) -> None:
    """No line is reversed by more than its amount."""
    reversed_total: dict[str, int] = defaultdict(int)
    for line in lines:
        if line.kind == LineKind.REVERSAL and line.reverses_line_id:
            reversed_total[line.reverses_line_id] += line.amount_minor
    by_id = {line.id: line for line in lines}
    for line_id, total in reversed_total.items():
        if abs(total) > abs(by_id[line_id].amount_minor):
            check.report.problems.append(f"line {line_id} is reversed by more than its amount")


def _sale_amount(conv: Conversion, campaign_currency: str) -> Callable[[Rule, CommissionLine], int]:
    """A sale line's amount before any cut, as the engine works it out
    (:func:`service.commissions.rules.sale_lines`), from the month so far the line
    records (a tiered rule)."""

    def amount_of(rule: Rule, line: CommissionLine) -> int:
        if rule.type not in ("percent", "flat", "tiered_percent"):
            raise ValueError(f"a {rule.type} rule does not earn on an order")
        before = line.before_minor
        if rule.type == "tiered_percent" and conv.currency == campaign_currency and before is None:
            raise ValueError("a tiered line without the month's sales before it")
        (earned,) = sale_lines(
            [rule],
            basis_minor=conv.amount_minor,
            order_currency=conv.currency,
            campaign_currency=campaign_currency,
            month_to_date_minor=before or 0,
        )
        return earned.amount_minor

    return amount_of


def _per_post(
    session: Session,
    check: _Checker,
    lines: Sequence[CommissionLine],
    campaigns: Mapping[str, Campaign],
) -> None:
    approved = {
        d.id: d
        for d in session.scalars(select(Deliverable).where(Deliverable.status == "approved"))
    }
    for line in lines:
        if line.kind != LineKind.PER_POST:
            continue
        deliverable = approved.get(line.deliverable_id or "")
        if deliverable is None:
            check.report.problems.append(f"line {line.id}: a fee for no approved deliverable")
            check.seen.add(line.idempotency_key)
            continue
        currency = campaigns[line.campaign_id].currency
        _recompute(
            check,
            line,
            currency,
            f"deliverable {deliverable.id}",
            lambda rule, _line: rule.amount_minor or 0,
        )
    # Every approved deliverable has a fee line for each per_post rule.
    partnerships = {p.id: p for p in session.scalars(select(Partnership))}
    for deliverable in approved.values():
        partnership = partnerships[deliverable.partnership_id]
        currency = campaigns[partnership.campaign_id].currency
        for index, rule in enumerate(rules_from_json(partnership.effective_rules, currency)):
            key = per_post_key(deliverable.id, index)
            if rule.type == "per_post" and key not in check.by_key:
                check.report.problems.append(
                    f"missing line {key}: the fee of deliverable {deliverable.id}"
                )


@dataclass
class _SettledLines:
    """What the ledger's settlement lines say: when each month was last settled by hand
    (kind, month → latest), and the last cpc line of each partnership, rule and month."""

    by_hand: dict[tuple[str, str], datetime] = field(default_factory=dict)
    last_cpc: dict[tuple[str, int | None, str], CommissionLine] = field(default_factory=dict)


def _settlements(
    session: Session, report: Report, lines: Sequence[CommissionLine], zone: str
) -> None:
    """Every month a close settled (and any month settled by hand) holds its true-up
    and CPC exactly, unless it changed after it was settled (a note, not a difference:
    the next close settles it)."""
    last = last_close(session)
    closed_until = last.period if last is not None else ""
    settled = _settled_lines(report, lines, zone, closed_until)
    plans = plans_of(session)
    if not plans:
        return
    orders_changed = _order_changes(session, lines, zone)
    first_cpc = min((period_of_day(p.starts_on) for p in plans.values() if p.cpc), default=None)

    def true_ups(session: Session, plans: dict[str, Plan], month: str, zone: str) -> list[Gap]:
        return true_up_gaps(session, plans, month, zone, from_lines=True)

    for kind, gaps_of, first in (
        (LineKind.TRUE_UP, true_ups, first_tiered_month(session, zone)),
        (LineKind.CPC, cpc_gaps, first_cpc),
    ):
        months = set(periods_between(first, closed_until)) if first else set()
        months |= {m for (k, m) in settled.by_hand if k == kind}
        for month in sorted(months):
            closed = last is not None and month <= closed_until
            ref = last.closed_at - SETTLE_OVERLAP if last is not None and closed else None
            ref = settled.by_hand.get((kind, month), ref)
            for gap in gaps_of(session, plans, month, zone):
                if gap.delta != 0:
                    _check_gap(report, gap, ref, settled, orders_changed)


def _settled_lines(
    report: Report, lines: Sequence[CommissionLine], zone: str, closed_until: str
) -> _SettledLines:
    """Read the settlement lines; a line for no month is a difference."""
    settled = _SettledLines()
    for line in lines:
        if line.kind not in (LineKind.TRUE_UP, LineKind.CPC):
            continue
        month = line.month
        if month is None or period_of(line.occurred_at, zone) != month:
            report.problems.append(f"line {line.id}: a {line.kind} line for no month")
            continue
        if month > closed_until:
            at = settled.by_hand.get((line.kind, month))
            settled.by_hand[(line.kind, month)] = max(at or line.recorded_at, line.recorded_at)
        key = (line.partnership_id or "", line.rule_index, month)
        last = settled.last_cpc.get(key)
        if line.kind == LineKind.CPC and (
            last is None or (line.recorded_at, line.id) > (last.recorded_at, last.id)
        ):
            settled.last_cpc[key] = line
    return settled


def _check_gap(
    report: Report,
    gap: Gap,
    ref: datetime | None,
    settled: _SettledLines,
    orders_changed: Mapping[tuple[str, str], datetime],
) -> None:
    """A month whose lines do not hold what its rule earned: a note if it changed after
    ``ref`` (when it was settled), else a difference."""
    key = (gap.plan.terms.partnership_id, gap.index, gap.month)
    where = f"{gap.kind} {key[0]} rule {gap.index} {gap.month}"
    seen = gap.recorded
    if gap.kind == LineKind.CPC:
        # Clicks that arrived since: the last line's own count was paid in full.
        last_line = settled.last_cpc.get(key)
        clicks = last_line.clicks if last_line else None
        late = (
            clicks is not None
            and clicks < gap.working["clicks"]
            and seen.amount == cpc_amount(clicks, gap.rule.amount_minor or 0)
        )
    else:
        changed = max(
            filter(None, (seen.changed_at, orders_changed.get((key[0], gap.month)))),
            default=None,
        )
        late = bool(changed and ref and changed > ref)
    if late:
        report.notes.append(f"{where}: changed since it was settled (settle again)")
        return
    hint = ""
    if gap.kind == LineKind.CPC and seen.lines == 0:
        # Clicks have no arrival time: all of them late, or the line deleted.
        hint = f" (clicks written after the close? `ledger settle --month {gap.month}`)"
    report.problems.append(
        f"{where}: the month's lines hold {seen.amount}, expected {gap.expected}{hint}"
    )


def _order_changes(
    session: Session, lines: Sequence[CommissionLine], zone: str
) -> dict[tuple[str, str], datetime]:
    """When the orders of each partnership and month last changed by a rejection or an
    applied refund or cancel: either changes a month's tiered sales."""
    by_id = {line.id: line for line in lines}
    changed: dict[tuple[str, str], datetime] = {}

    def note(partnership_id: str | None, occurred_at: datetime, at: datetime) -> None:
        key = (partnership_id or "", period_of(occurred_at, zone))
        changed[key] = max(changed.get(key, at), at)

    for line in lines:
        target = by_id.get(line.reverses_line_id or "")
        if line.purpose == LinePurpose.REJECTION and target is not None:
            note(target.partnership_id, target.occurred_at, line.recorded_at)
    applied = session.execute(
        select(Conversion.partnership_id, Conversion.occurred_at, ConversionEvent.applied_at)
        .join(Conversion, Conversion.id == ConversionEvent.conversion_id)
        .where(ConversionEvent.applied_at.is_not(None), Conversion.partnership_id.is_not(None))
    )
    for partnership_id, occurred_at, applied_at in applied:
        if applied_at is not None:  # always: the query asks for applied events only
            note(partnership_id, occurred_at, applied_at)
    return changed


def _adjustments(report: Report, lines: Sequence[CommissionLine]) -> None:
    by_id = {line.id: line for line in lines}
    _rejections(report, lines, by_id)
    # What points at a carry_out line: the carry_in line that takes it back.
    carried_in = {
        line.reverses_line_id: line for line in lines if line.purpose == LinePurpose.CARRY_IN
    }
    for line in lines:
        if line.kind != LineKind.ADJUSTMENT:
            continue
        if line.purpose in (LinePurpose.CARRY_OUT, LinePurpose.CARRY_IN):
            other = (
                carried_in.get(line.id)
                if line.purpose == LinePurpose.CARRY_OUT
                else by_id.get(line.reverses_line_id or "")
            )
            if (
                other is None
                or other.purpose == line.purpose
                or other.amount_minor != -line.amount_minor
            ):
                report.problems.append(f"line {line.id}: a carry-forward without its counterpart")
            continue
        if line.purpose == LinePurpose.REJECTION:
            target = by_id.get(line.reverses_line_id or "")
            if line.amount_minor != 0 or target is None or target.status != LineStatus.REJECTED:
                report.problems.append(f"line {line.id}: a rejection record of no rejected line")
        if not (line.reason or "").strip() or line.created_by_key_id is None:
            report.problems.append(f"line {line.id}: an adjustment without a reason or key")


def _rejections(
    report: Report, lines: Sequence[CommissionLine], by_id: Mapping[str, CommissionLine]
) -> None:
    """A rejected line has its rejection record (reason, key); a rejected reversal goes
    with its line."""
    recorded = {line.reverses_line_id for line in lines if line.purpose == LinePurpose.REJECTION}
    for line in lines:
        if line.status != LineStatus.REJECTED or line.purpose == LinePurpose.REJECTION:
            continue
        if line.kind == LineKind.REVERSAL:
            target = by_id.get(line.reverses_line_id or "")
            if target is None or target.status != LineStatus.REJECTED:
                report.problems.append(f"line {line.id}: a reversal rejected without its line")
        elif line.id not in recorded:
            report.problems.append(f"line {line.id}: rejected without a rejection record")


def _caps(
    report: Report, lines: Sequence[CommissionLine], campaigns: Mapping[str, Campaign], zone: str
) -> None:
    month_used: dict[tuple[str, str, str], int] = defaultdict(int)
    budget_used: dict[str, int] = defaultdict(int)
    for line in lines:
        campaign = campaigns[line.campaign_id]
        if campaign.monthly_cap_minor is None and campaign.budget_minor is None:
            continue
        if line.status == LineStatus.REJECTED or line.currency != campaign.currency:
            continue
        if line.kind == LineKind.ADJUSTMENT and line.amount_minor > 0:
            continue  # a manual payment may go beyond a cap
        month_used[(campaign.id, line.influencer_id, period_of(line.occurred_at, zone))] += (
            line.amount_minor
        )
        budget_used[campaign.id] += line.amount_minor
    for (campaign_id, influencer_id, month), used in sorted(month_used.items()):
        cap = campaigns[campaign_id].monthly_cap_minor
        if cap is not None and used > cap:
            report.problems.append(
                f"campaign {campaign_id}: {influencer_id} holds {used} in {month}, cap {cap}"
            )
    for campaign_id, used in sorted(budget_used.items()):
        budget = campaigns[campaign_id].budget_minor
        if budget is not None and used > budget:
            report.problems.append(f"campaign {campaign_id}: {used} is over its budget {budget}")


def _roll_ups(
    session: Session,
    report: Report,
    lines: Sequence[CommissionLine],
    campaigns: Mapping[str, Campaign],
) -> None:
    """The ledger's roll-ups (kept by triggers, migration 0024) hold what the lines
    say: each statement day's sums and orders, each tiered rule's day."""
    Key = tuple[Any, ...]
    statement: dict[Key, list[Any]] = defaultdict(lambda: [0] * 6)
    first_day: dict[Key, date] = {}
    tiered: dict[Key, list[Any]] = {}
    orders = {
        row.id: row
        for row in session.execute(
            select(
                Conversion.id,
                Conversion.occurred_at,
                Conversion.status,
                Conversion.amount_minor,
                Conversion.refunded_minor,
            )
        )
    }
    for line in lines:
        if line.export_id is not None or line.status == LineStatus.PENDING:
            group: Key = (line.export_id or "", line.influencer_id, line.currency)
            day = line.due_at.date()
            sums = statement[(*group, day)]
            amount = line.amount_minor
            sums[0] += amount if line.kind in GROSS_KINDS else 0
            sums[1] += amount if line.kind == LineKind.REVERSAL else 0
            sums[2] += amount if line.kind == LineKind.ADJUSTMENT else 0
            sums[3] += amount if line.purpose == LinePurpose.CARRY_OUT else 0
            sums[4] += 1
            if line.kind == LineKind.SALE and line.conversion_id is not None:
                key = (line.conversion_id, *group)
                first_day[key] = min(first_day.get(key, day), day)
        order = orders.get(line.conversion_id or "")
        campaign = campaigns.get(line.campaign_id)
        if (
            order is None
            or campaign is None
            or line.partnership_id is None
            or line.rule_index is None
            or line.kind not in (LineKind.SALE, LineKind.REVERSAL)
            or line.status == LineStatus.REJECTED
            or (line.rule or {}).get("type") != "tiered_percent"
            or line.currency != campaign.currency
        ):
            continue
        day_sums = tiered.setdefault(
            (line.partnership_id, line.rule_index, order.occurred_at.date()), [0, 0, 0, None, None]
        )
        counted = line.kind == LineKind.SALE and order.status != ConversionStatus.CANCELLED
        day_sums[0] += order.amount_minor - order.refunded_minor if counted else 0
        day_sums[1] += line.amount_minor
        day_sums[2] += line.cut_minor or 0
        day_sums[3] = max(filter(None, (day_sums[3], line.due_at)))
        day_sums[4] = max(filter(None, (day_sums[4], line.recorded_at)))
    for (_conv, *parts), day in first_day.items():
        statement[(*parts, day)][5] += 1
    S, T = StatementDaily, TieredSalesDaily
    held_statement: dict[Key, list[Any]] = {
        (r.export_key, r.influencer_id, r.currency, r.day): [
            r.gross_minor,
            r.reversals_minor,
            r.adjustments_minor,
            r.carried_minor,
            r.lines,
            r.orders,
        ]
        for r in session.scalars(select(S))
    }
    held_tiered: dict[Key, list[Any]] = {
        (r.partnership_id, r.rule_index, r.day): [
            r.sales_minor,
            r.amount_minor,
            r.cut_minor,
            r.due_max,
            r.changed_max,
        ]
        for r in session.scalars(select(T))
    }
    for name, held, want in (
        ("statement_daily", held_statement, {k: v for k, v in statement.items() if any(v)}),
        ("tiered_sales_daily", held_tiered, tiered),
    ):
        kept = {k: v for k, v in held.items() if any(v)}
        for key in sorted(set(kept) | set(want), key=str):
            if kept.get(key) != want.get(key):
                report.problems.append(
                    f"roll-up {name} {'/'.join(map(str, key))}: holds {kept.get(key)}, "
                    f"the lines say {want.get(key)}"
                )
