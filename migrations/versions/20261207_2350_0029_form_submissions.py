"""form submissions: what a dashboard form's one-time token made, per API key (ADR "a
form sent twice makes one thing")

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07 23:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "form_submissions",
        sa.Column("key_id", sa.String(40), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("made_id", sa.String(40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"], ["api_keys.id"], name="fk_form_submissions_key_id_api_keys"
        ),
        sa.PrimaryKeyConstraint("key_id", "token", name="pk_form_submissions"),
    )


def downgrade() -> None:
    op.drop_table("form_submissions")
