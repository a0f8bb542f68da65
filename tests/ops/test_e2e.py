"""End-to-end: the four steps of the product on PostgreSQL + Redis, and on SQLite."""

from __future__ import annotations

from tests.support.flow import run_flow


def test_flow_on_postgres_and_redis(pg_api, frozen):
    run_flow(pg_api, frozen, with_redis=True)


def test_flow_on_embedded_sqlite(sqlite_api, frozen):
    run_flow(sqlite_api, frozen, with_redis=False)
