"""Apps of a test's own against servers it stops, crashes or pauses (the fault and
outage tests): the app and its parts, its click stream, the worker's drain, and
``durable_redis`` (a fixture, registered in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask

from service.app import create_app
from service.redirect.service import Redirector
from tests.support.app import Api, _empty_tables, make_settings
from tests.support.servers import RedisServer


def svc(app: Flask) -> Any:
    return app.extensions["afftrack"]


def redirector(app: Flask) -> Redirector:
    return svc(app).redirector


def stream_of(app: Flask) -> str:
    return svc(app).settings.click_stream


@contextmanager
def afftrack_app(database_url: str, redis_url: str, *, empty: bool) -> Iterator[Api]:
    """An app (and an authenticated API helper) of the test's own; disposed after, and
    the shared test database's tables emptied when ``empty``."""
    app = create_app(make_settings(database_url, redis_url), TESTING=True)
    try:
        yield Api(app, app.test_client())
    finally:
        try:
            if empty:
                _empty_tables(app)
        finally:
            svc(app).mover.stop()
            svc(app).redis.close()
            svc(app).db.dispose()


def stream_ids(app: Flask) -> list[str]:
    """Click ids of the entries still in the app's stream."""
    return [f["id"] for _eid, f in svc(app).redis.xrange(stream_of(app))]


def drain(app: Flask) -> str:
    result = app.test_cli_runner().invoke(args=["worker", "--drain"])
    assert result.exit_code == 0, (result.output, repr(result.exception))
    return result.output


@pytest.fixture
def durable_redis() -> Iterator[RedisServer]:
    """A Redis with an append-only file synced on every write, so a click queued before
    a crash, and every key, is still there after the restart: this tests what afftrack
    does with what Redis kept. (deploy/compose.yaml runs ``everysec``, which can lose the
    last second or so on a crash: docs/BENCHMARKS.md "Redis durability".)"""
    with RedisServer(extra_args=["--appendonly", "yes", "--appendfsync", "always"]) as server:
        yield server
