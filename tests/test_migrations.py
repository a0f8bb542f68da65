"""The models and the Alembic migrations agree (autogenerate finds no difference)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text

from service.migrate import alembic_config, include_object, upgrade
from service.models import metadata
from tests.conftest import PG_ADMIN_URL


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def _differences(url: str) -> list:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_object": include_object}
            )
            return compare_metadata(context, metadata)
    finally:
        engine.dispose()


def test_models_match_migrations_on_postgres(pg_url):
    # pg_url was created by running every migration (conftest).
    assert _differences(pg_url) == []


def test_models_match_migrations_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    assert _differences(url) == []


def test_upgrade_is_repeatable(pg_url):
    upgrade(pg_url)  # already at head: a no-op, not an error
    assert _differences(pg_url) == []


CLICK = (
    "INSERT INTO clicks (id, link_id, occurred_at, ip_hash, user_agent, is_bot, is_unique, "
    "outcome) VALUES (:id, 'lnk_m', :at, 'h', 'ua', false, true, 'redirect')"
)
LINK_ROWS = [
    "INSERT INTO influencers (id, handle, name, email, created_at, updated_at) "
    "VALUES ('inf_m', 'm', 'M', 'm@example.com', now(), now())",
    "INSERT INTO campaigns (id, name, slug, goal, kind, currency, starts_on, allowed_domains, "
    "fallback_url, attribution_window_days, hold_days, utm_medium, commission_rules, "
    "created_at, updated_at) VALUES ('cmp_m', 'M', 'm', 'sales', 'affiliate', 'EUR', "
    "'2026-01-01', '[\"shop.example\"]', 'https://shop.example/', 30, 30, 'influencer', "
    "'[]', now(), now())",
    "INSERT INTO partnerships (id, campaign_id, influencer_id, created_at) "
    "VALUES ('prt_m', 'cmp_m', 'inf_m', now())",
    "INSERT INTO links (id, code, partnership_id, campaign_id, influencer_id, destination, "
    "platform, status, created_at, updated_at) VALUES ('lnk_m', 'mmmmmm', 'prt_m', 'cmp_m', "
    "'inf_m', 'https://shop.example/p', 'instagram', 'active', now(), now())",
]


@pytest.fixture
def scratch_pg() -> Iterator[str]:
    name = f"afftrack_mig_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    yield f"{base}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_partitioning_migration_keeps_existing_clicks_and_round_trips(scratch_pg):
    upgrade(scratch_pg, "0001")
    engine = create_engine(scratch_pg)
    try:
        with engine.begin() as conn:
            for statement in LINK_ROWS:
                conn.execute(text(statement))
            conn.execute(text(CLICK), {"id": "c-old", "at": "2025-03-31 23:59:59+00"})
            conn.execute(text(CLICK), {"id": "c-new", "at": "2026-11-02 10:00:00+00"})

        upgrade(scratch_pg)
        with engine.connect() as conn:
            names = set(
                conn.scalars(
                    text(
                        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                        "WHERE i.inhparent = 'clicks'::regclass"
                    )
                )
            )
            stored = conn.execute(
                text("SELECT tableoid::regclass::text, id FROM clicks ORDER BY id")
            ).all()
        assert {"clicks_2025_03", "clicks_2026_11"} <= names
        assert stored == [("clicks_2026_11", "c-new"), ("clicks_2025_03", "c-old")]
        assert _differences(scratch_pg) == []

        downgrade(scratch_pg, "0001")
        with engine.connect() as conn:
            assert sorted(conn.scalars(text("SELECT id FROM clicks"))) == ["c-new", "c-old"]
            partitioned = conn.scalar(text("SELECT count(*) FROM pg_partitioned_table"))
        assert partitioned == 0
    finally:
        engine.dispose()
