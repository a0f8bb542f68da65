"""deliverables: rejected_at and rejection_reason (a post rejected before approval,
ADR "rejecting a post")

Revision ID: 0019
Revises: 0015
Create Date: 2026-12-07 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliverables") as batch:
        batch.add_column(sa.Column("rejected_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("rejection_reason", sa.String(1000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliverables") as batch:
        batch.drop_column("rejection_reason")
        batch.drop_column("rejected_at")
