"""campaigns: media_value_rates (null: the defaults, docs/objectives.md "Media value");
deliverables: link_id (the tracked link a post promotes, for its click-through rate)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(
            sa.Column(
                "media_value_rates",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
    with op.batch_alter_table("deliverables") as batch:
        batch.add_column(sa.Column("link_id", sa.String(40), nullable=True))
        batch.create_foreign_key(
            op.f("fk_deliverables_link_id_links"), "links", ["link_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("deliverables") as batch:
        batch.drop_constraint("fk_deliverables_link_id_links", type_="foreignkey")
        batch.drop_column("link_id")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("media_value_rates")
