"""The clicks table on PostgreSQL: monthly partitions made ahead, made on demand, detached
for retention; the batch COPY and its idempotent retry path; stream status in /readyz
and /metrics. Against the real PostgreSQL and Redis."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, text

from service.clicks.partitions import (
    copy_clicks,
    detach_before,
    ensure_ahead,
    insert_clicks,
    partitions,
)
from tests.support.app import Api, new_link
from tests.support.click_stream import drain, redirect, services, stream_of, worker
from tests.support.clicks import stored_click


def rows_for(link_id: str, moments: list[datetime]) -> list[dict[str, Any]]:
    return [
        stored_click(secrets.token_urlsafe(12), link_id, moment, ip_hash=secrets.token_hex(16))
        for moment in moments
    ]


def count(api: Api, where: str = "true", **params: Any) -> int:
    with services(api).db.engine.connect() as conn:
        return int(conn.scalar(text(f"SELECT count(*) FROM clicks WHERE {where}"), params))


def drop_partition(api: Api, name: str) -> None:
    with services(api).db.engine.begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {name}"))


@pytest.fixture
def api(pg_api: Api) -> Api:
    return pg_api


def test_clicks_is_partitioned_by_month_and_made_ahead(api):
    with services(api).db.engine.begin() as conn:
        created_now = ensure_ahead(conn, datetime(2031, 11, 15, tzinfo=UTC))
        again = ensure_ahead(conn, datetime(2031, 11, 15, tzinfo=UTC))
        names = partitions(conn)
        bounds = conn.execute(
            text(
                "SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_class c "
                "WHERE c.relname = 'clicks_2031_12'"
            )
        ).scalar_one()
    try:
        assert created_now == ["clicks_2031_11", "clicks_2031_12", "clicks_2032_01"]
        assert again == []  # idempotent
        assert {"clicks_2031_11", "clicks_2031_12", "clicks_2032_01"} <= set(names)
        assert "2031-12-01 00:00:00+00" in bounds and "2032-01-01 00:00:00+00" in bounds
    finally:
        for name in created_now:
            drop_partition(api, name)


def test_a_click_in_a_month_without_partition_creates_it(api):
    link = new_link(api)
    far = datetime(2033, 2, 28, 23, 59, 59, tzinfo=UTC)
    rows = rows_for(link["id"], [far, far + timedelta(seconds=2)])  # Feb and March
    try:
        with services(api).db.session() as session:
            insert_clicks(session, rows[:1])
        with services(api).db.engine.begin() as conn:
            copy_clicks(conn, rows[1:])
            names = partitions(conn)
        assert {"clicks_2033_02", "clicks_2033_03"} <= set(names)
        assert count(api, "occurred_at >= '2033-01-01'") == 2
    finally:
        drop_partition(api, "clicks_2033_02")
        drop_partition(api, "clicks_2033_03")


def test_copy_is_idempotent_when_a_batch_is_written_again(api):
    link = new_link(api)
    now = datetime.now(UTC)
    batch = rows_for(link["id"], [now - timedelta(seconds=i) for i in range(50)])
    db = services(api).db
    with db.engine.begin() as conn:
        copy_clicks(conn, batch[:20])  # a crash after this commit, before the XACK...
    with db.engine.begin() as conn:
        copy_clicks(conn, batch)  # ...and the whole batch comes again
    with db.engine.begin() as conn:
        copy_clicks(conn, batch)  # and once more
    assert count(api) == 50
    assert count(api, "id = ANY(:ids)", ids=[r["id"] for r in batch]) == 50


def test_a_batch_written_again_with_a_click_of_a_month_not_yet_made_creates_it(api):
    link = new_link(api)
    now = datetime.now(UTC)
    seen = rows_for(link["id"], [now])
    far = rows_for(link["id"], [datetime(2034, 5, 1, 4, 0, tzinfo=UTC)])
    db = services(api).db
    try:
        with db.engine.begin() as conn:
            copy_clicks(conn, seen)
        with db.engine.begin() as conn:  # the retry path (a click already there) …
            copy_clicks(conn, seen + far)  # … meets a month without a partition
            assert "clicks_2034_05" in partitions(conn)
        assert count(api, "id = ANY(:ids)", ids=[r["id"] for r in seen + far]) == 2
    finally:
        drop_partition(api, "clicks_2034_05")


def test_detach_before_keeps_newer_months(api):
    # Months far in the past, older than every partition the rest of the suite uses
    # (detaching is by age, for the whole table).
    link = new_link(api)
    jan, feb, mar = (datetime(2001, m, 10, tzinfo=UTC) for m in (1, 2, 3))
    db = services(api).db
    names = ("clicks_2001_01", "clicks_2001_02", "clicks_2001_03")
    try:
        with db.engine.begin() as conn:
            copy_clicks(conn, rows_for(link["id"], [jan, feb, mar]))
        with db.engine.begin() as conn:
            detached = detach_before(conn, date(2001, 3, 1))
            attached = partitions(conn)
        assert detached == ["clicks_2001_01", "clicks_2001_02"]
        assert "clicks_2001_03" in attached and "clicks_2001_01" not in attached
        assert count(api, "occurred_at < '2002-01-01'") == 1  # only March is still attached
        with db.engine.connect() as conn:  # the detached months are kept, to archive
            assert conn.scalar(text("SELECT count(*) FROM clicks_2001_01")) == 1

        # A late click for a detached month is refused, not silently re-attached.
        with pytest.raises(Exception, match="no partition"), db.engine.begin() as conn:
            copy_clicks(conn, rows_for(link["id"], [jan]))
        with db.engine.connect() as conn:
            assert conn.scalar(text("SELECT count(*) FROM clicks_2001_01")) == 1
    finally:
        for name in names:
            drop_partition(api, name)


def test_detach_cli_refuses_a_bad_month_and_changes_nothing(api):
    runner = api.app.test_cli_runner()
    with services(api).db.engine.connect() as conn:
        before = partitions(conn)
    result = runner.invoke(args=["clicks", "detach", "--before", "2026-13"])
    assert result.exit_code == 2 and "YYYY-MM" in result.output
    with services(api).db.engine.connect() as conn:
        assert partitions(conn) == before


def test_partitions_cli_lists_this_month_and_ahead(api):
    result = api.app.test_cli_runner().invoke(args=["clicks", "partitions"])
    assert result.exit_code == 0, result.output
    today = datetime.now(UTC)
    assert f"clicks_{today.year:04d}_{today.month:02d}" in result.output.split()


def test_stream_status_in_readyz_and_metrics(api):
    link = new_link(api)
    redirect(api, link, times=3)
    ready = api.client.get("/readyz")
    assert ready.status_code == 200
    status = ready.get_json()["checks"]["click_stream"]
    assert status["lag"] == 3 and status["pending"] == 0
    assert status["oldest_age_seconds"] >= 0

    stuck = worker(api, consumer="slow", batch_size=2)
    stuck._read_new(None)  # read two entries and "die" before writing them
    metrics = api.client.get("/metrics").get_data(as_text=True)
    assert "afftrack_click_stream_lag 3.0" in metrics
    assert "afftrack_click_stream_pending 2.0" in metrics

    drain(api)
    status = api.client.get("/readyz").get_json()["checks"]["click_stream"]
    assert status == {"lag": 0, "pending": 0, "oldest_age_seconds": 0.0}
    assert stream_of(api)  # the app's own stream was the one measured


def test_detach_refuses_the_current_month_without_force(api):
    runner = api.app.test_cli_runner()
    with services(api).db.engine.connect() as conn:
        before = partitions(conn)
    ahead = datetime.now(UTC) + timedelta(days=40)
    result = runner.invoke(args=["clicks", "detach", "--before", f"{ahead:%Y-%m}"])
    assert result.exit_code == 2 and "--force" in result.output
    with services(api).db.engine.connect() as conn:
        assert partitions(conn) == before


def test_the_running_worker_survives_a_raw_driver_error(api):
    # COPY runs on the driver's own cursor, so its errors are psycopg's, not SQLAlchemy's:
    # a lock timeout there must not kill `afftrack worker` (the batch stays pending).
    link = new_link(api)
    redirect(api, link, times=2)
    db = services(api).db
    locker = db.engine.connect()
    try:
        locker.execute(text("LOCK TABLE clicks IN ACCESS EXCLUSIVE MODE"))
        w = worker(api, consumer="impatient", batch_size=10)
        w._partitions_checked_at = time.monotonic()  # straight to the batch's COPY

        @event.listens_for(db.engine, "begin")
        def short_lock_timeout(conn: Any) -> None:
            conn.exec_driver_sql("SET LOCAL lock_timeout = '200ms'")

        steps = []
        try:
            stats = w.run(lambda: steps.append(1) or len(steps) > 2)
        finally:
            event.remove(db.engine, "begin", short_lock_timeout)
        assert stats.written == 0
    finally:
        locker.rollback()
        locker.close()
    assert "2 clicks written" in drain(api)
