"""The models and the Alembic migrations agree (autogenerate finds no difference)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

from service.migrate import include_object, upgrade
from service.models import metadata


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
