"""The test apps' parts, importable by tests and helpers alike: a throwaway migrated
PostgreSQL database, settings for a test app, emptying its tables, and :class:`Api`, an
authenticated JSON client with factories for influencers, campaigns, partners, links and
promo codes (the fixtures that use them are in tests/conftest.py)."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from service import clock
from service.config import Settings
from service.conversions.webhooks.signatures import sign_generic
from service.migrate import upgrade
from service.models import metadata

PG_ADMIN_URL = os.environ.get("AFFTRACK_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_BASE = os.environ.get("AFFTRACK_TEST_REDIS", "redis://127.0.0.1:6379")
WEBHOOK_SECRET = "test-generic-secret"
AFFTRACK = str(Path(sys.executable).with_name("afftrack"))  # the console script


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


def random_handle() -> str:
    return f"inf-{secrets.token_hex(4)}"


def new_link(api: Api) -> dict:
    influencer = api.create_influencer(random_handle())
    campaign = api.create_campaign(f"c-{influencer['handle']}")
    api.add_partner(campaign["id"], influencer["id"])
    return api.create_link(campaign["id"], influencer["id"])
