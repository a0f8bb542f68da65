"""commission_lines on PostgreSQL: an index of the unpaid lines in the export's order,
and an append-only trigger that compares columns instead of whole rows as JSON

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 03:00:00
"""

from __future__ import annotations

import importlib

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# An open month's export reads every unpaid line by (influencer, currency, id) in
# bytewise order (COLLATE "C", whatever the database's locale): with this index it
# streams from the first row instead of sorting a million lines first. Paid and
# rejected lines leave it, so it stays the size of the open months. Built without
# CONCURRENTLY (a migration runs in a transaction): about 3 s at a million lines,
# during which writes to the ledger wait. PostgreSQL only (SQLite has no
# "C" collation and needs none: it compares text bytewise); ``service.migrate``
# keeps autogenerate from reporting it.
UNPAID_INDEX = (
    "CREATE INDEX ix_commission_lines_unpaid ON commission_lines "
    '(influencer_id COLLATE "C", currency COLLATE "C", id COLLATE "C") '
    "WHERE export_id IS NULL AND status = 'pending'"
)

# The columns a line may never change: all but status and export_id. Listed rather
# than compared as to_jsonb(row), which cost ~25 s when a close marks a million lines
# paid. tests/commissions/test_ledger_append_only.py fails when a column is missing from the list.
FROZEN = (  # noqa: SIM905 - reads best as text
    "id idempotency_key influencer_id campaign_id partnership_id conversion_id event_id "
    "deliverable_id reverses_line_id kind rule basis_minor amount_minor currency "
    "occurred_at due_at recorded_at reason created_by_key_id"
).split()

# Revision 0004's function (restored on downgrade) and the same with the frozen columns
# compared as a row instead of as JSON.
PREVIOUS = importlib.import_module(
    "migrations.versions.20261124_2300_0004_ledger_append_only"
).FUNCTION.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)
_AS_JSON = """(to_jsonb(NEW) - 'status' - 'export_id') IS DISTINCT FROM
     (to_jsonb(OLD) - 'status' - 'export_id')"""
assert _AS_JSON in PREVIOUS
FUNCTION = PREVIOUS.replace(
    _AS_JSON,
    f"({', '.join(f'NEW.{c}' for c in FROZEN)}) IS DISTINCT FROM\n"
    f"     ({', '.join(f'OLD.{c}' for c in FROZEN)})",
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(UNPAID_INDEX)
    op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(PREVIOUS)
    op.execute("DROP INDEX IF EXISTS ix_commission_lines_unpaid")
