from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.conversions.models import Conversion
from service.errors import NotFound
from service.paging import Page, paginate


def list_conversions(session: Session, query: dict[str, Any]) -> Page[Conversion]:
    stmt = select(Conversion)
    for name in ("source", "order_id", "influencer_id", "campaign_id"):
        if query.get(name):
            stmt = stmt.where(getattr(Conversion, name) == query[name])
    return paginate(session, stmt, Conversion.id, query.get("cursor"), query["limit"])


def get_conversion(session: Session, conversion_id: str) -> Conversion:
    conversion = session.get(Conversion, conversion_id)
    if conversion is None:
        raise NotFound(f"no conversion {conversion_id!r}")
    return conversion
