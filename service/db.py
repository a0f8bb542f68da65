"""Engine, sessions and the declarative base shared by every domain package.

One naming convention for all constraints, a UTC datetime column type, JSON that is
JSONB on PostgreSQL, sortable opaque string ids, and ``insert_ignore`` — the
insert-or-do-nothing that makes every retried write idempotent on both flavours.

The dialect seam. afftrack runs on PostgreSQL or on embedded SQLite, and where the two
need different SQL, the difference lives in one repository per concern holding both
variants side by side (:class:`Variants`: this module's own locks, inserts and ordering;
``service/exports/queries.py``, ``service/reports/queries.py``, the clicks' writes in
``service/clicks/partitions.py``). Which variant runs is decided once, at start-up:
:class:`Database` reads its engine's dialect when it builds the engine (the one place
that reads it, :func:`_flavour_of`) and hands the :class:`Flavour` to every session
(``Session.info``) and connection (the engine's execution options) it makes; a
repository picks its variant from that (``Variants.of(session)``) or is picked once by
a long-lived object (``Variants[db.flavour]``, the click worker). Domain code never
asks which database it is on. A session or connection on an engine not made by a
Database (a script's, a migration test's) gets the flavour of its dialect, read here.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import (
    JSON,
    DateTime,
    Engine,
    Executable,
    MetaData,
    Table,
    create_engine,
    event,
    func,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from service import clock

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    #: The audit trail's name for this kind of object (``service.audit``); ``None``
    #: (the default) leaves its changes out of the trail.
    __audit__: ClassVar[str | None] = None
    #: Fields a change of a part (filed under its whole, see :meth:`audit_subject`)
    #: records even when they did not change, so its whole's list says which part
    #: changed: a partnership's influencer, an objective's KPI.
    __audit_names__: ClassVar[tuple[str, ...]] = ()

    def audit_subject(self) -> tuple[str, str] | None:
        """The object whose audit list a change to this row belongs in: by default the
        row itself; a part (an influencer's platform account) names its whole."""
        if self.__audit__ is None:
            return None
        return self.__audit__, str(getattr(self, "id"))  # noqa: B009 - every audited model has one


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every dialect."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JSONType = JSON().with_variant(postgresql.JSONB(), "postgresql")


class Flavour(StrEnum):
    """The database afftrack runs on, as chosen when a :class:`Database` is built."""

    POSTGRESQL = "postgresql"
    SQLITE = "sqlite"


FLAVOUR = "afftrack_flavour"  # its key in Session.info and in execution options

T = TypeVar("T")


def _flavour_of(bind: Engine | Connection) -> Flavour:
    """The flavour of an engine's dialect: the one place that reads which it is."""
    name = bind.dialect.name
    try:
        return Flavour(name)
    except ValueError:
        raise RuntimeError(f"afftrack runs on PostgreSQL or SQLite, not {name}") from None


def flavour(where: Session | Connection) -> Flavour:
    """The flavour a session or connection works in: the one its :class:`Database`
    chose at start-up (see the module docstring)."""
    if isinstance(where, Session):
        chosen = where.info.get(FLAVOUR)
        if chosen is None:
            chosen = where.info[FLAVOUR] = _flavour_of(where.get_bind())
        return chosen
    chosen = where.get_execution_options().get(FLAVOUR)
    return chosen if chosen is not None else _flavour_of(where)


class Variants(Generic[T]):
    """One concern's repository in both flavours, side by side. ``of(session)`` (or a
    connection) is the variant of the flavour chosen at start-up; ``[flavour]`` picks
    one for an object that lives as long as its Database."""

    def __init__(self, *, postgresql: T, sqlite: T) -> None:
        self._by_flavour = {Flavour.POSTGRESQL: postgresql, Flavour.SQLITE: sqlite}

    def __getitem__(self, chosen: Flavour) -> T:
        return self._by_flavour[chosen]

    def of(self, where: Session | Connection) -> T:
        return self._by_flavour[flavour(where)]


_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
_DIGIT_PAIRS = [high + low for high in _CROCKFORD for low in _CROCKFORD]
_SHIFTS = range(120, -1, -10)


def jsonb_key_order(key: str) -> tuple[int, bytes]:
    """Where ``key`` goes among an object's keys as PostgreSQL keeps and prints ``jsonb``:
    shortest first, then bytewise."""
    return (len(key.encode()), key.encode())


def new_id(prefix: str) -> str:
    """``prefix_`` + 26 base32 chars: 48 bits of milliseconds then 80 random bits.

    Ids sort by creation time, which is what cursor paging relies on.
    """
    millis = int(clock.now_utc().timestamp() * 1000)
    return _encode(prefix, (millis << 80) | secrets.randbits(80))


def derived_id(prefix: str, at: datetime, key: str) -> str:
    """An id like :func:`new_id` for ``at`` whose random part comes from ``key``: the
    same key always gets the same id (a line planned before it is written)."""
    millis = int(at.timestamp() * 1000)
    tail = int.from_bytes(hashlib.sha256(key.encode()).digest()[:10], "big")
    return _encode(prefix, (millis << 80) | tail)


def _encode(prefix: str, number: int) -> str:
    """``number`` (under 2**130) as 26 Crockford base-32 digits, most significant
    first, two digits (10 bits) at a time (thousands of planned lines are named per
    export page)."""
    pairs = _DIGIT_PAIRS
    return f"{prefix}_" + "".join([pairs[(number >> shift) & 1023] for shift in _SHIFTS])


def advisory_lock(session: Session, name: str, wait_seconds: float = 5.0) -> bool:
    """Take the transaction-scoped PostgreSQL advisory lock called ``name``, waiting up
    to ``wait_seconds`` (tried with back-off, never blocking a connection forever).
    Returns False on time-out. SQLite: always True (BEGIN IMMEDIATE already serialises
    writers)."""
    return _CORE.of(session).advisory_lock(session, name, wait_seconds)


def lock_rows(session: Session, statement: Executable, wait_seconds: float = 5.0) -> bool:
    """Run ``statement`` (a ``SELECT … FOR [NO KEY] UPDATE``) waiting at most
    ``wait_seconds`` for its row locks. Returns False on time-out, after which the
    transaction can only be rolled back. SQLite: runs it (writers are serialised)."""
    return _CORE.of(session).lock_rows(session, statement, wait_seconds)


def bytewise(session: Session, column: Any) -> Any:
    """``column`` compared by code point whatever the database's collation, as Python
    sorts (for an order rows made in Python are merged into)."""
    return _CORE.of(session).bytewise(column)


class _PostgresCore:
    insert = staticmethod(postgresql.insert)

    @staticmethod
    def advisory_lock(session: Session, name: str, wait_seconds: float) -> bool:
        number = advisory_key(name)
        deadline = time.monotonic() + wait_seconds
        pause = 0.005
        while not session.scalar(select(func.pg_try_advisory_xact_lock(number))):
            if time.monotonic() > deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 2, 0.1)
        return True

    @staticmethod
    def lock_rows(session: Session, statement: Executable, wait_seconds: float) -> bool:
        timeout = f"{max(1, round(wait_seconds * 1000))}ms"
        session.execute(text("SELECT set_config('lock_timeout', :t, true)"), {"t": timeout})
        try:
            session.execute(statement)
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE:
                return False
            raise
        session.execute(text("SET LOCAL lock_timeout TO DEFAULT"))
        return True

    @staticmethod
    def bytewise(column: Any) -> Any:
        return column.collate("C")


class _SqliteCore:
    insert = staticmethod(sqlite.insert)

    @staticmethod
    def advisory_lock(session: Session, name: str, wait_seconds: float) -> bool:
        return True  # BEGIN IMMEDIATE already serialises writers

    @staticmethod
    def lock_rows(session: Session, statement: Executable, wait_seconds: float) -> bool:
        session.execute(statement)  # writers are serialised
        return True

    @staticmethod
    def bytewise(column: Any) -> Any:
        return column  # SQLite compares text bytewise (BINARY)


_CORE: Variants[_PostgresCore | _SqliteCore] = Variants(
    postgresql=_PostgresCore(), sqlite=_SqliteCore()
)

LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE for a lock_timeout


def advisory_key(name: str) -> int:
    """The signed 64-bit key of an advisory lock name."""
    digest = hashlib.sha256(name.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


ACTOR = "afftrack.actor"


def act_as(session: Session, actor: str | None) -> None:
    """Whose changes the session makes: an API key's id, or ``cli``; ``None``, the
    machine's own work, which the audit trail (``service.audit``) leaves out."""
    if actor is None:
        session.info.pop(ACTOR, None)
    else:
        session.info[ACTOR] = actor


def utcnow() -> datetime:
    return clock.now_utc()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"timeout": 30, "check_same_thread": False}, poolclass=NullPool
        )

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
            # pysqlite's own transaction handling off: the "begin" hook below owns it.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Take the write lock up front so concurrent writers queue instead of
            # failing on lock upgrade; that is what makes redelivery safe on SQLite.
            # Read-only work (Database.read_session) begins deferred and takes no lock.
            if conn.get_execution_options().get("afftrack_read_only"):
                conn.exec_driver_sql("BEGIN")
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    # A database host that hangs (rather than refusing) costs a request 3 s, not the
    # minutes of a TCP connect: the redirect's breakers count on failures being quick.
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=10,
        connect_args={"connect_timeout": 3},
    )


class Database:
    """An engine plus a session factory; one per app (and per worker process)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        # The dialect seam (module docstring): the flavour is chosen here, once, and
        # every session and connection of this Database carries it.
        self.flavour = _flavour_of(self.engine)
        self.engine.update_execution_options(**{FLAVOUR: self.flavour})
        info = {FLAVOUR: self.flavour}
        self.sessions = sessionmaker(self.engine, expire_on_commit=False, info=info)
        self._readers = sessionmaker(
            self.engine.execution_options(afftrack_read_only=True),
            expire_on_commit=False,
            info=info,
        )

    @property
    def dialect(self) -> str:
        """The flavour's name ("postgresql", "sqlite"), for tests and tools."""
        return self.flavour.value

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A session for reading only: on SQLite it takes no write lock, so a reader
        never waits behind (or holds up) a writer."""
        session = self._readers()
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def table_of(model: type[Base]) -> Table:
    """A model's table as a ``Table`` (SQLAlchemy types ``__table__`` as any FROM)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


def insert_ignore(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]] | Mapping[str, Any],
    conflict: Iterable[str],
    *,
    returning: Any = None,
    index_where: Any = None,
) -> list[Any]:
    """INSERT … ON CONFLICT (conflict) DO NOTHING, on PostgreSQL or SQLite.

    Returns the ``returning`` values of the rows actually inserted (empty when
    every row already existed).
    """
    stmt = (
        _CORE.of(session)
        .insert(table)
        .on_conflict_do_nothing(index_elements=list(conflict), index_where=index_where)
    )
    if isinstance(rows, Mapping):
        stmt, params = stmt.values(rows), None
    else:
        # Many rows: one cached statement, batched by SQLAlchemy's "insertmanyvalues"
        # (a statement of hundreds of VALUES compiled afresh costs more than the rows).
        params = list(rows)
        if not params:
            return []
    if returning is not None:
        return list(session.execute(stmt.returning(returning), params).scalars())
    session.execute(stmt, params)
    return []
