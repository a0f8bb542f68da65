"""Following a short link: resolve the code, record the click, say where to go.

The common case is one Redis round trip (:data:`~service.redirect.cache.FOLLOW_LUA`):
the cached link is read, the click's uniqueness decided and the click appended to the
stream, atomically. A cache miss loads the link from the database and fills the cache.

When Redis fails, a circuit breaker stops asking it for a few seconds, so no request
waits on a dead Redis longer than one socket timeout; meanwhile links come from a small
in-process cache kept for seconds (or the database) and each click is written straight
to the database. Without Redis configured at all, every redirect asks the database.
When the database is down too, the redirect still answers from the in-process cache,
but that click is lost (counted in ``afftrack_clicks_lost_total`` and logged).
"""

from __future__ import annotations

import logging
import secrets
import threading
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from cachetools import TTLCache
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import event, inspect
from sqlalchemy.exc import SQLAlchemyError
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
from service.redirect.resolver import Target, resolve

log = logging.getLogger(__name__)

MAX_CODE_LENGTH = 64
_WINDOW_SECONDS = str(int(UNIQUE_WINDOW.total_seconds()))
_QUEUED = metrics.CLICKS_QUEUED
_FALLBACKS = metrics.REDIS_FALLBACKS


@dataclass(slots=True)
class Visit:
    """What the redirect needs to know about the request."""

    method: str
    user_agent: str
    address: str
    referrer: str | None = None
    country: str | None = None
    purpose: str | None = None  # Sec-Purpose / Purpose / X-Purpose / X-Moz, joined


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
        self._local: TTLCache[str, Target | None] = TTLCache(maxsize=20_000, ttl=local_ttl_s)
        self._local_lock = threading.Lock()

    # --- the request -----------------------------------------------------------------

    def follow(self, code: str, visit: Visit) -> Answer:
        if not code or len(code) > MAX_CODE_LENGTH:
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
            try:
                answer = self._follow_cached(code, click.id, args)
            except RedisError as exc:
                self.breaker.failure()
                log.warning(
                    "redis unavailable; redirecting without it",
                    extra={"error_type": type(exc).__name__},
                )
            except SQLAlchemyError:
                self.breaker.success()  # Redis answered; the database did not
                return UNAVAILABLE  # a cache miss while the database is down
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

    def _follow_cached(self, code: str, click_id: str, args: list[str]) -> Answer | Target:
        assert self._script is not None and self.cache is not None
        keys = [link_key(code), self.stream, generation_key(code)]
        result = self._script(keys=keys, args=args)
        if result[0] == "miss":
            with self.db.read_session() as session:
                target = resolve(session, code, self.click_param)
            stored = self.cache.store(code, target, result[1])
            if target is None:
                return NOT_FOUND
            if not stored:
                return target
            result = self._script(keys=keys, args=args)
            if result[0] in ("miss", "unknown"):  # changed again between fill and follow
                return target
        outcome = result[0]
        if outcome == "redirect":
            _QUEUED.inc()
            return Answer(302, outcome, result[2] + click_id + result[3], click_id)
        if outcome == "fallback":
            _QUEUED.inc()
            return Answer(302, outcome, result[2], click_id)
        return NOT_FOUND

    def _follow_degraded(
        self, code: str, click: ClickRecord, today: str, seen_as: tuple[str, ...]
    ) -> Answer:
        _FALLBACKS.inc()
        try:
            target = self._local_target(code)
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
            with self.db.read_session() as session:
                return resolve(session, code, self.click_param)
        with self._local_lock:
            if code in self._local:
                return self._local[code]
        with self.db.read_session() as session:
            target = resolve(session, code, self.click_param)
        with self._local_lock:
            self._local[code] = target
        return target

    def _record_without_redis(self, click: ClickRecord, seen_as: tuple[str, ...]) -> None:
        try:
            write_direct(self.db, click, seen_as)
        except SQLAlchemyError as exc:
            metrics.CLICKS_LOST.inc()
            log.error(
                "redis and the database are both unavailable; click lost",
                extra={"error_type": type(exc).__name__, "link_id": click.link_id},
            )

    def forget(self, codes: set[str]) -> None:
        """Drop these codes from both caches (their link, campaign or influencer changed)."""
        with self._local_lock:
            for code in codes:
                self._local.pop(code, None)
        if self.cache is not None:
            self.cache.invalidate(codes)


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
