"""Clicks kept in the local spool: how a user meets it — the CLI, the start-up check,
a deployment without Redis whose database stumbles, and the embedded SQLite default."""

from __future__ import annotations

import os
import re
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from service import clock, metrics
from service.app import create_app
from service.clicks.identity import visitor_keys
from service.clicks.models import Click
from service.clicks.recorder import ClickRecord
from service.migrate import upgrade
from service.redirect.recovery import click_record
from tests.support.app import AFFTRACK, Api, _empty_tables, make_settings, new_link
from tests.support.click_stream import drain
from tests.support.servers import (
    PostgresCluster,
)

UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Mobile Safari/537.36"
)


def spooled_click(link_id: str, n: int, when: datetime) -> tuple[ClickRecord, tuple[str, str]]:
    today, before, _k, _kb = visitor_keys("test-ip-key", f"203.0.113.{n}", UA, when.date())
    click = ClickRecord(
        id=f"spooled{n:09d}",
        link_id=link_id,
        occurred_at=when,
        ip_hash=today,
        user_agent=UA,
        referrer=None,
        country=None,
        is_bot=False,
        bot_reason=None,
        outcome="redirect",
    )
    return click, (today, before)


def stored(app: Any, ids: list[str]) -> list[tuple[str, bool]]:
    with app.extensions["afftrack"].db.engine.connect() as conn:
        rows = conn.execute(
            select(Click.id, Click.is_unique).where(Click.id.in_(ids)).order_by(Click.id)
        ).all()
    return [(row.id, row.is_unique) for row in rows]


def lost_clicks(app: Any) -> float:
    text = app.test_client().get("/metrics").get_data(as_text=True)
    match = re.search(r"^afftrack_clicks_lost_total (\S+)$", text, re.MULTILINE)
    assert match, text
    return float(match.group(1))


def test_clicks_spool_lists_what_waits_and_drain_writes_it_once_on_the_embedded_default(
    sqlite_api, frozen
):
    app = sqlite_api.app
    link = new_link(sqlite_api)
    mover = app.extensions["afftrack"].redirector.clicks
    now = clock.now_utc()
    clicks = [spooled_click(link["id"], n, now - timedelta(minutes=3 - n)) for n in range(3)]
    # The same visitor twice: only the first counts as unique.
    clicks.append(spooled_click(link["id"], 0, now))
    clicks[-1][0].id = "spooled-repeat0"
    for click, seen_as in clicks:
        mover.keep(click, seen_as)
    runner = app.test_cli_runner()

    listed = runner.invoke(args=["clicks", "spool"])
    assert listed.exit_code == 0, listed.output
    assert "clicks: 4 clicks waiting in 1 file(s)" in listed.output
    assert "seen: nothing waiting" in listed.output
    assert stored(app, [c.id for c, _ in clicks]) == []

    drained = runner.invoke(args=["clicks", "spool", "--drain"])
    assert drained.exit_code == 0, drained.output
    assert "moved 4 clicks" in drained.output
    assert "clicks: nothing waiting" in drained.output
    assert stored(app, [c.id for c, _ in clicks]) == sorted(
        [(c.id, c.id != "spooled-repeat0") for c, _ in clicks]
    )
    assert not mover.spool.files()

    again = runner.invoke(args=["clicks", "spool", "--drain"])
    assert "moved 0 clicks" in again.output
    assert len(stored(app, [c.id for c, _ in clicks])) == 4


def test_a_spooled_click_whose_link_was_deleted_does_not_hold_the_others_back(pg_api, frozen):
    app = pg_api.app
    link = new_link(pg_api)
    mover = app.extensions["afftrack"].redirector.clicks
    now = clock.now_utc()
    good = [spooled_click(link["id"], n, now) for n in range(3)]
    orphan = spooled_click("lnk_gone_since_the_outage", 9, now)
    for click, seen_as in [good[0], orphan, *good[1:]]:
        mover.keep(click, seen_as)
    mover.spool.append({"at": now.timestamp(), "id": "half-a-record"})  # unreadable
    refused = metrics.CLICKS_REFUSED.labels("refused")._value.get()
    unreadable = metrics.CLICKS_REFUSED.labels("unreadable")._value.get()
    mover.redis = None  # straight into the database, as without Redis
    assert mover.drain(redis_up=False) == 5  # all taken off the spool …
    assert [cid for cid, _ in stored(app, [c.id for c, _ in [*good, orphan]])] == sorted(
        c.id for c, _ in good
    )  # … the refused and the unreadable one dropped (counted, logged), the others written
    assert metrics.CLICKS_REFUSED.labels("refused")._value.get() == refused + 1
    assert metrics.CLICKS_REFUSED.labels("unreadable")._value.get() == unreadable + 1
    assert not mover.spool.files()


def test_a_spooled_scan_stays_a_scan_and_a_record_from_before_sources_is_a_plain_click(api, frozen):
    app = api.app
    link = new_link(api)
    mover = app.extensions["afftrack"].redirector.clicks
    now = clock.now_utc()
    scan, seen_as = spooled_click(link["id"], 0, now)
    scan.source = "qr"
    mover.keep(scan, seen_as)
    older, older_seen_as = spooled_click(link["id"], 1, now)
    record = click_record(older, older_seen_as)
    del record["source"]  # spooled by a version that did not know sources
    mover.spool.append(record)

    drained = app.test_cli_runner().invoke(args=["clicks", "spool", "--drain"])
    assert "moved 2 clicks" in drained.output, drained.output
    if app.extensions["afftrack"].redis is not None:
        drain(api)  # (moved on to the stream: the worker writes them)
    with app.extensions["afftrack"].db.engine.connect() as conn:
        sources = dict(conn.execute(select(Click.id, Click.source)).all())
    assert sources == {scan.id: "qr", older.id: "link"}


def test_serve_and_worker_refuse_a_spool_directory_they_cannot_write(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'afftrack.db'}",
        "AFFTRACK_SPOOL_DIR": str(blocker / "spool"),
    }
    for command in (["serve", "--port", "1"], ["worker"]):
        result = subprocess.run(
            [AFFTRACK, *command], env=env, capture_output=True, text=True, timeout=60
        )
        if command[0] == "worker":  # without Redis the worker has nothing to do at all
            assert result.returncode == 0, result.stderr
            continue
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip().splitlines() == [
            f"afftrack: AFFTRACK_SPOOL_DIR: cannot write to {blocker / 'spool'}: Not a "
            "directory; point it at a writable directory (in a container, a volume), where "
            "clicks wait while Redis and the database are both down"
        ]


def test_without_redis_a_database_outage_spools_known_links_clicks_and_writes_them_back(
    pg_cluster: PostgresCluster, tmp_path: Path
):
    url = pg_cluster.create_database("afftrack")
    upgrade(url)
    app = create_app(make_settings(url, None), TESTING=True)
    services = app.extensions["afftrack"]
    try:
        api = Api(app, app.test_client())
        link = new_link(api)
        client = app.test_client()

        def follow(code: str, n: int) -> Any:
            return client.get(
                f"/r/{code}",
                headers={"User-Agent": UA},
                environ_base={"REMOTE_ADDR": f"10.0.0.{n}"},
            )

        first = follow(link["code"], 1)
        assert first.status_code == 302

        pg_cluster.stop("immediate")
        during = [follow(link["code"], n) for n in range(2, 7)]
        assert [r.status_code for r in during] == [302] * 5
        assert all(r.headers["Location"].startswith("https://shop.example/spring") for r in during)
        assert services.click_spool.status().records == 5
        assert follow("NeverSeenCode", 9).status_code == 503
        ready = app.test_client().get("/readyz")
        assert ready.status_code == 200 and ready.json["status"] == "degraded"

        # A spool that cannot be written either (a full disk, here a file in the way):
        # the visitor still gets the redirect, the click is counted lost, and the
        # process is no longer ready.
        spool = services.click_spool
        kept_in = spool.directory
        (tmp_path / "in-the-way").write_text("")
        spool.directory = tmp_path / "in-the-way" / "spool"
        spool.close()
        lost_before = lost_clicks(app)
        lost = follow(link["code"], 8)
        assert lost.status_code == 302
        assert lost_clicks(app) == lost_before + 1
        ready = app.test_client().get("/readyz")
        assert ready.status_code == 503 and ready.json["status"] == "unavailable"
        assert "last append to the spool failed" in ready.json["checks"]["spool"]["error"]
        spool.directory = kept_in

        pg_cluster.start()
        ids = [r.headers["Location"].rpartition("aff_click=")[2] for r in during]
        deadline = time.monotonic() + 20
        while len(stored(app, ids)) < len(ids):
            assert time.monotonic() < deadline, "the spooled clicks never reached the database"
            time.sleep(0.1)
        assert [unique for _id, unique in stored(app, ids)] == [True] * 5  # five visitors
        deadline = time.monotonic() + 5
        while services.click_spool.files():
            assert time.monotonic() < deadline, "the spool was not emptied"
            time.sleep(0.05)
        assert follow(link["code"], 1).status_code == 302
    finally:
        services.mover.stop()
        services.db.dispose()


def test_a_click_spooled_by_a_process_that_died_is_moved_on_by_the_next_one_to_start(pg_url):
    spool_dir = make_settings(pg_url).spool_dir
    first = create_app(make_settings(pg_url, None, spool_dir=spool_dir), TESTING=True)
    api = Api(first, first.test_client())
    link = new_link(api)
    click, seen_as = spooled_click(link["id"], 1, datetime.now(UTC))
    first.extensions["afftrack"].redirector.clicks.keep(click, seen_as)
    first.extensions["afftrack"].db.dispose()  # "dies" with the click in its spool

    second = create_app(make_settings(pg_url, None, spool_dir=spool_dir), TESTING=True)
    try:
        second.test_client().get("/healthz")  # its first request looks at the spool
        deadline = time.monotonic() + 10
        while stored(second, [click.id]) != [(click.id, True)]:
            assert time.monotonic() < deadline, "the left-over click was not moved on"
            time.sleep(0.05)
    finally:
        second.extensions["afftrack"].mover.stop()
        _empty_tables(second)  # (the shared test database: leave nothing behind)
        second.extensions["afftrack"].db.dispose()


@pytest.mark.parametrize("policy", ["always", "never"])
def test_the_fsync_policy_is_a_setting_and_a_wrong_value_is_refused(tmp_path, policy):
    from service.config import ConfigError, from_env

    env = {"AFFTRACK_SPOOL_DIR": str(tmp_path), "AFFTRACK_SPOOL_FSYNC": policy}
    settings = from_env(env)
    assert settings.spool_fsync == policy and settings.spool_path == tmp_path
    app = create_app(make_settings("sqlite://", spool_fsync=policy, spool_dir=str(tmp_path)))
    assert app.extensions["afftrack"].click_spool.fsync is (policy == "always")
    with pytest.raises(ConfigError, match="AFFTRACK_SPOOL_FSYNC must be always or never"):
        from_env({"AFFTRACK_SPOOL_FSYNC": "sometimes"})
