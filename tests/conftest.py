"""Fixtures: a throwaway PostgreSQL database and a Redis db index per test run, an
embedded SQLite app, a frozen clock, and an API client with keys.

Chain: settings → app → client → api (an authenticated helper) and runner (CLI).
Tables are emptied after each test; the run's database is dropped at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis as redis_lib
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from service import clock
from service.app import create_app
from service.config import Settings
from service.conversions.webhooks.signatures import sign_generic
from service.migrate import upgrade
from service.models import metadata

PG_ADMIN_URL = os.environ.get("AFFTRACK_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_BASE = os.environ.get("AFFTRACK_TEST_REDIS", "redis://127.0.0.1:6379")
WEBHOOK_SECRET = "test-generic-secret"


@contextlib.contextmanager
def migrated_database(prefix: str = "afftrack_test") -> Iterator[str]:
    """A PostgreSQL database of its own, migrated with Alembic, dropped after."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    url = f"{base}/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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


# Every test app's spool directory lives in here, removed when the run ends.
_SPOOLS = tempfile.TemporaryDirectory(prefix="afftrack-test-spools-")


def make_settings(database_url: str, redis_url: str | None = None, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "redis_url": redis_url,
        "public_url": "https://go.example.test",
        "hashids_salt": "test-salt",
        "ip_hash_key": "test-ip-key",
        "webhook_secret": WEBHOOK_SECRET,
        "click_stream": f"afftrack:test:{uuid.uuid4().hex[:8]}:clicks",
        # A spool of the app's own: a test never drains another test's clicks.
        "spool_dir": tempfile.mkdtemp(dir=_SPOOLS.name),
    }
    values.update(extra)
    return Settings(**values)


def _empty_tables(app: Flask) -> None:
    db = app.extensions["afftrack"].db
    with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            conn.execute(text("SET lock_timeout = '10s'"))
            names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} CASCADE"))
        else:
            for table in reversed(metadata.sorted_tables):
                conn.execute(table.delete())


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


class Api:
    """An authenticated JSON client for one app."""

    def __init__(self, app: Flask, client: FlaskClient) -> None:
        self.app = app
        self.client = client
        self.write_key = self.make_key("write")
        self.read_key = self.make_key("read")

    def make_key(self, scope: str) -> str:
        result = self.app.test_cli_runner().invoke(
            args=["keys", "create", "--name", f"test-{scope}", "--scope", scope]
        )
        assert result.exit_code == 0, result.output
        return result.output.strip().splitlines()[-1]

    def headers(self, key: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"} if key else {}

    def get(self, path: str, key: str | None = "read", **kw: Any) -> Any:
        # buffered: a streamed body is read and its request context closed at once.
        return self.client.get(path, headers=self.headers(self._key(key)), buffered=True, **kw)

    def post(self, path: str, body: Any = None, key: str | None = "write", **kw: Any) -> Any:
        return self.client.post(path, json=body, headers=self.headers(self._key(key)), **kw)

    def patch(self, path: str, body: Any = None, key: str | None = "write") -> Any:
        return self.client.patch(path, json=body, headers=self.headers(self._key(key)))

    def _key(self, key: str | None) -> str | None:
        return {"read": self.read_key, "write": self.write_key}.get(key or "", key)

    # factories -------------------------------------------------------------
    def create_influencer(self, handle: str, followers: int = 5000, **extra: Any) -> dict:
        body = {
            "handle": handle,
            "name": handle.title(),
            "email": f"{handle}@example.com",
            "platforms": [{"platform": "instagram", "handle": handle, "followers": followers}],
            **extra,
        }
        r = self.post("/api/v1/influencers", body)
        assert r.status_code == 201, r.json
        return r.json

    def create_campaign(self, slug: str = "spring", **extra: Any) -> dict:
        body = {
            "name": slug.title(),
            "slug": slug,
            "goal": "conversions",
            "kind": "affiliate",
            "currency": "EUR",
            "starts_on": "2026-09-01",
            "allowed_domains": ["shop.example"],
            "fallback_url": "https://shop.example/sale-over",
            "hold_days": 14,
            "commission_rules": [{"type": "percent", "rate": "10"}],
            **extra,
        }
        r = self.post("/api/v1/campaigns", body)
        assert r.status_code == 201, r.json
        return r.json

    def add_partner(self, campaign_id: str, influencer_id: str, rules: Any = None) -> dict:
        body: dict[str, Any] = {"influencer_id": influencer_id}
        if rules is not None:
            body["commission_rules"] = rules
        r = self.post(f"/api/v1/campaigns/{campaign_id}/partners", body)
        assert r.status_code == 201, r.json
        return r.json

    def create_link(self, campaign_id: str, influencer_id: str, **extra: Any) -> dict:
        body = {
            "campaign_id": campaign_id,
            "influencer_id": influencer_id,
            "destination": "https://shop.example/spring?ref=bio",
            "platform": "instagram",
            **extra,
        }
        r = self.post("/api/v1/links", body)
        assert r.status_code == 201, r.json
        return r.json

    def create_promo_code(self, campaign_id: str, influencer_id: str, code: str) -> dict:
        r = self.post(
            "/api/v1/promo-codes",
            {"campaign_id": campaign_id, "influencer_id": influencer_id, "code": code},
        )
        assert r.status_code == 201, r.json
        return r.json

    def webhook(
        self,
        payload: Any,
        *,
        source: str = "generic",
        secret: str = WEBHOOK_SECRET,
        timestamp: int | None = None,
        raw: bytes | None = None,
    ) -> Any:
        body = raw if raw is not None else json.dumps(payload).encode()
        ts = timestamp if timestamp is not None else int(clock.now_utc().timestamp())
        headers = {"Content-Type": "application/json", **sign_generic(body, secret, ts)}
        return self.client.post(f"/webhooks/{source}", data=body, headers=headers)

    def rows(self, table: str) -> int:
        """How many rows a table holds (for 'nothing stored' assertions)."""
        db = self.app.extensions["afftrack"].db
        with db.engine.connect() as conn:
            return int(conn.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one())


@pytest.fixture
def pg_api(pg_app: Flask, frozen: Any) -> Api:
    return Api(pg_app, pg_app.test_client())


@pytest.fixture
def sqlite_api(sqlite_app: Flask, frozen: Any) -> Api:
    return Api(sqlite_app, sqlite_app.test_client())


def random_handle() -> str:
    return f"inf-{secrets.token_hex(4)}"
