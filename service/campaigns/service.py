from __future__ import annotations

from typing import Any

from marshmallow import ValidationError
from sqlalchemy import ColumnElement, case, column, exists, func, or_, select, table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.campaigns.models import Campaign, Partnership
from service.commissions.rules import RuleError, parse_rules
from service.db import Base
from service.errors import Conflict, InvalidInput, NotFound
from service.influencers.models import Influencer
from service.influencers.service import by_handle_first, get_influencer, matching
from service.links.destinations import destination_error
from service.links.models import Link
from service.money import MoneyError, format_amount, parse_amount
from service.paging import Page, paginate
from service.reports.media_value import (
    RateError,
    RateTable,
    default_rates,
    parse_rates,
    rates_json,
)


def check_rules(
    raw: list[dict[str, Any]] | None, currency: str, name: str
) -> list[dict[str, Any]] | None:
    """Validate rules; returns their canonical stored form."""
    if raw is None:
        return None
    try:
        return [rule.to_json(currency) for rule in parse_rules(raw, currency)]
    except RuleError as exc:
        key = f"{name}.{exc.path}" if exc.path else name
        raise ValidationError({key: [str(exc)]}) from None
    except MoneyError as exc:
        raise ValidationError({name: [str(exc)]}) from None


def check_media_value_rates(
    raw: dict[str, Any] | None, currency: str, name: str = "media_value_rates"
) -> dict[str, dict[str, str]] | None:
    """Validate media value rates in ``currency``; returns their stored form (decimal
    strings, canonical); ``None`` (the defaults) stays ``None``."""
    if raw is None:
        return None
    try:
        return rates_json(parse_rates(raw, currency), currency)
    except RateError as exc:
        key = f"{name}.{exc.path}" if exc.path else name
        raise ValidationError({key: [str(exc)]}) from None


def media_value_rates(campaign: Campaign) -> tuple[RateTable | None, bool]:
    """The rates a campaign's media value is computed with, in minor units of its
    currency, and whether they are the defaults: its own, else the defaults where its
    currency has them, else none (``(None, False)``)."""
    if campaign.media_value_rates is not None:
        return parse_rates(campaign.media_value_rates, campaign.currency), False
    defaults = default_rates(campaign.currency)
    return defaults, defaults is not None


def create_campaign(session: Session, data: dict[str, Any]) -> Campaign:
    if session.scalar(select(Campaign.id).where(Campaign.slug == data["slug"])):
        raise Conflict(f"a campaign with slug {data['slug']!r} exists", code="duplicate")
    campaign = Campaign(**data)
    session.add(campaign)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"a campaign with slug {data['slug']!r} exists", code="duplicate") from None
    return campaign


def get_campaign(session: Session, campaign_id: str) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"no campaign {campaign_id!r}")
    return campaign


def list_campaigns(session: Session, query: dict[str, Any]) -> Page[Campaign]:
    stmt = select(Campaign)
    if query.get("slug"):
        stmt = stmt.where(Campaign.slug == query["slug"])
    return paginate(session, stmt, Campaign.id, query.get("cursor"), query["limit"])


def campaign_matching(text: str) -> ColumnElement[bool]:
    """The campaigns a search for ``text`` finds: ``text`` in the name or slug, in any
    case."""
    text = text.strip()
    return or_(*(c.icontains(text, autoescape=True) for c in (Campaign.name, Campaign.slug)))


def search_campaigns(session: Session, text: str, limit: int) -> list[Campaign]:
    """Up to ``limit`` campaigns :func:`campaign_matching` finds, as suggestions: those
    whose slug or name starts with ``text`` first, then by name."""
    low = text.strip().lower()
    starts = or_(
        Campaign.slug.startswith(low, autoescape=True),
        func.lower(Campaign.name).startswith(low, autoescape=True),
    )
    stmt = (
        select(Campaign)
        .where(campaign_matching(text))
        .order_by(case((starts, 0), else_=1), func.lower(Campaign.name), Campaign.slug)
    )
    return list(session.scalars(stmt.limit(limit)))


def campaigns_named(session: Session, text: str, limit: int = 10) -> list[Campaign]:
    """The campaigns ``text`` names: its id, else its slug, else its name — in any case;
    a name may be several campaigns' (up to ``limit`` of them), none when nothing has it."""
    text = text.strip()
    if not text:
        return []
    found = session.get(Campaign, text) or session.scalar(
        select(Campaign).where(Campaign.slug == text.lower())
    )
    if found is not None:
        return [found]
    stmt = select(Campaign).where(func.lower(Campaign.name) == text.lower())
    return list(session.scalars(stmt.order_by(Campaign.slug).limit(limit)))


def search_partners(session: Session, campaign_id: str, text: str, limit: int) -> list[Influencer]:
    """Up to ``limit`` of the campaign's partners that ``q=text`` finds among
    influencers, as suggestions (handles starting with ``text`` first)."""
    stmt = (
        select(Influencer)
        .join(Partnership, Partnership.influencer_id == Influencer.id)
        .where(Partnership.campaign_id == campaign_id, matching(text))
        .order_by(*by_handle_first(text))
    )
    return list(session.scalars(stmt.limit(limit)))


def campaign_overview(session: Session, limit: int = 500) -> list[dict[str, Any]]:
    """Campaigns, newest start first, each with how many partners and links it has."""
    partners = (
        select(func.count())
        .where(Partnership.campaign_id == Campaign.id)
        .correlate(Campaign)
        .scalar_subquery()
    )
    links = select(func.count()).where(Link.campaign_id == Campaign.id).correlate(Campaign)
    rows = session.execute(
        select(Campaign, partners, links.scalar_subquery())
        .order_by(Campaign.starts_on.desc(), Campaign.id)
        .limit(limit)
    )
    return [{"campaign": campaign, "partners": int(p), "links": int(n)} for campaign, p, n in rows]


def add_partner(session: Session, campaign_id: str, data: dict[str, Any]) -> Partnership:
    campaign = get_campaign(session, campaign_id)
    try:
        get_influencer(session, data["influencer_id"])
    except NotFound:
        raise InvalidInput(
            "unknown influencer", fields={"influencer_id": ["no such influencer"]}
        ) from None
    try:
        rules = check_rules(data.get("commission_rules"), campaign.currency, "commission_rules")
    except ValidationError as exc:
        # marshmallow types messages as a list or a dict; rules' errors are always a dict.
        raise InvalidInput("commission rules are not valid", fields=exc.messages) from None  # type: ignore[arg-type]
    exists = session.scalar(
        select(Partnership.id).where(
            Partnership.campaign_id == campaign.id,
            Partnership.influencer_id == data["influencer_id"],
        )
    )
    if exists:
        raise Conflict("the influencer is already a partner of this campaign", code="duplicate")
    partnership = Partnership(
        campaign=campaign, influencer_id=data["influencer_id"], commission_rules=rules
    )
    session.add(partnership)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict(
            "the influencer is already a partner of this campaign", code="duplicate"
        ) from None
    return partnership


def find_partnership(session: Session, campaign_id: str, influencer_id: str) -> Partnership:
    """The partnership behind a (campaign, influencer) pair named in a request body."""
    errors: dict[str, list[str]] = {}
    if session.get(Campaign, campaign_id) is None:
        errors["campaign_id"] = ["no such campaign"]
    partnership = session.scalar(
        select(Partnership).where(
            Partnership.campaign_id == campaign_id, Partnership.influencer_id == influencer_id
        )
    )
    if partnership is None and not errors:
        errors["influencer_id"] = ["this influencer is not a partner of the campaign"]
    if errors:
        raise InvalidInput("unknown reference", fields=errors)
    assert partnership is not None
    return partnership


def list_partners(session: Session, campaign_id: str, query: dict[str, Any]) -> Page[Partnership]:
    get_campaign(session, campaign_id)
    stmt = select(Partnership).where(Partnership.campaign_id == campaign_id)
    if query.get("influencer_id"):
        stmt = stmt.where(Partnership.influencer_id == query["influencer_id"])
    return paginate(session, stmt, Partnership.id, query.get("cursor"), query["limit"])


def partnerships_of(session: Session, influencer_id: str) -> list[Partnership]:
    """The campaigns an influencer is a partner of, newest enrolment first."""
    stmt = (
        select(Partnership)
        .where(Partnership.influencer_id == influencer_id)
        .order_by(Partnership.id.desc())
    )
    return list(session.scalars(stmt))


# What refers to a campaign or a partnership, by table (named, not imported: those
# domains build on this one). Each row is (table, what people call it).
_USES = (
    ("links", "link"),
    ("promo_codes", "promo code"),
    ("conversions", "order"),
    ("deliverables", "post"),
    ("commission_lines", "commission line"),
)


def _uses(
    session: Session, column_name: str, value: str, narrow: tuple[str, str] | None = None
) -> dict[str, int | None]:
    """What of each table in _USES refers to ``value`` through ``column_name``: how many
    rows where that column is indexed, else ``None`` (some: counting them would read the
    whole table). ``narrow``: an indexed (column, value) every referring row also has,
    which lets the database find them without reading the table."""
    found: dict[str, int | None] = {}
    for name, word in _USES:
        indexed = _indexed(name, column_name)
        pairs = [(column_name, value)]
        if narrow is not None and not indexed:
            pairs.append(narrow)
        t = table(name, *(column(c) for c, _ in pairs))
        where: list[ColumnElement[bool]] = [t.c[c] == v for c, v in pairs]
        if not session.scalar(select(exists().where(*where))):
            continue
        if indexed:
            found[word] = int(
                session.scalar(select(func.count()).select_from(t).where(*where)) or 0
            )
        else:
            found[word] = None
    return found


def _indexed(table_name: str, column_name: str) -> bool:
    """Whether an index of the table starts with the column (the tables are named, not
    imported: their metadata is read; an unknown table counts as not indexed)."""
    known = Base.metadata.tables.get(table_name)
    return known is not None and any(
        list(index.columns.keys())[:1] == [column_name] for index in known.indexes
    )


def _listed(uses: dict[str, int | None]) -> str:
    return ", ".join(
        f"{word}s" if n is None else f"{n} {word}{'' if n == 1 else 's'}"
        for word, n in uses.items()
    )


def change_campaign(session: Session, campaign: Campaign, changes: dict[str, Any]) -> Campaign:
    """Change some of a campaign's fields (a partial change, as loaded by
    ``CampaignChange``): each is checked against the campaign as it will be, and nothing
    changes unless all pass. The currency changes only while no order or commission line
    refers to the campaign; new rules apply to orders recorded from now on (see ADR
    "changing a campaign")."""
    errors: dict[str, list[str]] = {}
    currency = changes.get("currency", campaign.currency)
    if currency != campaign.currency:
        used = {
            k: v
            for k, v in _uses(session, "campaign_id", campaign.id).items()
            if k in ("order", "commission line")
        }
        if used:
            errors["currency"] = [
                f"cannot change once the campaign has orders or commissions ({_listed(used)}): "
                "amounts already booked are in " + campaign.currency
            ]
    starts = changes.get("starts_on", campaign.starts_on)
    ends = changes.get("ends_on", campaign.ends_on)
    if ends is not None and ends < starts:
        errors["ends_on" if "ends_on" in changes else "starts_on"] = [
            "the last day must not be before the first day"
        ]
    domains = changes.get("allowed_domains", campaign.allowed_domains)
    fallback = changes.get("fallback_url", campaign.fallback_url)
    if "allowed_domains" in changes or "fallback_url" in changes:
        problem = destination_error(fallback, domains)
        if problem:
            errors["fallback_url"] = [problem]
        if "allowed_domains" in changes:
            off = [
                d
                for d in session.scalars(
                    select(Link.destination).where(Link.campaign_id == campaign.id)
                )
                if destination_error(d, domains)
            ]
            if off:
                errors["allowed_domains"] = [
                    f"{len(off)} of the campaign's links point elsewhere (such as {off[0]}); "
                    "keep their domains or change those links first"
                ]
    amounts: dict[str, int | None] = {}
    for name, target in (
        ("budget", "budget_minor"),
        ("monthly_cap_per_influencer", "monthly_cap_minor"),
    ):
        if name in changes:
            text = changes[name]
        elif currency != campaign.currency and getattr(campaign, target) is not None:
            # Kept, but re-checked in the new currency (its decimals may differ).
            text = format_amount(getattr(campaign, target), campaign.currency)
        else:
            continue
        if text is None:
            amounts[target] = None
            continue
        try:
            minor = parse_amount(text, currency)
        except MoneyError as exc:
            errors[name] = [str(exc)]
            continue
        if minor <= 0:
            errors[name] = ["must be more than zero"]
        amounts[target] = minor
    rules = changes.get("commission_rules", campaign.commission_rules)
    if "commission_rules" in changes or currency != campaign.currency:
        try:
            rules = check_rules(rules, currency, "commission_rules")
        except ValidationError as exc:
            errors.update(exc.messages)  # type: ignore[arg-type]
        if currency != campaign.currency:
            for p in session.scalars(
                select(Partnership).where(Partnership.campaign_id == campaign.id)
            ):
                try:
                    check_rules(p.commission_rules, currency, "commission_rules")
                except ValidationError:
                    errors.setdefault("currency", []).append(
                        f"the own rules of partner {p.influencer.handle} do not fit {currency}"
                    )
    value_rates = changes.get("media_value_rates", campaign.media_value_rates)
    if "media_value_rates" in changes or currency != campaign.currency:
        try:
            value_rates = check_media_value_rates(value_rates, currency)
        except ValidationError as exc:
            errors.update(exc.messages)  # type: ignore[arg-type]
    if errors:
        raise InvalidInput("the campaign cannot change like this", fields=errors)
    for name, value in changes.items():
        if name in ("budget", "monthly_cap_per_influencer", "commission_rules"):
            continue
        if name == "media_value_rates":
            value = value_rates
        if name == "allowed_domains":
            value = sorted({d.lower() for d in value})
        if getattr(campaign, name) != value:
            setattr(campaign, name, value)
    for target, value in amounts.items():
        if getattr(campaign, target) != value:
            setattr(campaign, target, value)
    if rules != campaign.commission_rules:
        campaign.commission_rules = rules
    session.flush()
    return campaign


def get_partnership(session: Session, campaign_id: str, influencer_id: str) -> Partnership:
    """A campaign's partnership with an influencer (404 if either or the pair is unknown)."""
    get_campaign(session, campaign_id)
    partnership = session.scalar(
        select(Partnership).where(
            Partnership.campaign_id == campaign_id, Partnership.influencer_id == influencer_id
        )
    )
    if partnership is None:
        raise NotFound(f"influencer {influencer_id!r} is not a partner of this campaign")
    return partnership


def change_partner(
    session: Session, partnership: Partnership, changes: dict[str, Any]
) -> Partnership:
    """Replace a partner's own rules (``None``: the campaign's apply again); for orders
    recorded from now on."""
    if "commission_rules" in changes:
        try:
            rules = check_rules(
                changes["commission_rules"], partnership.campaign.currency, "commission_rules"
            )
        except ValidationError as exc:
            raise InvalidInput("commission rules are not valid", fields=exc.messages) from None  # type: ignore[arg-type]
        if rules != partnership.commission_rules:
            partnership.commission_rules = rules
        session.flush()
    return partnership


def partner_handles(session: Session, campaign_id: str) -> dict[str, str]:
    """The campaign's partners: influencer id → handle, by handle (one query)."""
    rows = session.execute(
        select(Influencer.id, Influencer.handle)
        .join(Partnership, Partnership.influencer_id == Influencer.id)
        .where(Partnership.campaign_id == campaign_id)
        .order_by(Influencer.handle)
    )
    return {influencer_id: handle for influencer_id, handle in rows}


def remove_partner(session: Session, partnership: Partnership) -> None:
    """Take an influencer out of a campaign: only an enrolment nothing refers to yet (no
    link, promo code, order, post or commission line); otherwise refused with what holds
    it (see ADR "removing a partner")."""
    # a partnership's rows are its campaign's: commission lines are found by campaign
    used = _uses(
        session, "partnership_id", partnership.id, ("campaign_id", partnership.campaign_id)
    )
    if used:
        raise Conflict(
            f"{partnership.influencer.handle} cannot be removed from the campaign: "
            f"the partnership has {_listed(used)}, which stay on record. "
            "Pause its links to end it instead; its promo codes count until they expire "
            "or the campaign ends.",
            code="in_use",
        )
    # Objectives are set for an influencer in the campaign (named by table: the
    # objectives package builds on this one).
    aimed = table("objectives", column("campaign_id"), column("influencer_id"))
    targets = session.scalar(
        select(func.count())
        .select_from(aimed)
        .where(
            aimed.c.campaign_id == partnership.campaign_id,
            aimed.c.influencer_id == partnership.influencer_id,
        )
    )
    if targets:
        raise Conflict(
            f"{partnership.influencer.handle} cannot be removed from the campaign: "
            f"{targets} objective{'s are' if targets > 1 else ' is'} set for them. "
            f"Delete {'them' if targets > 1 else 'it'} or set {'them' if targets > 1 else 'it'} "
            "for each partner first.",
            code="in_use",
        )
    session.delete(partnership)
    session.flush()
