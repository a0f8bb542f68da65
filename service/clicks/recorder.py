"""A click as the redirect hands it over, and the way it reaches the database without
Redis: written directly, in the request, with uniqueness decided by a query.

The common path — the Redis stream, drained by :mod:`service.clicks.ingest` — is written
by the redirect's one-round-trip script (:mod:`service.redirect.cache`); a stream entry
turns back into a row with :func:`row_from_fields`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service import metrics
from service.clicks.models import Click
from service.clicks.partitions import insert_clicks
from service.db import Database, table_of
from service.vocabulary import CLICK_SOURCES, LINK_SOURCE

UNIQUE_WINDOW = timedelta(hours=24)


@dataclass(slots=True)
class ClickRecord:
    id: str
    link_id: str
    occurred_at: datetime
    ip_hash: str
    user_agent: str
    referrer: str | None
    country: str | None
    is_bot: bool
    bot_reason: str | None
    outcome: str  # "redirect", or "fallback" for a paused link or an ended campaign
    source: str = LINK_SOURCE  # "qr" when opened through the link's QR code

    def stream_fields(self) -> list[str]:
        """The entry's field/value pairs, flat (the script adds link, outcome, unique).
        ``source`` only when it is not ``link``: an entry without it (and every entry
        written before it existed) is a plain click."""
        fields = [
            "id", self.id,
            "occurred_at", self.occurred_at.isoformat(),
            "ip_hash", self.ip_hash,
            "user_agent", self.user_agent,
            "referrer", self.referrer or "",
            "country", self.country or "",
            "is_bot", "1" if self.is_bot else "0",
            "bot_reason", self.bot_reason or "",
        ]  # fmt: skip
        if self.source != LINK_SOURCE:
            fields += ["source", self.source]
        return fields


def row_from_fields(fields: dict[str, str]) -> dict[str, Any]:
    """A stream entry back into a ``clicks`` row (raises on a malformed entry)."""
    occurred_at = datetime.fromisoformat(fields["occurred_at"])
    if occurred_at.tzinfo is None:
        raise ValueError("click time without a zone")
    source = fields.get("source") or LINK_SOURCE
    if source not in CLICK_SOURCES:
        raise ValueError(f"unknown click source {source!r}")
    return {
        "id": fields["id"],
        "link_id": fields["link_id"],
        "occurred_at": occurred_at,
        "ip_hash": fields["ip_hash"],
        "user_agent": fields.get("user_agent", ""),
        "referrer": fields.get("referrer") or None,
        "country": fields.get("country") or None,
        "is_bot": fields["is_bot"] == "1",
        "bot_reason": fields.get("bot_reason") or None,
        "is_unique": fields.get("is_unique") == "1",
        "outcome": fields.get("outcome") or "redirect",
        "source": source,
    }


def write_direct(db: Database, click: ClickRecord, seen_as: tuple[str, ...]) -> bool:
    """Write one click now (Redis is unavailable). ``seen_as`` are the visitor's address
    hashes that count as "the same visitor" for uniqueness (today's and yesterday's).
    Returns whether it counted as unique."""
    return write_direct_many(db, [(click, seen_as)])[0]


Counted = dict[tuple[str, str, str], set[datetime]]


class CountedClicks:
    """The counted (unique) clicks of the links a run of batches writes to, read from
    the database once per link for the whole run rather than once per batch: a drain of
    a long outage's spool would otherwise read a popular link's whole window again for
    every batch. Only for one writer's run (a drain); it forgets on any failure."""

    def __init__(self) -> None:
        self.counted: Counted = {}
        self._since: dict[str, datetime] = {}

    def load(
        self, session: Session, clicks: Sequence[tuple[ClickRecord, tuple[str, ...]]]
    ) -> Counted:
        needed: dict[str, datetime] = {}
        for click, _ in clicks:
            start = click.occurred_at - UNIQUE_WINDOW
            needed[click.link_id] = min(needed.get(click.link_id, start), start)
        missing = {
            link: start
            for link, start in needed.items()
            if link not in self._since or start < self._since[link]
        }
        if missing:
            stmt = select(Click.link_id, Click.ip_hash, Click.user_agent, Click.occurred_at).where(
                Click.link_id.in_(missing),
                Click.is_unique.is_(True),
                Click.occurred_at > min(missing.values()),
            )
            for link_id, ip_hash, user_agent, occurred_at in session.execute(stmt):
                self.counted.setdefault((link_id, ip_hash, user_agent), set()).add(occurred_at)
            for link, start in missing.items():
                self._since[link] = min(start, self._since.get(link, start))
        return self.counted

    def clear(self) -> None:
        self.counted.clear()
        self._since.clear()


def write_direct_many(
    db: Database,
    clicks: Sequence[tuple[ClickRecord, tuple[str, ...]]],
    *,
    known: CountedClicks | None = None,
) -> list[bool]:
    """Write clicks in one transaction, in order, each decided unique or not by what the
    database holds at its own time and by the clicks before it in the batch (one query
    for the whole batch, or none for links ``known`` has read already). A click already
    there (same id and time) is left as it is: writing it again changes nothing."""
    if not clicks:
        return []
    try:
        return _write_direct_many(db, clicks, known)
    except BaseException:
        if known is not None:
            known.clear()  # (it may hold decisions that were never committed)
        raise


def _write_direct_many(
    db: Database,
    clicks: Sequence[tuple[ClickRecord, tuple[str, ...]]],
    known: CountedClicks | None,
) -> list[bool]:
    decided: list[bool] = []
    rows: list[dict[str, Any]] = []
    with db.session() as session:
        counted = known.load(session, clicks) if known else _counted_before(session, clicks)
        for click, seen_as in clicks:
            visitor = [counted.get((click.link_id, h, click.user_agent), ()) for h in seen_as]
            since = click.occurred_at - UNIQUE_WINDOW
            unique = (
                not click.is_bot
                and click.outcome == "redirect"
                # Measured from the visitor's last *counted* click, as the Redis key does.
                and not any(t > since for times in visitor for t in times)
            )
            if unique:
                key = (click.link_id, click.ip_hash, click.user_agent)
                counted.setdefault(key, set()).add(click.occurred_at)
            decided.append(unique)
            rows.append(
                {
                    "id": click.id,
                    "link_id": click.link_id,
                    "occurred_at": click.occurred_at,
                    "ip_hash": click.ip_hash,
                    "user_agent": click.user_agent,
                    "referrer": click.referrer,
                    "country": click.country,
                    "is_bot": click.is_bot,
                    "bot_reason": click.bot_reason,
                    "is_unique": unique,
                    "outcome": click.outcome,
                    "source": click.source,
                }
            )
        insert_clicks(session, rows)
    metrics.CLICKS_WRITTEN.inc(len(rows))
    return decided


def _counted_before(
    session: Session, clicks: Sequence[tuple[ClickRecord, tuple[str, ...]]]
) -> Counted:
    """The counted (unique) clicks in the database that could make these clicks repeats:
    same links, same address hashes, within the window of the earliest of them."""
    earliest = min(click.occurred_at for click, _ in clicks) - UNIQUE_WINDOW
    stmt = select(Click.link_id, Click.ip_hash, Click.user_agent, Click.occurred_at).where(
        Click.link_id.in_({click.link_id for click, _ in clicks}),
        Click.ip_hash.in_({h for _, seen_as in clicks for h in seen_as}),
        Click.is_unique.is_(True),
        Click.occurred_at > earliest,
    )
    counted: Counted = {}
    for link_id, ip_hash, user_agent, occurred_at in session.execute(stmt):
        counted.setdefault((link_id, ip_hash, user_agent), set()).add(occurred_at)
    return counted


def demote_unique(db: Database, click_ids: Sequence[str]) -> list[str]:
    """These clicks were counted unique but were not: the same visitor had a click on
    the same link counted first, which the database could not know about (it was still
    in the Redis stream when these were written directly). ``is_unique`` becomes false;
    ``click_daily`` and ``click_monthly`` follow by a trigger (migration 0009). Returns
    the ids changed: a click already demoted, or never unique, is left as it is, so
    demoting twice changes nothing."""
    if not click_ids:
        return []
    table = table_of(Click)
    stmt = (
        update(table)
        .where(table.c.id.in_(sorted(set(click_ids))), table.c.is_unique.is_(True))
        .values(is_unique=False)
        .returning(table.c.id)
    )
    with db.session() as session:
        return list(session.scalars(stmt))
