from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.campaigns.service import find_partnership
from service.errors import Conflict, InvalidInput, NotFound
from service.paging import Page, paginate
from service.promo_codes.models import PromoCode, normalize_code


def _suggest(handle: str) -> str:
    stem = re.sub(r"[^A-Z0-9]", "", handle.upper())[:12] or "CODE"
    return f"{stem}{secrets.randbelow(90) + 10}"


def _taken(session: Session, normalized: str) -> bool:
    stmt = select(PromoCode.id).where(
        PromoCode.normalized == normalized, PromoCode.status == "active"
    )
    return session.scalar(stmt) is not None


def create_promo_code(session: Session, data: dict[str, Any]) -> PromoCode:
    partnership = find_partnership(session, data["campaign_id"], data["influencer_id"])
    wanted = data.get("code")
    if wanted is not None:
        code = wanted.strip()
        if _taken(session, normalize_code(code)):
            raise Conflict(f"the code {code!r} is already active", code="duplicate")
    else:
        for _attempt in range(20):
            code = _suggest(partnership.influencer.handle)
            if not _taken(session, normalize_code(code)):
                break
        else:  # pragma: no cover
            raise Conflict("could not find a free code; give one")
    promo = PromoCode(
        code=code,
        normalized=normalize_code(code),
        partnership=partnership,
        campaign_id=partnership.campaign_id,
        influencer_id=partnership.influencer_id,
        starts_at=data.get("starts_at"),
        ends_at=data.get("ends_at"),
        max_uses=data.get("max_uses"),
    )
    session.add(promo)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"the code {code!r} is already active", code="duplicate") from None
    return promo


def change_promo_code(session: Session, promo: PromoCode, data: dict[str, Any]) -> PromoCode:
    """Apply a partial change (``PromoCodeChange``): the window, the limit, the status.
    The window is judged as it will be (a new end against the kept start); orders
    already attributed stay as they are."""
    start = data.get("starts_at", promo.starts_at)
    end = data.get("ends_at", promo.ends_at)
    if start is not None and end is not None and end <= start:
        name = "ends_at" if "ends_at" in data else "starts_at"
        other = "starts_at" if name == "ends_at" else "ends_at"
        raise InvalidInput(
            "the window is empty",
            fields={name: [f"must be {'after' if name == 'ends_at' else 'before'} {other}"]},
        )
    reactivated = data.get("status") == "active" and promo.status != "active"
    if reactivated and _taken(session, promo.normalized):
        raise Conflict(
            f"another active code is {promo.code!r}",
            code="duplicate",
            fields={"status": ["Another active code has this text; retire it first."]},
        )
    for name in ("starts_at", "ends_at", "max_uses", "status"):
        if name in data:
            setattr(promo, name, data[name])
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"another active code is {promo.code!r}", code="duplicate") from None
    return promo


def get_promo_code(session: Session, promo_id: str) -> PromoCode:
    promo = session.get(PromoCode, promo_id)
    if promo is None:
        raise NotFound(f"no promo code {promo_id!r}")
    return promo


def list_promo_codes(session: Session, query: dict[str, Any]) -> Page[PromoCode]:
    stmt = select(PromoCode)
    for name in ("campaign_id", "influencer_id"):
        if query.get(name):
            stmt = stmt.where(getattr(PromoCode, name) == query[name])
    if query.get("code"):
        stmt = stmt.where(PromoCode.normalized == normalize_code(query["code"]))
    return paginate(session, stmt, PromoCode.id, query.get("cursor"), query["limit"])


def active_codes(session: Session, codes: Iterable[str]) -> list[PromoCode]:
    """The active promo codes matching any of ``codes`` (trimmed, case-insensitive),
    in the order the codes were given."""
    wanted = [normalize_code(c) for c in codes if isinstance(c, str) and c.strip()]
    if not wanted:
        return []
    rows = session.scalars(
        select(PromoCode).where(PromoCode.normalized.in_(wanted), PromoCode.status == "active")
    ).all()
    by_code = {row.normalized: row for row in rows}
    return [by_code[c] for c in dict.fromkeys(wanted) if c in by_code]
