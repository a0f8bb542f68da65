"""Following a short link: resolve the code, record the click, say where to go.

The common case is one Redis round trip (:data:`~service.redirect.cache.FOLLOW_LUA`):
the cached link is read, the click's uniqueness decided and the click appended to the
stream, atomically. A cache miss loads the link from the database and fills the cache.

When Redis fails, a circuit breaker stops asking it for a few seconds, so no request
waits on a dead Redis longer than one socket timeout; meanwhile links come from a small
in-process cache kept for seconds (or the database) and each click is written straight
to the database. Without Redis configured at all, every redirect asks the database.

When the database cannot take the click either, Redis is tried once more, then the
click goes to the process's spool (:mod:`service.redirect.recovery`) before the 302 is
sent; a link the database cannot be asked about is answered from the last copy this
process saw (stale beats a stranded visitor; only a code never seen gets a 503). While
anything is spooled or the breaker is open, a background thread watches for Redis and
the database to answer and moves the spooled clicks on.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from contextlib import suppress
from dataclasses import dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo

from cachetools import TTLCache
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import event, inspect
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from sqlalchemy.orm import Session, sessionmaker

from service import clock, metrics
from service.campaigns.models import Campaign
from service.clicks.bots import bot_reason
from service.clicks.identity import visitor_keys
from service.clicks.recorder import UNIQUE_WINDOW, ClickRecord, write_direct
from service.config import Settings
from service.db import Database
from service.influencers.models import Influencer
from service.links.models import Link
from service.links.service import CHANGED_CODES, codes_of, mark_changed
from service.redirect.breaker import Breaker
from service.redirect.cache import (
    FOLLOW_LUA,
    LinkCache,
    generation_key,
    link_key,
)
from service.redirect.recovery import ClickMover, click_record
from service.redirect.resolver import Target, resolve
from service.spool import Mover, Spool, SpoolError
from service.vocabulary import CODE_MAX_LENGTH, LINK_SOURCE

log = logging.getLogger(__name__)

# Links whose last answer a process keeps, to answer them while both stores are down.
MAX_STALE_LINKS = 100_000
# A half-open trial, the probe and the retry after a failed direct write wait this long.
QUICK_TIMEOUT_S = 0.1
# The background probe keeps watching Redis this long after the last degraded request.
PROBE_FOR_S = 30.0
_WINDOW_SECONDS = str(int(UNIQUE_WINDOW.total_seconds()))
_QUEUED = metrics.CLICKS_QUEUED
_FALLBACKS = metrics.REDIS_FALLBACKS


def unreachable(exc: SQLAlchemyError) -> bool:
    """Whether an error says the database cannot be reached (not that it refused a row):
    only that opens its breaker."""
    return isinstance(exc, OperationalError | InterfaceError | SATimeoutError) or bool(
        getattr(exc, "connection_invalidated", False)
    )


class DatabaseAway(SQLAlchemyError):
    """The database failed moments ago: not asked again until its breaker lets a trial."""


@dataclass(slots=True)
class Visit:
    """What the redirect needs to know about the request."""

    method: str
    user_agent: str
    address: str
    referrer: str | None = None
    country: str | None = None
    purpose: str | None = None  # Sec-Purpose / Purpose / X-Purpose / X-Moz, joined
    source: str = LINK_SOURCE  # "qr" when opened through the link's QR code


@dataclass(slots=True)
class Answer:
    status: int  # 302, 404 or 503
    outcome: str  # redirect, fallback, not_found, unavailable
    location: str | None = None
    click_id: str | None = None


NOT_FOUND = Answer(404, "not_found")
UNAVAILABLE = Answer(503, "unavailable")


def new_click_id() -> str:
    """Short and unguessable: 96 random bits, 16 URL-safe characters."""
    return secrets.token_urlsafe(12)


class Redirector:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        redis: Redis | None,
        *,
        breaker_reset_s: float = 5.0,
        local_ttl_s: float = 5.0,
        spool: Spool | None = None,
        mover: Mover | None = None,
    ) -> None:
        self.db = db
        self.redis = redis
        self.stream = settings.click_stream
        self.click_param = settings.click_param
        self.ip_key = settings.ip_hash_key
        self.zone = ZoneInfo(settings.timezone)
        self.cache = LinkCache(redis) if redis is not None else None
        self._script = redis.register_script(FOLLOW_LUA) if redis is not None else None
        # Two failures in a row open the circuit; after breaker_reset_s one request tries.
        self.breaker = Breaker(fail_max=2, reset_timeout=breaker_reset_s)
        # The database's own: while it is down, a degraded redirect does not wait on a
        # refused connection twice per request; one request a second tries it again.
        self.db_breaker = Breaker(fail_max=1, reset_timeout=1.0)
        self._local: TTLCache[str, Target | None] = TTLCache(maxsize=20_000, ttl=local_ttl_s)
        self._local_lock = threading.Lock()
        # code → the last answer this process gave for it (a script result or a Target).
        self._stale: dict[str, Any] = {}
        self.quick = _quick_client(redis) if redis is not None else None
        self.clicks = ClickMover(
            db,
            redis,
            self.stream,
            settings.spool_path,
            fsync=settings.spool_fsync == "always",
            spool=spool,
        )
        self.mover = mover or Mover()
        self.mover.add("clicks", self.recover)
        self._degraded_at = 0.0

    # --- the request -----------------------------------------------------------------

    def follow(self, code: str, visit: Visit) -> Answer:
        if not code or len(code) > CODE_MAX_LENGTH:
            return NOT_FOUND
        now = clock.now_utc()
        today = now.astimezone(self.zone).date().isoformat()
        reason = bot_reason(visit.user_agent, method=visit.method, purpose=visit.purpose)
        digest, digest_before, seen_today, seen_yesterday = visitor_keys(
            self.ip_key, visit.address, visit.user_agent, now.date()
        )
        click = ClickRecord(
            id=new_click_id(),
            link_id="",
            occurred_at=now,
            ip_hash=digest,
            user_agent=visit.user_agent,
            referrer=visit.referrer,
            country=visit.country,
            is_bot=reason is not None,
            bot_reason=reason,
            outcome="",
            source=visit.source,
        )
        if self._script is not None and self.breaker.allow():
            args = [
                today,
                "1" if click.is_bot else "0",
                seen_today,
                seen_yesterday,
                _WINDOW_SECONDS,
                *click.stream_fields(),
            ]
            # A half-open trial waits a short timeout: Redis may well still be down.
            client = self.quick if self.breaker.tripped else None
            try:
                answer = self._follow_cached(code, click.id, args, client)
            except RedisError as exc:
                self.breaker.failure()
                self.mover.wake()  # watches for Redis to come back
                log.warning(
                    "redis unavailable; redirecting without it",
                    extra={"error_type": type(exc).__name__},
                )
            except SQLAlchemyError as exc:
                self.breaker.success()  # Redis answered; the database did not (a miss)
                return self._without_database(code, exc, click, today, (digest, digest_before))
            except BaseException:
                self.breaker.release()  # never leave a half-open trial taken
                raise
            else:
                self.breaker.success()
                if isinstance(answer, Answer):
                    return answer
                # The cache could not be filled (the link changed meanwhile): answer from
                # what was read and write the click directly — rare, and never lost.
                return self._serve(answer, click, today, (digest, digest_before))
        return self._follow_degraded(code, click, today, (digest, digest_before))

    def _follow_cached(
        self, code: str, click_id: str, args: list[str], client: Redis | None
    ) -> Answer | Target:
        assert self._script is not None and self.cache is not None
        keys = [link_key(code), self.stream, generation_key(code)]
        result = self._script(keys=keys, args=args, client=client)
        if result[0] == "miss":
            target = self._resolve(code, force=True)  # (only the database can say)
            stored = self.cache.store(code, target, result[1])
            if target is None:
                return NOT_FOUND
            if not stored:
                return target
            result = self._script(keys=keys, args=args, client=client)
            if result[0] in ("miss", "unknown"):  # changed again between fill and follow
                return target
        outcome = result[0]
        if outcome == "redirect":
            _QUEUED.inc()
            self._keep_stale(code, result)
            return Answer(302, outcome, result[2] + click_id + result[3], click_id)
        if outcome == "fallback":
            _QUEUED.inc()
            self._keep_stale(code, result)
            return Answer(302, outcome, result[2], click_id)
        return NOT_FOUND

    def _resolve(self, code: str, *, force: bool = False) -> Target | None:
        """The link from the database; the last copy of it is kept for an outage. While
        the database is known to be down (a breaker of its own), not even asked unless
        ``force``."""
        if not self.db_breaker.allow() and not force:
            raise DatabaseAway()
        try:
            with self.db.read_session() as session:
                target = resolve(session, code, self.click_param)
        except SQLAlchemyError as exc:
            if unreachable(exc):
                self.db_breaker.failure()
            raise
        except BaseException:
            self.db_breaker.release()
            raise
        self.db_breaker.success()
        if target is None:
            self._stale.pop(code, None)
        else:
            self._keep_stale(code, target)
        return target

    def _keep_stale(self, code: str, answer: Any) -> None:
        stale = self._stale
        stale[code] = answer
        if len(stale) > MAX_STALE_LINKS:
            # The code first kept goes first (another thread may have got there).
            with suppress(KeyError, RuntimeError, StopIteration):
                del stale[next(iter(stale))]

    def _stale_target(self, code: str) -> Target | None:
        """The last answer this process gave for ``code``, as a Target (None: never seen)."""
        seen = self._stale.get(code)
        if seen is None or isinstance(seen, Target):
            return seen
        if seen[0] == "redirect":  # [outcome, link id, head, tail]
            return Target(seen[1], seen[2], seen[3], "", True, "")
        return Target(seen[1], "", "", seen[2], False, "")  # [outcome, link id, url]

    def _follow_degraded(
        self, code: str, click: ClickRecord, today: str, seen_as: tuple[str, ...]
    ) -> Answer:
        _FALLBACKS.inc()
        self._degraded_at = time.monotonic()
        if self.redis is not None:
            self.mover.wake()  # watches for Redis to come back
        try:
            target = self._local_target(code)
        except SQLAlchemyError as exc:
            return self._without_database(code, exc, click, today, seen_as)
        if target is None:
            return NOT_FOUND
        return self._serve(target, click, today, seen_as)

    def _without_database(
        self,
        code: str,
        exc: SQLAlchemyError,
        click: ClickRecord,
        today: str,
        seen_as: tuple[str, ...],
    ) -> Answer:
        """The database could not say what ``code`` is: answer from the last copy this
        process saw; a code it never saw is asked of the database after all (its breaker
        notwithstanding: rare, and the only way to answer it), else 503."""
        target = self._stale_target(code)
        if target is None:
            if not isinstance(exc, DatabaseAway):
                return UNAVAILABLE
            try:
                target = self._resolve(code, force=True)
            except SQLAlchemyError:
                return UNAVAILABLE
            if target is None:
                return NOT_FOUND
        return self._serve(target, click, today, seen_as)

    def _serve(
        self, target: Target, click: ClickRecord, today: str, seen_as: tuple[str, ...]
    ) -> Answer:
        """Answer from ``target`` and write the click straight to the database."""
        live = target.live_on(today)
        click = replace(click, link_id=target.link_id, outcome="redirect" if live else "fallback")
        self._record_without_redis(click, seen_as)
        if live:
            return Answer(302, "redirect", target.location(click.id), click.id)
        return Answer(302, "fallback", target.fallback_url, click.id)

    def _local_target(self, code: str) -> Target | None:
        """The link from the in-process cache (only while Redis is down: it cannot be
        invalidated from other processes, so it is kept for seconds) or the database."""
        if self.redis is None:  # no Redis at all: the database (SQLite, local) each time
            return self._resolve(code)
        with self._local_lock:
            if code in self._local:
                return self._local[code]
        target = self._resolve(code)
        with self._local_lock:
            self._local[code] = target
        return target

    def _record_without_redis(self, click: ClickRecord, seen_as: tuple[str, ...]) -> None:
        why = "database unavailable"
        if self.db_breaker.allow():
            try:
                unique = write_direct(self.db, click, seen_as)
            except SQLAlchemyError as exc:
                if unreachable(exc):
                    self.db_breaker.failure()
                why = type(exc).__name__
            except BaseException:
                self.db_breaker.release()
                raise
            else:
                self.db_breaker.success()
                if unique and self.redis is not None:
                    self.clicks.remember_seen(click, seen_as)  # its key goes back into Redis later
                    self.mover.wake()
                return
            # The database refused it just now: Redis once more, briefly, then the spool.
            if self._retry_redis(click, seen_as):
                return
        elif not self.breaker.tripped and self._retry_redis(click, seen_as):
            return  # (the database is away but Redis answers: a cache fill had failed)
        self._spool(click, seen_as, why)

    def _retry_redis(self, click: ClickRecord, seen_as: tuple[str, ...]) -> bool:
        """Try Redis once (with a short timeout) for a click the database did not take."""
        if self.quick is None:
            return False
        try:
            self.clicks.to_redis([click_record(click, seen_as)], client=self.quick)
        except RedisError:
            return False
        self.breaker.close()
        _QUEUED.inc()
        return True

    def _spool(self, click: ClickRecord, seen_as: tuple[str, ...], why: str) -> None:
        try:
            self.clicks.keep(click, seen_as)
        except SpoolError as exc:
            metrics.CLICKS_LOST.inc()
            log.error(
                "redis, the database and the spool all failed; click lost",
                extra={"error_type": why, "spool_error": str(exc), "link_id": click.link_id},
            )
            return
        self.mover.wake()

    # --- coming back ----------------------------------------------------------------

    def recover(self) -> bool:
        """The background job: learn that Redis or the database answers again (closing
        its breaker), move spooled clicks on. Returns whether there is still something
        to watch or move."""
        busy = False
        watching = time.monotonic() - self._degraded_at < PROBE_FOR_S
        if self.redis is not None and self.breaker.tripped:
            if self._redis_answers():
                self.breaker.close()
                log.info("redis answers again; redirects use it")
            elif watching:
                busy = True
        if self.db_breaker.tripped:
            if self._database_answers():
                self.db_breaker.close()
                log.info("the database answers again; redirects use it")
            elif watching:
                busy = True
        if self.clicks.waiting():
            busy = True
            # With both still away, only the probes run (a drain would fail and slow
            # the next round down); they say when either answers.
            if not (self.breaker.tripped and self.db_breaker.tripped):
                self.clicks.drain(redis_up=not self.breaker.tripped)
        return busy

    def _database_answers(self) -> bool:
        try:
            with self.db.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except SQLAlchemyError:
            return False
        return True

    def _redis_answers(self) -> bool:
        assert self.quick is not None
        try:
            return bool(self.quick.ping())
        except RedisError:
            return False

    def forget(self, codes: set[str]) -> None:
        """Drop these codes from both caches (their link, campaign or influencer changed)."""
        with self._local_lock:
            for code in codes:
                self._local.pop(code, None)
                self._stale.pop(code, None)
        if self.cache is not None:
            self.cache.invalidate(codes)


def _quick_client(redis: Redis) -> Redis:
    """The same Redis with short timeouts, for trials and probes (its own connections)."""
    kwargs = dict(redis.connection_pool.connection_kwargs)
    kwargs.update(socket_timeout=QUICK_TIMEOUT_S, socket_connect_timeout=QUICK_TIMEOUT_S)
    pool = redis.connection_pool.__class__(
        connection_class=redis.connection_pool.connection_class, max_connections=8, **kwargs
    )
    return Redis(connection_pool=pool)


# What a cached redirect is made of: a change to any of these drops the cached links.
_LINK_FIELDS = ("code", "destination", "status", "platform", "partnership_id")
_CAMPAIGN_FIELDS = ("slug", "utm_medium", "fallback_url", "ends_on")
_INFLUENCER_FIELDS = ("handle",)


def _changed(obj: object, names: tuple[str, ...]) -> bool:
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in names)


def watch_changes(sessions: sessionmaker[Session], redirector: Redirector) -> None:
    """Forget cached links after any commit that changes what their redirect does:
    a new or deleted link (a new code may be cached as unknown), a link, its campaign or
    its influencer changed — through the API, the CLI or any code using these ORM
    sessions. Bulk ``update()``/``delete()`` statements bypass this (none exist); the
    cache's TTL bounds what they could leave stale."""

    def before_flush(session: Session, _context: object, _instances: object) -> None:
        codes: set[str] = set()
        with session.no_autoflush:
            for obj in (*session.new, *session.deleted, *session.dirty):
                if isinstance(obj, Link) and (
                    obj in session.new or obj in session.deleted or _changed(obj, _LINK_FIELDS)
                ):
                    codes.add(obj.code)
                    history = inspect(obj).attrs["code"].history
                    codes.update(c for c in history.deleted if c)
                elif isinstance(obj, Campaign) and _changed(obj, _CAMPAIGN_FIELDS):
                    codes.update(codes_of(session, campaign_id=obj.id))
                elif isinstance(obj, Influencer) and _changed(obj, _INFLUENCER_FIELDS):
                    codes.update(codes_of(session, influencer_id=obj.id))
        if codes:
            # Kept until a commit; after a rollback, forgetting them anyway is harmless.
            mark_changed(session, codes)

    def after_commit(session: Session) -> None:
        codes = session.info.pop(CHANGED_CODES, None)
        if codes:
            redirector.forget(codes)

    event.listen(sessions, "before_flush", before_flush)
    event.listen(sessions, "after_commit", after_commit)
