from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, case, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

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
        stmt = stmt.where(matching(query["q"]))
    return paginate(session, stmt, Influencer.id, query.get("cursor"), query["limit"])


def matching(text: str) -> ColumnElement[bool]:
    """The influencers the API's ``q`` finds: ``text`` in the handle, name or email, in
    any case."""
    text = text.strip()
    columns = (Influencer.handle, Influencer.name, Influencer.email)
    return or_(*(c.icontains(text, autoescape=True) for c in columns))


def by_handle_first(text: str) -> tuple[ColumnElement[Any], InstrumentedAttribute[str]]:
    """The order of suggestions for ``text``: handles starting with it first, then by
    handle."""
    starts = Influencer.handle.startswith(text.strip().lower(), autoescape=True)
    return case((starts, 0), else_=1), Influencer.handle


def search_influencers(session: Session, text: str, limit: int) -> list[Influencer]:
    """Up to ``limit`` influencers ``q=text`` finds (:func:`matching`), as suggestions
    (:func:`by_handle_first`)."""
    stmt = select(Influencer).where(matching(text)).order_by(*by_handle_first(text))
    return list(session.scalars(stmt.limit(limit)))


def influencers_named(session: Session, text: str) -> list[Influencer]:
    """The influencer ``text`` names: its id, or its handle in any case (a leading ``@``
    allowed); none when it names nobody. Handles are unique and lower-case, so at most
    one."""
    text = text.strip()
    found = session.get(Influencer, text) if text else None
    if found is None and text:
        handle = text.removeprefix("@").lower()
        found = session.scalar(select(Influencer).where(Influencer.handle == handle))
    return [found] if found is not None else []
