"""the portal's writes: a post's one-time submission key, payout e-mail change requests
(docs/portal.md)

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

OPEN = sa.text("status = 'requested'")


def upgrade() -> None:
    with op.batch_alter_table("deliverables") as batch:
        batch.add_column(sa.Column("submission_key", sa.String(64), nullable=True))
    op.create_index(
        "ix_deliverables_submission_key", "deliverables", ["submission_key"], unique=True
    )
    op.create_table(
        "payout_change_requests",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("influencer_id", sa.String(40), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(40), nullable=True),
        sa.Column("reason", sa.String(1000), nullable=True),
        sa.ForeignKeyConstraint(
            ["influencer_id"],
            ["influencers.id"],
            name="fk_payout_change_requests_influencer_id_influencers",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_payout_change_requests"),
    )
    op.create_index(
        "ix_payout_change_requests_influencer_id_id",
        "payout_change_requests",
        ["influencer_id", "id"],
    )
    # At most one open request per influencer, whatever races.
    op.create_index(
        "uq_payout_change_requests_one_open",
        "payout_change_requests",
        ["influencer_id"],
        unique=True,
        postgresql_where=OPEN,
        sqlite_where=OPEN,
    )


def downgrade() -> None:
    op.drop_index("uq_payout_change_requests_one_open", table_name="payout_change_requests")
    op.drop_index("ix_payout_change_requests_influencer_id_id", table_name="payout_change_requests")
    op.drop_table("payout_change_requests")
    op.drop_index("ix_deliverables_submission_key", table_name="deliverables")
    with op.batch_alter_table("deliverables") as batch:
        batch.drop_column("submission_key")
