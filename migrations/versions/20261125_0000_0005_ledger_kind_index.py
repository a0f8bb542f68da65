"""commission_lines: index (kind, occurred_at) for month-end settlement lines, and
reverses_line_id (a rejection finds a line's reversals)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 00:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_commission_lines_kind_occurred_at", "commission_lines", ["kind", "occurred_at"]
    )
    op.create_index(
        "ix_commission_lines_reverses_line_id", "commission_lines", ["reverses_line_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_commission_lines_reverses_line_id", table_name="commission_lines")
    op.drop_index("ix_commission_lines_kind_occurred_at", table_name="commission_lines")
