from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.errors import Conflict, NotFound
from service.influencers.models import Influencer, PlatformAccount
from service.paging import Page, paginate


def _accounts(platforms: list[dict[str, Any]]) -> list[PlatformAccount]:
    seen: set[tuple[str, str]] = set()
    accounts = []
    for i, p in enumerate(platforms):
        key = (p["platform"], p["handle"])
        if key in seen:
            raise Conflict(
                f"platform account {key[0]}/{key[1]} is listed twice",
                code="duplicate",
                fields={"platforms": {i: {"handle": ["This account is listed twice."]}}},
            )
        seen.add(key)
        accounts.append(PlatformAccount(**p))
    return accounts


def create_influencer(session: Session, data: dict[str, Any]) -> Influencer:
    if session.scalar(select(Influencer.id).where(Influencer.handle == data["handle"])):
        raise Conflict(
            f"an influencer with handle {data['handle']!r} exists",
            code="duplicate",
            fields={"handle": ["Another influencer has this handle."]},
        )
    influencer = Influencer(
        handle=data["handle"],
        name=data["name"],
        email=data["email"],
        payout_email=data.get("payout_email"),
        platforms=_accounts(data.get("platforms", [])),
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


def change_influencer(session: Session, influencer: Influencer, data: dict[str, Any]) -> Influencer:
    """Apply a partial change (``InfluencerChange``); platform accounts sent replace the
    list, keeping the rows of accounts that stay (their ids, so nothing else moves)."""
    for name in ("name", "email", "payout_email"):
        if name in data:
            setattr(influencer, name, data[name])
    if "platforms" in data:
        wanted = _accounts(data["platforms"])
        kept = {(p.platform, p.handle): p for p in influencer.platforms}
        accounts = []
        for account in wanted:
            old = kept.get((account.platform, account.handle))
            if old is not None:
                old.followers = account.followers
                account = old
            accounts.append(account)
        influencer.platforms = accounts
    session.flush()
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
    if query.get("q"):
        text = query["q"].strip()
        columns = (Influencer.handle, Influencer.name, Influencer.email)
        stmt = stmt.where(or_(*(c.icontains(text, autoescape=True) for c in columns)))
    return paginate(session, stmt, Influencer.id, query.get("cursor"), query["limit"])
