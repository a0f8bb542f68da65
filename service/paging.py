"""Cursor paging over id-ordered queries. Ids sort by creation time (``db.new_id``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

from service.errors import InvalidInput
from service.vocabulary import CURSOR_PATTERN, full

__all__ = ["CURSOR_PATTERN", "DEFAULT_LIMIT", "MAX_LIMIT", "Page", "paginate"]

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

T = TypeVar("T")


@dataclass
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


_CURSOR_RE = full(CURSOR_PATTERN)


def encode_cursor(last_id: str) -> str:
    """The cursor is the page's last id (ids are ``[a-z0-9_]``): any text of that shape
    is a place in the list, so the document can state it (``CURSOR_PATTERN``)."""
    return last_id


def decode_cursor(cursor: str | None) -> str | None:
    if not cursor:
        return None
    if not _CURSOR_RE.match(cursor):
        raise InvalidInput("cursor is not valid", fields={"cursor": ["not a cursor from this API"]})
    return cursor


def paginate(
    session: Session,
    stmt: Select[Any],
    id_column: InstrumentedAttribute[str],
    cursor: str | None,
    limit: int = DEFAULT_LIMIT,
) -> Page[Any]:
    after = decode_cursor(cursor)
    if after is not None:
        stmt = stmt.where(id_column > after)
    rows = list(session.scalars(stmt.order_by(id_column).limit(limit + 1)).unique())
    next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return Page(rows[:limit], next_cursor)
