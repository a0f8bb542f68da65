"""Fixtures shared by every test: a throwaway PostgreSQL database and a Redis db index per
test run, an embedded SQLite app, the frozen clock, and apps with an API client.

Chain: settings → app → client → api (an authenticated helper with ``create_*``
factories, tests/support/app.py) and runner (CLI). ``backend`` runs a test on
PostgreSQL + Redis and on SQLite; ``app``, ``client`` and ``api`` follow it. A module
starts the clock where its stories begin with ``pytestmark = pytest.mark.frozen_at(…)``
(read when ``api`` is made). ``count_queries`` counts what an app sends to its database.
Tables are emptied after each test; the run's database is dropped at the end.

The fixtures of tests/support/servers.py (``redis_server``, ``pg_cluster``) and
tests/support/platforms.py (``pg``, ``sqlite``: apps with the platform secrets) and
tests/support/outages.py (``durable_redis``) and tests/support/mail.py (``smtp_server``) are
registered here for every test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib
from flask import Flask
from flask.testing import FlaskClient

from service import clock
from service.app import create_app
from service.migrate import upgrade
from tests.support.app import (
    REDIS_BASE,
    Api,
    _empty_tables,
    make_settings,
    migrated_database,
)
from tests.support.queries import count_queries as _count_queries

pytest_plugins = [
    "tests.support.servers",
    "tests.support.platforms",
    "tests.support.outages",
    "tests.support.mail",
]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "frozen_at(moment): where the frozen clock stands when ``api`` is made"
    )


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A database of its own for this test run."""
    with migrated_database() as url:
        yield url


CLAIM_EMPTY_DB = (
    "if redis.call('DBSIZE') == 0 then return redis.call('SET', KEYS[1], '1', 'EX', 3600) end "
    "return false"
)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """An empty Redis db index of its own for this run (flushed before and after)."""
    chosen = None
    for index in range(15, 0, -1):
        client = redis_lib.Redis.from_url(f"{REDIS_BASE}/{index}")
        # Checked and claimed in one script: no other run can claim it in between.
        if client.eval(CLAIM_EMPTY_DB, 1, "afftrack:test-run-lock"):
            chosen = index
            client.close()
            break
        client.close()
    assert chosen is not None, "no empty Redis db index for the test run"
    url = f"{REDIS_BASE}/{chosen}"
    yield url
    client = redis_lib.Redis.from_url(url)
    client.flushdb()
    client.close()


@pytest.fixture
def frozen() -> Iterator[Any]:
    """The one clock, frozen; move it with ``frozen.set(datetime)`` or ``frozen.advance``."""

    class Frozen:
        def set(self, moment: datetime | str) -> datetime:
            if isinstance(moment, str):
                moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
            clock.set_frozen(moment)
            return moment

        advance = staticmethod(clock.advance)

    clock.set_frozen(datetime(2026, 10, 1, 9, 0, tzinfo=UTC))
    yield Frozen()
    clock.set_frozen(None)


@pytest.fixture
def pg_app(pg_url: str, redis_url: str) -> Iterator[Flask]:
    app = create_app(make_settings(pg_url, redis_url), TESTING=True)
    yield app
    _empty_tables(app)
    redis = app.extensions["afftrack"].redis
    for key in redis.scan_iter("afftrack:*"):
        if key != "afftrack:test-run-lock":
            redis.delete(key)
    app.extensions["afftrack"].db.dispose()


@pytest.fixture
def sqlite_app(tmp_path: Path) -> Iterator[Flask]:
    url = f"sqlite:///{tmp_path / 'afftrack.db'}"
    upgrade(url)
    app = create_app(make_settings(url), TESTING=True)
    yield app
    app.extensions["afftrack"].db.dispose()


@pytest.fixture
def pg_api(pg_app: Flask, frozen: Any) -> Api:
    return Api(pg_app, pg_app.test_client())


@pytest.fixture
def sqlite_api(sqlite_app: Flask, frozen: Any) -> Api:
    return Api(sqlite_app, sqlite_app.test_client())


@pytest.fixture(params=["pg", "sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """The same test on PostgreSQL + Redis (``pg``) and on the embedded SQLite default."""
    return request.param


@pytest.fixture
def app(backend: str, request: pytest.FixtureRequest) -> Flask:
    return request.getfixturevalue(f"{backend}_app")


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def api(backend: str, request: pytest.FixtureRequest, frozen: Any) -> Api:
    """The authenticated API helper on ``backend``, made at the module's ``frozen_at``."""
    marker = request.node.get_closest_marker("frozen_at")
    if marker is not None:
        frozen.set(marker.args[0])
    return request.getfixturevalue(f"{backend}_api")


@pytest.fixture
def build_pg_api(pg_url: str, redis_url: str, frozen: Any) -> Iterator[Callable[..., Api]]:
    """Apps of one's own on the run's PostgreSQL, with settings overridden; cleaned after."""
    apps: list[Flask] = []

    def build(*, redis: str | None = redis_url, **extra: Any) -> Api:
        app = create_app(make_settings(pg_url, redis, **extra), TESTING=True)
        apps.append(app)
        return Api(app, app.test_client())

    yield build
    for app in apps:
        _empty_tables(app)
        svc = app.extensions["afftrack"]
        if svc.settings.redis_url == redis_url:
            for key in svc.redis.scan_iter("afftrack:*"):
                if key != "afftrack:test-run-lock":
                    svc.redis.delete(key)
        svc.db.dispose()


@pytest.fixture
def count_queries() -> Callable[[Flask], Any]:
    """``with count_queries(app) as seen:`` — seen.statements, .checkouts, .commits."""
    return _count_queries
