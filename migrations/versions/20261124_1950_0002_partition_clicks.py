"""clicks keyed by (id, occurred_at); partitioned by month on PostgreSQL

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 19:50:00
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _columns() -> list[sa.Column]:
    return [
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("link_id", sa.String(length=40), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ip_hash", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=512), nullable=False),
        sa.Column("referrer", sa.String(length=1024), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("is_bot", sa.Boolean(), nullable=False),
        sa.Column("bot_reason", sa.String(length=40), nullable=True),
        sa.Column("is_unique", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
    ]


_COLUMN_LIST = (
    "id, link_id, occurred_at, ip_hash, user_agent, referrer, country, is_bot, "
    "bot_reason, is_unique, outcome"
)


def _next(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def _partition(month: date) -> None:
    op.execute(
        f"CREATE TABLE IF NOT EXISTS clicks_{month.year:04d}_{month.month:02d} "
        f"PARTITION OF clicks FOR VALUES FROM ('{month.isoformat()} 00:00+00') "
        f"TO ('{_next(month).isoformat()} 00:00+00')"
    )


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        with op.batch_alter_table("clicks", recreate="always") as batch:
            batch.drop_constraint("pk_clicks", type_="primary")
            batch.create_primary_key("pk_clicks", ["id", "occurred_at"])
        return

    op.execute("ALTER TABLE clicks RENAME TO clicks_unpartitioned")
    op.execute("ALTER INDEX pk_clicks RENAME TO pk_clicks_unpartitioned")
    op.execute("ALTER INDEX ix_clicks_link_id_occurred_at RENAME TO ix_clicks_unpartitioned_link")
    op.execute(
        "ALTER TABLE clicks_unpartitioned RENAME CONSTRAINT fk_clicks_link_id_links "
        "TO fk_clicks_unpartitioned_link"
    )
    op.create_table(
        "clicks",
        *_columns(),
        sa.ForeignKeyConstraint(["link_id"], ["links.id"], name="fk_clicks_link_id_links"),
        sa.PrimaryKeyConstraint("id", "occurred_at", name="pk_clicks"),
        postgresql_partition_by="RANGE (occurred_at)",
    )
    op.create_index("ix_clicks_link_id_occurred_at", "clicks", ["link_id", "occurred_at"])

    bind = op.get_bind()
    months = {
        row[0].date()
        for row in bind.execute(
            sa.text(
                "SELECT DISTINCT date_trunc('month', occurred_at AT TIME ZONE 'UTC') "
                "FROM clicks_unpartitioned"
            )
        )
    }
    now = datetime.now(UTC)
    month = date(now.year, now.month, 1)
    for _ in range(3):  # this month and two ahead; the worker keeps going from there
        months.add(month)
        month = _next(month)
    for month in sorted(months):
        _partition(month)
    op.execute(
        f"INSERT INTO clicks ({_COLUMN_LIST}) SELECT {_COLUMN_LIST} FROM clicks_unpartitioned"
    )
    op.drop_table("clicks_unpartitioned")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        with op.batch_alter_table("clicks", recreate="always") as batch:
            batch.drop_constraint("pk_clicks", type_="primary")
            batch.create_primary_key("pk_clicks", ["id"])
        return
    op.execute("ALTER TABLE clicks RENAME TO clicks_partitioned")
    op.execute("ALTER INDEX pk_clicks RENAME TO pk_clicks_partitioned")
    op.execute("ALTER INDEX ix_clicks_link_id_occurred_at RENAME TO ix_clicks_partitioned_link")
    op.execute(
        "ALTER TABLE clicks_partitioned RENAME CONSTRAINT fk_clicks_link_id_links "
        "TO fk_clicks_partitioned_link"
    )
    op.create_table(
        "clicks",
        *_columns(),
        sa.ForeignKeyConstraint(["link_id"], ["links.id"], name="fk_clicks_link_id_links"),
        sa.PrimaryKeyConstraint("id", name="pk_clicks"),
    )
    op.create_index("ix_clicks_link_id_occurred_at", "clicks", ["link_id", "occurred_at"])
    op.execute(
        f"INSERT INTO clicks ({_COLUMN_LIST}) SELECT {_COLUMN_LIST} FROM clicks_partitioned "
        "ON CONFLICT (id) DO NOTHING"
    )
    op.execute("DROP TABLE clicks_partitioned CASCADE")
