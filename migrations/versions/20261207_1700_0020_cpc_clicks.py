"""click_daily and click_monthly count the clicks a cpc rule pays for (cpc_clicks: the
unique, non-bot clicks that were redirected, not sent to the fallback), kept by the
same triggers and filled in from the stored clicks, so a month's settlement reads them
instead of scanning the month's clicks; PostgreSQL keeps statistics on the rule type of
ledger lines, so it plans a month's tiered true-up for the many lines it reads

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 17:00:00
"""

from __future__ import annotations

import importlib

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

ROLL_UPS = importlib.import_module("migrations.versions.20261125_0500_0008_report_roll_ups")
UNIQUE = importlib.import_module("migrations.versions.20261207_0600_0009_click_unique_updates")
SOURCE = importlib.import_module("migrations.versions.20261207_1400_0013_click_source")

CLICK_COUNTS = (*SOURCE.CLICK_COUNTS, "cpc_clicks")
GRAINS = ROLL_UPS.GRAINS
ROLL_UP_TABLES = tuple(f"click_{grain}" for grain in GRAINS)
PAID = "is_unique AND NOT is_bot AND outcome = 'redirect'"


# --- PostgreSQL: the statement trigger's function, one more count --------------------------
def _pg_clicks(grain: str) -> str:
    return f"""
  INSERT INTO click_{grain} (link_id, day, campaign_id, influencer_id,
                             {", ".join(CLICK_COUNTS)})
  SELECT i.link_id, {ROLL_UPS.pg_day("i.occurred_at", grain)}, l.campaign_id, l.influencer_id,
         count(*) FILTER (WHERE NOT is_bot),
         count(*) FILTER (WHERE NOT is_bot AND is_unique),
         count(*) FILTER (WHERE is_bot),
         count(*) FILTER (WHERE NOT is_bot AND source = 'qr'),
         count(*) FILTER (WHERE {PAID})
  FROM inserted_clicks i JOIN links l ON l.id = i.link_id GROUP BY 1, 2, 3, 4
  {ROLL_UPS._add(f"click_{grain}", CLICK_COUNTS, ("link_id", "day"))};"""


PG_CLICKS = (
    "CREATE OR REPLACE FUNCTION afftrack_click_daily() RETURNS trigger LANGUAGE plpgsql "
    "AS $$\nBEGIN" + "".join(_pg_clicks(g) for g in GRAINS) + "\n  RETURN NULL;\nEND\n$$"
)


# A demoted click (is_unique changed) moves cpc_clicks with unique_clicks when it was
# redirected: its old contribution off its row, the new one on.
def _pg_unique(grain: str) -> str:
    return "".join(
        f"""
  UPDATE click_{grain} SET unique_clicks = unique_clicks {sign} 1,
         cpc_clicks = cpc_clicks {sign} (CASE WHEN {row}.outcome = 'redirect' THEN 1 ELSE 0 END)
  WHERE {row}.is_unique AND NOT {row}.is_bot AND link_id = {row}.link_id
    AND day = {ROLL_UPS.pg_day(f"{row}.occurred_at", grain)};"""
        for row, sign in (("OLD", "-"), ("NEW", "+"))
    )


PG_UNIQUE = (
    "CREATE OR REPLACE FUNCTION afftrack_click_unique() RETURNS trigger LANGUAGE plpgsql "
    "AS $$\nBEGIN" + "".join(_pg_unique(g) for g in GRAINS) + "\n  RETURN NULL;\nEND\n$$"
)


# --- SQLite: the row triggers, one more count -----------------------------------------------
def _sqlite_clicks(grain: str) -> str:
    return f"""
  INSERT INTO click_{grain} (link_id, day, campaign_id, influencer_id,
                             {", ".join(CLICK_COUNTS)})
  SELECT NEW.link_id, {ROLL_UPS.sqlite_day("NEW.occurred_at", grain)}, l.campaign_id,
         l.influencer_id, NOT NEW.is_bot, (NOT NEW.is_bot) AND NEW.is_unique, NEW.is_bot,
         (NOT NEW.is_bot) AND NEW.source = 'qr',
         NEW.is_unique AND NOT NEW.is_bot AND NEW.outcome = 'redirect'
  FROM links l WHERE l.id = NEW.link_id
  {ROLL_UPS._add(f"click_{grain}", CLICK_COUNTS, ("link_id", "day"))};"""


SQLITE_CLICKS = (
    "CREATE TRIGGER clicks_daily AFTER INSERT ON clicks BEGIN"
    + "".join(_sqlite_clicks(g) for g in GRAINS)
    + "\nEND"
)


def _sqlite_unique(grain: str) -> str:
    return "".join(
        f"""
  UPDATE click_{grain} SET unique_clicks = unique_clicks {sign} 1,
         cpc_clicks = cpc_clicks {sign} ({row}.outcome = 'redirect')
  WHERE {row}.is_unique AND NOT {row}.is_bot AND link_id = {row}.link_id
    AND day = {ROLL_UPS.sqlite_day(f"{row}.occurred_at", grain)};"""
        for row, sign in (("OLD", "-"), ("NEW", "+"))
    )


SQLITE_UNIQUE = (
    "CREATE TRIGGER clicks_unique AFTER UPDATE OF is_unique ON clicks "
    "WHEN OLD.is_unique IS NOT NEW.is_unique BEGIN"
    + "".join(_sqlite_unique(g) for g in GRAINS)
    + "\nEND"
)


def _backfill(grain: str, postgres: bool) -> str:
    """The stored clicks' cpc count onto their rows (every row exists: the INSERT trigger
    wrote it). Clicks whose partition retention detached are not there to count."""
    if postgres:
        day = ROLL_UPS.pg_day("occurred_at", grain)
        return f"""
UPDATE click_{grain} r SET cpc_clicks = c.n
FROM (SELECT link_id, {day} AS day, count(*) AS n FROM clicks WHERE {PAID}
      GROUP BY 1, 2) c
WHERE r.link_id = c.link_id AND r.day = c.day"""
    day = ROLL_UPS.sqlite_day("occurred_at", grain)
    return f"""
UPDATE click_{grain} SET cpc_clicks = (
  SELECT count(*) FROM clicks WHERE {PAID} AND link_id = click_{grain}.link_id
    AND {day} = click_{grain}.day)"""


# A month's tiered true-up selects its lines by ``rule ->> 'type'``; without statistics
# on that expression PostgreSQL guesses a few hundred rows and plans a nested loop over
# every order of the month (docs/BENCHMARKS.md, "Every dashboard page").
PG_RULE_TYPE_STATISTICS = (
    "CREATE STATISTICS IF NOT EXISTS stx_commission_lines_rule_type "
    "ON ((rule ->> 'type')) FROM commission_lines"
)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        # The worker's COPY waits for the new trigger rather than count a click twice or
        # not at all: the table lock is taken first, the count read after it.
        op.execute("SET LOCAL lock_timeout = '10s'")
        op.execute("LOCK TABLE clicks IN SHARE ROW EXCLUSIVE MODE")
    for table in ROLL_UP_TABLES:
        op.add_column(
            table, sa.Column("cpc_clicks", sa.BigInteger(), server_default="0", nullable=False)
        )
    if postgres:
        op.execute(PG_CLICKS)
        op.execute(PG_UNIQUE)
    else:
        op.execute("DROP TRIGGER IF EXISTS clicks_daily")
        op.execute("DROP TRIGGER IF EXISTS clicks_unique")
        op.execute(SQLITE_CLICKS)
        op.execute(SQLITE_UNIQUE)
    for grain in GRAINS:
        op.execute(_backfill(grain, postgres))
    if postgres:
        op.execute(PG_RULE_TYPE_STATISTICS)
        op.execute("ANALYZE commission_lines")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("DROP STATISTICS IF EXISTS stx_commission_lines_rule_type")
    # The triggers as revisions 0013 and 0009 left them, then the columns (SQLite drops
    # a column in place: a batch rebuild would lose the tables' triggers).
    if postgres:
        op.execute(SOURCE.PG_CLICKS)
        op.execute(UNIQUE.PG_FUNCTION.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"))
    else:
        op.execute("DROP TRIGGER IF EXISTS clicks_daily")
        op.execute("DROP TRIGGER IF EXISTS clicks_unique")
        op.execute(SOURCE.SQLITE_CLICKS)
        op.execute(UNIQUE.SQLITE_TRIGGER)
    for table in ROLL_UP_TABLES:
        op.execute(f"ALTER TABLE {table} DROP COLUMN cpc_clicks")
