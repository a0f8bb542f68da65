"""A stored click as the worker writes it (``service.clicks.partitions.COLUMNS``), for
tests that put clicks straight into the database (insert_clicks / copy_clicks)."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def stored_click(
    click_id: str,
    link_id: str,
    occurred_at: datetime,
    *,
    bot: bool = False,
    unique: bool = True,
    ip_hash: str = "0" * 64,
    source: str = "link",
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
        "outcome": "redirect",
        "source": source,
    }
