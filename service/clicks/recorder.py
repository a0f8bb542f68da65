"""Recording a click: one Redis round trip to the stream, or straight to the database.

With Redis, a Lua script decides uniqueness (SET NX with a 24 h expiry) and appends the
click to the stream atomically. Without Redis — or when Redis fails — the click is
written to the database in the request, so it is never lost.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.orm import Session

from service import metrics
from service.clicks.identity import visitor_key
from service.clicks.models import Click
from service.db import Database, insert_ignore

log = logging.getLogger(__name__)

UNIQUE_WINDOW = timedelta(hours=24)

# KEYS[1] stream, KEYS[2] uniqueness key; ARGV[1] ttl, ARGV[2] is_bot, then field pairs.
_RECORD_LUA = """
local unique = '0'
if ARGV[2] == '0' then
  if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[1]) then unique = '1' end
end
local fields = {'is_unique', unique}
for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('XADD', KEYS[1], '*', unpack(fields))
return unique
"""


@dataclass(frozen=True)
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
    outcome: str

    def to_fields(self) -> dict[str, str]:
        out = {k: "" if v is None else str(v) for k, v in asdict(self).items()}
        out["occurred_at"] = self.occurred_at.isoformat()
        out["is_bot"] = "1" if self.is_bot else "0"
        return out


def row_from_fields(fields: dict[str, str]) -> dict[str, Any]:
    """A stream entry back into a ``clicks`` row (raises on a malformed entry)."""
    occurred_at = datetime.fromisoformat(fields["occurred_at"])
    if occurred_at.tzinfo is None:
        raise ValueError("click time without a zone")
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
    }


class ClickRecorder:
    def __init__(self, db: Database, redis: Redis | None, stream: str) -> None:
        self.db = db
        self.redis = redis
        self.stream = stream
        self._script = redis.register_script(_RECORD_LUA) if redis is not None else None

    def record(self, click: ClickRecord) -> None:
        if self._script is not None:
            try:
                self._script(
                    keys=[self.stream, self._unique_key(click)],
                    args=[
                        int(UNIQUE_WINDOW.total_seconds()),
                        "1" if click.is_bot else "0",
                        *_flatten(click.to_fields()),
                    ],
                )
                metrics.CLICKS_QUEUED.inc()
                return
            except RedisError as exc:
                log.warning(
                    "redis unavailable, writing click to the database",
                    extra={"error_type": type(exc).__name__},
                )
        self.write_direct(click)

    def write_direct(self, click: ClickRecord) -> None:
        with self.db.session() as session:
            row = row_from_fields(click.to_fields())
            row["is_unique"] = not click.is_bot and not _seen_recently(session, click)
            insert_ignore(session, Click.__table__, row, ["id"])
        metrics.CLICKS_WRITTEN.inc()

    @staticmethod
    def _unique_key(click: ClickRecord) -> str:
        return f"afftrack:uniq:{click.link_id}:{visitor_key(click.ip_hash, click.user_agent)}"


def _flatten(fields: dict[str, str]) -> list[str]:
    return [item for pair in fields.items() for item in pair]


def _seen_recently(session: Session, click: ClickRecord) -> bool:
    stmt = (
        select(Click.id)
        .where(
            Click.link_id == click.link_id,
            Click.ip_hash == click.ip_hash,
            Click.user_agent == click.user_agent,
            # Measured from the visitor's last *counted* click, as the Redis key does.
            Click.is_unique.is_(True),
            Click.occurred_at > click.occurred_at - UNIQUE_WINDOW,
        )
        .limit(1)
    )
    return session.scalar(stmt) is not None
