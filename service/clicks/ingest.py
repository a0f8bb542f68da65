"""The click worker: Redis stream → PostgreSQL in batches, losing nothing.

A consumer group shares the stream among any number of workers. Each batch is inserted
idempotently (ON CONFLICT on the click id), committed, and only then acknowledged and
deleted from the stream. Entries left pending by a worker that died are reclaimed after
``claim_idle_ms``. If the database is down the batch stays pending and is retried.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from redis import Redis
from redis.exceptions import RedisError, ResponseError
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

from service import clock, metrics
from service.clicks.partitions import CLICKS, ensure_ahead
from service.clicks.recorder import row_from_fields
from service.db import Database

log = logging.getLogger(__name__)

GROUP = "afftrack-writers"


@dataclass
class WorkerStats:
    written: int = 0
    batches: int = 0
    dropped: int = 0


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def ensure_group(redis: Redis, stream: str) -> None:
    try:
        redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def stream_lag(redis: Redis, stream: str) -> int:
    """Entries not yet written: what the stream still holds (acked ones are deleted)."""
    return int(redis.xlen(stream))


def stream_status(redis: Redis, stream: str, now_ms: int) -> dict[str, int | float]:
    """Lag, in-flight entries and the age of the oldest unwritten click, in one trip."""
    pipe = redis.pipeline(transaction=False)
    pipe.xlen(stream)
    pipe.xrange(stream, count=1)
    pipe.xpending(stream, GROUP)
    try:
        length, oldest, pending = pipe.execute()
    except ResponseError:  # no group yet: nothing has been read
        length, oldest, pending = int(redis.xlen(stream)), redis.xrange(stream, count=1), {}
    age = 0.0
    if oldest:
        age = max(0.0, (now_ms - int(oldest[0][0].split("-")[0])) / 1000)
    return {
        "lag": int(length),
        "pending": int((pending or {}).get("pending", 0)),
        "oldest_age_seconds": round(age, 3),
    }


class ClickWorker:
    def __init__(
        self,
        db: Database,
        redis: Redis,
        stream: str,
        *,
        consumer: str | None = None,
        batch_size: int = 1000,
        block_ms: int = 1000,
        claim_idle_ms: int = 60_000,
        drain_claim_idle_ms: int = 2_000,
        on_written: Callable[[list[str]], object] | None = None,
        every_minute: Callable[[], object] | None = None,
    ) -> None:
        self.db = db
        self.clicks = CLICKS[db.flavour]  # the flavour's writes, chosen once
        self.redis = redis
        self.stream = stream
        self.consumer = consumer or consumer_name()
        self.batch_size = batch_size
        self.block_ms = block_ms
        self.claim_idle_ms = claim_idle_ms
        self.drain_claim_idle_ms = drain_claim_idle_ms
        # Called with the ids of each committed batch (late attribution of orders that
        # came while their click was still queued); its failures never stop the worker.
        self.on_written = on_written
        # Housekeeping that must not wait for clicks (e.g. the late-attribution sweep).
        self.every_minute = every_minute
        self._minute_done_at = time.monotonic()
        # The same connections, without redis-py's reply parsing for XREADGROUP.
        self._raw = Redis(connection_pool=redis.connection_pool)
        self._raw.response_callbacks.pop("XREADGROUP", None)
        self.stats = WorkerStats()
        self._partitions_checked_at = 0.0
        self._retry_own = True
        ensure_group(redis, stream)

    def ensure_partitions(self) -> list[str]:
        """Create this month's and the next two months' click partitions (PostgreSQL)."""
        with self.db.engine.begin() as conn:
            created = ensure_ahead(conn, clock.now_utc())
        if created:
            log.info("created click partitions", extra={"partitions": created})
        self._partitions_checked_at = time.monotonic()
        return created

    def _write(self, entries: list[tuple[str, dict[str, str]]]) -> None:
        rows, ids, bad = [], [], []
        for entry_id, fields in entries:
            try:
                rows.append(row_from_fields(fields))
                ids.append(entry_id)
            except (KeyError, ValueError):
                bad.append(entry_id)
        if rows:
            try:
                self._insert(rows)
            except (IntegrityError, DataError, psycopg.DataError, psycopg.IntegrityError):
                # One poisoned row (an unknown link, say) must not hold the batch back
                # forever: write the rows one by one and drop those the database refuses.
                good_rows, good_ids = [], []
                for entry_id, row in zip(ids, rows, strict=True):
                    try:
                        self._insert([row])
                        good_rows.append(row)
                        good_ids.append(entry_id)
                    except (IntegrityError, DataError, psycopg.DataError, psycopg.IntegrityError):
                        bad.append(entry_id)
                rows, ids = good_rows, good_ids
        if bad:
            log.error("dropping malformed click entries", extra={"count": len(bad)})
            self.stats.dropped += len(bad)
        done = ids + bad
        if done:
            # MULTI/EXEC: a worker killed while sending cannot leave entries acknowledged
            # but still in the stream (never read again, never deleted); either both
            # happen or the entries stay pending and are written again (idempotently).
            pipe = self.redis.pipeline(transaction=True)
            pipe.xack(self.stream, GROUP, *done)
            pipe.xdel(self.stream, *done)
            pipe.execute()
        self.stats.written += len(rows)
        self.stats.batches += 1
        metrics.CLICKS_WRITTEN.inc(len(rows))
        if rows and self.on_written is not None:
            try:
                self.on_written([str(row["id"]) for row in rows])
            except Exception:
                log.exception("after-write hook failed; the clicks are written")

    def _insert(self, rows: list[dict[str, object]]) -> None:
        self.clicks.write_batch(self.db, rows)

    def _reclaim(self, min_idle_ms: int) -> list[tuple[str, dict[str, str]]]:
        result = self.redis.xautoclaim(
            self.stream,
            GROUP,
            self.consumer,
            min_idle_time=min_idle_ms,
            start_id="0-0",
            count=self.batch_size,
        )
        return [(eid, fields) for eid, fields in result[1] if fields]

    def _read_new(self, block_ms: int | None, start: str = ">") -> list[tuple[str, dict[str, str]]]:
        """New entries (``start=">"``), or this consumer's own pending ones (``"0"``)."""
        args: list[str | int] = ["GROUP", GROUP, self.consumer, "COUNT", self.batch_size]
        if block_ms is not None and start == ">":
            args += ["BLOCK", block_ms]
        # The raw reply, turned into dicts here: redis-py's generic stream parsing costs
        # more than the rest of a click's trip to the database
        # (docs/BENCHMARKS.md#click-worker-drain).
        response = self._raw.execute_command("XREADGROUP", *args, "STREAMS", self.stream, start)
        if not response:
            return []
        # {stream: entries} (RESP3) or [[stream, entries]] (RESP2); one stream either way.
        streams = response.values() if isinstance(response, dict) else (e for _, e in response)
        return [
            (entry_id, dict(zip(it := iter(flat), it, strict=False)))
            for entries in streams
            for entry_id, flat in entries
            if flat
        ]

    def step(self, *, drain: bool = False) -> int:
        """One batch: reclaimed entries first, then new ones. Returns how many."""
        try:
            return self._step(drain)
        except Exception:
            # Still pending under our name: the next step writes them again first. Not
            # only after a failed write: a read whose reply was lost (Redis shutting down
            # after it had handed us the entries) leaves entries pending under our name
            # too, which nobody would otherwise take before claim_idle_ms.
            self._retry_own = True
            raise

    def _step(self, drain: bool) -> int:
        entries: list[tuple[str, dict[str, str]]] = []
        if self._retry_own:
            # A batch of ours failed (or we restarted under the same name): write our
            # own pending entries again now rather than after claim_idle_ms.
            entries = self._read_new(None, start="0")
            self._retry_own = bool(entries)
        if not entries:
            entries = self._reclaim(self.drain_claim_idle_ms if drain else self.claim_idle_ms)
        if not entries:
            entries = self._read_new(None if drain else self.block_ms)
        if entries:
            self._write(entries)
        return len(entries)

    def drain(self, progress: Callable[[int], None] | None = None) -> WorkerStats:
        """Write every queued click, then return.

        Entries another consumer holds are left to it while they are fresh (it is
        probably writing them right now) and taken over once idle for
        ``drain_claim_idle_ms`` (that consumer died); the drain ends when nothing is
        queued and nothing is pending.
        """
        while True:
            if self.step(drain=True):
                if progress:
                    progress(self.stats.written)
                continue
            if not self._pending():
                self._housekeeping(force=True)
                return self.stats
            time.sleep(0.05)

    def _housekeeping(self, *, force: bool = False) -> None:
        if self.every_minute is None:
            return
        if not force and time.monotonic() - self._minute_done_at < 60:
            return
        self._minute_done_at = time.monotonic()
        try:
            self.every_minute()
        except Exception:
            log.exception("worker housekeeping failed; will retry in a minute")

    def _pending(self) -> int:
        return int(self.redis.xpending(self.stream, GROUP).get("pending", 0))

    def run(self, should_stop: Callable[[], bool]) -> WorkerStats:
        backoff = 0.5
        while not should_stop():
            try:
                if time.monotonic() - self._partitions_checked_at > 3600:
                    self.ensure_partitions()
                self.step()
                metrics.STREAM_LAG.set(stream_lag(self.redis, self.stream))
                self._housekeeping()
                backoff = 0.5
            except (SQLAlchemyError, RedisError, psycopg.Error) as exc:
                # (psycopg errors come unwrapped from the COPY on the raw connection.)
                # The batch stays pending; step() retries it first once things are back.
                log.warning(
                    "click batch failed; retrying", extra={"error_type": type(exc).__name__}
                )
                time.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
        return self.stats
