"""Building a month's statement and closing it."""

from __future__ import annotations

import hashlib
import heapq
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service import clock
from service.commissions.engine import carry_keys
from service.commissions.ledger import append_line, mark_paid
from service.commissions.models import CommissionLine, LineKind, LinePurpose, LineStatus
from service.commissions.settlement import PlannedLine, Projected, projected_lines, settle
from service.db import derived_id
from service.errors import Conflict, InvalidInput
from service.exports import writers
from service.exports.models import Export
from service.exports.queries import EXPORTS
from service.exports.statement import (
    PROJECTION,
    DetailLine,
    Selection,
    SummaryRow,
    carried_from,
    carried_to,
    detail_key,
    in_order,
    in_statement,
    line_filter,
    negative_balances,
    select_period,
    summary_rows,
)
from service.money import format_amount, is_currency
from service.periods import period_of, periods_between

FORMATS = ("csv", "json", "paypal")
T = TypeVar("T")


@dataclass(frozen=True)
class Built:
    chunks: Iterator[bytes]
    content_type: str
    filename: str
    checksum: str | None = None  # a closed month's summary CSV: the SHA-256 stored on close


# Payouts Web takes at most 5,000 payments per uploaded file: a larger month's PayPal
# file comes in parts (``part=1..N``), each a file PayPal accepts.
PAYPAL_ROWS = 5000


def check_options(
    fmt: str, detail: bool, currency: str | None = None, part: int | None = None
) -> None:
    if fmt not in FORMATS:
        raise InvalidInput("unknown format", fields={"format": [f"one of {', '.join(FORMATS)}"]})
    if fmt == "paypal" and detail:
        raise InvalidInput("the PayPal file has no detail", fields={"detail": ["not with paypal"]})
    if currency is not None and (fmt != "paypal" or not is_currency(currency)):
        raise InvalidInput(
            "currency is the PayPal file's currency",
            fields={"currency": ["a currency code, with format=paypal only"]},
        )
    if part is not None and (fmt != "paypal" or part < 1):
        raise InvalidInput(
            "part is a part of the PayPal file",
            fields={"part": ["a number from 1, with format=paypal only"]},
        )


def paypal_parts(payees: int) -> int:
    """How many parts a PayPal file of ``payees`` payments comes in."""
    return max(1, -(-payees // PAYPAL_ROWS))


def _paypal_rows(
    rows: Iterable[SummaryRow], currency: str | None, part: int | None
) -> tuple[list[SummaryRow], int]:
    """The rows of the PayPal file and how many parts it has: one currency per file
    (PayPal refuses a mixed one), chosen by ``currency`` when the month pays in several;
    at most :data:`PAYPAL_ROWS` rows per part, chosen by ``part`` when there are more."""
    payable = [r for r in rows if r.net_payable > 0]
    currencies = sorted({r.currency for r in payable})
    if currency is None and len(currencies) > 1:
        raise InvalidInput(
            "a PayPal file holds one currency; this month pays in several",
            fields={"currency": [f"one of {', '.join(currencies)}"]},
        )
    chosen = [r for r in payable if currency is None or r.currency == currency]
    parts = paypal_parts(len(chosen))
    if (part is None and parts > 1) or (part is not None and part > parts):
        raise InvalidInput(
            f"a PayPal file holds at most {PAYPAL_ROWS:,} payments; this one has "
            f"{len(chosen):,}, in {parts} part{'s' if parts > 1 else ''}",
            fields={"part": [f"one of 1..{parts}"]},
        )
    start = ((part or 1) - 1) * PAYPAL_ROWS
    return chosen[start : start + PAYPAL_ROWS], parts


@contextmanager
def one_projection(session: Session) -> Iterator[None]:
    """Within: an open month's settlement (the slow part of its export) is worked out once
    for every export built in ``session`` — a page showing a month's summary and detail
    reads both from one projection, and the statement's sums once. Nothing may be
    written meanwhile."""
    session.info[PROJECTION] = {}
    try:
        yield
    finally:
        session.info.pop(PROJECTION, None)


def _projection(session: Session, period: str, zone: str) -> list[Projected]:
    kept: dict[tuple[str, str], list[Projected]] | None = session.info.get(PROJECTION)
    if kept is None:
        return projected_lines(session, period, zone)
    if (period, zone) not in kept:
        kept[(period, zone)] = projected_lines(session, period, zone)
    return kept[(period, zone)]


def build(
    session: Session,
    period: str,
    *,
    fmt: str = "csv",
    detail: bool = False,
    zone: str = "UTC",
    currency: str | None = None,
    part: int | None = None,
    on_rows: Callable[[int], None] | None = None,
    head: int | None = None,
) -> Built:
    """The export body, streamed. Changes nothing: a month that is still open shows the
    settlement lines closing it would write (tiered true-up, CPC); a month still
    running, as if it ended now, those lines marked projected in the detail. A month
    not started yet has no export (409). ``on_rows(n)`` hears of every
    ``PROGRESS_EVERY`` rows written (a progress bar). ``head``: the detail's first rows
    only (a page's glimpse of it), without sorting the whole month first."""
    check_options(fmt, detail, currency, part)
    sel, planned = _statement(session, period, zone)
    now = clock.now_utc()
    name = f"commissions-{period}{'-lines' if detail else ''}"
    if detail:
        if not sel.closed:  # the carry-forward lines closing would write, too
            balances = negative_balances(session, sel, planned)
            planned = planned + [
                Projected.made(
                    PlannedLine(**{**line, "status": LineStatus.PENDING}, recorded_at=now)
                )
                for line in carry_lines(session, sel, balances, zone, planned)
                if line["status"] == LineStatus.PAID  # the one in this statement; paid on close
            ]
        lines = _told(_detail_rows(session, sel, planned, fmt, head), on_rows)
        if fmt == "json":
            return Built(writers.detail_json(period, lines), "application/json", f"{name}.json")
        return Built(writers.detail_csv(lines), "text/csv; charset=utf-8", f"{name}.csv")
    rows = _told(summary_rows(session, sel, planned=planned), on_rows)
    if fmt == "json":
        return Built(writers.summary_json(period, rows), "application/json", f"{name}.json")
    if fmt == "paypal":
        payable, parts = _paypal_rows(rows, currency, part)
        suffix = f"-paypal-{payable[0].currency}" if payable else "-paypal"
        if parts > 1:
            suffix += f"-part{part}of{parts}"
        return Built(
            writers.paypal_csv(period, payable), "text/csv; charset=utf-8", f"{name}{suffix}.csv"
        )
    stored = sel.export.checksum if sel.export is not None and sel.export.checksum else None
    return Built(writers.summary_csv(rows), "text/csv; charset=utf-8", f"{name}.csv", stored)


def _statement(session: Session, period: str, zone: str) -> tuple[Selection, list[Projected]]:
    """The month's statement and the lines not written yet that it holds (409: a month
    not started yet)."""
    sel = select_period(session, period, zone)
    if clock.now_utc() < sel.start:
        raise Conflict(
            f"{period} has not started yet: its export exists from {sel.start.isoformat()}",
            code="period_not_started",
        )
    planned = [] if sel.closed else in_statement(sel, _projection(session, period, zone))
    return sel, planned


def summary(session: Session, period: str, zone: str = "UTC") -> list[SummaryRow]:
    """The rows of the month's summary file (:func:`build`'s default), as values: a
    page shows them without reading the CSV back."""
    sel, planned = _statement(session, period, zone)
    return list(summary_rows(session, sel, planned=planned))


def _detail_rows(
    session: Session,
    sel: Selection,
    planned: Sequence[Projected],
    fmt: str,
    head: int | None = None,
) -> Iterator[str]:
    """The detail's rows (CSV rows or JSON objects): the written lines as the database
    formats them (:data:`service.exports.queries.EXPORTS`); lines not written yet are
    formatted in Python and merged in by (influencer, currency, line id)."""
    python = writers.detail_object if fmt == "json" else writers.detail_row
    written = EXPORTS.of(session).detail_rows(session, sel, fmt, head)
    if not planned:
        for row in written:
            yield row[0]
        return
    now = clock.now_utc()
    projected = sel.projected(now)
    key: Callable[[tuple[str, ...]], tuple[str, ...]] = lambda row: row[1:]  # noqa: E731
    # In the statement's order (influencer, currency, line id), each formatted only when
    # the merge reaches it: a glimpse of the detail formats a few.
    extra = (
        (
            python(sel.period, DetailLine.planned(line.line, now, projected=projected)),
            *detail_key(line),
        )
        for line in in_order(planned)
    )
    for row in itertools.islice(heapq.merge(written, extra, key=key), head):
        yield row[0]


def closed_detail_csv(session: Session, sel: Selection) -> Iterator[bytes]:
    """A closed month's detail CSV (``sel``'s influencer's rows only, when it names one),
    row for row as :func:`build` writes the month's (a closed month has no planned lines)."""
    if not sel.closed:
        raise ValueError(f"{sel.period} is not closed")
    return writers.detail_csv(_detail_rows(session, sel, (), "csv"))


PROGRESS_EVERY = 1000


def _told(items: Iterable[T], on_rows: Callable[[int], None] | None) -> Iterator[T]:
    if on_rows is None:
        yield from items
        return
    pending = 0
    for item in items:
        yield item
        pending += 1
        if pending == PROGRESS_EVERY:
            on_rows(pending)
            pending = 0
    on_rows(pending)


def size(session: Session, period: str, *, detail: bool, zone: str = "UTC") -> int:
    """About how many rows the export of ``period`` has (for a progress bar): its
    ledger lines, or its influencer and currency groups. Lines not written yet (an open
    month's settlement) are not counted."""
    sel = select_period(session, period, zone)
    groups = select(CommissionLine.influencer_id, CommissionLine.currency).where(line_filter(sel))
    if not detail:
        groups = groups.distinct()
    return int(session.scalar(select(func.count()).select_from(groups.subquery())) or 0)


def summary_file(session: Session, period: str, zone: str) -> bytes:
    """The month's summary CSV, whole: what ``GET …/<period>`` answers by default."""
    return summary_csv(summary(session, period, zone))


def summary_csv(rows: Iterable[SummaryRow]) -> bytes:
    """The summary CSV of ``rows`` (:func:`summary`), whole: its checksum is the one a
    close stores."""
    return b"".join(writers.summary_csv(rows))


def checksum_of(summary: bytes) -> str:
    """The checksum a close stores: the SHA-256 of the summary CSV's bytes."""
    return hashlib.sha256(summary).hexdigest()


def checksum(session: Session, period: str, zone: str) -> str:
    return checksum_of(summary_file(session, period, zone))


@dataclass(frozen=True)
class Month:
    """A month as finance sees it: running (its export a projection), ended and open
    (it can be closed), or closed (``export`` holds its checksum and closing time)."""

    period: str
    state: str  # running | open | closed
    export: Export | None


def months(session: Session, zone: str) -> list[Month]:
    """Every month from the first one with a ledger line or a closed export up to the
    running one, newest first."""
    now = clock.now_utc()
    running = period_of(now, zone)
    exports = {e.period: e for e in session.scalars(select(Export))}
    first_due = session.scalar(select(func.min(CommissionLine.due_at)))
    first = min([running, *exports, *([period_of(first_due, zone)] if first_due else [])])
    shown = []
    for period in reversed(periods_between(first, running)):
        export = exports.get(period)
        state = "closed" if export else "running" if period == running else "open"
        shown.append(Month(period, state, export))
    return shown


def close(session: Session, period: str, zone: str = "UTC") -> Export:
    """Close a month: write its carry-forward lines, mark its lines paid, store the
    checksum of its summary CSV. A second close (even a concurrent one) gets 409."""
    sel = select_period(session, period, zone)
    now = clock.now_utc()
    if sel.closed:
        raise Conflict(f"{period} is already closed", code="already_closed")
    if now < sel.end:
        shown = "is a projection" if now >= sel.start else "does not exist yet"
        raise Conflict(
            f"{period} has not ended yet: it can be closed from {sel.end.isoformat()}; "
            f"until then its export {shown}",
            code="period_open",
        )
    settle(session, period, zone)
    export = Export(period=period, checksum="", closed_at=now, line_count=0, totals=[])
    session.add(export)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"{period} is already closed", code="already_closed") from None
    # Take the lines first, then compute from exactly the lines taken: a line written
    # meanwhile is either in both or in neither.
    line_count = mark_paid(session, line_filter(sel, now), export.id)
    EXPORTS.of(session).lines_changed(session)  # fresh statistics for the reads below
    taken = Selection(sel.period, sel.start, sel.end, export)
    rows = list(summary_rows(session, taken, project_carry=True))
    balances = [(r.influencer_id, r.currency, r.carried_forward) for r in rows]
    for line in carry_lines(session, taken, balances, zone):
        append_line(session, **line)
        line_count += line["status"] == LineStatus.PAID
    session.flush()
    export.line_count = line_count
    export.totals = _totals(rows)
    session.flush()
    session.expire_all()
    export.checksum = checksum(session, period, zone)
    return export


def carry_lines(
    session: Session,
    sel: Selection,
    balances: Sequence[tuple[str, str, int]],
    zone: str,
    planned: Sequence[Projected] = (),
) -> list[dict[str, Any]]:
    """The two lines that carry each negative balance forward (``balances``: influencer,
    currency, the amount to carry): one in this statement bringing it to zero (``paid``
    on close), its opposite due at the start of the next month. Ids come from their
    keys, so the preview shows what closing writes; the second reverses the first."""
    next_period = period_of(sel.end, zone)
    now = clock.now_utc()
    lines = []
    for influencer_id, currency, carried in balances:
        if carried <= 0:
            continue
        group = (influencer_id, currency)
        base: dict[str, Any] = {
            "influencer_id": influencer_id,
            "campaign_id": _first_campaign(session, sel, group, planned),
            "kind": LineKind.ADJUSTMENT,
            "currency": currency,
            "occurred_at": now,
            "due_at": sel.end,
        }
        out, back = carry_keys(sel.period, influencer_id, currency)
        out_id = derived_id("cml", sel.end, out)
        lines.append(
            {
                **base,
                "id": out_id,
                "idempotency_key": out,
                "purpose": LinePurpose.CARRY_OUT,
                "amount_minor": carried,
                "status": LineStatus.PAID,
                "export_id": sel.export.id if sel.export is not None else None,
                "reason": str(carried_to(next_period)),
            }
        )
        lines.append(
            {
                **base,
                "id": derived_id("cml", sel.end, back),
                "idempotency_key": back,
                "purpose": LinePurpose.CARRY_IN,
                "reverses_line_id": out_id,
                "amount_minor": -carried,
                "status": LineStatus.PENDING,
                "reason": str(carried_from(sel.period)),
            }
        )
    return lines


def _first_campaign(
    session: Session, sel: Selection, group: tuple[str, str], planned: Sequence[Projected]
) -> str:
    """A campaign to book a carry-forward line on: the one of the group's earliest line."""
    first = session.execute(
        select(CommissionLine.id, CommissionLine.campaign_id)
        .where(
            line_filter(sel),
            CommissionLine.influencer_id == group[0],
            CommissionLine.currency == group[1],
        )
        .order_by(CommissionLine.id)
        .limit(1)
    ).first()
    candidates = [
        (line.id, line.line.campaign_id)
        for line in planned
        if (line.influencer_id, line.currency) == group
    ]
    if first is not None:
        candidates.append((first[0], first[1]))
    return min(candidates)[1]


def _totals(rows: list[Any]) -> list[dict[str, Any]]:
    by_currency: dict[str, int] = {}
    for row in rows:
        by_currency[row.currency] = by_currency.get(row.currency, 0) + row.net_payable
    return [
        {"currency": c, "net_payable": format_amount(v, c)} for c, v in sorted(by_currency.items())
    ]


def close_summary(export: Export) -> dict[str, Any]:
    return {
        "period": export.period,
        "checksum": export.checksum,
        "closed_at": export.closed_at.isoformat(),
        "lines": export.line_count,
        "totals": export.totals,
    }
