"""Unique clicks across Redis outages (docs/product.md §2 "Unique clicks"): a visitor
counted unique while Redis was away is not counted again within 24 h once it is back,
and a visitor Redis counted is not counted again while it is away.

Redis decides uniqueness with a key per link and visitor (``afftrack:uniq:…``, 24 h);
without Redis a click is written straight to the database (or spooled when the database
is down too) and decided by a query. Each test runs a Redis of its own with an fsync'd
append-only file (a restart keeps its keys and stream, as deploy/compose.yaml runs it),
stops and starts it, and PostgreSQL too where both are down (tests/support/servers.py).

The clock is frozen; Redis counts its keys' lives in real time, so :func:`later` moves
both (it shortens every uniqueness key's time to live by what the clock moved). After
each story ``click_daily`` and ``click_monthly`` must still equal counting the clicks.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from sqlalchemy import select, text

from service import clock
from service.clicks.identity import visitor_keys
from service.clicks.models import Click
from service.migrate import upgrade
from service.redirect.cache import UNIQUE_PREFIX
from tests.support.app import Api, new_link
from tests.support.outages import afftrack_app, drain, redirector, stream_ids, svc
from tests.support.servers import (
    PostgresCluster,
    RedisServer,
)
from tests.support.visitors import IPHONE_SAFARI as UA
from tests.support.waiting import wait_for

WINDOW = timedelta(hours=24)


# --- helpers ------------------------------------------------------------------------------


@dataclass
class Visitor:
    """One person: the same address and browser on every click."""

    api: Api
    address: str

    def click(self, code: str) -> str:
        """Follow ``code`` (a 302 to the destination); the click id."""
        r = self.api.client.get(
            f"/r/{code}", headers={"User-Agent": UA}, environ_base={"REMOTE_ADDR": self.address}
        )
        assert r.status_code == 302, r.status_code
        (click_id,) = parse_qs(urlsplit(r.headers["Location"]).query)["aff_click"]
        r.close()
        return click_id

    def keys(self, link_id: str) -> tuple[str, str]:
        """This visitor's uniqueness keys in Redis for ``link_id``: today's, yesterday's."""
        key = svc(self.api.app).settings.ip_hash_key
        day = clock.now_utc().date()
        *_, today, yesterday = visitor_keys(key, self.address, UA, day)
        return f"{UNIQUE_PREFIX}{link_id}:{today}", f"{UNIQUE_PREFIX}{link_id}:{yesterday}"


def later(frozen: Any, server: RedisServer, delta: timedelta) -> None:
    """Move the frozen clock on by ``delta``, and Redis's uniqueness keys with it (their
    time to live shortened by as much; those it ends are deleted). Redis must be up."""
    assert server.running, "Redis is down: its keys cannot be aged"
    frozen.advance(delta)
    client = server.client()
    try:
        cut = int(delta.total_seconds() * 1000)
        for key in client.scan_iter(f"{UNIQUE_PREFIX}*"):
            left = client.pttl(key)
            if left > cut:
                client.pexpire(key, left - cut)
            else:
                client.delete(key)
    finally:
        client.close()


def ttl(server: RedisServer, key: str) -> int:
    client = server.client()
    try:
        return int(client.ttl(key))
    finally:
        client.close()


def redis_back(app: Flask) -> None:
    """Wait until the process's background probe has found Redis again (the breaker
    closed) and moved on everything it kept: spooled clicks and visitors' keys."""
    clicks = redirector(app).clicks
    wait_for(
        lambda: (
            not redirector(app).breaker.tripped
            and not clicks.spool.files()
            and not clicks.seen.files()
        ),
        15,
        "Redis back and the spools empty",
    )


def open_breaker(app: Flask, bystander: Visitor, code: str) -> None:
    """Redis is down: another visitor's two clicks open the breaker (written directly)."""
    for _ in range(2):
        bystander.click(code)
    assert redirector(app).breaker.tripped


def unique(app: Flask, ids: list[str]) -> list[bool | None]:
    """``is_unique`` of each click as stored (None: not in the database)."""
    with svc(app).db.engine.connect() as conn:
        rows = dict(conn.execute(select(Click.id, Click.is_unique).where(Click.id.in_(ids))).all())
    return [None if i not in rows else bool(rows[i]) for i in ids]


def _day(value: Any) -> date:
    if isinstance(value, str):  # SQLite
        value = datetime.fromisoformat(value)
    return (value if value.tzinfo is None else value.astimezone(UTC)).date()


def assert_roll_ups_count_the_clicks(app: Flask, link_ids: list[str]) -> None:
    """click_daily and click_monthly of these links equal counting their clicks."""
    mine = ", ".join(f"'{i}'" for i in link_ids)
    with svc(app).db.engine.connect() as conn:
        clicks = conn.execute(
            text(
                "SELECT link_id, occurred_at, is_bot, is_unique FROM clicks "
                f"WHERE link_id IN ({mine})"
            )
        ).all()
        stored = {
            grain: {
                (r[0], str(r[1])): (int(r[2]), int(r[3]), int(r[4]))
                for r in conn.execute(
                    text(
                        "SELECT link_id, day, clicks, unique_clicks, bot_clicks "
                        f"FROM click_{grain} WHERE link_id IN ({mine})"
                    )
                )
            }
            for grain in ("daily", "monthly")
        }
    counted: dict[str, dict[tuple[str, str], list[int]]] = {"daily": {}, "monthly": {}}
    for link_id, occurred_at, is_bot, is_unique in clicks:
        day = _day(occurred_at)
        for grain, key in (("daily", day), ("monthly", day.replace(day=1))):
            c = counted[grain].setdefault((link_id, key.isoformat()), [0, 0, 0])
            c[0] += not is_bot
            c[1] += (not is_bot) and bool(is_unique)
            c[2] += bool(is_bot)
    for grain in ("daily", "monthly"):
        assert stored[grain] == {k: tuple(v) for k, v in counted[grain].items()}, grain


@contextmanager
def own_database_app(cluster: PostgresCluster, server: RedisServer) -> Iterator[Api]:
    """An app on a PostgreSQL cluster of the test's own, which the test may stop."""
    url = cluster.create_database("afftrack")
    upgrade(url)
    with afftrack_app(url, server.url, empty=False) as api:
        yield api


def people(api: Api) -> tuple[Visitor, Visitor]:
    """The visitor the test follows, and another one."""
    return Visitor(api, "203.0.113.7"), Visitor(api, "198.51.100.23")


def seconds(delta: timedelta) -> float:
    return delta.total_seconds()


# --- counted while Redis was away: not counted again once it is back ----------------------


def test_a_visitor_counted_while_redis_was_down_is_not_counted_again_within_24_h_of_it(
    pg_url, durable_redis, frozen
):
    frozen.set("2026-10-01T09:00:00Z")
    with afftrack_app(pg_url, durable_redis.url, empty=True) as api:
        app, (v, other) = api.app, people(api)
        link = new_link(api)
        key, _ = v.keys(link["id"])

        durable_redis.stop()
        open_breaker(app, other, link["code"])
        first = v.click(link["code"])
        assert unique(app, [first]) == [True]  # written directly, counted by the query
        seen = list(redirector(app).clicks.seen.records())  # its key, waiting for Redis
        assert first in [record["id"] for record in seen]
        frozen.advance(timedelta(hours=2))  # (Redis is down: nothing in it to age)

        durable_redis.start()
        redis_back(app)  # the background probe closed the breaker and put the key back
        left = ttl(durable_redis, key)  # for what is left of the 24 h: 22 h
        assert seconds(WINDOW - timedelta(hours=2)) - 60 < left <= seconds(WINDOW) - 7200
        redirector(app).clicks.seen_to_redis(seen)  # put back twice: the click's own key
        assert unique(app, [first]) == [True]

        again = v.click(link["code"])
        assert again in stream_ids(app)  # through Redis this time
        later(frozen, durable_redis, timedelta(hours=21, minutes=58))
        almost = v.click(link["code"])  # 23 h 58 min after the first: still a repeat
        later(frozen, durable_redis, timedelta(minutes=3))
        next_day = v.click(link["code"])  # 24 h 1 min after: unique again
        drain(app)
        assert unique(app, [first, again, almost, next_day]) == [True, False, False, True]
        assert_roll_ups_count_the_clicks(app, [link["id"]])


def test_a_visitor_whose_spooled_click_was_replayed_into_redis_is_not_counted_again(
    pg_cluster, durable_redis, frozen
):
    frozen.set("2026-10-01T09:00:00Z")
    with own_database_app(pg_cluster, durable_redis) as api:
        app, (v, other) = api.app, people(api)
        link = new_link(api)
        key, _ = v.keys(link["id"])
        other.click(link["code"])  # through Redis: the process knows the link from now on

        durable_redis.stop()
        pg_cluster.stop("immediate")
        first = v.click(link["code"])  # neither store answers: spooled before the 302
        assert [r["id"] for r in redirector(app).clicks.spool.records()] == [first]
        frozen.advance(timedelta(minutes=30))  # (Redis is down: nothing in it to age)

        durable_redis.start()  # the database still down
        redis_back(app)  # replayed into the stream: unique, its key kept for 23 h 30 min
        assert first in stream_ids(app)
        left = ttl(durable_redis, key)
        assert seconds(WINDOW - timedelta(minutes=30)) - 60 < left <= seconds(WINDOW) - 1800
        again = v.click(link["code"])
        assert again in stream_ids(app)

        pg_cluster.start()
        drain(app)
        assert unique(app, [first, again]) == [True, False]
        assert_roll_ups_count_the_clicks(app, [link["id"]])


def test_a_visitor_whose_spooled_click_went_to_the_database_is_not_counted_again_once_redis_is_back(
    pg_cluster, durable_redis, frozen
):
    frozen.set("2026-10-01T09:00:00Z")
    with own_database_app(pg_cluster, durable_redis) as api:
        app, (v, other) = api.app, people(api)
        link = new_link(api)
        key, _ = v.keys(link["id"])
        other.click(link["code"])  # through Redis: the process knows the link from now on
        clicks = redirector(app).clicks

        durable_redis.stop()
        pg_cluster.stop("immediate")
        first = v.click(link["code"])  # spooled
        pg_cluster.start()  # Redis still down: the spooled click goes to the database
        wait_for(
            lambda: unique(app, [first]) == [True] and not clicks.spool.files(),
            15,
            "the spooled click in the database",
        )
        assert [r["id"] for r in clicks.seen.records()] == [first]  # its key waits for Redis
        frozen.advance(timedelta(hours=1))

        durable_redis.start()
        redis_back(app)
        left = ttl(durable_redis, key)
        assert seconds(WINDOW - timedelta(hours=1)) - 60 < left <= seconds(WINDOW) - 3600
        again = v.click(link["code"])
        assert again in stream_ids(app)
        drain(app)
        assert unique(app, [first, again]) == [True, False]
        assert_roll_ups_count_the_clicks(app, [link["id"]])


def test_a_visitors_key_goes_back_into_redis_before_their_spooled_clicks_are_decided(
    pg_cluster, durable_redis, frozen
):
    frozen.set("2026-10-01T09:00:00Z")
    with own_database_app(pg_cluster, durable_redis) as api:
        app, (v, other) = api.app, people(api)
        link = new_link(api)
        other.click(link["code"])  # through Redis: the process knows the link from now on

        durable_redis.stop()
        first = v.click(link["code"])  # written directly: unique, its key kept for Redis
        assert unique(app, [first]) == [True]
        frozen.advance(timedelta(minutes=5))
        pg_cluster.stop("immediate")
        second = v.click(link["code"])  # spooled

        durable_redis.start()  # the database still down
        # The visitor's key first, then the spooled click, decided against it.
        redis_back(app)
        assert second in stream_ids(app)
        pg_cluster.start()
        drain(app)
        assert unique(app, [first, second]) == [True, False]
        assert_roll_ups_count_the_clicks(app, [link["id"]])


# --- counted by Redis: not counted again while it is away -----------------------------------


def test_a_visitor_redis_counted_and_the_worker_wrote_is_not_counted_again_while_redis_is_down(
    pg_url, durable_redis, frozen
):
    frozen.set("2026-10-01T09:00:00Z")
    with afftrack_app(pg_url, durable_redis.url, empty=True) as api:
        app, (v, other) = api.app, people(api)
        link = new_link(api)
        first = v.click(link["code"])
        drain(app)
        later(frozen, durable_redis, timedelta(hours=1))

        durable_redis.stop()
        open_breaker(app, other, link["code"])
        second = v.click(link["code"])  # written directly: the query finds the first
        assert unique(app, [first, second]) == [True, False]

        durable_redis.start()
        redis_back(app)
        drain(app)
        assert unique(app, [first, second]) == [True, False]
        assert_roll_ups_count_the_clicks(app, [link["id"]])


@pytest.mark.parametrize(
    "start",
    ["2026-10-01T09:00:00Z", "2026-10-01T23:30:00Z"],
    ids=["same-day", "across-midnight"],
)
def test_a_visitor_redis_counted_is_not_counted_again_while_it_is_down_before_the_worker_wrote_it(
    pg_url, durable_redis, frozen, start
):
    frozen.set(start)
    with afftrack_app(pg_url, durable_redis.url, empty=True) as api:
        app, (v, other) = api.app, people(api)
        link = new_link(api)
        key, _ = v.keys(link["id"])
        first = v.click(link["code"])  # counted by Redis, queued in the stream
        assert stream_ids(app) == [first]
        later(frozen, durable_redis, timedelta(hours=1))

        durable_redis.stop()  # the first click still in the stream, not yet written
        open_breaker(app, other, link["code"])
        second = v.click(link["code"])
        # The query could not see the first click: this one is counted for now...
        assert unique(app, [first, second]) == [None, True]

        durable_redis.start()
        redis_back(app)
        # ...until its key is put back and found already set, an hour before it: Redis
        # had counted the visitor first, so this click is not unique after all.
        assert unique(app, [second]) == [False]
        assert_roll_ups_count_the_clicks(app, [link["id"]])
        left = ttl(durable_redis, key)  # still the first click's key (after midnight,
        # yesterday's: the visitor's address hash changed with the day)
        assert seconds(WINDOW - timedelta(hours=1)) - 60 < left <= seconds(WINDOW) - 3600
        drain(app)
        assert unique(app, [first, second]) == [True, False]
        assert_roll_ups_count_the_clicks(app, [link["id"]])


def test_a_visitor_redis_counted_whose_next_click_was_spooled_then_written_is_not_counted_twice(
    pg_cluster, durable_redis, frozen
):
    frozen.set("2026-10-01T09:00:00Z")
    with own_database_app(pg_cluster, durable_redis) as api:
        app, (v, _other) = api.app, people(api)
        link = new_link(api)
        first = v.click(link["code"])  # through Redis; the process knows the link now
        later(frozen, durable_redis, timedelta(minutes=10))

        durable_redis.stop()
        pg_cluster.stop("immediate")
        second = v.click(link["code"])  # spooled
        pg_cluster.start()  # Redis still down: written to the database, counted for now
        wait_for(lambda: unique(app, [second]) == [True], 15, "the spooled click in the database")

        durable_redis.start()
        redis_back(app)
        assert unique(app, [second]) == [False]
        drain(app)
        assert unique(app, [first, second]) == [True, False]
        assert_roll_ups_count_the_clicks(app, [link["id"]])


def test_a_demotion_the_database_cannot_take_yet_is_made_once_it_answers(
    pg_cluster, durable_redis, frozen
):
    frozen.set("2026-10-01T09:00:00Z")
    with own_database_app(pg_cluster, durable_redis) as api:
        app, (v, other) = api.app, people(api)
        link = new_link(api)
        clicks = redirector(app).clicks
        first = v.click(link["code"])  # counted by Redis, queued in the stream
        later(frozen, durable_redis, timedelta(hours=1))

        durable_redis.stop()
        open_breaker(app, other, link["code"])
        second = v.click(link["code"])  # written directly, counted for now
        assert unique(app, [second]) == [True]
        pg_cluster.stop("immediate")

        durable_redis.start()  # the database still down: the demotion cannot be written
        wait_for(lambda: not redirector(app).breaker.tripped, 15, "the breaker closed")
        assert second in [record["id"] for record in clicks.seen.records()]  # kept

        pg_cluster.start()
        wait_for(lambda: not clicks.seen.files(), 15, "the seen spool drained")
        assert unique(app, [second]) == [False]
        drain(app)
        assert unique(app, [first, second]) == [True, False]
        assert_roll_ups_count_the_clicks(app, [link["id"]])
