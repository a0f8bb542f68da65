from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.errors import Conflict, NotFound
from service.influencers.models import Influencer, PlatformAccount
from service.paging import Page, paginate


def create_influencer(session: Session, data: dict[str, Any]) -> Influencer:
    if session.scalar(select(Influencer.id).where(Influencer.handle == data["handle"])):
        raise Conflict(f"an influencer with handle {data['handle']!r} exists", code="duplicate")
    seen: set[tuple[str, str]] = set()
    accounts = []
    for p in data.get("platforms", []):
        key = (p["platform"], p["handle"])
        if key in seen:
            raise Conflict(f"platform account {key[0]}/{key[1]} is listed twice", code="duplicate")
        seen.add(key)
        accounts.append(PlatformAccount(**p))
    influencer = Influencer(
        handle=data["handle"],
        name=data["name"],
        email=data["email"],
        payout_email=data.get("payout_email"),
        platforms=accounts,
    )
    session.add(influencer)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict(
            f"an influencer with handle {data['handle']!r} exists", code="duplicate"
        ) from None
    return influencer


def get_influencer(session: Session, influencer_id: str) -> Influencer:
    influencer = session.get(Influencer, influencer_id)
    if influencer is None:
        raise NotFound(f"no influencer {influencer_id!r}")
    return influencer


def list_influencers(session: Session, query: dict[str, Any]) -> Page[Influencer]:
    stmt = select(Influencer)
    if query.get("handle"):
        stmt = stmt.where(Influencer.handle == query["handle"])
    return paginate(session, stmt, Influencer.id, query.get("cursor"), query["limit"])
