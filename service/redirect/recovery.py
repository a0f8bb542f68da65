"""Clicks while Redis or the database stumble: kept in the spool, moved on once they answer.

A redirect that can reach neither Redis nor the database appends its click to the
process's click spool (:mod:`service.spool`) before the 302 goes out: the click keeps
its id, time, link, outcome and both address hashes uniqueness needs. :class:`ClickMover`
moves spooled clicks on, oldest first, into the Redis stream when Redis answers (the
worker then writes them like any other click) or straight into the database when only
the database does. Either way each click is stored once: the stream and the table both
ignore a click id they already have.

Uniqueness across an outage: a click moved into the stream is decided unique or not by
:data:`~service.redirect.cache.REPLAY_LUA` against the keys Redis holds, with its key
kept for what is left of its 24 h window; a click written straight to the database is
decided by a query, and if it counted as unique while Redis was away a small "seen"
record is spooled too, so that its key is put back in Redis when Redis returns and the
visitor is not counted again. Seen records go back before spooled clicks are replayed.
If the visitor's key is already there, set before the click, Redis had counted the
visitor first (that click was still in the stream, where the database's query could not
see it): the click written directly is demoted (:func:`~service.clicks.recorder.demote_unique`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

from service import clock, metrics
from service.clicks.identity import visitor_key
from service.clicks.recorder import (
    UNIQUE_WINDOW,
    ClickRecord,
    CountedClicks,
    demote_unique,
    write_direct_many,
)
from service.db import Database
from service.redirect.cache import REPLAY_LUA
from service.spool import Record, Spool
from service.vocabulary import LINK_SOURCE

log = logging.getLogger(__name__)

_WINDOW = UNIQUE_WINDOW.total_seconds()
# What the database says of a row it will never take (a COPY raises psycopg's own).
REFUSED = (IntegrityError, DataError, psycopg.IntegrityError, psycopg.DataError)
# A visitor's key set less than this before a click may be that click's own: its follow
# script ran but the answer was lost (so it was written directly too), or it was
# replayed from the spool with whole seconds of window left. Only a key set earlier
# than that was another, earlier click.
_OWN_KEY_SLACK = 1.0


def click_record(click: ClickRecord, seen_as: tuple[str, ...]) -> Record:
    """A click as the spool keeps it (``seen_as``: its address hash today, yesterday)."""
    return {
        "at": click.occurred_at.timestamp(),
        "id": click.id,
        "link_id": click.link_id,
        "occurred_at": click.occurred_at.isoformat(),
        "ip_hash": click.ip_hash,
        "ip_hash_before": seen_as[1] if len(seen_as) > 1 else click.ip_hash,
        "user_agent": click.user_agent,
        "referrer": click.referrer,
        "country": click.country,
        "is_bot": click.is_bot,
        "bot_reason": click.bot_reason,
        "outcome": click.outcome,
        "source": click.source,
    }


def click_of(record: Record) -> tuple[ClickRecord, tuple[str, str]]:
    occurred_at = datetime.fromisoformat(record["occurred_at"])
    click = ClickRecord(
        id=record["id"],
        link_id=record["link_id"],
        occurred_at=occurred_at,
        ip_hash=record["ip_hash"],
        user_agent=record["user_agent"],
        referrer=record.get("referrer"),
        country=record.get("country"),
        is_bot=bool(record["is_bot"]),
        bot_reason=record.get("bot_reason"),
        outcome=record["outcome"],
        # (a click spooled before sources existed has none: a plain click)
        source=record.get("source") or LINK_SOURCE,
    )
    return click, (record["ip_hash"], record["ip_hash_before"])


def seen_record(click: ClickRecord, seen_as: tuple[str, ...] = ()) -> Record:
    """The Redis key of a click counted unique while Redis was away (and the visitor's
    key of the day before, from ``seen_as``: today's and yesterday's address hash)."""
    before = seen_as[1] if len(seen_as) > 1 else click.ip_hash
    return {
        "at": click.occurred_at.timestamp(),
        "id": click.id,
        "link_id": click.link_id,
        "key": visitor_key(click.ip_hash, click.user_agent),
        "key_before": visitor_key(before, click.user_agent),
    }


def _seconds_left(at: float) -> int:
    return int(_WINDOW - (clock.now_utc().timestamp() - at))


def _set_at(now: float, left_ms: int) -> float:
    """When a visitor's key was set (epoch seconds), from its time to live: every key
    is set for the 24 h window, or for what was left of it at the click's time."""
    return now - (_WINDOW - left_ms / 1000)


def _replay_args(record: Record) -> list[str]:
    """REPLAY_LUA's arguments for a spooled click."""
    click, (today, before) = click_of(record)
    counts = not click.is_bot and click.outcome == "redirect"
    return [
        "click",
        click.link_id,
        visitor_key(today, click.user_agent),
        visitor_key(before, click.user_agent),
        str(_seconds_left(record["at"])),
        "1" if counts else "0",
        "link_id", click.link_id,
        "outcome", click.outcome,
        *click.stream_fields(),
    ]  # fmt: skip


class ClickMover:
    """Moves spooled clicks (and "seen" keys) on to Redis or the database."""

    def __init__(
        self,
        db: Database,
        redis: Redis | None,
        stream: str,
        directory: Path,
        *,
        fsync: bool = True,
        spool: Spool | None = None,
    ) -> None:
        self.db = db
        self.redis = redis
        self.stream = stream
        self.spool = spool if spool is not None else Spool(directory, "clicks", fsync=fsync)
        # Best effort (no fsync): losing one costs a repeat visitor counted twice, never
        # a click.
        self.seen = Spool(directory, "seen", fsync=False)
        self._replay = redis.register_script(REPLAY_LUA) if redis is not None else None
        self._known: CountedClicks | None = None

    def waiting(self) -> bool:
        """Whether anything is spooled (one directory listing)."""
        return bool(self.spool.files()) or (self.redis is not None and bool(self.seen.files()))

    def keep(self, click: ClickRecord, seen_as: tuple[str, ...]) -> None:
        """Spool a click neither store took (raises :class:`~service.spool.SpoolError`)."""
        self.spool.append(click_record(click, seen_as))
        metrics.CLICKS_SPOOLED.inc()

    def remember_seen(self, click: ClickRecord, seen_as: tuple[str, ...] = ()) -> None:
        """A click counted unique in the database while Redis was away: its key goes
        back into Redis when Redis answers again."""
        try:
            self.seen.append(seen_record(click, seen_as))
        except OSError:
            log.warning("could not keep a unique visitor's key for Redis", exc_info=True)

    def to_redis(self, records: Sequence[Record], client: Redis | None = None) -> list[int]:
        """Append spooled clicks to the stream, deciding uniqueness as the redirect would
        have; one round trip. Returns 1 per click counted unique."""
        assert self._replay is not None
        # _replay exists only with a Redis client (asserted above); mypy cannot link the two.
        pipe = (client or self.redis).pipeline(transaction=False)  # type: ignore[union-attr]
        for record in records:
            try:
                args = _replay_args(record)
            except (KeyError, TypeError, ValueError):
                _refused(record, "unreadable")
                continue
            self._replay(keys=[self.stream], args=args, client=pipe)
        return [int(result) for result in pipe.execute()]

    def seen_to_redis(self, records: Sequence[Record]) -> None:
        """Put the keys of clicks counted unique while Redis was away back into Redis. A
        visitor whose key was already there, set before the click, had been counted by
        Redis first: that click is demoted in the database (it raises if the database
        does not answer; the records are put back again later, which changes nothing
        twice)."""
        assert self._replay is not None and self.redis is not None
        pipe = self.redis.pipeline(transaction=False)
        for record in records:
            args = [
                "seen",
                record["link_id"],
                record["key"],
                record.get("key_before", ""),
                str(_seconds_left(record["at"])),
                record["id"],
            ]
            self._replay(keys=[self.stream], args=args, client=pipe)
        results = pipe.execute()
        now = clock.now_utc().timestamp()
        repeats = [
            record["id"]
            for record, (own, left_ms) in zip(records, results, strict=True)
            if not own and left_ms >= 0 and _set_at(now, left_ms) < record["at"] - _OWN_KEY_SLACK
        ]
        if repeats:
            demoted = demote_unique(self.db, repeats)
            log.info(
                "clicks counted unique while Redis was away, after Redis had counted "
                "the same visitor: no longer unique",
                extra={"count": len(demoted)},
            )

    def to_database(self, records: Sequence[Record]) -> None:
        clicks = []
        for record in records:
            try:
                clicks.append(click_of(record))
            except (KeyError, TypeError, ValueError):
                _refused(record, "unreadable")
        try:
            decided = write_direct_many(self.db, clicks, known=self._known)
        except REFUSED:
            # One click the database refuses (its link deleted during the outage) must
            # not hold the others back for ever: one by one, dropping what is refused.
            decided = []
            for one in clicks:
                try:
                    decided += write_direct_many(self.db, [one])
                except REFUSED:
                    decided.append(False)
                    _refused({"id": one[0].id, "link_id": one[0].link_id}, "refused")
        if self.redis is not None:
            for (click, seen_as), unique in zip(clicks, decided, strict=True):
                if unique:
                    self.remember_seen(click, seen_as)

    def drain(self, *, redis_up: bool = True) -> int:
        """Move everything spooled: into Redis while it answers (and ``redis_up``),
        else into the database. Returns how many clicks were moved. Raises the store's
        error if neither takes them; what was moved before stays moved."""
        moved = 0
        if self.redis is not None and redis_up:
            try:
                try:
                    self.seen.drain(self.seen_to_redis)
                except SQLAlchemyError as exc:
                    # A demotion waits for the database (the keys of the batch are put
                    # back already); the spooled clicks need not wait with it.
                    log.warning(
                        "unique keys put back; a demotion waits for the database",
                        extra={"error_type": type(exc).__name__},
                    )
                moved = self.spool.drain(self._counted(self.to_redis, "redis"))
                return moved
            except RedisError as exc:
                log.warning(
                    "spooled clicks: Redis unavailable, trying the database",
                    extra={"error_type": type(exc).__name__},
                )
        self._known = CountedClicks()  # this drain's view of who was counted, per link
        try:
            return moved + self.spool.drain(self._counted(self.to_database, "database"))
        finally:
            self._known = None

    @staticmethod
    def _counted(move: Any, target: str) -> Any:
        counter = metrics.CLICKS_UNSPOOLED.labels(target)

        def apply(records: list[Record]) -> None:
            move(records)
            counter.inc(len(records))

        return apply


def _refused(record: Record, reason: str) -> None:
    """A spooled click that can never be stored (unreadable, or its link deleted during
    the outage): dropped, counted and logged, so it does not hold the others back."""
    metrics.CLICKS_REFUSED.labels(reason).inc()
    log.error(
        "dropping a spooled click that can never be stored",
        extra={"reason": reason, "click_id": record.get("id"), "link_id": record.get("link_id")},
    )
