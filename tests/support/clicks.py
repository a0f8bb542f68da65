"""A stored click as the worker writes it (``service.clicks.partitions.COLUMNS``), for
tests that put clicks straight into the database (insert_clicks / copy_clicks)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import column, insert, table
from sqlalchemy.engine import Engine

from service.clicks.models import Click
from service.clicks.partitions import COLUMNS, ensure_partitions, month_of


def stored_click(
    click_id: str,
    link_id: str,
    occurred_at: datetime,
    *,
    bot: bool = False,
    unique: bool = True,
    ip_hash: str = "0" * 64,
    source: str = "link",
    outcome: str = "redirect",
) -> dict[str, Any]:
    return {
        "id": click_id,
        "link_id": link_id,
        "occurred_at": occurred_at,
        "ip_hash": ip_hash,
        "user_agent": "bot" if bot else "Mozilla/5.0",
        "referrer": None,
        "country": None,
        "is_bot": bot,
        "bot_reason": "ua" if bot else None,
        "is_unique": unique,
        "outcome": outcome,
        "source": source,
    }


def clicks_before_0013(engine: Engine, rows: list[dict[str, Any]]) -> None:
    """Clicks written as a version before migration 0013 wrote them (no ``source``), for
    tests that run the migrations down."""
    columns = [name for name in COLUMNS if name != "source"]
    old = table("clicks", *(column(name, Click.__table__.c[name].type) for name in columns))
    with engine.begin() as conn:
        ensure_partitions(conn, {month_of(row["occurred_at"]) for row in rows})
        conn.execute(insert(old), [{name: row[name] for name in columns} for row in rows])
