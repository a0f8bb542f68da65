"""Database look-ups that feed the pure attribution decision.

:func:`gather` reads everything an order's attribution and sale lines need — matching
promo codes (with their uses), the click, the UTM partnership, and each candidate's
commission terms — in one statement. On PostgreSQL the same statement takes the
order's advisory lock, so a new order costs this read, one write and the commit.

:func:`attribute_order` decides; a promo code with ``max_uses`` that would win is
locked and its uses counted again first (two more statements, for such codes only), so
concurrent orders cannot share its last use (docs/adr/0003).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    ScalarSelect,
    Select,
    String,
    case,
    func,
    literal_column,
    null,
    select,
    text,
    union_all,
)
from sqlalchemy.orm import Session

from service.campaigns.models import Campaign, Partnership
from service.clicks.models import Click
from service.commissions.engine import SaleTerms
from service.conversions.attribution import Attribution, Candidate, ClickFact, attribute
from service.conversions.models import Conversion, ConversionStatus
from service.db import UTCDateTime, lock_rows
from service.errors import Unavailable
from service.influencers.models import Influencer
from service.links.models import Link
from service.promo_codes.models import PromoCode, normalize_code


@dataclass
class Facts:
    promo: list[Candidate] = field(default_factory=list)
    click: ClickFact | None = None
    utm: Candidate | None = None
    terms: dict[str, SaleTerms] = field(default_factory=dict)  # by partnership id
    locked: bool = True


def _common(kind: str) -> list[ColumnElement[Any]]:
    return [
        literal_column(f"'{kind}'", String).label("kind"),
        Partnership.id.label("partnership_id"),
        Partnership.influencer_id.label("influencer_id"),
        Campaign.id.label("campaign_id"),
        Campaign.starts_on.label("starts_on"),
        Campaign.ends_on.label("ends_on"),
        Campaign.attribution_window_days.label("window_days"),
        Campaign.hold_days.label("hold_days"),
        Campaign.currency.label("campaign_currency"),
        Campaign.monthly_cap_minor.label("monthly_cap_minor"),
        Campaign.budget_minor.label("budget_minor"),
        Partnership.commission_rules.label("own_rules"),
        Campaign.commission_rules.label("campaign_rules"),
    ]


def _none(*names_types: tuple[str, Any]) -> list[ColumnElement[Any]]:
    return [null().cast(type_).label(name) for name, type_ in names_types]


_PROMO_COLS = (
    ("promo_code_id", PromoCode.id.type),
    ("promo_code", PromoCode.code.type),
    ("promo_starts_at", UTCDateTime),
    ("promo_ends_at", UTCDateTime),
    ("promo_max_uses", PromoCode.max_uses.type),
    ("promo_used", PromoCode.max_uses.type),
)
_CLICK_COLS = (
    ("link_id", Link.id.type),
    ("click_id", Click.id.type),
    ("click_at", UTCDateTime),
    ("click_is_bot", Click.is_bot.type),
)


def _uses(promo_code_id: Any) -> ScalarSelect[int]:
    """How many uses a promo code has had: the orders it attributed that were not
    cancelled (a refunded order keeps its use). ``_PG_GATHER`` states it again in SQL."""
    return (
        select(func.count())
        .select_from(Conversion)
        .where(
            Conversion.promo_code_id == promo_code_id,
            Conversion.status != ConversionStatus.CANCELLED,
        )
        .scalar_subquery()
    )


def promo_code_uses(session: Session, promo_code_id: str) -> int:
    """How many uses a promo code has had so far (as ``_uses`` counts them)."""
    return int(session.scalar(select(_uses(promo_code_id))) or 0)


def _promo_query(codes: Sequence[str]) -> Select[Any] | None:
    wanted = list(dict.fromkeys(normalize_code(c) for c in codes if c and c.strip()))
    if not wanted:
        return None
    used = _uses(PromoCode.id)
    return (
        select(
            *_common("promo"),
            PromoCode.id.label("promo_code_id"),
            PromoCode.code.label("promo_code"),
            PromoCode.starts_at.label("promo_starts_at"),
            PromoCode.ends_at.label("promo_ends_at"),
            PromoCode.max_uses.label("promo_max_uses"),
            case((PromoCode.max_uses.is_(None), null()), else_=used).label("promo_used"),
            *_none(*_CLICK_COLS),
            PromoCode.normalized.label("sort_key"),
        )
        .join(Partnership, Partnership.id == PromoCode.partnership_id)
        .join(Campaign, Campaign.id == Partnership.campaign_id)
        .where(PromoCode.normalized.in_(wanted), PromoCode.status == "active")
    )


def _click_query(click_id: str) -> Select[Any]:
    return (
        select(
            *_common("click"),
            *_none(*_PROMO_COLS),
            Link.id.label("link_id"),
            Click.id.label("click_id"),
            Click.occurred_at.label("click_at"),
            Click.is_bot.label("click_is_bot"),
            literal_column("''", String).label("sort_key"),
        )
        .join(Link, Link.id == Click.link_id)
        .join(Partnership, Partnership.id == Link.partnership_id)
        .join(Campaign, Campaign.id == Partnership.campaign_id)
        .where(Click.id == click_id)
        .limit(1)
    )


def _utm_query(campaign_slug: str, handle: str) -> Select[Any]:
    return (
        select(
            *_common("utm"),
            *_none(*_PROMO_COLS),
            *_none(*_CLICK_COLS),
            literal_column("''", String).label("sort_key"),
        )
        .select_from(Partnership)
        .join(Campaign, Campaign.id == Partnership.campaign_id)
        .join(Influencer, Influencer.id == Partnership.influencer_id)
        .where(Campaign.slug == campaign_slug, Influencer.handle == handle)
        .limit(1)
    )


# The same three look-ups as one fixed statement for PostgreSQL, the webhook's hot path:
# a fixed text is compiled once by SQLAlchemy and prepared by psycopg, where the
# composed query above costs milliseconds of Python per order to build and key.
_CANCELLED = ConversionStatus.CANCELLED.value
_PG_GATHER = text(
    f"""
SELECT pg_try_advisory_xact_lock(:lock_key) AS locked, f.* FROM (SELECT 1) AS one
LEFT JOIN (
  (SELECT 'promo' AS kind, p.id AS partnership_id, p.influencer_id, c.id AS campaign_id,
    c.starts_on, c.ends_on,
    c.attribution_window_days AS window_days, c.hold_days, c.currency AS campaign_currency,
    c.monthly_cap_minor, c.budget_minor,
    p.commission_rules AS own_rules, c.commission_rules AS campaign_rules,
    pc.id AS promo_code_id, pc.code AS promo_code, pc.starts_at AS promo_starts_at,
    pc.ends_at AS promo_ends_at, pc.max_uses AS promo_max_uses,
    CASE WHEN pc.max_uses IS NULL THEN NULL ELSE
      (SELECT count(*) FROM conversions x
       WHERE x.promo_code_id = pc.id AND x.status <> '{_CANCELLED}') END AS promo_used,
    NULL::varchar AS link_id, NULL::varchar AS click_id, NULL::timestamptz AS click_at,
    NULL::boolean AS click_is_bot, pc.normalized AS sort_key
  FROM promo_codes pc JOIN partnerships p ON p.id = pc.partnership_id
  JOIN campaigns c ON c.id = p.campaign_id
  WHERE pc.normalized = ANY(CAST(:codes AS varchar[])) AND pc.status = 'active')
  UNION ALL
  (SELECT 'click', p.id AS partnership_id, p.influencer_id, c.id AS campaign_id,
    c.starts_on, c.ends_on,
    c.attribution_window_days AS window_days, c.hold_days, c.currency AS campaign_currency,
    c.monthly_cap_minor, c.budget_minor,
    p.commission_rules AS own_rules, c.commission_rules AS campaign_rules,
    NULL, NULL, NULL, NULL, NULL, NULL,
    l.id, k.id, k.occurred_at, k.is_bot, ''
  FROM clicks k JOIN links l ON l.id = k.link_id
  JOIN partnerships p ON p.id = l.partnership_id JOIN campaigns c ON c.id = p.campaign_id
  WHERE k.id = CAST(:click_id AS varchar) LIMIT 1)
  UNION ALL
  (SELECT 'utm', p.id AS partnership_id, p.influencer_id, c.id AS campaign_id,
    c.starts_on, c.ends_on,
    c.attribution_window_days AS window_days, c.hold_days, c.currency AS campaign_currency,
    c.monthly_cap_minor, c.budget_minor,
    p.commission_rules AS own_rules, c.commission_rules AS campaign_rules,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, ''
  FROM partnerships p JOIN campaigns c ON c.id = p.campaign_id
  JOIN influencers i ON i.id = p.influencer_id
  WHERE c.slug = CAST(:slug AS varchar) AND i.handle = CAST(:handle AS varchar) LIMIT 1)
) AS f ON true
"""  # noqa: S608 (its one interpolation is our own constant, never input)
)


def gather(
    session: Session,
    codes: Sequence[str],
    click_id: str | None,
    utm: tuple[str, str] | None,
    lock_key: int | None = None,
) -> Facts:
    """Every fact the order's attribution needs, in one round trip; with ``lock_key``
    (PostgreSQL) the statement also tries the order's transaction-scoped advisory lock
    (``Facts.locked`` says whether it got it)."""
    facts = Facts()
    click = click_id if click_id and len(click_id) <= 40 else None
    rows: list[Any]
    if lock_key is not None:
        rows = list(
            session.execute(
                _PG_GATHER,
                {
                    "lock_key": lock_key,
                    "codes": list(
                        dict.fromkeys(normalize_code(c) for c in codes if c and c.strip())
                    ),
                    "click_id": click,
                    "slug": utm[0] if utm else None,
                    "handle": utm[1] if utm else None,
                },
            )
        )
        facts.locked = bool(rows and rows[0].locked)
        if not facts.locked:
            return facts
        rows = [r for r in rows if r.kind is not None]
    else:
        parts = [
            q
            for q in (
                _promo_query(codes),
                _click_query(click) if click else None,
                _utm_query(*utm) if utm else None,
            )
            if q is not None
        ]
        if not parts:
            return facts
        found = union_all(*(p.subquery().select() for p in parts)).subquery()
        rows = list(session.execute(select(found)))
    wanted = [normalize_code(c) for c in codes if c and c.strip()]
    promo_rows = sorted(
        (r for r in rows if r.kind == "promo"), key=lambda r: wanted.index(r.sort_key)
    )
    for row in rows:
        facts.terms.setdefault(
            row.partnership_id,
            SaleTerms(
                row.partnership_id,
                row.campaign_id,
                row.influencer_id,
                row.campaign_rules if row.own_rules is None else row.own_rules,
                row.campaign_currency,
                row.hold_days,
                row.monthly_cap_minor,
                row.budget_minor,
            ),
        )
    for row in promo_rows:
        facts.promo.append(
            _candidate(
                row,
                promo_code_id=row.promo_code_id,
                promo_code=row.promo_code,
                promo_starts_at=row.promo_starts_at,
                promo_ends_at=row.promo_ends_at,
                promo_uses_left=None
                if row.promo_max_uses is None
                else row.promo_max_uses - int(row.promo_used or 0),
            )
        )
    for row in rows:
        if row.kind == "click":
            facts.click = ClickFact(
                click_id=row.click_id,
                occurred_at=row.click_at,
                is_bot=bool(row.click_is_bot),
                candidate=_candidate(row, link_id=row.link_id),
            )
        elif row.kind == "utm":
            facts.utm = _candidate(row)
    return facts


PROMO_LOCK_WAIT_SECONDS = 5.0


def attribute_order(session: Session, facts: Facts, order_time: datetime) -> Attribution | None:
    """docs/product.md §4 over ``facts``. When a promo code with ``max_uses`` would win,
    the limited codes among the candidates are locked (their rows, until the transaction
    ends, in id order, waited for at most PROMO_LOCK_WAIT_SECONDS, then 503 so the sender
    retries) and their uses counted again before deciding: of orders racing for a last
    use one wins and the others fall through to the next method. Codes without
    ``max_uses`` lock nothing; SQLite serialises writers already."""
    found = attribute(order_time, facts.promo, facts.click, facts.utm)
    if found is None or found.method != "promo_code" or found.candidate.promo_uses_left is None:
        return found
    limited = sorted(
        {c.promo_code_id for c in facts.promo if c.promo_uses_left is not None and c.promo_code_id}
    )
    locked = lock_rows(
        session,
        select(PromoCode.id)
        .where(PromoCode.id.in_(limited))
        .order_by(PromoCode.id)
        .with_for_update(key_share=True),  # FOR NO KEY UPDATE: orders' foreign keys pass
        PROMO_LOCK_WAIT_SECONDS,
    )
    if not locked:
        raise Unavailable("this promo code is busy; retry later", code="retry")
    # A statement of its own: its snapshot sees what the lock's last holder committed.
    left = {
        promo_code_id: int(uses_left or 0)
        for promo_code_id, uses_left in session.execute(
            select(PromoCode.id, PromoCode.max_uses - _uses(PromoCode.id)).where(
                PromoCode.id.in_(limited)
            )
        )
    }
    facts.promo = [
        c
        if c.promo_uses_left is None
        else replace(c, promo_uses_left=left.get(c.promo_code_id or "", 0))
        for c in facts.promo
    ]
    return attribute(order_time, facts.promo, facts.click, facts.utm)


def _candidate(row: Any, **extra: Any) -> Candidate:
    return Candidate(
        partnership_id=row.partnership_id,
        campaign_id=row.campaign_id,
        influencer_id=row.influencer_id,
        campaign_starts_on=row.starts_on,
        campaign_ends_on=row.ends_on,
        attribution_window_days=row.window_days,
        **extra,
    )
