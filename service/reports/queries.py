"""The report's SQL where PostgreSQL and SQLite differ: both variants side by side,
the one of the flavour chosen at start-up picked by :data:`REPORTS` (see
:mod:`service.db`, the dialect seam)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from service.db import Variants


class PostgresReports:
    @staticmethod
    def before_rollup_scans(session: Session) -> None:
        """Plan the roll-up scans of this transaction for their actual parameters."""
        # psycopg prepares a statement after its fifth run, and PostgreSQL may then keep
        # a generic plan for it; for these roll-up scans that plan was twice as slow as
        # one made for the actual campaign and days (docs/BENCHMARKS.md#what-the-reports-took).
        # The setting lasts until the request's transaction ends.
        session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


class SqliteReports:
    @staticmethod
    def before_rollup_scans(session: Session) -> None:
        """Nothing to do on SQLite (no generic plans to keep it from)."""


REPORTS: Variants[PostgresReports | SqliteReports] = Variants(
    postgresql=PostgresReports(), sqlite=SqliteReports()
)
