"""objectives: a campaign's targets for a KPI by a deadline (docs/objectives.md)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "objectives",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("campaign_id", sa.String(40), nullable=False),
        sa.Column("kpi", sa.String(30), nullable=False),
        sa.Column("target", sa.BigInteger(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("scope", sa.String(20), nullable=False),
        sa.Column("influencer_id", sa.String(40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name="fk_objectives_campaign_id_campaigns"
        ),
        sa.ForeignKeyConstraint(
            ["influencer_id"], ["influencers.id"], name="fk_objectives_influencer_id_influencers"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_objectives"),
    )
    op.create_index("ix_objectives_campaign_id", "objectives", ["campaign_id"])


def downgrade() -> None:
    op.drop_index("ix_objectives_campaign_id", table_name="objectives")
    op.drop_table("objectives")
