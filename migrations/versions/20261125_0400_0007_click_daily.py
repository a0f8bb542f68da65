"""click_daily: clicks counted per link and UTC day, kept by a trigger on clicks

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# The counts a report needs, as the report counts them: clicks are the non-bot ones,
# unique_clicks the unique ones among them, bot_clicks the rest.
COUNTS = (
    "count(*) FILTER (WHERE NOT is_bot), "
    "count(*) FILTER (WHERE NOT is_bot AND is_unique), "
    "count(*) FILTER (WHERE is_bot)"
)
ADD = (
    "ON CONFLICT (link_id, day) DO UPDATE SET "
    "clicks = click_daily.clicks + excluded.clicks, "
    "unique_clicks = click_daily.unique_clicks + excluded.unique_clicks, "
    "bot_clicks = click_daily.bot_clicks + excluded.bot_clicks"
)

# PostgreSQL: once per INSERT or COPY statement, over the rows it really inserted (a
# retried batch's ON CONFLICT DO NOTHING skips adds nothing), in the same transaction.
PG_FUNCTION = """
CREATE FUNCTION afftrack_click_daily() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO click_daily (link_id, day, clicks, unique_clicks, bot_clicks)
  SELECT link_id, (occurred_at AT TIME ZONE 'UTC')::date, {COUNTS}
  FROM inserted_clicks GROUP BY 1, 2
  {ADD};
  RETURN NULL;
END
$$
""".replace("{COUNTS}", COUNTS).replace("{ADD}", ADD)
PG_TRIGGER = (
    "CREATE TRIGGER clicks_daily AFTER INSERT ON clicks REFERENCING NEW TABLE AS "
    "inserted_clicks FOR EACH STATEMENT EXECUTE FUNCTION afftrack_click_daily()"
)
# SQLite (no statement triggers): once per inserted row.
SQLITE_TRIGGER = """
CREATE TRIGGER clicks_daily AFTER INSERT ON clicks BEGIN
  INSERT INTO click_daily (link_id, day, clicks, unique_clicks, bot_clicks)
  VALUES (NEW.link_id, date(NEW.occurred_at), NOT NEW.is_bot,
          (NOT NEW.is_bot) AND NEW.is_unique, NEW.is_bot)
  {ADD};
END
""".replace("{ADD}", ADD)


def upgrade() -> None:
    op.create_table(
        "click_daily",
        sa.Column("link_id", sa.String(40), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("clicks", sa.BigInteger(), nullable=False),
        sa.Column("unique_clicks", sa.BigInteger(), nullable=False),
        sa.Column("bot_clicks", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["link_id"], ["links.id"], name="fk_click_daily_link_id_links"),
        sa.PrimaryKeyConstraint("link_id", "day", name="pk_click_daily"),
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    day = "(occurred_at AT TIME ZONE 'UTC')::date" if postgres else "date(occurred_at)"
    counts = COUNTS if postgres else "sum(NOT is_bot), sum((NOT is_bot) AND is_unique), sum(is_bot)"
    op.execute(
        "INSERT INTO click_daily (link_id, day, clicks, unique_clicks, bot_clicks) "
        f"SELECT link_id, {day}, {counts} FROM clicks GROUP BY 1, 2"
    )
    if postgres:
        op.execute(PG_FUNCTION)
        op.execute(PG_TRIGGER)
    else:
        op.execute(SQLITE_TRIGGER)


def downgrade() -> None:
    op.execute(
        "DROP TRIGGER IF EXISTS clicks_daily"
        + (" ON clicks" if op.get_bind().dialect.name == "postgresql" else "")
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS afftrack_click_daily()")
    op.drop_table("click_daily")
