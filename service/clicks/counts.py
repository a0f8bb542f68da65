"""Counting clicks over any span of time from the daily roll-up, not from the clicks.

A span in a brand's time zone starts and ends inside UTC days; the roll-up's days are
UTC days. The whole days inside the span are read from ``click_daily``; an edge day that
the span covers only in part is read from the raw clicks of whichever part of it is
shorter (the part inside the span, or the day's row less the part outside), so at most
half a day of clicks is scanned at each end, and none for a span of whole UTC days. A
span holding no whole UTC day (under two days, such as 05:00 to 05:00 the next day) is
counted from its clicks.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from service.clicks.models import Click, ClickDaily
from service.links.models import Link
from service.periods import utc_midnight

DAY = timedelta(days=1)


def paid_by_cpc() -> Any:
    """The clicks a ``cpc`` rule pays for: unique, non-bot, redirected (not sent to the
    fallback). The roll-up's ``cpc_clicks`` counts the same (migration 0020)."""
    return and_(Click.is_unique.is_(True), Click.is_bot.is_(False), Click.outcome == "redirect")


def cpc_clicks(session: Session, start: datetime, end: datetime, by: Any) -> dict[Any, int]:
    """The clicks a ``cpc`` rule pays for in ``[start, end)``, per value of ``by`` (a
    column of :class:`Link`, such as its partnership)."""
    counts: dict[Any, int] = defaultdict(int)
    first, last = utc_midnight(start, up=True), utc_midnight(end, up=False)
    if first >= last:  # no whole UTC day inside (under two days): its clicks
        _add_raw(session, counts, by, start, end, +1)
        return dict(counts)
    _add_days(session, counts, by, first.date(), last.date())
    for day_start, inside_lo, inside_hi in ((first - DAY, start, first), (last, last, end)):
        if inside_lo == inside_hi:
            continue
        if inside_hi - inside_lo <= DAY / 2:
            _add_raw(session, counts, by, inside_lo, inside_hi, +1)
        else:  # the day's row, less the part of the day outside the span
            _add_days(session, counts, by, day_start.date(), (day_start + DAY).date())
            outside = (
                (day_start, inside_lo) if inside_lo > day_start else (inside_hi, day_start + DAY)
            )
            _add_raw(session, counts, by, *outside, -1)
    return {key: n for key, n in counts.items() if n}


def _add_days(session: Session, counts: dict[Any, int], by: Any, first: date, end: date) -> None:
    """The roll-up's days ``[first, end)``."""
    D = ClickDaily
    # Summed per link before the join: a month's tens of thousands of day rows are not
    # each joined to their link (about twice as fast at 1,000 partners).
    per_link = (
        select(D.link_id, func.sum(D.cpc_clicks).label("clicks"))
        .where(D.day >= first, D.day < end)
        .group_by(D.link_id)
        .subquery()
    )
    rows = session.execute(
        select(by, func.sum(per_link.c.clicks))
        .select_from(per_link)
        .join(Link, Link.id == per_link.c.link_id)
        .group_by(by)
    )
    for key, n in rows:
        counts[key] += int(n or 0)


def _add_raw(
    session: Session,
    counts: dict[Any, int],
    by: Any,
    start: datetime,
    end: datetime,
    sign: int,
) -> None:
    """The raw clicks of ``[start, end)``, link by link (the index on link and time)."""
    rows = session.execute(
        select(by, func.count())
        .select_from(Link)
        .join(
            Click,
            and_(Click.link_id == Link.id, Click.occurred_at >= start, Click.occurred_at < end),
        )
        .where(paid_by_cpc())
        .group_by(by)
    )
    for key, n in rows:
        counts[key] += sign * int(n)
