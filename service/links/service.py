from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, lazyload

from service.campaigns.service import find_partnership
from service.config import Settings
from service.errors import Conflict, InvalidInput, NotFound
from service.influencers.models import Influencer
from service.links.codes import CodeMaker, valid_vanity
from service.links.destinations import destination_error, tracked
from service.links.models import Link
from service.paging import Page, paginate
from service.vocabulary import VANITY_RULE

_TAKEN = {"slug": ["Another link already has this code; choose another."]}

# Codes whose redirect changes when the session commits; the redirect cache listens.
CHANGED_CODES = "afftrack.changed_link_codes"


def mark_changed(session: Session, codes: list[str] | set[str]) -> None:
    """Note that these codes' redirects change once ``session`` commits."""
    session.info.setdefault(CHANGED_CODES, set()).update(codes)


def codes_of(
    session: Session, *, campaign_id: str | None = None, influencer_id: str | None = None
) -> list[str]:
    """The codes of a campaign's or an influencer's links."""
    stmt = select(Link.code)
    if campaign_id is not None:
        stmt = stmt.where(Link.campaign_id == campaign_id)
    if influencer_id is not None:
        stmt = stmt.where(Link.influencer_id == influencer_id)
    return list(session.scalars(stmt))


def create_link(session: Session, settings: Settings, data: dict[str, Any]) -> Link:
    partnership = find_partnership(session, data["campaign_id"], data["influencer_id"])
    campaign = partnership.campaign
    problem = destination_error(data["destination"], campaign.allowed_domains)
    if problem:
        raise InvalidInput("destination is not allowed", fields={"destination": [problem]})
    slug = data.get("slug")
    if slug is not None and not valid_vanity(slug):
        raise InvalidInput("slug is not valid", fields={"slug": [VANITY_RULE]})
    maker = CodeMaker(settings.hashids_salt)
    for _attempt in range(5):
        code = slug or maker.new_code()
        if session.scalar(select(Link.id).where(Link.code == code)) is None:
            break
        if slug:
            raise Conflict(f"the slug {slug!r} is taken", code="duplicate", fields=_TAKEN)
    else:  # pragma: no cover - 40 random bits colliding five times in a row
        raise Conflict("could not allocate a unique code; try again")
    link = Link(
        code=code,
        partnership=partnership,
        campaign_id=partnership.campaign_id,
        influencer_id=partnership.influencer_id,
        destination=data["destination"],
        platform=data["platform"],
    )
    session.add(link)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"the code {code!r} is taken", code="duplicate", fields=_TAKEN) from None
    return link


def get_link(session: Session, link_id: str) -> Link:
    link = session.get(Link, link_id)
    if link is None:
        raise NotFound(f"no link {link_id!r}")
    return link


def update_link(session: Session, link_id: str, data: dict[str, Any]) -> Link:
    link = get_link(session, link_id)
    if "destination" in data:
        problem = destination_error(data["destination"], link.partnership.campaign.allowed_domains)
        if problem:
            raise InvalidInput("destination is not allowed", fields={"destination": [problem]})
        link.destination = data["destination"]
    if "status" in data:
        link.status = data["status"]
    session.flush()
    return link


def list_links(session: Session, query: dict[str, Any]) -> Page[Link]:
    stmt = select(Link)
    for name in ("campaign_id", "influencer_id", "status"):
        if query.get(name):
            stmt = stmt.where(getattr(Link, name) == query[name])
    return paginate(session, stmt, Link.id, query.get("cursor"), query["limit"])


def tracked_url(link: Link) -> str:
    """The destination with this link's UTM parameters merged in."""
    campaign = link.partnership.campaign
    return tracked(
        link.destination,
        platform=link.platform,
        medium=campaign.utm_medium,
        campaign_slug=campaign.slug,
        influencer_handle=link.partnership.influencer.handle,
    )


def short_url(settings: Settings, code: str) -> str:
    """The short URL a link is shared as (answered by the redirect, ``/r/<code>``)."""
    return f"{settings.public_url}/r/{code}"


def campaign_links(session: Session, campaign_id: str) -> list[tuple[Link, str]]:
    """Every link of a campaign with its influencer's handle, by handle then age; the
    links' partnerships are not loaded (their campaign is this one, their influencer's
    handle is given), which a page of a thousand links would otherwise pay for."""
    rows = session.execute(
        select(Link, Influencer.handle)
        .join(Influencer, Influencer.id == Link.influencer_id)
        .where(Link.campaign_id == campaign_id)
        .order_by(Influencer.handle, Link.created_at, Link.id)
        .options(lazyload(Link.partnership))
    )
    return [(link, handle) for link, handle in rows]


def present(link: Link, settings: Settings) -> dict[str, Any]:
    """A link as the API shows it, with its short and tracked URLs."""
    return {
        "id": link.id,
        "code": link.code,
        "campaign_id": link.campaign_id,
        "influencer_id": link.influencer_id,
        "partnership_id": link.partnership_id,
        "destination": link.destination,
        "platform": link.platform,
        "status": link.status,
        "short_url": short_url(settings, link.code),
        "tracked_url": tracked_url(link),
        "created_at": link.created_at,
    }
