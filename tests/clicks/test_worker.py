"""The click worker (docs/product.md §2): Redis stream → PostgreSQL, losing nothing and writing
nothing twice. Against the real Redis and PostgreSQL; each app has its own stream."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from service.clicks.ingest import GROUP, ClickWorker, ensure_group
from service.clicks.models import Click
from service.db import Database
from tests.support.app import Api, new_link
from tests.support.click_stream import drain, redirect, services, stream_of, worker

DEAD_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5499/afftrack"  # nothing listens


def stored_ids(api: Api) -> list[str]:
    with services(api).db.engine.connect() as conn:
        return sorted(conn.execute(select(Click.id)).scalars())


def pending(api: Api) -> int:
    redis = services(api).redis
    ensure_group(redis, stream_of(api))
    return int(redis.xpending(stream_of(api), GROUP)["pending"])


def queued(api: Api) -> int:
    return int(services(api).redis.xlen(stream_of(api)))


def read_as_dead_consumer(api: Api, count: int) -> list[str]:
    """Another worker reads entries and dies before acknowledging them."""
    redis = services(api).redis
    ensure_group(redis, stream_of(api))
    response = redis.xreadgroup(GROUP, "dead-worker", {stream_of(api): ">"}, count=count)
    return [entry_id for _stream, entries in response for entry_id, _fields in entries]


def first_entry(api: Api) -> dict[str, str]:
    ((_entry_id, fields),) = services(api).redis.xrange(stream_of(api), count=1)
    return fields


# --------------------------------------------------------------------------------------------


def test_redirects_queue_clicks_and_drain_writes_them_all(pg_api):
    link = new_link(pg_api)
    ids = redirect(pg_api, link, times=5)
    assert queued(pg_api) == 5
    assert stored_ids(pg_api) == []  # not on the request's path

    output = drain(pg_api)
    assert "5 clicks written" in output
    assert stored_ids(pg_api) == sorted(ids)
    assert queued(pg_api) == 0 and pending(pg_api) == 0


def test_drain_in_small_batches(pg_api):
    ids = redirect(pg_api, new_link(pg_api), times=7)
    output = drain(pg_api, "--batch-size", "3")
    assert "7 clicks written in 3 batches" in output
    assert stored_ids(pg_api) == sorted(ids)
    assert queued(pg_api) == 0


def test_draining_twice_writes_nothing_more(pg_api):
    ids = redirect(pg_api, new_link(pg_api), times=3)
    drain(pg_api)
    assert "0 clicks written" in drain(pg_api)
    assert stored_ids(pg_api) == sorted(ids)


def test_an_empty_stream_drains_to_nothing(pg_api):
    assert "0 clicks written" in drain(pg_api)
    assert stored_ids(pg_api) == []


@pytest.mark.parametrize("batch_size", ["1", "1000"], ids=["separate-batches", "one-batch"])
def test_the_same_click_queued_twice_lands_once(pg_api, batch_size):
    (click_id,) = redirect(pg_api, new_link(pg_api))
    redis = services(pg_api).redis
    fields = first_entry(pg_api)
    redis.xadd(stream_of(pg_api), fields)  # queued again, e.g. by a retrying producer
    assert queued(pg_api) == 2

    drain(pg_api, "--batch-size", batch_size)
    assert stored_ids(pg_api) == [click_id]
    assert queued(pg_api) == 0 and pending(pg_api) == 0

    redis.xadd(stream_of(pg_api), fields)  # and once more after it was written
    drain(pg_api)
    assert stored_ids(pg_api) == [click_id]
    assert queued(pg_api) == 0


def test_entries_left_pending_by_a_dead_consumer_are_written_by_drain(pg_api):
    link = new_link(pg_api)
    ids = redirect(pg_api, link, times=3)
    assert len(read_as_dead_consumer(pg_api, count=2)) == 2
    ids += redirect(pg_api, link, times=2)
    assert pending(pg_api) == 2

    output = drain(pg_api)
    assert "5 clicks written" in output
    assert stored_ids(pg_api) == sorted(ids)
    assert queued(pg_api) == 0 and pending(pg_api) == 0


def test_step_reclaims_a_stale_entry_only_once_it_is_idle(pg_api):
    (click_id,) = redirect(pg_api, new_link(pg_api))
    read_as_dead_consumer(pg_api, count=1)

    patient = worker(pg_api, consumer="live-1", claim_idle_ms=60_000)
    assert patient.step() == 0  # the dead consumer's entry is not idle long enough
    assert stored_ids(pg_api) == [] and pending(pg_api) == 1

    time.sleep(0.06)
    eager = worker(pg_api, consumer="live-2", claim_idle_ms=50)
    assert eager.step() == 1
    assert stored_ids(pg_api) == [click_id]
    assert queued(pg_api) == 0 and pending(pg_api) == 0
    assert eager.step() == 0


def test_workers_in_one_group_share_the_stream(pg_api):
    ids = redirect(pg_api, new_link(pg_api), times=6)
    first = worker(pg_api, consumer="w-1", batch_size=4)
    second = worker(pg_api, consumer="w-2", batch_size=4)
    assert (first.step(), second.step(), first.step()) == (4, 2, 0)
    assert first.stats.written + second.stats.written == 6
    assert stored_ids(pg_api) == sorted(ids)
    assert queued(pg_api) == 0


def test_a_batch_stays_queued_while_the_database_is_down(pg_api):
    ids = redirect(pg_api, new_link(pg_api), times=2)
    svc = services(pg_api)
    dead_db = Database(DEAD_POSTGRES)
    try:
        stuck = ClickWorker(dead_db, svc.redis, stream_of(pg_api), consumer="stuck", block_ms=10)
        with pytest.raises(OperationalError):
            stuck.step()
    finally:
        dead_db.dispose()
    assert queued(pg_api) == 2 and pending(pg_api) == 2  # read, not acknowledged

    assert "2 clicks written" in drain(pg_api)  # once the database is back
    assert stored_ids(pg_api) == sorted(ids)
    assert queued(pg_api) == 0 and pending(pg_api) == 0


def _good_fields(api: Api) -> dict[str, str]:
    return dict(first_entry(api), id="queued-by-hand-0001")


# Entries no click can be made of: each must be set aside, never block the stream.
MALFORMED: dict[str, Any] = {
    "missing-fields": lambda good: {"id": "half-a-click"},
    "junk-only": lambda good: {"hello": "world"},
    "bad-time": lambda good: dict(good, occurred_at="yesterday"),
    "naive-time": lambda good: dict(good, occurred_at="2026-10-01T09:00:00"),
    "unknown-link": lambda good: dict(good, link_id="lnk_doesnotexist"),
    "unknown-source": lambda good: dict(good, source="sms"),
}


@pytest.mark.parametrize("make_bad", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_entry_is_dropped_without_blocking_the_good_ones(pg_api, make_bad):
    link = new_link(pg_api)
    ids = redirect(pg_api, link, times=2)
    services(pg_api).redis.xadd(stream_of(pg_api), make_bad(_good_fields(pg_api)))
    ids += redirect(pg_api, link, times=2)
    assert queued(pg_api) == 5

    output = drain(pg_api)
    assert "malformed" in output
    assert stored_ids(pg_api) == sorted(ids)
    assert queued(pg_api) == 0 and pending(pg_api) == 0


def test_a_plain_click_is_queued_without_a_source_and_written_as_a_link_click(pg_api):
    """Entries queued before sources existed look the same: they are plain clicks."""
    link = new_link(pg_api)
    (plain,) = redirect(pg_api, link)
    assert "source" not in first_entry(pg_api)
    scan = pg_api.client.get(
        f"/r/{link['code']}?qr=1",
        headers={"User-Agent": "Mozilla/5.0 (iPhone) Mobile/15E148"},
        environ_base={"REMOTE_ADDR": "198.51.100.77"},
    )
    entries = services(pg_api).redis.xrange(stream_of(pg_api))
    assert entries[-1][1]["source"] == "qr"

    drain(pg_api)
    with services(pg_api).db.engine.connect() as conn:
        sources = dict(conn.execute(select(Click.id, Click.source)).all())
    assert sources == {plain: "link", scan.headers["Location"].rsplit("aff_click=", 1)[1]: "qr"}
