"""Faults under steady load, against afftrack as it runs in production (docs/product.md §2
"When Redis or PostgreSQL stumble": every click answered with a 302 is stored, once).

Each test runs its own Redis (append-only, fsync'd) and PostgreSQL cluster, the real web
server (``afftrack serve``: gunicorn, two worker processes, each with its own breaker
and spool file) and the real ``afftrack worker`` as subprocesses (tests/support/load.py), sends
steady redirect traffic from a thread pool, breaks things in the middle of it, and then
checks every answer against the clicks table: each 302's click id stored exactly once,
no click stored that no answer carried (beyond requests cut off unanswered), nothing
counted or logged as lost. Every wait is bounded and everything is killed at the end.

Orders while PostgreSQL is down: tests/resilience/test_webhook_spool.py.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from service.clicks.recorder import ClickRecord
from service.redirect.recovery import click_record
from service.redirect.service import new_click_id
from service.spool import Spool
from tests.support.app import AFFTRACK
from tests.support.load import UA, Load, Stack, summary
from tests.support.waiting import wait_for

pytestmark = pytest.mark.postgres

LINKS = 12
RATE = 150.0  # requests a second, in all
WARM = 300  # replies before the first fault: every link answered by both processes
SETTLE = 45.0  # seconds for every click to reach the table once the stores are back


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with Stack(tmp_path) as running:
        yield running


def start(stack: Stack) -> list[str]:
    """Links, the web server and the worker; the links' codes."""
    codes = [link["code"] for link in stack.seed(LINKS)]
    stack.start_web()
    stack.start_worker()
    return codes


def settle(stack: Stack, load: Load) -> None:
    """Wait until every click answered is in the table, the spool and the stream empty."""
    ids = set(load.click_ids())
    try:
        wait_for(lambda: stack.settled(ids), SETTLE, "every click stored", poll=0.2)
    except AssertionError:
        stored = stack.stored()
        raise AssertionError(
            f"{len(ids - stored.keys())} of {len(ids)} answered clicks not stored after "
            f"{SETTLE}s; spool {stack.spooled()}, stream (length, pending) "
            f"{stack.stream_left()}; logs in {stack.directory}"
        ) from None


def assert_each_stored_once(
    stack: Stack, load: Load, *, also: frozenset[str] | set[str] = frozenset()
) -> None:
    """Every 302's click id (and ``also``) is one row; the table holds no other click,
    except at most one per request that got no answer (its click may have been kept
    before the connection was cut); nothing was lost."""
    ids = load.click_ids()
    assert len(ids) == len(set(ids)), "a click id answered twice"
    answered = set(ids) | also
    stored = stack.stored()
    twice = {click_id: n for click_id, n in stored.items() if n != 1}
    assert not twice, f"{len(twice)} clicks stored more than once, e.g. {list(twice.items())[:5]}"
    missing = answered - stored.keys()
    assert not missing, f"{len(missing)} answered clicks not stored, e.g. {sorted(missing)[:5]}"
    unanswered = sum(1 for r in load.snapshot() if r.status == 0)
    extra = stored.keys() - answered
    assert len(extra) <= unanswered, (len(extra), unanswered, summary(load))
    assert stack.lost_in_logs() == []


def only_redirects(load: Load) -> None:
    statuses = load.statuses()
    assert set(statuses) == {302}, summary(load)


def test_a_redis_blip_then_a_postgres_blip_under_load_answers_every_click_and_stores_it_once(
    stack: Stack,
) -> None:
    codes = start(stack)
    with Load(stack.web_port, codes, rate=RATE) as load:
        load.wait_replies(WARM)
        stack.redis.stop()
        time.sleep(3)
        stack.redis.start()
        time.sleep(0.2)  # within a second of Redis answering again
        stack.pg.stop("immediate")
        time.sleep(3)
        stack.pg.start()
        during = len(load.snapshot())
        load.wait_replies(during + 300)
    only_redirects(load)
    settle(stack, load)
    assert_each_stored_once(stack, load)
    assert stack.metric("afftrack_clicks_lost_total") == 0


def test_both_stores_down_five_seconds_known_links_still_redirect_and_each_click_is_stored_once(
    stack: Stack,
) -> None:
    codes = start(stack)
    with Load(stack.web_port, codes, rate=RATE) as load:
        load.wait_replies(WARM)  # every link has been followed before the outage
        stack.redis.stop()
        stack.pg.stop("immediate")
        outage = load.now()
        time.sleep(2.5)
        status, body = stack.get("/readyz")
        time.sleep(2.5)
        spooled_then = stack.spooled()
        stack.redis.start()
        stack.pg.start()
        back = len(load.snapshot())
        load.wait_replies(back + 300)
    only_redirects(load)
    during = [r for r in load.snapshot() if r.at >= outage + 0.5 and r.at < outage + 4.5]
    assert len(during) > 100, summary(load)
    assert spooled_then > 0
    # Still serving, degraded, with the clicks it keeps on the way.
    assert status == 200, body
    ready = json.loads(body)
    assert ready["status"] == "degraded", ready
    assert ready["checks"]["spool"]["clicks"]["records"] > 0, ready
    settle(stack, load)
    assert_each_stored_once(stack, load)
    assert stack.metric("afftrack_clicks_spooled_total") >= spooled_then
    assert stack.metric("afftrack_clicks_lost_total") == 0


def test_a_web_server_killed_with_clicks_in_its_spool_leaves_them_to_be_stored_once(
    stack: Stack,
) -> None:
    codes = start(stack)
    with Load(stack.web_port, codes, rate=RATE) as load:
        load.wait_replies(WARM)
        stack.redis.stop()
        stack.pg.stop("immediate")
        outage = load.now()
        wait_for(lambda: stack.spooled() >= 150, 20, "clicks in the spool")
        killing = load.now()
        stack.kill_web()  # master and workers at once: nothing drains, nothing flushes
        left = stack.spooled()
        assert left >= 150
        time.sleep(0.5)
        # `afftrack serve` refuses to start while the database is down (it checks the
        # schema revision first): the command it runs, as a supervisor would restart it.
        stack.start_web(gunicorn=True)
        time.sleep(1.0)
        stack.redis.start()
        stack.pg.start()
        back = load.now()
        load.wait_replies(len(load.snapshot()) + 300)
    replies = load.snapshot()
    # Before the kill every known link redirected (a request in flight at the kill was
    # cut off); a process started while both stores were down knows no link yet (503);
    # once they are back, every link redirects again.
    before = [r for r in replies if r.at < killing]
    assert {r.status for r in before} <= {302, 0}, summary(load)
    assert sum(r.status == 0 for r in before) <= load.threads, summary(load)
    assert all(r.status == 302 for r in replies if r.at < killing - 1.0), summary(load)
    assert {r.status for r in replies if r.at > back + 1.0} == {302}, summary(load)
    assert {r.status for r in replies} <= {302, 503, 0}, summary(load)
    assert any(r.status == 302 and r.at > outage for r in replies)
    settle(stack, load)
    assert_each_stored_once(stack, load)
    assert stack.metric("afftrack_clicks_lost_total") == 0


DIRECT = 8_000  # clicks put straight into an orphaned spool file: a drain of seconds


def spool_directly(stack: Stack, link_ids: list[str], count: int) -> set[str]:
    """``count`` clicks appended to a spool file of this process's own, as a redirect
    would have kept them (service.redirect.recovery.click_record)."""
    spool = Spool(stack.spool_dir, "clicks", fsync=False)
    start_at = datetime.now(UTC) - timedelta(seconds=30)
    ids = set()
    for n in range(count):
        digest = hashlib.sha256(f"direct-{n}".encode()).hexdigest()
        click = ClickRecord(
            id=new_click_id(),
            link_id=link_ids[n % len(link_ids)],
            occurred_at=start_at + timedelta(microseconds=n),
            ip_hash=digest,
            user_agent=UA,
            referrer=None,
            country=None,
            is_bot=False,
            bot_reason=None,
            outcome="redirect",
        )
        spool.append(click_record(click, (digest, digest)))
        ids.add(click.id)
    spool.close()
    return ids


def test_the_worker_killed_in_the_middle_of_a_spool_drain_leaves_each_click_stored_once(
    stack: Stack,
) -> None:
    links = stack.seed(LINKS)
    stack.start_web()
    stack.start_worker()
    with Load(stack.web_port, [link["code"] for link in links], rate=RATE) as load:
        load.wait_replies(WARM)
        assert stack.worker is not None
        stack.worker.stop()  # (between batches: it stops at its next read)
        stack.redis.stop()
        stack.pg.stop("immediate")
        wait_for(lambda: stack.spooled() >= 300, 20, "clicks in the spool")
    assert stack.web is not None
    stack.web.stop()  # what it spooled is left behind: nobody else is draining
    direct = spool_directly(stack, [link["id"] for link in links], DIRECT)
    total = stack.spooled()
    assert total >= DIRECT + 300

    stack.redis.start()
    stack.pg.start()
    before = stack.entries_added()
    worker = stack.start_worker()  # its spool thread moves them on into the stream
    wait_for(
        lambda: stack.entries_added() - before >= 1_500,
        30,
        "the worker draining the spool",
        poll=0.002,
    )
    worker.kill()
    left = stack.spooled()
    moved = stack.entries_added() - before
    assert 0 < left < total, (left, total, moved)  # killed half way through

    stack.start_worker()
    wait_for(lambda: stack.spooled() == 0, SETTLE, "the spool drained", poll=0.2)
    # A batch the killed worker had read from the stream and not acknowledged is taken
    # over after a minute of idleness by a running worker, after 2 s by `worker --drain`.
    assert stack.worker is not None
    stack.worker.stop()
    drained = _run_drain(stack)
    assert drained.returncode == 0, drained.stdout[-3000:]
    settle(stack, load)
    assert_each_stored_once(stack, load, also=direct)
    print(f"[fault] worker killed after moving {moved} of {total} spooled clicks; {left} left")


def _run_drain(stack: Stack) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AFFTRACK, "worker", "--drain"],
        env=stack.env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
