"""commission_lines say what they are for (``purpose``, backfilled from the idempotency
keys' prefixes; a carry-forward's second line reverses its first), and the database
refuses a line of an unknown kind, status or purpose, and an order of an unknown status
(CHECK constraints)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 07:00:00
"""

from __future__ import annotations

import importlib

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

ROLL_UPS = importlib.import_module("migrations.versions.20261125_0500_0008_report_roll_ups")
APPEND_ONLY = importlib.import_module("migrations.versions.20261125_0300_0006_export_indexes")
APPEND_ONLY_TRIGGER = "commission_lines_append_only"  # revision 0004

# The vocabularies as of this revision (service/commissions/models.py,
# service/conversions/models.py); a later change to one is a migration of its own.
KINDS = ("sale", "reversal", "cpc", "per_post", "true_up", "adjustment")
STATUSES = ("pending", "paid", "rejected")
PURPOSES = (*KINDS, "rejection", "carry_out", "carry_in")
CONVERSION_STATUSES = ("open", "partially_refunded", "refunded", "cancelled")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


LINE_CHECKS = {
    "ck_commission_lines_kind": _one_of("kind", KINDS),
    "ck_commission_lines_status": _one_of("status", STATUSES),
    "ck_commission_lines_purpose": _one_of("purpose", PURPOSES),
}
CONVERSION_CHECKS = {"ck_conversions_status": _one_of("status", CONVERSION_STATUSES)}

# What each line is for, from the key it was written under (the keys themselves stay).
BACKFILL_PURPOSE = (
    "UPDATE commission_lines SET purpose = CASE "
    "WHEN kind = 'adjustment' AND idempotency_key LIKE 'rejection:%' THEN 'rejection' "
    "WHEN kind = 'adjustment' AND idempotency_key LIKE 'carry:%' THEN 'carry_out' "
    "WHEN kind = 'adjustment' AND idempotency_key LIKE 'carried:%' THEN 'carry_in' "
    "ELSE kind END"
)
# A carry-forward's second line ("carried:<period>:<influencer>:<currency>") reverses
# its first ("carry:" and the same): how a statement finds one from the other.
BACKFILL_CARRY_IN = (
    "UPDATE commission_lines SET reverses_line_id = ("
    "SELECT o.id FROM commission_lines o "
    "WHERE o.idempotency_key = 'carry:' || substr(commission_lines.idempotency_key, 9)"
    ") WHERE purpose = 'carry_in'"
)

# The append-only trigger's frozen columns: ``purpose`` never changes either.
FROZEN = (*APPEND_ONLY.FROZEN, "purpose")
FUNCTION = APPEND_ONLY.PREVIOUS.replace(
    APPEND_ONLY._AS_JSON,
    f"({', '.join(f'NEW.{c}' for c in FROZEN)}) IS DISTINCT FROM\n"
    f"     ({', '.join(f'OLD.{c}' for c in FROZEN)})",
)
assert FUNCTION != APPEND_ONLY.PREVIOUS

# SQLite rebuilds a table to add or drop a CHECK (batch mode), and a table's triggers
# go with it: revision 0008's are created again, exactly.
LINE_TRIGGERS = tuple(t for t in ROLL_UPS.SQLITE_TRIGGERS if " ON commission_lines " in t)
CONVERSION_TRIGGERS = tuple(t for t in ROLL_UPS.SQLITE_TRIGGERS if " ON conversions " in t)
assert len(LINE_TRIGGERS) == 2 and len(CONVERSION_TRIGGERS) == 3


def _names(triggers: tuple[str, ...]) -> list[str]:
    return [trigger.split()[2] for trigger in triggers]


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    postgres = _postgres()
    if postgres:
        # It takes the ledger whole (docs/operations.md#upgrades-and-migrations): rather
        # than queue every read and write behind a running export, give up and change
        # nothing.
        op.execute("SET LOCAL lock_timeout = '10s'")
    if not postgres:
        for name in _names(LINE_TRIGGERS) + _names(CONVERSION_TRIGGERS):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.add_column("commission_lines", sa.Column("purpose", sa.String(20), nullable=True))
    if postgres:
        # The ledger is append-only: lifted for the backfill, restored in the same
        # transaction (now freezing ``purpose`` too).
        op.execute(f"ALTER TABLE commission_lines DISABLE TRIGGER {APPEND_ONLY_TRIGGER}")
    op.execute(BACKFILL_PURPOSE)
    op.execute(BACKFILL_CARRY_IN)
    if postgres:
        op.execute(f"ALTER TABLE commission_lines ENABLE TRIGGER {APPEND_ONLY_TRIGGER}")
        op.execute(FUNCTION)
    with op.batch_alter_table("commission_lines", recreate="auto") as batch:
        batch.alter_column("purpose", existing_type=sa.String(20), nullable=False)
        for name, condition in LINE_CHECKS.items():
            batch.create_check_constraint(op.f(name), condition)
    with op.batch_alter_table("conversions", recreate="auto") as batch:
        for name, condition in CONVERSION_CHECKS.items():
            batch.create_check_constraint(op.f(name), condition)
    if not postgres:
        for trigger in LINE_TRIGGERS + CONVERSION_TRIGGERS:
            op.execute(trigger)


def downgrade() -> None:
    postgres = _postgres()
    if not postgres:
        for name in _names(LINE_TRIGGERS) + _names(CONVERSION_TRIGGERS):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    with op.batch_alter_table("conversions", recreate="auto") as batch:
        for name in CONVERSION_CHECKS:
            batch.drop_constraint(op.f(name), type_="check")
    with op.batch_alter_table("commission_lines", recreate="auto") as batch:
        for name in LINE_CHECKS:
            batch.drop_constraint(op.f(name), type_="check")
    if postgres:
        op.execute(APPEND_ONLY.FUNCTION)
        op.execute(f"ALTER TABLE commission_lines DISABLE TRIGGER {APPEND_ONLY_TRIGGER}")
    op.execute("UPDATE commission_lines SET reverses_line_id = NULL WHERE purpose = 'carry_in'")
    if postgres:
        op.execute(f"ALTER TABLE commission_lines ENABLE TRIGGER {APPEND_ONLY_TRIGGER}")
    with op.batch_alter_table("commission_lines", recreate="auto") as batch:
        batch.drop_column("purpose")
    if not postgres:
        for trigger in LINE_TRIGGERS + CONVERSION_TRIGGERS:
            op.execute(trigger)
