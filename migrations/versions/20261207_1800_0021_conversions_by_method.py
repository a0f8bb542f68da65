"""conversion_daily and conversion_monthly count their orders per attribution method
(click_conversions, promo_code_conversions, utm_conversions: parts of conversions),
kept by the same triggers and filled in from the stored orders, so a report's
conversion rate counts the orders its clicks brought, not those of promo codes

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 18:00:00
"""

from __future__ import annotations

import importlib

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

ROLL_UPS = importlib.import_module("migrations.versions.20261125_0500_0008_report_roll_ups")

# The attribution methods as of this revision (service/conversions/attribution.py
# METHODS), each counted in a column of its own.
METHODS = ("click", "promo_code", "utm")
BY_METHOD = tuple(f"{method}_conversions" for method in METHODS)
CONVERSION_COUNTS = (*ROLL_UPS.CONVERSION_COUNTS, *BY_METHOD)
GRAINS = ROLL_UPS.GRAINS
ROLL_UP_TABLES = tuple(f"conversion_{grain}" for grain in GRAINS)
COLUMNS = ", ".join(CONVERSION_COUNTS)
# The columns whose change moves an order's contribution: 0008's, and now its method.
WATCHED = (
    "campaign_id, influencer_id, link_id, occurred_at, currency, amount_minor, "
    "refunded_minor, status, method"
)


def _one_per_method(row: str, sign: str) -> str:
    # CASE rather than a comparison: an order's method may be null (no SQL NULL may
    # reach the sums).
    return ", ".join(
        f"{sign}(CASE WHEN {row}.method = '{method}' THEN 1 ELSE 0 END)" for method in METHODS
    )


# --- PostgreSQL: the row trigger's function, the counts per method --------------------------
def _pg_order(row: str, sign: str, grain: str) -> str:
    return f"""
    INSERT INTO conversion_{grain} (campaign_id, day, influencer_id, link_id, currency,
                                    {COLUMNS})
    VALUES ({row}.campaign_id, {ROLL_UPS.pg_day(f"{row}.occurred_at", grain)},
            coalesce({row}.influencer_id, ''), coalesce({row}.link_id, ''), {row}.currency,
            {sign}1, {sign}({row}.amount_minor - {row}.refunded_minor),
            {_one_per_method(row, sign)})
    {ROLL_UPS._add(f"conversion_{grain}", CONVERSION_COUNTS)};"""


PG_CONVERSIONS = f"""
CREATE OR REPLACE FUNCTION afftrack_conversion_daily() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' AND OLD.campaign_id IS NOT NULL AND OLD.status <> 'cancelled' THEN
    {"".join(_pg_order("OLD", "-", g) for g in GRAINS)}
  END IF;
  IF TG_OP <> 'DELETE' AND NEW.campaign_id IS NOT NULL AND NEW.status <> 'cancelled' THEN
    {"".join(_pg_order("NEW", "", g) for g in GRAINS)}
  END IF;
  RETURN NULL;
END
$$
"""
PG_CONVERSIONS_TRIGGER = (
    f"CREATE TRIGGER conversions_daily AFTER INSERT OR DELETE OR UPDATE OF {WATCHED} "
    "ON conversions FOR EACH ROW EXECUTE FUNCTION afftrack_conversion_daily()"
)


# --- SQLite: the three row triggers, the counts per method ---------------------------------
def _sqlite_order(row: str, sign: str) -> str:
    return "".join(
        f"""
  INSERT INTO conversion_{grain} (campaign_id, day, influencer_id, link_id, currency,
                                  {COLUMNS})
  SELECT {row}.campaign_id, {ROLL_UPS.sqlite_day(f"{row}.occurred_at", grain)},
         coalesce({row}.influencer_id, ''), coalesce({row}.link_id, ''), {row}.currency,
         {sign}1, {sign}({row}.amount_minor - {row}.refunded_minor),
         {_one_per_method(row, sign)}
  WHERE {row}.campaign_id IS NOT NULL AND {row}.status <> 'cancelled'
  {ROLL_UPS._add(f"conversion_{grain}", CONVERSION_COUNTS)};"""
        for grain in GRAINS
    )


SQLITE_TRIGGERS = (
    "CREATE TRIGGER conversions_daily_insert AFTER INSERT ON conversions BEGIN"
    + _sqlite_order("NEW", "")
    + "\nEND",
    f"CREATE TRIGGER conversions_daily_update AFTER UPDATE OF {WATCHED} ON conversions BEGIN"
    + _sqlite_order("OLD", "-")
    + _sqlite_order("NEW", "")
    + "\nEND",
    "CREATE TRIGGER conversions_daily_delete AFTER DELETE ON conversions BEGIN"
    + _sqlite_order("OLD", "-")
    + "\nEND",
)
SQLITE_TRIGGER_NAMES = tuple(trigger.split()[2] for trigger in SQLITE_TRIGGERS)
# 0008's versions of the same three (its tuple's first three), for the downgrade.
SQLITE_TRIGGERS_0008 = ROLL_UPS.SQLITE_TRIGGERS[:3]


def _backfill(grain: str, postgres: bool) -> str:
    """The stored orders' counts per method onto their rows (every row exists: the
    triggers wrote it): the same orders as 0008's roll-ups count, attributed and not
    cancelled. UPDATE ... FROM is the same on both (SQLite since 3.33)."""
    counts = ", ".join(
        f"sum(CASE WHEN method = '{m}' THEN 1 ELSE 0 END) AS {c}"
        for m, c in zip(METHODS, BY_METHOD, strict=True)
    )
    day = (ROLL_UPS.pg_day if postgres else ROLL_UPS.sqlite_day)("occurred_at", grain)
    sets = ", ".join(f"{c} = o.{c}" for c in BY_METHOD)
    keys = " AND ".join(f"r.{k} = o.{k}" for k in ROLL_UPS.KEY)
    return f"""
UPDATE conversion_{grain} AS r SET {sets}
FROM (SELECT campaign_id, {day} AS day, coalesce(influencer_id, '') AS influencer_id,
             coalesce(link_id, '') AS link_id, currency, {counts}
      FROM conversions WHERE campaign_id IS NOT NULL AND status <> 'cancelled'
      GROUP BY 1, 2, 3, 4, 5) AS o
WHERE {keys}"""


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        # No order may be written or changed between the backfill and the trigger that
        # takes over from it: writers wait until this migration commits (as in 0008).
        op.execute("SET LOCAL lock_timeout = '10s'")
        op.execute("LOCK TABLE conversions IN SHARE ROW EXCLUSIVE MODE")
    for table in ROLL_UP_TABLES:
        for column in BY_METHOD:
            op.add_column(
                table, sa.Column(column, sa.BigInteger(), server_default="0", nullable=False)
            )
    if postgres:
        op.execute("DROP TRIGGER IF EXISTS conversions_daily ON conversions")
        op.execute(PG_CONVERSIONS)
        op.execute(PG_CONVERSIONS_TRIGGER)
    else:
        for name in SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        for trigger in SQLITE_TRIGGERS:
            op.execute(trigger)
    for grain in GRAINS:
        op.execute(_backfill(grain, postgres))


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    # The triggers as revision 0008 left them, then the columns (SQLite drops a column
    # in place: a batch rebuild would lose the tables' triggers).
    if postgres:
        op.execute("DROP TRIGGER IF EXISTS conversions_daily ON conversions")
        op.execute(
            ROLL_UPS.PG_CONVERSIONS.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)
        )
        op.execute(ROLL_UPS.PG_CONVERSIONS_TRIGGER)
    else:
        for name in SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        for trigger in SQLITE_TRIGGERS_0008:
            op.execute(trigger)
    for table in ROLL_UP_TABLES:
        for column in BY_METHOD:
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
