"""What one influencer sees in their portal, and nothing else (docs/product.md §1,
"portal"): pure reads, each scoped by the influencer's id in its SQL.

Every function takes the session and the signed-in influencer's id. A function given
the id of an object (a campaign, link, promo code, post, ledger line or closed month)
that is not theirs raises :class:`~service.errors.NotFound` exactly as for one that does
not exist, so no answer tells the two apart. What comes back are plain dataclasses
holding the influencer's own figures only: no other partner, no customer data, no
brand-only settings (budgets, caps, media value rates, allowed domains, fallback), no
campaign totals beyond the influencer's own orders. Sharing a campaign's totals is the
brand's choice to make later (ADR "the influencer's own data in the portal"): it would
be one more function here, reading a campaign setting, never a wider query in these.

Clicks and conversions per day come from the roll-ups (``click_daily``,
``conversion_daily``), never from a scan of the raw rows; long lists come in pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from service import clock
from service.campaigns.models import Campaign, Partnership
from service.clicks.models import ClickDaily
from service.commissions.ledger import STATUSES, status_filter, status_of
from service.commissions.models import CommissionLine, LineKind, LinePurpose, LineStatus
from service.config import Settings
from service.conversions.models import Conversion, ConversionDaily
from service.deliverables.models import Deliverable
from service.errors import InvalidInput, NotFound
from service.exports.models import Export
from service.exports.service import closed_detail_csv
from service.exports.statement import (
    Selection,
    SummaryRow,
    detail_lines,
    reason_words,
    select_period,
)
from service.exports.statement import summary_rows as statement_rows
from service.influencers.models import PlatformAccount
from service.links.models import Link
from service.links.qr import qr_url
from service.links.service import short_url, tracked_url
from service.paging import DEFAULT_LIMIT, MAX_LIMIT, Page, decode_cursor, encode_cursor
from service.periods import parse_period
from service.promo_codes.models import PromoCode
from service.reports.kpis import engagement_rate
from service.vocabulary import POST_METRICS

# The longest span of days a chart reads at once.
MAX_DAYS = 366
# How much of an order reference is shown: its last characters, at most half of it.
REFERENCE_TAIL = 4
REFERENCE_MASK = "•••"

Rows = Select[*tuple[Any, ...]]  # a query of any columns


def mask_reference(reference: str | None) -> str | None:
    """An order reference as the portal shows it: ``•••`` and its last four characters,
    never more than half of it (``"1001"`` → ``"•••01"``), so the influencer can match an
    order they are told about without reading the shop's order numbers."""
    if reference is None:
        return None
    keep = min(REFERENCE_TAIL, len(reference) // 2)
    return REFERENCE_MASK + (reference[-keep:] if keep else "")


# Campaigns, links, codes ---------------------------------------------------------------


@dataclass(frozen=True)
class OwnCampaign:
    """A campaign the influencer belongs to, with their own terms only."""

    id: str
    name: str
    slug: str
    goal: str
    currency: str
    starts_on: date
    ends_on: date | None
    hold_days: int  # how long a commission is pending before it is due
    attribution_window_days: int
    commission_rules: list[dict[str, Any]]  # the rules they earn by (theirs, or the campaign's)
    partner_since: datetime


def _campaign(campaign: Campaign, partnership: Partnership) -> OwnCampaign:
    return OwnCampaign(
        id=campaign.id,
        name=campaign.name,
        slug=campaign.slug,
        goal=campaign.goal,
        currency=campaign.currency,
        starts_on=campaign.starts_on,
        ends_on=campaign.ends_on,
        hold_days=campaign.hold_days,
        attribution_window_days=campaign.attribution_window_days,
        commission_rules=partnership.effective_rules,
        partner_since=partnership.created_at,
    )


def _partnerships(influencer_id: str) -> Select[Partnership]:
    return select(Partnership).where(Partnership.influencer_id == influencer_id)


def campaigns_of(session: Session, influencer_id: str) -> list[OwnCampaign]:
    """The campaigns the influencer is a partner of, newest start first."""
    found = session.scalars(_partnerships(influencer_id)).all()
    shown = [_campaign(p.campaign, p) for p in found]
    return sorted(shown, key=lambda c: (c.starts_on, c.id), reverse=True)


def campaign(session: Session, influencer_id: str, campaign_id: str) -> OwnCampaign:
    partnership = session.scalar(
        _partnerships(influencer_id).where(Partnership.campaign_id == campaign_id)
    )
    if partnership is None:
        raise NotFound(f"no campaign {campaign_id!r}")
    return _campaign(partnership.campaign, partnership)


@dataclass(frozen=True)
class OwnLink:
    id: str
    campaign_id: str
    code: str
    platform: str
    status: str
    short_url: str  # what the redirect answers, to copy
    tracked_url: str  # where it lands: the destination with its UTM parameters
    qr_url: str  # what the link's QR code holds (the short URL, marked as scanned)
    created_at: datetime


def _link(link: Link, settings: Settings) -> OwnLink:
    return OwnLink(
        id=link.id,
        campaign_id=link.campaign_id,
        code=link.code,
        platform=link.platform,
        status=link.status,
        short_url=short_url(settings, link.code),
        tracked_url=tracked_url(link),
        qr_url=qr_url(settings, link.code),
        created_at=link.created_at,
    )


def links_of(session: Session, settings: Settings, influencer_id: str) -> list[OwnLink]:
    """The influencer's tracked links, oldest first."""
    found = session.scalars(
        select(Link).where(Link.influencer_id == influencer_id).order_by(Link.id)
    ).all()
    return [_link(link, settings) for link in found]


def link(session: Session, settings: Settings, influencer_id: str, link_id: str) -> OwnLink:
    found = session.scalar(
        select(Link).where(Link.id == link_id, Link.influencer_id == influencer_id)
    )
    if found is None:
        raise NotFound(f"no link {link_id!r}")
    return _link(found, settings)


@dataclass(frozen=True)
class OwnCode:
    id: str
    campaign_id: str
    code: str
    status: str
    starts_at: datetime | None
    ends_at: datetime | None
    max_uses: int | None


def _code(code: PromoCode) -> OwnCode:
    return OwnCode(
        code.id,
        code.campaign_id,
        code.code,
        code.status,
        code.starts_at,
        code.ends_at,
        code.max_uses,
    )


def codes_of(session: Session, influencer_id: str) -> list[OwnCode]:
    """The influencer's promo codes, oldest first."""
    found = session.scalars(
        select(PromoCode).where(PromoCode.influencer_id == influencer_id).order_by(PromoCode.id)
    ).all()
    return [_code(code) for code in found]


def code(session: Session, influencer_id: str, code_id: str) -> OwnCode:
    found = session.scalar(
        select(PromoCode).where(PromoCode.id == code_id, PromoCode.influencer_id == influencer_id)
    )
    if found is None:
        raise NotFound(f"no promo code {code_id!r}")
    return _code(found)


# Clicks and conversions per day ----------------------------------------------------------


def _days(start: date, end: date) -> list[date]:
    """``[start, end]`` (UTC days, both included), refused when backwards or too long."""
    if end < start:
        raise InvalidInput(
            "the last day is before the first", fields={"end": ["on or after the first day"]}
        )
    if (end - start).days + 1 > MAX_DAYS:
        raise InvalidInput(
            f"a chart shows at most {MAX_DAYS} days", fields={"end": [f"within {MAX_DAYS} days"]}
        )
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


@dataclass(frozen=True)
class DayClicks:
    """One UTC day's clicks (as reports count them, docs/product.md §10): ``clicks`` by
    people, ``unique_clicks`` among them, ``bot_clicks`` apart (never counted),
    ``qr_scans`` the part of ``clicks`` that came by QR code."""

    day: date
    clicks: int = 0
    unique_clicks: int = 0
    bot_clicks: int = 0
    qr_scans: int = 0


def clicks_by_day(session: Session, influencer_id: str, start: date, end: date) -> list[DayClicks]:
    """Every UTC day of ``[start, end]`` with the clicks on the influencer's links (zeros
    where none), from the daily roll-up read by the influencer's links."""
    days = _days(start, end)
    D = ClickDaily
    theirs = select(Link.id).where(Link.influencer_id == influencer_id)
    counted = {
        day: DayClicks(day, int(humans or 0), int(unique or 0), int(bots or 0), int(scans or 0))
        for day, humans, unique, bots, scans in session.execute(
            select(
                D.day,
                func.sum(D.clicks),
                func.sum(D.unique_clicks),
                func.sum(D.bot_clicks),
                func.sum(D.qr_scans),
            )
            .where(D.link_id.in_(theirs), D.day >= start, D.day <= end)
            .group_by(D.day)
        )
    }
    return [counted.get(day, DayClicks(day)) for day in days]


@dataclass(frozen=True)
class DayConversions:
    """One UTC day's orders attributed to the influencer in one currency, cancelled
    ones left out; ``revenue_minor`` their attributable amount net of refunds."""

    day: date
    currency: str
    conversions: int
    revenue_minor: int


def conversions_by_day(
    session: Session, influencer_id: str, start: date, end: date
) -> list[DayConversions]:
    """The days of ``[start, end]`` with the influencer's orders, per currency, from the
    daily roll-up (read by the influencer's campaigns, its key's first column)."""
    _days(start, end)
    R = ConversionDaily
    campaigns = select(Partnership.campaign_id).where(Partnership.influencer_id == influencer_id)
    rows = session.execute(
        select(R.day, R.currency, func.sum(R.conversions), func.sum(R.revenue_minor))
        .where(
            R.campaign_id.in_(campaigns),
            R.influencer_id == influencer_id,
            R.day >= start,
            R.day <= end,
            R.conversions > 0,
        )
        .group_by(R.day, R.currency)
        .order_by(R.day, R.currency)
    )
    return [DayConversions(day, cur, int(n), int(minor or 0)) for day, cur, n, minor in rows]


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput("limit is out of range", fields={"limit": [f"from 1 to {MAX_LIMIT}"]})
    return limit


def _newest_first(
    session: Session, stmt: Rows, id_column: Any, cursor: str | None, limit: int
) -> tuple[list[Any], str | None]:
    """One page of ``stmt``'s rows, newest (highest id) first; the cursor is the last id
    of the page before."""
    after = decode_cursor(cursor)
    limit = _limit(limit)
    if after is not None:
        stmt = stmt.where(id_column < after)
    rows = list(session.execute(stmt.order_by(id_column.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1].id) if more else None


@dataclass(frozen=True)
class OwnOrder:
    """An order attributed to the influencer: no customer, address, payload or landing
    page; its reference masked (:func:`mask_reference`)."""

    id: str
    campaign_id: str
    order_ref: str | None
    occurred_at: datetime
    currency: str
    amount_minor: int  # attributable: subtotal less discount
    refunded_minor: int
    status: str  # open, partially_refunded, refunded, cancelled
    method: str  # how it was attributed: promo_code, click, utm


def orders_of(
    session: Session,
    influencer_id: str,
    *,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page[OwnOrder]:
    """The influencer's attributed orders, newest first, a page at a time."""
    C = Conversion
    stmt = select(
        C.id,
        C.campaign_id,
        C.order_id,
        C.occurred_at,
        C.currency,
        C.amount_minor,
        C.refunded_minor,
        C.status,
        C.method,
    ).where(C.influencer_id == influencer_id)
    rows, next_cursor = _newest_first(session, stmt, C.id, cursor, limit)
    return Page(
        [
            OwnOrder(
                r.id,
                r.campaign_id,
                mask_reference(r.order_id),
                r.occurred_at,
                r.currency,
                int(r.amount_minor),
                int(r.refunded_minor),
                r.status,
                r.method,
            )
            for r in rows
        ],
        next_cursor,
    )


# Commissions and balances ----------------------------------------------------------------


@dataclass(frozen=True)
class OwnLine:
    """A ledger line of the influencer as shown: ``status`` pending (``due_at`` says when
    it becomes due), approved, paid (``paid_in``: the month whose statement paid it) or
    rejected (``reason``: why); an adjustment's or carried balance's reason too."""

    id: str
    campaign_id: str
    kind: str
    amount_minor: int
    currency: str
    status: str
    occurred_at: datetime
    due_at: datetime
    reason: str | None
    paid_in: str | None
    conversion_id: str | None
    order_ref: str | None  # masked
    deliverable_id: str | None


def _lines(influencer_id: str) -> Rows:
    """The influencer's ledger lines with the reason shown (a rejected line's: that of
    the record of its rejection, or of the line it reverses), their order's reference and
    the month that paid them. The zero-sum records of rejections are not lines to show."""
    L, R = CommissionLine, aliased(CommissionLine)
    rejected_by = and_(
        L.status == LineStatus.REJECTED,
        R.purpose == LinePurpose.REJECTION,
        or_(
            R.reverses_line_id == L.id,
            and_(L.kind == LineKind.REVERSAL, R.reverses_line_id == L.reverses_line_id),
        ),
    )
    return (
        select(
            L.id,
            L.campaign_id,
            L.kind,
            L.amount_minor,
            L.currency,
            L.status,
            L.occurred_at,
            L.due_at,
            func.coalesce(R.reason, L.reason).label("reason"),
            Export.period,
            L.conversion_id,
            Conversion.order_id,
            L.deliverable_id,
        )
        .outerjoin(R, rejected_by)
        .outerjoin(Export, Export.id == L.export_id)
        .outerjoin(Conversion, Conversion.id == L.conversion_id)
        .where(L.influencer_id == influencer_id, L.purpose != LinePurpose.REJECTION)
    )


def _line(row: Any, now: datetime) -> OwnLine:
    return OwnLine(
        id=row.id,
        campaign_id=row.campaign_id,
        kind=row.kind,
        amount_minor=int(row.amount_minor),
        currency=row.currency,
        status=status_of(row, now),
        occurred_at=row.occurred_at,
        due_at=row.due_at,
        reason=reason_words(row.reason),
        paid_in=row.period,
        conversion_id=row.conversion_id,
        order_ref=mask_reference(row.order_id),
        deliverable_id=row.deliverable_id,
    )


def commissions(
    session: Session,
    influencer_id: str,
    *,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page[OwnLine]:
    """The influencer's ledger lines, newest first, a page at a time; ``status`` one of
    pending, approved, paid, rejected (as shown)."""
    now = clock.now_utc()
    stmt = _lines(influencer_id)
    if status is not None:
        if status not in STATUSES:
            raise InvalidInput(
                "unknown status", fields={"status": [f"one of {', '.join(STATUSES)}"]}
            )
        stmt = stmt.where(status_filter(status, now))
    rows, next_cursor = _newest_first(session, stmt, CommissionLine.id, cursor, limit)
    return Page([_line(row, now) for row in rows], next_cursor)


def commission(session: Session, influencer_id: str, line_id: str) -> OwnLine:
    row = session.execute(_lines(influencer_id).where(CommissionLine.id == line_id)).first()
    if row is None:
        raise NotFound(f"no commission line {line_id!r}")
    return _line(row, clock.now_utc())


@dataclass(frozen=True)
class Balance:
    """The influencer's money in one currency (ADR "the influencer's balance"):

    - ``pending_minor``: lines not due yet (their hold has not passed);
    - ``approved_minor``: lines due and not paid — what the next statement pays, a
      negative balance carried forward from a closed month included;
    - ``paid_minor``: what closed statements paid (a month that netted negative paid 0);
    - ``carried_forward_minor``: the part of pending and approved that is a negative
      balance brought forward from a closed month (0 or less);
    - ``balance_minor``: everything earned and not paid: pending + approved (may be
      negative: then it is what later earnings pay back first).
    """

    currency: str
    pending_minor: int
    approved_minor: int
    paid_minor: int
    carried_forward_minor: int
    balance_minor: int


def balances(session: Session, influencer_id: str) -> list[Balance]:
    """The influencer's balance per currency, by currency (rejected lines never count)."""
    L = CommissionLine
    now = clock.now_utc()
    unpaid = L.status == LineStatus.PENDING

    def total(condition: Any) -> Any:
        return func.sum(case((condition, L.amount_minor), else_=0))

    rows = session.execute(
        select(
            L.currency,
            total(and_(unpaid, L.due_at > now)),
            total(and_(unpaid, L.due_at <= now)),
            total(L.status == LineStatus.PAID),
            total(and_(unpaid, L.purpose == LinePurpose.CARRY_IN)),
        )
        .where(L.influencer_id == influencer_id, L.status != LineStatus.REJECTED)
        .group_by(L.currency)
        .order_by(L.currency)
    )
    shown = []
    for currency, pending, approved, paid, carried in rows:
        pending, approved = int(pending or 0), int(approved or 0)
        shown.append(
            Balance(
                currency,
                pending,
                approved,
                int(paid or 0),
                int(carried or 0),
                pending + approved,
            )
        )
    return shown


# Statements -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatementTotal:
    currency: str
    net_payable_minor: int


@dataclass(frozen=True)
class StatementMonth:
    """A closed month with lines of the influencer, and what it paid them per currency."""

    period: str
    closed_at: datetime
    totals: list[StatementTotal]


def statements(session: Session, influencer_id: str) -> list[StatementMonth]:
    """The closed months whose statements hold lines of the influencer, newest first."""
    L = CommissionLine
    months: dict[str, StatementMonth] = {}
    for period, closed_at, currency, net in session.execute(
        select(Export.period, Export.closed_at, L.currency, func.sum(L.amount_minor))
        .join(Export, Export.id == L.export_id)
        .where(L.influencer_id == influencer_id)
        .group_by(Export.period, Export.closed_at, L.currency)
        .order_by(Export.period.desc(), L.currency)
    ):
        month = months.setdefault(period, StatementMonth(period, closed_at, []))
        month.totals.append(StatementTotal(currency, int(net or 0)))
    return list(months.values())


@dataclass(frozen=True)
class StatementLine:
    """A line of the influencer's statement: the closed export's detail row, its order
    reference masked."""

    id: str
    campaign_id: str
    conversion_id: str | None
    order_ref: str | None
    kind: str
    basis_minor: int | None
    basis_currency: str | None
    amount_minor: int
    currency: str
    due_at: datetime
    status: str
    reason: str | None


@dataclass(frozen=True)
class Statement:
    """The influencer's part of a closed month's statement: their summary rows (one per
    currency, as the export's summary has them) and a page of their lines, in the
    statement's order (``next_cursor``: where the next page starts; None on the last)."""

    period: str
    closed_at: datetime
    rows: list[SummaryRow]
    lines: list[StatementLine]
    next_cursor: str | None = None


def _closed(session: Session, influencer_id: str, period: str, zone: str) -> Selection:
    """The influencer's part of the closed month ``period``; NotFound when the month is
    not closed or paid them no line."""
    parse_period(period)
    sel = select_period(session, period, zone, influencer_id)
    if (
        sel.export is None
        or session.scalar(
            select(CommissionLine.id)
            .where(CommissionLine.export_id == sel.export.id)
            .where(CommissionLine.influencer_id == influencer_id)
            .limit(1)
        )
        is None
    ):
        raise NotFound(f"no statement for {period}")
    return sel


def statement(
    session: Session,
    influencer_id: str,
    period: str,
    zone: str = "UTC",
    *,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Statement:
    """The influencer's summary of the closed month ``period`` and a page of their lines
    (NotFound if it is open or holds none of theirs); ``cursor``: the last line of the
    page before. A month holds a line per order: its whole list is the CSV's."""
    sel = _closed(session, influencer_id, period, zone)
    assert sel.export is not None
    limit = _limit(limit)
    after = None
    if (line_id := decode_cursor(cursor)) is not None:
        L = CommissionLine
        key = session.execute(
            select(L.influencer_id, L.currency, L.id).where(
                L.id == line_id, L.influencer_id == influencer_id, L.export_id == sel.export.id
            )
        ).first()
        if key is None:
            raise InvalidInput(
                "cursor is not valid", fields={"cursor": ["not a line of this statement"]}
            )
        after = (key[0], key[1], key[2])
    rows = list(statement_rows(session, sel))
    lines = [
        StatementLine(
            id=line.id,
            campaign_id=line.campaign_id,
            conversion_id=line.conversion_id,
            order_ref=mask_reference(line.order_id),
            kind=line.kind,
            basis_minor=None if line.basis_minor is None else int(line.basis_minor),
            basis_currency=line.basis_currency,
            amount_minor=int(line.amount_minor),
            currency=line.currency,
            due_at=line.due_at,
            status=line.status,
            reason=reason_words(line.reason),
        )
        for line in detail_lines(session, sel, head=limit + 1, after=after)
    ]
    more = len(lines) > limit
    lines = lines[:limit]
    next_cursor = encode_cursor(lines[-1].id) if more else None
    return Statement(period, sel.export.closed_at, rows, lines, next_cursor)


def statement_csv(session: Session, influencer_id: str, period: str, zone: str = "UTC") -> bytes:
    """The influencer's statement of the closed month ``period`` as a CSV: the header and
    the rows of that month's detail export (``detail=lines``) that are theirs, byte for
    byte (NotFound as :func:`statement`)."""
    sel = _closed(session, influencer_id, period, zone)
    return b"".join(closed_detail_csv(session, sel))


# Posts --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OwnPost:
    """A post of the influencer with its figures and engagement rate (ADR 45: likes and
    comments over the followers of their largest account on that platform; None when
    unknown)."""

    id: str
    campaign_id: str
    platform: str
    url: str
    posted_at: datetime
    status: str  # submitted, approved, rejected
    rejection_reason: str | None
    link_id: str | None
    metrics: dict[str, int]
    followers: int | None
    engagement_rate: str | None


def _followers(session: Session, influencer_id: str) -> dict[str, int]:
    """The influencer's followers per platform (the largest account on each)."""
    counts: dict[str, int] = {}
    for platform, n in session.execute(
        select(PlatformAccount.platform, PlatformAccount.followers).where(
            PlatformAccount.influencer_id == influencer_id
        )
    ):
        counts[platform] = max(counts.get(platform, 0), int(n))
    return counts


def _post(post: Deliverable, followers: dict[str, int]) -> OwnPost:
    metrics = {name: int(post.metrics.get(name, 0)) for name in POST_METRICS}
    audience = followers.get(post.platform)
    return OwnPost(
        id=post.id,
        campaign_id=post.campaign_id,
        platform=post.platform,
        url=post.url,
        posted_at=post.posted_at,
        status=post.status,
        rejection_reason=post.rejection_reason,
        link_id=post.link_id,
        metrics=metrics,
        followers=audience,
        engagement_rate=engagement_rate(metrics["likes"], metrics["comments"], audience),
    )


def posts_of(session: Session, influencer_id: str) -> list[OwnPost]:
    """The influencer's posts, newest first."""
    D = Deliverable
    found = session.scalars(
        select(D).where(D.influencer_id == influencer_id).order_by(D.posted_at.desc(), D.id)
    ).all()
    followers = _followers(session, influencer_id)
    return [_post(post, followers) for post in found]


def post(session: Session, influencer_id: str, post_id: str) -> OwnPost:
    found = session.scalar(
        select(Deliverable).where(
            Deliverable.id == post_id, Deliverable.influencer_id == influencer_id
        )
    )
    if found is None:
        raise NotFound(f"no post {post_id!r}")
    return _post(found, _followers(session, influencer_id))
