"""the portal's door: the events of a kind in a time (the new-link limits), the form a
session was opened from (a repeated Sign in press; docs/portal.md)

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_portal_events_kind_at", "portal_events", ["kind", "at"])
    with op.batch_alter_table("portal_sessions") as batch:
        batch.add_column(sa.Column("form_hash", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("portal_sessions") as batch:
        batch.drop_column("form_hash")
    op.drop_index("ix_portal_events_kind_at", table_name="portal_events")
