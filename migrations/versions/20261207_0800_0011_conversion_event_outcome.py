"""conversion_events say what each came to (``outcome``: applied or not_applied, None
while it waits for its order), backfilled from the note's wording, which stays as it
was; the database refuses an unknown outcome (CHECK)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# The vocabulary as of this revision (service/conversions/models.py EventOutcome).
OUTCOMES = ("applied", "not_applied")
CHECK = "ck_conversion_events_outcome"

# Until this revision an event refused by its order was told apart by its note alone
# (service/conversions/refunds.py wrote "not applied: …").
BACKFILL = (
    "UPDATE conversion_events SET outcome = CASE "
    "WHEN note LIKE 'not applied%' THEN 'not_applied' ELSE 'applied' END "
    "WHERE applied_at IS NOT NULL"
)


def upgrade() -> None:
    op.add_column("conversion_events", sa.Column("outcome", sa.String(12), nullable=True))
    op.execute(BACKFILL)
    # SQLite rebuilds the table to add a CHECK (batch mode); it has no triggers.
    with op.batch_alter_table("conversion_events", recreate="auto") as batch:
        batch.create_check_constraint(
            op.f(CHECK), f"outcome IN ({', '.join(repr(v) for v in OUTCOMES)})"
        )


def downgrade() -> None:
    with op.batch_alter_table("conversion_events", recreate="auto") as batch:
        batch.drop_constraint(op.f(CHECK), type_="check")
        batch.drop_column("outcome")
