"""click_daily and click_monthly follow a click's is_unique when it changes (a click
counted unique twice across a Redis outage is demoted): a trigger on UPDATE OF is_unique

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 06:00:00
"""

from __future__ import annotations

import importlib

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ROLL_UPS = importlib.import_module("migrations.versions.20261125_0500_0008_report_roll_ups")


# The click's old contribution to unique_clicks is taken off its row and the new one
# added (its link and day never change: the same row). Both rows exist: the INSERT
# trigger wrote them. A row trigger (PostgreSQL refuses transition tables on a trigger
# with a column list), fired only when the value really changes: demotions are rare.
def _pg(grain: str) -> str:
    return "".join(
        f"""
  UPDATE click_{grain} SET unique_clicks = unique_clicks {sign} 1
  WHERE {row}.is_unique AND NOT {row}.is_bot AND link_id = {row}.link_id
    AND day = {ROLL_UPS.pg_day(f"{row}.occurred_at", grain)};"""
        for row, sign in (("OLD", "-"), ("NEW", "+"))
    )


PG_FUNCTION = (
    "CREATE FUNCTION afftrack_click_unique() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN"
    + "".join(_pg(grain) for grain in ROLL_UPS.GRAINS)
    + "\n  RETURN NULL;\nEND\n$$"
)
# On the partitioned table: PostgreSQL clones it onto every partition, present and future.
PG_TRIGGER = (
    "CREATE TRIGGER clicks_unique AFTER UPDATE OF is_unique ON clicks FOR EACH ROW "
    "WHEN (OLD.is_unique IS DISTINCT FROM NEW.is_unique) "
    "EXECUTE FUNCTION afftrack_click_unique()"
)


def _sqlite(grain: str) -> str:
    return "".join(
        f"""
  UPDATE click_{grain} SET unique_clicks = unique_clicks {sign} 1
  WHERE {row}.is_unique AND NOT {row}.is_bot AND link_id = {row}.link_id
    AND day = {ROLL_UPS.sqlite_day(f"{row}.occurred_at", grain)};"""
        for row, sign in (("OLD", "-"), ("NEW", "+"))
    )


SQLITE_TRIGGER = (
    "CREATE TRIGGER clicks_unique AFTER UPDATE OF is_unique ON clicks "
    "WHEN OLD.is_unique IS NOT NEW.is_unique BEGIN"
    + "".join(_sqlite(grain) for grain in ROLL_UPS.GRAINS)
    + "\nEND"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute(PG_TRIGGER)
    else:
        op.execute(SQLITE_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS clicks_unique ON clicks")
        op.execute("DROP FUNCTION IF EXISTS afftrack_click_unique()")
    else:
        op.execute("DROP TRIGGER IF EXISTS clicks_unique")
