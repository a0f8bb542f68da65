from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service import clock
from service.campaigns.models import Partnership
from service.campaigns.service import find_partnership
from service.commissions.engine import SaleTerms
from service.commissions.ledger import record_per_post
from service.deliverables.models import Deliverable
from service.errors import Conflict, InvalidInput, NotFound
from service.links.models import Link
from service.paging import Page, paginate
from service.vocabulary import YEAR_SPAN, year_in_range


def create_deliverable(
    session: Session, data: dict[str, Any], submission_key: str | None = None
) -> Deliverable:
    """Record a post as ``submitted``; ``submission_key``: a portal form's (unique)."""
    partnership = find_partnership(session, data["campaign_id"], data["influencer_id"])
    if not year_in_range(data["posted_at"].year):
        raise InvalidInput("posted_at is out of range", fields={"posted_at": [YEAR_SPAN]})
    deliverable = Deliverable(
        partnership_id=partnership.id,
        campaign_id=partnership.campaign_id,
        influencer_id=partnership.influencer_id,
        platform=data["platform"],
        url=data["url"],
        posted_at=data["posted_at"],
        metrics=data["metrics"],
        link_id=_promoted(session, partnership.id, data.get("link_id")),
        submission_key=submission_key,
    )
    session.add(deliverable)
    session.flush()
    return deliverable


def _promoted(session: Session, partnership_id: str, link_id: str | None) -> str | None:
    """``link_id`` if it is a link of the partnership (the same campaign and influencer
    as the post); refused otherwise."""
    if link_id is None:
        return None
    if session.scalar(select(Link.partnership_id).where(Link.id == link_id)) != partnership_id:
        raise InvalidInput(
            "unknown link",
            fields={"link_id": ["not one of this influencer's links in the campaign"]},
        )
    return link_id


def get_deliverable(session: Session, deliverable_id: str) -> Deliverable:
    deliverable = session.get(Deliverable, deliverable_id)
    if deliverable is None:
        raise NotFound(f"no deliverable {deliverable_id!r}")
    return deliverable


def _locked(session: Session, deliverable_id: str) -> Deliverable:
    deliverable = session.scalar(
        select(Deliverable).where(Deliverable.id == deliverable_id).with_for_update()
    )
    if deliverable is None:
        raise NotFound(f"no deliverable {deliverable_id!r}")
    return deliverable


def approve(session: Session, deliverable_id: str, zone_name: str = "UTC") -> Deliverable:
    """Approve a post; a ``per_post`` rule earns its fee once (approving twice is a no-op).
    A rejected post stays rejected."""
    deliverable = _locked(session, deliverable_id)
    if deliverable.status == "approved":
        return deliverable
    if deliverable.status == "rejected":
        raise Conflict(
            "the post was rejected; record it again if it was corrected", code="already_rejected"
        )
    now = clock.now_utc()
    deliverable.status = "approved"
    deliverable.approved_at = now
    partnership = session.get(Partnership, deliverable.partnership_id)
    assert partnership is not None
    record_per_post(session, SaleTerms.of(partnership), deliverable.id, now, zone_name)
    session.flush()
    return deliverable


def reject(session: Session, deliverable_id: str, reason: str) -> Deliverable:
    """Reject a submitted post: it earns no fee and leaves the reports. An approved post
    cannot be (its fee line is rejected in the ledger instead, ADR "rejecting a post");
    rejecting a rejected post again changes nothing."""
    deliverable = _locked(session, deliverable_id)
    if deliverable.status == "rejected":
        return deliverable
    if deliverable.status == "approved":
        raise Conflict(
            "This post is approved already; to take back its fee, reject the fee line "
            "on its commission page.",
            code="already_approved",
        )
    deliverable.status = "rejected"
    deliverable.rejected_at = clock.now_utc()
    deliverable.rejection_reason = reason
    session.flush()
    return deliverable


def change_deliverable(session: Session, deliverable_id: str, data: dict[str, Any]) -> Deliverable:
    """Change a post's figures (``metrics`` replaces those recorded) or the link it
    promotes; whatever its status, since no fee depends on them. Reports read them as
    they are now."""
    deliverable = _locked(session, deliverable_id)
    if "link_id" in data:
        link_id = _promoted(session, deliverable.partnership_id, data["link_id"])
        if link_id != deliverable.link_id:
            deliverable.link_id = link_id
    if "metrics" in data and data["metrics"] != deliverable.metrics:
        deliverable.metrics = dict(data["metrics"])
    session.flush()
    return deliverable


def list_deliverables(session: Session, query: dict[str, Any]) -> Page[Deliverable]:
    stmt = select(Deliverable)
    for name in ("campaign_id", "influencer_id", "status"):
        if query.get(name):
            stmt = stmt.where(getattr(Deliverable, name) == query[name])
    return paginate(session, stmt, Deliverable.id, query.get("cursor"), query["limit"])
