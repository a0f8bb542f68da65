"""Fault injection against real servers (docs/product.md §2 "Redirect": "nothing is lost if the
worker dies … or if Postgres is down for a while. If Redis is down the redirect still
works and the click is written another durable way").

Each test starts a Redis (and, where the database is the victim, a PostgreSQL cluster)
of its own on another port (tests/support/servers.py) and crashes, hangs or stops it in the
middle of traffic; the shared servers on 5432/6379 are never touched. Request latencies
are measured around the test client call; every wait is bounded.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import redis as redis_lib
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from service.clicks.ingest import GROUP, ClickWorker, ensure_group
from service.clicks.models import Click
from service.clicks.recorder import ClickRecord
from service.migrate import upgrade
from service.redirect.service import new_click_id
from tests.support.app import AFFTRACK, Api, new_link
from tests.support.outages import afftrack_app, drain, redirector, stream_ids, stream_of, svc
from tests.support.visitors import CLICK_ID
from tests.support.visitors import IPHONE_SAFARI as UA
from tests.support.waiting import wait_for

DESTINATION = "https://shop.example/spring?ref=bio&utm_"  # conftest's link, UTM merged in
SOCKET_TIMEOUT = 0.5  # service.app.make_redis, the web client
# A request that does not touch Redis at all: well under the socket timeout it would wait
# for if it did (half of it), with room for a loaded machine (2 cores shared with other
# tests measured 0.068 s once).
OPEN_BREAKER_BOUND = SOCKET_TIMEOUT / 2


# --- helpers ------------------------------------------------------------------------------


@dataclass
class Hit:
    status: int
    seconds: float
    headers: dict[str, str]
    click_id: str | None = None


@dataclass
class Traffic:
    """Redirects sent by a test: what came back, how long each took."""

    api: Api
    hits: list[Hit] = field(default_factory=list)

    def follow(self, code: str) -> Hit:
        n = len(self.hits)
        started = time.perf_counter()
        r = self.api.client.get(
            f"/r/{code}",
            headers={"User-Agent": UA},
            environ_base={"REMOTE_ADDR": f"198.51.100.{n % 250 + 1}"},
        )
        seconds = time.perf_counter() - started
        hit = Hit(r.status_code, seconds, dict(r.headers))
        if r.status_code == 302:
            location = r.headers["Location"]
            (hit.click_id,) = parse_qs(urlsplit(location).query)["aff_click"]
            assert CLICK_ID.fullmatch(hit.click_id), location
        r.close()
        self.hits.append(hit)
        return hit

    def redirect(self, code: str, *, within: float) -> Hit:
        """Follow ``code``; it must answer 302 to the destination within ``within`` s."""
        hit = self.follow(code)
        assert hit.status == 302, hit
        assert hit.headers["Location"].startswith(DESTINATION), hit.headers["Location"]
        assert hit.seconds < within, f"{hit.seconds:.3f}s > {within}s"
        return hit

    @property
    def click_ids(self) -> list[str]:
        return [h.click_id for h in self.hits if h.click_id is not None]


def record(name: str, hits: list[Hit]) -> None:
    """Print the latencies (seen with ``pytest -s``)."""
    print(f"[timing] {name}: {[round(h.seconds, 4) for h in hits]}")


def clicks_of(app: Flask, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Stored clicks among ``ids``, by id (a duplicated id would show in ``rows_of``)."""
    with svc(app).db.engine.connect() as conn:
        rows = conn.execute(select(Click.__table__).where(Click.id.in_(ids))).mappings().all()
    return {row["id"]: dict(row) for row in rows}


def row_counts(app: Flask, link_id: str) -> tuple[int, int]:
    """(rows, distinct click ids) of one link."""
    with svc(app).db.engine.connect() as conn:
        total, distinct = conn.execute(
            select(func.count(), func.count(Click.id.distinct())).where(Click.link_id == link_id)
        ).one()
    return int(total), int(distinct)


def pending(redis: redis_lib.Redis, stream: str) -> int:
    ensure_group(redis, stream)
    return int(redis.xpending(stream, GROUP)["pending"])


def assert_exactly_once(app: Flask, link: dict, traffic: Traffic) -> None:
    """Every 302 of the test is one stored click of the link, nothing else; the stream
    is empty and nothing is pending."""
    ids = traffic.click_ids
    assert len(set(ids)) == len(ids)  # a fresh aff_click each time
    assert row_counts(app, link["id"]) == (len(ids), len(ids))
    stored = clicks_of(app, ids)
    assert set(stored) == set(ids)
    assert {row["link_id"] for row in stored.values()} == {link["id"]}
    assert {row["outcome"] for row in stored.values()} == {"redirect"}
    assert svc(app).redis.xlen(stream_of(app)) == 0
    assert pending(svc(app).redis, stream_of(app)) == 0


# --- 1. Redis crashes mid-traffic ------------------------------------------------------------


def test_redis_killed_mid_traffic_redirects_write_clicks_directly_then_return_to_redis(
    pg_url, durable_redis
):
    with afftrack_app(pg_url, durable_redis.url, empty=True) as api:
        app, traffic = api.app, Traffic(api)
        breaker = redirector(app).breaker
        link = new_link(api)
        warm = traffic.redirect(link["code"], within=1.0)  # fills the Redis link cache
        assert stream_ids(app) == [warm.click_id]

        durable_redis.kill()
        outage = [traffic.redirect(link["code"], within=0.7) for _ in range(2)]
        assert breaker.state == "open"  # two failures in a row
        opened = [traffic.redirect(link["code"], within=OPEN_BREAKER_BOUND) for _ in range(10)]
        record("redis killed: failing requests", outage)
        record("redis killed: breaker open", opened)

        # Already in the database, written by the request itself (no stream, no worker).
        direct = [h.click_id for h in outage + opened]
        stored = clicks_of(app, direct)
        assert set(stored) == set(direct)
        assert {row["link_id"] for row in stored.values()} == {link["id"]}
        assert {row["outcome"] for row in stored.values()} == {"redirect"}
        assert all(row["is_unique"] for row in stored.values())  # distinct visitors

        durable_redis.start()
        assert stream_ids(app) == [warm.click_id]  # the queued click survived the crash
        # Closing the breaker is what its successful half-open trial does after the
        # reset timeout (tested on its own below), without waiting 5 s here.
        breaker.close()
        back = [traffic.redirect(link["code"], within=OPEN_BREAKER_BOUND) for _ in range(3)]
        record("redis back: through the stream", back)
        assert stream_ids(app) == [warm.click_id] + [h.click_id for h in back]
        assert clicks_of(app, [h.click_id for h in back]) == {}  # not written directly

        assert f"{len(back) + 1} clicks written" in drain(app)
        assert_exactly_once(app, link, traffic)


def test_redis_hung_costs_one_socket_timeout_per_request_until_the_breaker_opens(
    pg_url, redis_server
):
    with afftrack_app(pg_url, redis_server.url, empty=True) as api:
        app, traffic = api.app, Traffic(api)
        breaker = redirector(app).breaker
        link = new_link(api)
        warm = traffic.redirect(link["code"], within=1.0)

        redis_server.pause()
        try:
            hung = [traffic.redirect(link["code"], within=1.0) for _ in range(2)]
            assert breaker.state == "open"
            opened = [traffic.redirect(link["code"], within=OPEN_BREAKER_BOUND) for _ in range(10)]
            # Each of the first two waited for the socket timeout, not much longer.
            assert all(h.seconds >= SOCKET_TIMEOUT * 0.9 for h in hung), hung
        finally:
            redis_server.resume()
        record("redis hung: timed-out requests", hung)
        record("redis hung: breaker open", opened)
        direct = [h.click_id for h in hung + opened]
        assert set(clicks_of(app, direct)) == set(direct)

        # A script sent before the hang may run once the server resumes (its bytes were
        # already in the socket): then a click written directly is queued as well, and
        # must still be stored once.
        late = [cid for cid in stream_ids(app) if cid != warm.click_id]
        print(f"[fault] entries queued late by timed-out requests: {len(late)}")
        assert set(late) <= set(direct)

        breaker.close()  # as its half-open trial would (tested on its own below)
        back = [traffic.redirect(link["code"], within=OPEN_BREAKER_BOUND) for _ in range(3)]
        assert stream_ids(app)[-3:] == [h.click_id for h in back]
        drain(app)
        assert_exactly_once(app, link, traffic)


@pytest.mark.parametrize("fault", ["killed", "hung"])
def test_redirects_return_to_redis_once_the_breaker_reset_timeout_has_elapsed(
    pg_url, redis_server, fault
):
    with afftrack_app(pg_url, redis_server.url, empty=True) as api:
        app, traffic = api.app, Traffic(api)
        breaker = redirector(app).breaker
        breaker.reset_timeout = 0.2
        link = new_link(api)
        traffic.redirect(link["code"], within=1.0)
        if fault == "killed":
            redis_server.kill()
        else:
            redis_server.pause()
        try:
            for _ in range(3):
                traffic.redirect(link["code"], within=1.0)
            assert breaker.state == "open"
        finally:
            if fault == "killed":
                redis_server.start()
            else:
                redis_server.resume()
        queued = svc(app).redis.xlen(stream_of(app))
        time.sleep(breaker.reset_timeout + 0.1)

        # Redis is back and the reset timeout has passed: one trial request goes to Redis
        # (half-open), succeeds, and closes the breaker.
        for _ in range(5):
            traffic.redirect(link["code"], within=1.0)
        assert svc(app).redis.xlen(stream_of(app)) > queued, "no redirect went through Redis"
        assert breaker.state == "closed"


# --- 3. PostgreSQL down ------------------------------------------------------------------------


def test_postgres_down_cached_links_redirect_and_clicks_wait_in_the_stream(
    pg_cluster, redis_server
):
    url = pg_cluster.create_database("afftrack")
    upgrade(url)
    with afftrack_app(url, redis_server.url, empty=False) as api:
        app, traffic = api.app, Traffic(api)
        redis, stream = svc(app).redis, stream_of(app)
        link = new_link(api)
        uncached = new_link(api)  # real, never followed: not in the cache
        warm = traffic.redirect(link["code"], within=1.0)
        assert traffic.follow("NoSuchCodeCached").status == 404  # now cached as unknown

        pg_cluster.stop("immediate")
        down = []
        for n in range(10):
            down.append(traffic.redirect(link["code"], within=OPEN_BREAKER_BOUND))
            assert redis.xlen(stream) == n + 2  # piling up in the stream
        record("postgres down: cached redirects", down)

        # A code the cache does not know cannot be decided without the database.
        undecided = [traffic.follow(uncached["code"]), traffic.follow("NoSuchCodeEver1")]
        for hit in undecided:
            assert hit.status == 503, hit
            assert hit.headers["Retry-After"] == "5"
            assert hit.headers["Cache-Control"] == "no-store"
            assert hit.seconds < 0.7
        record("postgres down: uncached codes (503)", undecided)
        assert traffic.follow("NoSuchCodeCached").status == 404  # negatively cached
        assert redirector(app).breaker.state == "closed"
        # Still serving (degraded): a load balancer must not take every process out.
        ready = api.client.get("/readyz")
        assert ready.status_code == 200 and ready.json["status"] == "degraded", ready.json
        assert ready.json["checks"]["database"].startswith("error")

        stuck = ClickWorker(svc(app).db, redis, stream, consumer="stuck", block_ms=10)
        with pytest.raises(OperationalError):
            stuck.step()
        assert redis.xlen(stream) == 11 and pending(redis, stream) == 11  # read, not acked

        pg_cluster.start()
        after = traffic.redirect(uncached["code"], within=1.0)  # decidable again
        assert stream_ids(app)[-1] == after.click_id
        # The same worker retries its own failed batch at once, not after claim_idle_ms.
        assert wait_for(lambda: _step_quietly(stuck), timeout=10, what="retry") == 11
        assert pending(redis, stream) == 0
        output = drain(app)
        assert "1 clicks written" in output, output
        ids = [warm.click_id, *(h.click_id for h in down)]
        assert row_counts(app, link["id"]) == (len(ids), len(ids))
        assert set(clicks_of(app, ids)) == set(ids)
        assert set(clicks_of(app, [after.click_id])) == {after.click_id}
        assert row_counts(app, uncached["id"]) == (1, 1)
        assert redis.xlen(stream) == 0 and pending(redis, stream) == 0


def _step_quietly(worker: ClickWorker) -> int:
    """One step; 0 while the restarted database still refuses connections."""
    try:
        return worker.step()
    except OperationalError:
        return 0


# --- 4. Redis and PostgreSQL down --------------------------------------------------------------


def _metric(api: Api, name: str) -> float:
    text = api.client.get("/metrics").get_data(as_text=True)
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert match, text
    return float(match.group(1))


def test_both_down_known_links_still_redirect_and_their_spooled_clicks_are_written_once_back(
    pg_cluster, redis_server
):
    url = pg_cluster.create_database("afftrack")
    upgrade(url)
    with afftrack_app(url, redis_server.url, empty=False) as api:
        app, traffic = api.app, Traffic(api)
        link = new_link(api)
        seen_via_redis = new_link(api)  # followed once through Redis only
        never = new_link(api)  # real, but this process never answered it
        traffic.redirect(link["code"], within=1.0)
        traffic.redirect(seen_via_redis["code"], within=1.0)
        drain(app)

        redis_server.kill()
        # Without Redis the link comes from the database, the click is written directly.
        direct = traffic.redirect(link["code"], within=0.7)
        assert set(clicks_of(app, [direct.click_id])) == {direct.click_id}

        pg_cluster.stop("immediate")
        lost_before = _metric(api, "afftrack_clicks_lost_total")
        both = [traffic.redirect(link["code"], within=0.7) for _ in range(5)]
        # Known from the last answer this process gave (through Redis), though neither
        # Redis nor the database can be asked now.
        stale = traffic.redirect(seen_via_redis["code"], within=0.7)
        assert redirector(app).breaker.state == "open"
        record("both down: spooled", both)
        assert _metric(api, "afftrack_clicks_lost_total") == lost_before
        assert _metric(api, 'afftrack_spool_records{kind="clicks"}') == len(both) + 1
        ready = api.client.get("/readyz").json
        assert ready["status"] == "degraded" and ready["checks"]["spool"]["clicks"]["records"] == 6

        # A code this process never answered cannot be decided.
        miss = traffic.follow(never["code"])
        assert miss.status == 503 and miss.headers["Retry-After"] == "5"
        assert traffic.follow("NoSuchCodeEver2").status == 503

        pg_cluster.start()  # Redis still down: the spool is written to the database
        spooled = [h.click_id for h in both]
        wait_for(
            lambda: len(clicks_of(app, [*spooled, stale.click_id])) == len(spooled) + 1,
            timeout=15,
            what="the spooled clicks in the database",
            poll=0.1,
        )
        wait_for(lambda: not svc(app).click_spool.files(), timeout=5, what="an empty spool")
        again = traffic.redirect(link["code"], within=0.7)
        ids = [direct.click_id, *spooled, again.click_id]
        assert row_counts(app, link["id"])[0] == 1 + len(ids)  # and the warm-up click
        assert set(clicks_of(app, ids)) == set(ids)
        assert row_counts(app, seen_via_redis["id"]) == (2, 2)
        assert _metric(api, "afftrack_clicks_lost_total") == lost_before


# --- 5. The worker killed mid-batch ------------------------------------------------------------

CLICKS = 50_000
BATCH = 2_000


def queue_clicks(redis: redis_lib.Redis, stream: str, link_id: str, count: int) -> set[str]:
    """``count`` clicks queued exactly as FOLLOW_LUA queues them: link_id, outcome,
    is_unique, then ClickRecord.stream_fields()."""
    ids: set[str] = set()
    start = datetime.now(UTC) - timedelta(minutes=5)
    pipe = redis.pipeline(transaction=False)
    for n in range(count):
        click = ClickRecord(
            id=new_click_id(),
            link_id=link_id,
            occurred_at=start + timedelta(milliseconds=n),
            ip_hash=hashlib.sha256(f"visitor-{n}".encode()).hexdigest(),
            user_agent=UA,
            referrer="https://l.instagram.com/" if n % 2 else None,
            country="DE" if n % 3 else None,
            is_bot=n % 10 == 0,
            bot_reason="http_library" if n % 10 == 0 else None,
            outcome="redirect",
        )
        ids.add(click.id)
        unique = not click.is_bot and n % 4 != 0
        flat = ["link_id", link_id, "outcome", "redirect", "is_unique", "1" if unique else "0"]
        flat += click.stream_fields()
        pipe.xadd(stream, dict(zip(flat[::2], flat[1::2], strict=True)))
        if len(pipe) >= 5_000:
            pipe.execute()
    pipe.execute()
    assert len(ids) == count
    return ids


def worker_env(pg_url: str, redis_url: str, stream: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AFFTRACK_", "PROMETHEUS"))}
    env.update(
        DATABASE_URL=pg_url,
        REDIS_URL=redis_url,
        AFFTRACK_CLICK_STREAM=stream,
        AFFTRACK_HASHIDS_SALT="fault-test-salt",
        AFFTRACK_IP_HASH_KEY="fault-test-ip-key",
        AFFTRACK_LOG_LEVEL="WARNING",
    )
    return env


def test_worker_killed_mid_batch_again_and_again_loses_and_duplicates_nothing(
    pg_url, redis_server, tmp_path
):
    with afftrack_app(pg_url, redis_server.url, empty=True) as api:
        app = api.app
        redis, stream = svc(app).redis, stream_of(app)
        link = new_link(api)
        started = time.perf_counter()
        ids = queue_clicks(redis, stream, link["id"], CLICKS)
        print(f"[timing] queued {CLICKS} clicks in {time.perf_counter() - started:.2f}s")
        env = worker_env(pg_url, redis_server.url, stream)
        log = tmp_path / "worker.log"

        def stored() -> int:
            return row_counts(app, link["id"])[0]

        dead_pending: dict[str, int] = {}
        written = 0
        # Killed after its first commit, then a few batches in, then later still; and
        # again later if no kill so far landed while it held a batch it had read (a kill
        # just after an acknowledgement finds nothing pending: timing, not a fault).
        targets = (1, 6 * BATCH, 14 * BATCH, 17 * BATCH, 19 * BATCH, 21 * BATCH)
        for n, target in enumerate(targets):
            if n >= 3 and sum(dead_pending.values()) > 0:
                break
            with log.open("ab") as out:
                proc = subprocess.Popen(
                    [AFFTRACK, "worker", "--batch-size", str(BATCH)],
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            try:
                goal = max(target, written + 1)
                wait_for(lambda goal=goal: stored() >= goal, 30, f"{goal} rows")
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
            assert proc.returncode == -signal.SIGKILL, log.read_text()
            now = stored()
            assert written < now < CLICKS, (written, now)
            written = now
            consumer = f"{socket.gethostname()}-{proc.pid}"
            for entry in redis.xpending(stream, GROUP)["consumers"]:
                if entry["name"] == consumer:
                    dead_pending[consumer] = int(entry["pending"])
            print(f"[fault] worker {proc.pid} killed at {now} rows; pending {dead_pending}")
        # At least one worker died holding a batch it had read but not acknowledged.
        assert sum(dead_pending.values()) > 0, dead_pending
        # Only what is stored was deleted (a kill between commit and XDEL leaves more).
        assert CLICKS - written <= redis.xlen(stream) <= CLICKS - written + 3 * BATCH

        started = time.perf_counter()
        drained = subprocess.run(
            [AFFTRACK, "worker", "--drain", "--batch-size", str(BATCH)],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        print(f"[timing] drain: {time.perf_counter() - started:.2f}s; {drained.stdout.strip()}")
        assert drained.returncode == 0, (drained.stdout, drained.stderr)
        assert "malformed" not in drained.stdout

        assert row_counts(app, link["id"]) == (CLICKS, CLICKS)
        with svc(app).db.engine.connect() as conn:
            assert set(conn.scalars(select(Click.id).where(Click.link_id == link["id"]))) == ids
        assert redis.xlen(stream) == 0
        assert pending(redis, stream) == 0


def test_entries_a_failed_read_left_pending_under_the_workers_name_are_written_at_its_next_step(
    pg_url, durable_redis
):
    """Redis shutting down can hand entries to a worker's XREADGROUP and never send the
    reply: they are pending under the worker's own name, which no other worker takes
    before claim_idle_ms. The worker's next step after the failed one writes them."""
    with afftrack_app(pg_url, durable_redis.url, empty=True) as api:
        app, traffic = api.app, Traffic(api)
        redis, stream = svc(app).redis, stream_of(app)
        live = ClickWorker(svc(app).db, redis, stream, consumer="live", block_ms=10)
        assert live.step() == 0  # nothing queued, nothing of its own pending
        hit = traffic.redirect(new_link(api)["code"], within=1.0)
        # What Redis did with the read it never answered: the entry is the worker's now.
        redis.xreadgroup(GROUP, "live", {stream: ">"}, count=10)
        durable_redis.stop()
        with pytest.raises(redis_lib.ConnectionError):
            live.step()
        durable_redis.start()
        assert live.step() == 1
        assert set(clicks_of(app, [hit.click_id])) == {hit.click_id}
        assert redis.xlen(stream) == 0 and pending(redis, stream) == 0
