"""clicks record where they came from (source: 'link', or 'qr' through the link's QR
code; a CHECK refuses anything else); click_daily and click_monthly count the non-bot
clicks that came through a QR code (qr_scans, part of clicks), kept by the same trigger

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 14:00:00
"""

from __future__ import annotations

import importlib

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

CLICKS_0007 = importlib.import_module("migrations.versions.20261125_0400_0007_click_daily")
ROLL_UPS = importlib.import_module("migrations.versions.20261125_0500_0008_report_roll_ups")

# The sources as of this revision (service/vocabulary.py CLICK_SOURCES).
SOURCES = ("link", "qr")
CHECK = f"source IN ({', '.join(repr(s) for s in SOURCES)})"
CLICK_COUNTS = (*ROLL_UPS.CLICK_COUNTS, "qr_scans")
GRAINS = ROLL_UPS.GRAINS
ROLL_UP_TABLES = tuple(f"click_{grain}" for grain in GRAINS)


# --- PostgreSQL: the statement trigger's function, one more count --------------------------
def _pg_clicks(grain: str) -> str:
    return f"""
  INSERT INTO click_{grain} (link_id, day, campaign_id, influencer_id,
                             {", ".join(CLICK_COUNTS)})
  SELECT i.link_id, {ROLL_UPS.pg_day("i.occurred_at", grain)}, l.campaign_id, l.influencer_id,
         {CLICKS_0007.COUNTS}, count(*) FILTER (WHERE NOT is_bot AND source = 'qr')
  FROM inserted_clicks i JOIN links l ON l.id = i.link_id GROUP BY 1, 2, 3, 4
  {ROLL_UPS._add(f"click_{grain}", CLICK_COUNTS, ("link_id", "day"))};"""


PG_CLICKS = (
    "CREATE OR REPLACE FUNCTION afftrack_click_daily() RETURNS trigger LANGUAGE plpgsql "
    "AS $$\nBEGIN" + "".join(_pg_clicks(g) for g in GRAINS) + "\n  RETURN NULL;\nEND\n$$"
)


# --- SQLite: the row trigger, one more count ------------------------------------------------
def _sqlite_clicks(grain: str) -> str:
    return f"""
  INSERT INTO click_{grain} (link_id, day, campaign_id, influencer_id,
                             {", ".join(CLICK_COUNTS)})
  SELECT NEW.link_id, {ROLL_UPS.sqlite_day("NEW.occurred_at", grain)}, l.campaign_id,
         l.influencer_id, NOT NEW.is_bot, (NOT NEW.is_bot) AND NEW.is_unique, NEW.is_bot,
         (NOT NEW.is_bot) AND NEW.source = 'qr'
  FROM links l WHERE l.id = NEW.link_id
  {ROLL_UPS._add(f"click_{grain}", CLICK_COUNTS, ("link_id", "day"))};"""


SQLITE_CLICKS = (
    "CREATE TRIGGER clicks_daily AFTER INSERT ON clicks BEGIN"
    + "".join(_sqlite_clicks(g) for g in GRAINS)
    + "\nEND"
)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        # The ALTERs wait for the worker's COPY to finish rather than queue every
        # writer behind them for long.
        op.execute("SET LOCAL lock_timeout = '10s'")
    # Every stored click was a plain one: the default says so, no rewrite (PostgreSQL
    # keeps a constant default in the catalogue; the CHECK reads the partitions once).
    # SQLite adds a column with a CHECK in place too. On PostgreSQL the column and the
    # constraint go onto every monthly partition, present and future.
    op.execute(
        "ALTER TABLE clicks ADD COLUMN source VARCHAR(4) DEFAULT 'link' NOT NULL "
        f"CONSTRAINT ck_clicks_source CHECK ({CHECK})"
    )
    # No QR scans before this revision: zero is every stored row's count.
    for table in ROLL_UP_TABLES:
        op.add_column(
            table, sa.Column("qr_scans", sa.BigInteger(), server_default="0", nullable=False)
        )
    if postgres:
        op.execute(PG_CLICKS)
    else:
        op.execute("DROP TRIGGER IF EXISTS clicks_daily")
        op.execute(SQLITE_CLICKS)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    # The trigger as revision 0008 left it, then the columns (SQLite drops a column in
    # place: a batch rebuild would lose the tables' triggers).
    if postgres:
        op.execute(ROLL_UPS.PG_CLICKS)
    else:
        op.execute("DROP TRIGGER IF EXISTS clicks_daily")
        op.execute(ROLL_UPS.SQLITE_CLICKS)
    for table in ROLL_UP_TABLES:
        op.execute(f"ALTER TABLE {table} DROP COLUMN qr_scans")
    if postgres:
        op.execute("ALTER TABLE clicks DROP CONSTRAINT ck_clicks_source")
    op.execute("ALTER TABLE clicks DROP COLUMN source")
