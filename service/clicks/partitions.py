"""Writing clicks, and the monthly partitions of the clicks table on PostgreSQL.

On PostgreSQL ``clicks`` is partitioned by month of ``occurred_at`` (UTC). The worker
creates partitions ahead of time (:func:`ensure_partitions`); a write that still finds
no partition for its month creates it and retries, so a click is never refused for
that. Old months can be detached for retention (:func:`detach_before`) and then
archived or dropped by the operator. SQLite has one plain table.

Every write is idempotent on ``(id, occurred_at)`` — a click's id and time never
change, so the same click written twice (a batch retried after a crash) is one row.

Where the two flavours differ (partitions, COPY), both variants are here side by side
(:data:`CLICKS`), the one of the flavour chosen at start-up picked through the dialect
seam of :mod:`service.db`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.clicks.models import Click
from service.db import Database, Variants, insert_ignore, table_of

COLUMNS = (
    "id", "link_id", "occurred_at", "ip_hash", "user_agent", "referrer", "country",
    "is_bot", "bot_reason", "is_unique", "outcome", "source",
)  # fmt: skip
_PARTITION_RE = re.compile(r"^clicks_(\d{4})_(\d{2})$")
_LOCK_KEY = 0x61666663  # advisory lock serialising partition DDL between workers


def month_of(moment: datetime) -> date:
    moment = moment.astimezone(UTC)
    return date(moment.year, moment.month, 1)


def next_month(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def partition_name(month: date) -> str:
    return f"clicks_{month.year:04d}_{month.month:02d}"


def is_partitioned(conn: Connection) -> bool:
    return CLICKS.of(conn).is_partitioned(conn)


def ensure_partitions(conn: Connection, months: Iterable[date]) -> list[str]:
    """Create the monthly partitions that are missing; returns the names created."""
    if not is_partitioned(conn):
        return []
    created = []
    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    for month in sorted(set(months)):
        name = partition_name(month)
        # A table of that name that is not attached was detached for retention: clicks
        # for that month are refused (and dropped by the worker), not re-attached.
        if conn.scalar(text("SELECT to_regclass(:n)"), {"n": name}) is not None:
            continue
        conn.execute(
            text(
                f"CREATE TABLE {name} PARTITION OF clicks "
                f"FOR VALUES FROM ('{month.isoformat()} 00:00+00') "
                f"TO ('{next_month(month).isoformat()} 00:00+00')"
            )
        )
        created.append(name)
    return created


def ensure_ahead(conn: Connection, today: datetime, months_ahead: int = 2) -> list[str]:
    """This month's partition and the next ``months_ahead``."""
    month = month_of(today)
    months = [month]
    for _ in range(months_ahead):
        month = next_month(month)
        months.append(month)
    return ensure_partitions(conn, months)


def partitions(conn: Connection) -> list[str]:
    """Names of the attached monthly partitions, oldest first."""
    names = conn.scalars(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'clicks'::regclass"
        )
    )
    return sorted(n for n in names if _PARTITION_RE.match(n))


def detach_before(conn: Connection, month: date) -> list[str]:
    """Detach every monthly partition older than ``month``; returns their names. The
    tables stay in the database, outside ``clicks``, for the operator to archive."""
    if not is_partitioned(conn):
        return []
    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    detached = []
    for name in partitions(conn):
        m = _PARTITION_RE.match(name)
        assert m is not None
        if date(int(m[1]), int(m[2]), 1) < month:
            conn.execute(text(f"ALTER TABLE clicks DETACH PARTITION {name}"))
            detached.append(name)
    return detached


def _missing_partition(exc: Exception) -> bool:
    return "no partition of relation" in str(exc)


def insert_clicks(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT … ON CONFLICT DO NOTHING, creating a missing month's partition if needed;
    several rows on PostgreSQL go by COPY (:func:`copy_clicks`: one statement, so the
    roll-up trigger runs once, not once per row)."""
    if rows:
        CLICKS.of(session).insert(session, rows)


def _insert_ignoring(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    try:
        with session.begin_nested():
            insert_ignore(session, table_of(Click), list(rows), ["id", "occurred_at"])
    except IntegrityError as exc:
        if not _missing_partition(exc):
            raise
        ensure_partitions(session.connection(), {month_of(r["occurred_at"]) for r in rows})
        insert_ignore(session, table_of(Click), list(rows), ["id", "occurred_at"])


def copy_clicks(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """The fast path for a batch on PostgreSQL.

    First a plain COPY straight into ``clicks``: the common case, a batch never seen
    before. If any of its clicks is already there (a batch retried after a crash), the
    COPY fails as a whole and the batch goes through a temporary table and
    ``INSERT … ON CONFLICT DO NOTHING`` instead, so the result is the same either way.
    """
    if not rows:
        return
    months = {month_of(r["occurred_at"]) for r in rows}
    for attempt in range(2):
        try:
            with conn.begin_nested():
                _copy(conn, "clicks", rows)
            return
        except psycopg.errors.UniqueViolation:
            break
        except psycopg.errors.CheckViolation as exc:
            if attempt or not _missing_partition(exc):
                raise
            ensure_partitions(conn, months)
    conn.execute(
        text(
            "CREATE TEMP TABLE IF NOT EXISTS clicks_incoming "
            "(LIKE clicks INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
    )
    _copy(conn, "clicks_incoming", rows)
    insert = text(
        f"INSERT INTO clicks ({', '.join(COLUMNS)}) "  # noqa: S608 - fixed column names
        f"SELECT {', '.join(COLUMNS)} FROM clicks_incoming "
        "ON CONFLICT (id, occurred_at) DO NOTHING"
    )
    try:
        with conn.begin_nested():
            conn.execute(insert)
    except IntegrityError as exc:  # a batch seen before, with a month not yet created
        if not _missing_partition(exc):
            raise
        ensure_partitions(conn, months)
        conn.execute(insert)
    conn.execute(text("TRUNCATE clicks_incoming"))


def _copy(conn: Connection, table: str, rows: Sequence[dict[str, Any]]) -> None:
    raw = conn.connection.driver_connection
    assert raw is not None
    sql = f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN"
    with raw.cursor() as cur, cur.copy(sql) as copy:
        for row in rows:
            copy.write_row([row[c] for c in COLUMNS])


class PostgresClicks:
    @staticmethod
    def is_partitioned(conn: Connection) -> bool:
        return bool(
            conn.scalar(
                text(
                    "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table "
                    "WHERE partrelid = 'clicks'::regclass)"
                )
            )
        )

    @staticmethod
    def insert(session: Session, rows: Sequence[dict[str, Any]]) -> None:
        if len(rows) > 1:
            copy_clicks(session.connection(), rows)
        else:
            _insert_ignoring(session, rows)

    @staticmethod
    def write_batch(db: Database, rows: Sequence[dict[str, Any]]) -> None:
        """A batch in a transaction of its own (the click worker's write)."""
        if len(rows) > 1:
            with db.engine.begin() as conn:
                copy_clicks(conn, rows)
        else:
            with db.session() as session:
                _insert_ignoring(session, rows)


class SqliteClicks:
    @staticmethod
    def is_partitioned(conn: Connection) -> bool:
        return False  # one plain table

    @staticmethod
    def insert(session: Session, rows: Sequence[dict[str, Any]]) -> None:
        _insert_ignoring(session, rows)

    @staticmethod
    def write_batch(db: Database, rows: Sequence[dict[str, Any]]) -> None:
        """A batch in a transaction of its own (the click worker's write)."""
        with db.session() as session:
            _insert_ignoring(session, rows)


CLICKS: Variants[PostgresClicks | SqliteClicks] = Variants(
    postgresql=PostgresClicks(), sqlite=SqliteClicks()
)
