"""What belongs in a month's commission statement (docs/product.md §6), as rows.

An open month holds every approved line due before the month ends that no closed
export has paid, and the settlement lines closing would write (not written yet); a
month still running shows them as if it ended now, each marked ``projected``. A closed
month holds exactly the lines its export paid. A group (influencer, currency) whose
net is negative is not paid: the statement shows the balance being carried forward as
an adjustment that brings it to zero, and closing writes that adjustment plus the
opposite line due at the start of the next month.
"""

from __future__ import annotations

import functools
import heapq
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Select,
    String,
    Subquery,
    and_,
    bindparam,
    case,
    func,
    select,
    text,
    tuple_,
    union_all,
)
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session, aliased

from service import clock
from service.commissions.ledger import status_of
from service.commissions.models import (
    APPROVED,
    GROSS_KINDS,
    WORKING,
    CommissionLine,
    LineKind,
    LinePurpose,
    LineStatus,
    WorkedOut,
)
from service.commissions.settlement import PlannedLine, Projected
from service.conversions.models import Conversion
from service.db import bytewise
from service.errors import N_, Words
from service.exports.columns import sql_object, sql_row
from service.exports.models import Export, StatementDaily
from service.influencers.models import Influencer
from service.periods import period_bounds, utc_midnight

# A carry-forward line's reason, as a close writes it (``service.errors.Words``: read
# in the portal's languages through :func:`reason_words`).
_CARRIED = re.compile(r"negative balance carried forward (to|from) (\d{4}-\d{2})")


def carried_to(month: str) -> Words:
    """The reason of the line that brings a negative balance to zero in its month."""
    return N_("negative balance carried forward to %(month)s", month=month)


def carried_from(month: str) -> Words:
    """The reason of the line that takes the balance into ``month``'s next month."""
    return N_("negative balance carried forward from %(month)s", month=month)


def reason_words(reason: str | None) -> str | None:
    """A line's stored reason as a person reads it: a carry-forward line's as the
    sentence it was written from (a page writes it in its own language), any other (a
    person's own words) as written."""
    found = _CARRIED.fullmatch(reason) if reason else None
    if found is None:
        return reason
    return (carried_to if found.group(1) == "to" else carried_from)(found.group(2))


# session.info's key for what one view of a month works out once (exports.one_projection).
PROJECTION = "afftrack.exports.projection"
PROJECTED = "projected"  # the shown status of a line not written yet, in a running month


@dataclass(frozen=True)
class SummaryRow:
    period: str
    influencer_id: str
    handle: str
    name: str
    payout_email: str
    currency: str
    gross: int
    reversals: int
    adjustments: int
    carried_forward: int  # the part of ``adjustments`` that carries a negative balance
    net_payable: int
    orders: int
    lines: int


@dataclass(frozen=True)
class Selection:
    period: str
    start: datetime
    end: datetime
    export: Export | None
    # One influencer's part of the statement only (their portal's statement); None: all.
    influencer_id: str | None = None

    @property
    def closed(self) -> bool:
        return self.export is not None

    def projected(self, now: datetime) -> bool:
        """An open month still running: its export is a projection, as if it ended now."""
        return self.export is None and now < self.end


def select_period(
    session: Session, period: str, zone: str, influencer_id: str | None = None
) -> Selection:
    """The statement of ``period`` (``influencer_id``: that influencer's lines only)."""
    start, end = period_bounds(period, zone)
    export = session.scalar(select(Export).where(Export.period == period))
    return Selection(period, start, end, export, influencer_id)


def line_filter(sel: Selection, now: datetime | None = None) -> ColumnElement[bool]:
    """The statement's lines (of its influencer only, when it names one)."""
    if sel.export is not None:
        taken = CommissionLine.export_id == sel.export.id
    else:
        now = now or clock.now_utc()
        taken = and_(
            CommissionLine.status == LineStatus.PENDING,
            CommissionLine.export_id.is_(None),
            CommissionLine.due_at < sel.end,
            CommissionLine.due_at <= now,
        )
    if sel.influencer_id is None:
        return taken
    return and_(taken, CommissionLine.influencer_id == sel.influencer_id)


def summary_rows(
    session: Session,
    sel: Selection,
    *,
    project_carry: bool | None = None,
    planned: Sequence[Projected] = (),
) -> Iterator[SummaryRow]:
    """Rows per influencer and currency. ``project_carry`` (default: for an open month)
    shows a negative net as carried forward, as closing will write it; ``planned``
    lines (see :func:`in_statement`) count as if written."""
    if project_carry is None:
        project_carry = not sel.closed
    extra = _planned_sums(planned)
    rows: Iterable[Sequence[Any]] = _summed_groups(session, sel)
    if extra:
        rows = _with_planned_only(session, rows, extra)
    for row in rows:
        more = extra.pop((row[0], row[1]), (0, 0))
        yield _summary_row(sel.period, row, more, project_carry=project_carry)


def _planned_sums(planned: Sequence[Projected]) -> dict[tuple[str, str], list[int]]:
    """(influencer, currency) → [gross, lines] of the planned lines."""
    extra: dict[tuple[str, str], list[int]] = {}
    for line in planned:
        sums = extra.setdefault((line.influencer_id, line.currency), [0, 0])
        sums[0] += line.amount_minor
        sums[1] += 1
    return extra


def _group_sums(session: Session, sel: Selection) -> Subquery:
    """The statement's lines summed per influencer and currency: from the days of the
    ledger's roll-up (:class:`StatementDaily`), and for an open month the lines of the
    day it is cut in (its last instant, or now in a month still running)."""
    D = StatementDaily
    parts: list[Any] = []
    days = select(
        D.influencer_id,
        D.currency,
        D.gross_minor.label("gross"),
        D.reversals_minor.label("reversals"),
        D.adjustments_minor.label("adjustments"),
        D.carried_minor.label("carried"),
        D.orders,
        D.lines,
    )
    if sel.influencer_id is not None:
        days = days.where(D.influencer_id == sel.influencer_id)
    if sel.export is not None:
        parts.append(days.where(D.export_key == sel.export.id))
    else:
        now = clock.now_utc()
        edge = utc_midnight(min(sel.end, now), up=False)
        parts.append(days.where(D.export_key == "", D.day < edge.date()))
        parts.append(_edge_sums(sel, now, edge))
    g = union_all(*parts).subquery()
    influencer_id = bytewise(session, g.c.influencer_id).label("influencer_id")
    currency = bytewise(session, g.c.currency).label("currency")
    return (
        select(
            influencer_id,
            currency,
            *(
                func.sum(column).label(name)
                for name, column in (
                    ("gross", g.c.gross),
                    ("reversals", g.c.reversals),
                    ("adjustments", g.c.adjustments),
                    ("carried", g.c.carried),
                    ("orders", g.c.orders),
                    ("lines", g.c.lines),
                )
            ),
        )
        .group_by(influencer_id, currency)
        .having(func.sum(g.c.lines) > 0)
        .subquery()
    )


def _edge_sums(sel: Selection, now: datetime, edge: datetime) -> Any:
    """An open statement's lines due from ``edge`` (the UTC midnight before its cut),
    summed per influencer and currency as the roll-up sums a day; an order counts here
    unless it has a sale line in the statement due before ``edge`` (the roll-up counts
    it on that earlier day)."""
    L, E = CommissionLine, aliased(CommissionLine)
    amount = L.amount_minor
    earlier = (
        select(E.id)
        .where(
            E.conversion_id == L.conversion_id,
            E.kind == LineKind.SALE,
            E.influencer_id == L.influencer_id,
            E.currency == L.currency,
            E.export_id.is_(None),
            E.status == LineStatus.PENDING,
            E.due_at < edge,
        )
        .exists()
    )
    first_here = and_(L.kind == LineKind.SALE, ~earlier)
    return (
        select(
            L.influencer_id,
            L.currency,
            func.sum(case((L.kind.in_(GROSS_KINDS), amount), else_=0)).label("gross"),
            func.sum(case((L.kind == LineKind.REVERSAL, amount), else_=0)).label("reversals"),
            func.sum(case((L.kind == LineKind.ADJUSTMENT, amount), else_=0)).label("adjustments"),
            func.sum(case((L.purpose == LinePurpose.CARRY_OUT, amount), else_=0)).label("carried"),
            func.count(func.distinct(case((first_here, L.conversion_id), else_=None))).label(
                "orders"
            ),
            func.count().label("lines"),
        )
        .where(line_filter(sel, now), L.due_at >= edge)
        .group_by(L.influencer_id, L.currency)
    )


def _summed_groups(session: Session, sel: Selection) -> list[Row[Any]]:
    """The rows of :func:`_summary_select`, read once per view of the month within
    ``exports.one_projection`` (its summary and its detail's carried-forward balances
    both need them)."""
    kept: dict[Any, Any] | None = session.info.get(PROJECTION)
    key = ("groups", sel.period, sel.export.id if sel.export else None, sel.influencer_id)
    if kept is not None and key in kept:
        rows: list[Row[Any]] = kept[key]
        return rows
    rows = list(session.execute(_summary_select(session, sel)))
    if kept is not None:
        kept[key] = rows
    return rows


def _summary_select(session: Session, sel: Selection) -> Select[Any]:
    """The summed groups joined to their influencer, by handle and currency."""
    # The lines are summed per group first and only the 20,000-odd groups joined to
    # their influencer: grouping narrow rows is several times faster than grouping
    # lines joined to wide influencer rows.
    g = _group_sums(session, sel).c
    return (
        select(
            g.influencer_id,
            g.currency,
            g.gross,
            g.reversals,
            g.adjustments,
            g.carried,
            g.orders,
            g.lines,
            Influencer.handle,
            Influencer.name,
            func.coalesce(Influencer.payout_email, Influencer.email),
        )
        .join(Influencer, Influencer.id == g.influencer_id)
        .order_by(bytewise(session, Influencer.handle), g.currency)
    )


def _with_planned_only(
    session: Session, rows: Iterable[Sequence[Any]], extra: dict[tuple[str, str], list[int]]
) -> Iterator[Sequence[Any]]:
    """``rows`` with the groups that so far hold only planned lines, merged in by handle
    and currency (the groups are few enough to hold: one row per influencer and
    currency)."""
    held_rows = list(rows)
    held = {(row[0], row[1]) for row in held_rows}
    only = _planned_only(session, [group for group in extra if group not in held])
    return heapq.merge(held_rows, only, key=lambda r: (r[8], r[1]))


def _summary_row(
    period: str, row: Sequence[Any], more: Sequence[int], *, project_carry: bool
) -> SummaryRow:
    """One summary row, with the planned lines' ``more`` (gross, lines) counted in."""
    inf_id, currency, gross, rev, adj, carried, orders, count, handle, name, email = row
    more_gross, more_lines = more
    gross, rev, adj, carried = int(gross) + more_gross, int(rev), int(adj), int(carried)
    net = gross + rev + adj
    lines = int(count) + more_lines
    if project_carry and net < 0:
        # Shown as it will be written on close (see the module docstring).
        carried, adj, net, lines = -net, adj - net, 0, lines + 1
    return SummaryRow(
        period,
        inf_id,
        handle,
        name,
        email,
        currency,
        gross,
        rev,
        adj,
        carried,
        net,
        int(orders),
        lines,
    )


def negative_balances(
    session: Session, sel: Selection, planned: Sequence[Projected] = ()
) -> list[tuple[str, str, int]]:
    """The groups (influencer, currency) of an open statement whose net is negative,
    with the amount closing will carry forward (``summary_rows``' ``carried_forward``)."""
    nets: dict[tuple[str, str], int] = {}
    for row in _summed_groups(session, sel):
        inf_id, currency, gross, reversals, adjustments = (row[i] for i in range(5))
        nets[(inf_id, currency)] = int(gross) + int(reversals) + int(adjustments)
    for line in planned:
        group = (line.influencer_id, line.currency)
        nets[group] = nets.get(group, 0) + line.amount_minor
    return sorted((inf_id, cur, -net) for (inf_id, cur), net in nets.items() if net < 0)


def _planned_only(session: Session, groups: list[tuple[str, str]]) -> list[tuple[Any, ...]]:
    """Empty summary rows for ``groups`` (influencer, currency), by handle and currency."""
    ids = {inf_id for inf_id, _currency in groups}
    people = (
        {
            row[0]: row[1:]
            for row in session.execute(
                select(
                    Influencer.id,
                    Influencer.handle,
                    Influencer.name,
                    func.coalesce(Influencer.payout_email, Influencer.email),
                ).where(Influencer.id.in_(ids))
            )
        }
        if ids
        else {}
    )
    rows = [(inf_id, currency, 0, 0, 0, 0, 0, 0, *people[inf_id]) for inf_id, currency in groups]
    return sorted(rows, key=lambda r: (r[8], r[1]))


def in_statement(sel: Selection, planned: Sequence[Projected]) -> list[Projected]:
    """The planned (not yet written) lines in the statement: those due before the month
    ends (in a month still running, not due yet: projected, see :class:`DetailLine`)."""
    if sel.closed:
        return []
    return [line for line in planned if line.due_at < sel.end]


def in_order(planned: Iterable[Projected]) -> Iterator[Projected]:
    """``planned`` in the statement's order (:func:`detail_key`), each line's id worked
    out only when the reader reaches its influencer and currency: a page's first rows
    name a few lines of the thousands planned."""
    groups: dict[tuple[str, str], list[Projected]] = {}
    for line in planned:
        groups.setdefault((line.influencer_id, line.currency), []).append(line)
    for group in sorted(groups):
        yield from sorted(groups[group], key=lambda line: line.id)


@dataclass(frozen=True, slots=True)
class DetailLine(WorkedOut):
    """A line of the detail file: the ledger line's shown columns and its order's, and
    how its amount was worked out (shown inside the rule: ``ledger.shown_rule``)."""

    id: str
    influencer_id: str
    campaign_id: str
    conversion_id: str | None
    order_id: str | None
    source: str | None
    kind: str
    rule: Any  # the rule as stored (a JSON object) or None; shown with WORKING
    basis_minor: int | None
    basis_currency: str | None  # a sale's basis is in its order's currency
    amount_minor: int
    currency: str
    due_at: datetime
    status: str  # as shown: a pending line that is due is "approved"
    reason: str | None

    @classmethod
    def planned(cls, line: PlannedLine, now: datetime, *, projected: bool) -> DetailLine:
        """A line not written yet (no order: settlement and carry-forward lines), shown
        as ``projected`` in a month still running (:meth:`Selection.projected`)."""
        return cls(
            line.id,
            line.influencer_id,
            line.campaign_id,
            line.conversion_id,
            None,
            None,
            line.kind,
            line.rule,
            line.basis_minor,
            None if line.basis_minor is None else line.currency,
            line.amount_minor,
            line.currency,
            line.due_at,
            PROJECTED if projected else status_of(line, now),
            line.reason,
            **{fact.column: getattr(line, fact.column) for fact in WORKING},
        )


def detail_key(line: DetailLine | PlannedLine | Projected | Row[Any]) -> tuple[str, str, str]:
    """The statement's order: influencer, currency, line id (bytewise)."""
    return (line.influencer_id, line.currency, line.id)


def _shown_status(now: datetime | ColumnElement[datetime]) -> ColumnElement[str]:
    L = CommissionLine
    return case(
        (and_(L.status == LineStatus.PENDING, L.due_at <= now), APPROVED), else_=L.status
    ).label("status")


def _detail_select(
    session: Session,
    sel: Selection,
    now: datetime,
    *columns: Any,
    head: int | None = None,
    after: tuple[str, str, str] | None = None,
) -> Any:
    """``columns`` of the statement's lines joined to their orders, in statement order
    (``head``: the first ones only; PostgreSQL then formats only those, after a top-N
    sort of the month; ``after``: only the lines whose :func:`detail_key` comes after
    it, the next page of a statement read a page at a time)."""
    L, C = CommissionLine, Conversion
    key = [bytewise(session, column) for column in (L.influencer_id, L.currency, L.id)]
    stmt = select(*columns).outerjoin(C, C.id == L.conversion_id).where(line_filter(sel, now))
    if after is not None:
        stmt = stmt.where(tuple_(*key) > tuple_(*after))
    return stmt.order_by(*key).limit(head)


def detail_lines(
    session: Session,
    sel: Selection,
    *,
    head: int | None = None,
    after: tuple[str, str, str] | None = None,
) -> Iterator[Row[Any]]:
    """Every written line of the statement in a stable order, with its order's id and
    source (lines not written yet are merged in by ``exports.service``). Only the shown
    columns are read, as plain rows (no ORM entities). ``head`` and ``after``: a page of
    them (see :func:`_detail_select`)."""
    L, C = CommissionLine, Conversion
    now = clock.now_utc()
    stmt = _detail_select(
        session,
        sel,
        now,
        L.id,
        L.influencer_id,
        L.campaign_id,
        L.conversion_id,
        C.order_id,
        C.source,
        L.kind,
        L.rule,
        L.basis_minor,
        case((L.basis_minor.is_(None), None), else_=func.coalesce(C.currency, L.currency)).label(
            "basis_currency"
        ),
        L.amount_minor,
        L.currency,
        L.due_at,
        _shown_status(now),
        L.reason,
        *(getattr(L, fact.column) for fact in WORKING),
        head=head,
        after=after,
    ).execution_options(yield_per=1000)
    yield from session.execute(stmt)


def formatted_lines(
    session: Session, sel: Selection, fmt: str, head: int | None = None
) -> Iterator[tuple[str, str, str, str]]:
    """PostgreSQL only: the statement's lines as detail CSV rows (``fmt`` "csv") or
    JSON objects ("json") formatted by the database (see
    :mod:`service.exports.columns`), each with its sort key (influencer, currency,
    line id), in the order of :func:`detail_lines`."""
    # Compiling this expression-heavy query to machine code costs PostgreSQL more than
    # it gains per row (docs/BENCHMARKS.md#export-figures-without-a-recorded-date); the
    # setting lasts until the transaction ends (the export reads through a session of
    # its own).
    session.execute(text("SET LOCAL jit = off"))
    if head is not None or sel.influencer_id is not None:
        # A page's first rows, or one influencer's month (a line per order of theirs:
        # thousands at most, held at once): through SQLAlchemy, whose compiled-statement
        # cache spares compiling the query again on every view, in one round trip
        # (nothing to stream; docs/BENCHMARKS.md, "The influencer portal at 1,000,000
        # clicks").
        stmt, values = _formatted_select(session, sel, fmt, head)
        first = session.execute(stmt, values).all()
        return iter(cast(list[tuple[str, str, str, str]], first))
    sql, params = formatted_statement(session, sel, fmt, head)
    # Streamed row by row (libpq's single-row mode, psycopg's ``Cursor.stream``): memory
    # stays constant as with a server-side cursor, but the query runs as a plain one, so
    # PostgreSQL may format in parallel workers (a cursor never does; see
    # docs/BENCHMARKS.md#where-the-exports-time-goes-now). The connection serves nothing
    # else until it ends; left
    # early (a client gone), psycopg cancels the query and the transaction is aborted,
    # which only the session's rollback follows.
    driver = session.connection().connection.driver_connection
    assert driver is not None
    rows: Iterator[tuple[str, str, str, str]] = driver.cursor().stream(sql, params)
    return rows


def formatted_statement(
    session: Session, sel: Selection, fmt: str, head: int | None = None
) -> tuple[str, dict[str, Any]]:
    """The SQL (in the driver's paramstyle) and parameters of :func:`formatted_lines`."""
    stmt, values = _formatted_select(session, sel, fmt, head)
    expanded = stmt.compile(session.get_bind()).construct_expanded_state(values)
    return expanded.statement, dict(expanded.parameters)


@functools.cache
def _formatter(fmt: str) -> ColumnElement[str]:
    """A line as PostgreSQL formats it (``fmt`` "csv": a detail CSV row, "json": an
    object), built once: an expression of a few hundred nodes, whose building would cost
    a page about 10 ms. The statement's period and the moment the status is shown at
    are parameters (:func:`_formatted_select` gives their values)."""
    formatter = sql_object if fmt == "json" else sql_row
    period = bindparam("detail_period", type_=String, required=True)
    shown_at = bindparam("shown_at", type_=DateTime(timezone=True), required=True)
    return formatter(period, _shown_status(shown_at))


def _formatted_select(
    session: Session, sel: Selection, fmt: str, head: int | None
) -> tuple[Any, dict[str, Any]]:
    """The statement of :func:`formatted_lines` and the values of its formatter's
    parameters."""
    L = CommissionLine
    now = clock.now_utc()
    stmt = _detail_select(
        session, sel, now, _formatter(fmt), L.influencer_id, L.currency, L.id, head=head
    )
    return stmt, {"detail_period": sel.period, "shown_at": now}
