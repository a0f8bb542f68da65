"""commission_lines record how each amount was worked out in typed columns (rule index,
a cap's cut and which cap, a tiered sale's month so far, a settlement line's month,
clicks, net sales, what the month held and what caps withhold), moved out of ``rule``,
where amounts were decimal strings; ``rule`` keeps the rule alone. The database refuses
an unknown cap, a negative cut on a line that earns, and a negative month so far or
click count (CHECK constraints).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 09:00:00
"""

from __future__ import annotations

import importlib
import json
import re
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

VOCABULARY = importlib.import_module("migrations.versions.20261207_0700_0010_ledger_vocabulary")

# The facts as of this revision (service/commissions/models.py WORKING): column, the key
# it had inside ``rule``, its type; amounts were decimal strings in the line's currency.
AMOUNT, NUMBER, TEXT = "amount", "number", "text"
WORKING = (
    ("rule_index", "index", NUMBER),
    ("cut_minor", "cut", AMOUNT),
    ("cap", "cap", TEXT),
    ("before_minor", "before", AMOUNT),
    ("month", "month", TEXT),
    ("clicks", "clicks", NUMBER),
    ("sales_minor", "sales", AMOUNT),
    ("recorded_minor", "recorded", AMOUNT),
    ("withheld_minor", "withheld", AMOUNT),
)
TYPES = {"cap": sa.String(20), "month": sa.String(7)}  # the rest: BIGINT
CAPS = ("monthly_cap", "budget")
GIVES_BACK = ("reversal", "true_up", "cpc")
CHECKS = {
    "ck_commission_lines_cap": f"cap IN ({', '.join(repr(c) for c in CAPS)})",
    "ck_commission_lines_cut": (
        f"cut_minor >= 0 OR kind IN ({', '.join(repr(k) for k in GIVES_BACK)})"
    ),
    "ck_commission_lines_working": "before_minor >= 0 AND clicks >= 0",
}
# An amount as format_amount wrote it: every decimal the currency has, so its digits
# without the point are its minor units ("12.50" EUR: 1250; "-2.50": -250; "500" JPY: 500).
WRITTEN = re.compile(r"-?[0-9]+(\.[0-9]+)?")
APPEND_ONLY_TRIGGER = VOCABULARY.APPEND_ONLY_TRIGGER
FROZEN = (*VOCABULARY.FROZEN, *(column for column, _key, _type in WORKING))
FUNCTION = VOCABULARY.FUNCTION.replace(
    ", ".join(f"NEW.{c}" for c in VOCABULARY.FROZEN), ", ".join(f"NEW.{c}" for c in FROZEN)
).replace(", ".join(f"OLD.{c}" for c in VOCABULARY.FROZEN), ", ".join(f"OLD.{c}" for c in FROZEN))
assert FUNCTION != VOCABULARY.FUNCTION


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _field(key: str, postgres: bool) -> str:
    return f"(rule ->> '{key}')" if postgres else f"json_extract(rule, '$.{key}')"


def _value(key: str, kind: str, postgres: bool) -> str:
    field = _field(key, postgres)
    if kind == AMOUNT:
        return f"CAST(REPLACE({field}, '.', '') AS BIGINT)"
    if kind == NUMBER:
        return f"CAST({field} AS BIGINT)"
    return field


def _check_amounts(postgres: bool) -> None:
    """Refuse to move an amount that format_amount did not write (nothing changes)."""
    amounts = [key for _column, key, kind in WORKING if kind == AMOUNT]
    rows = op.get_bind().execute(
        sa.text(
            f"SELECT id, {', '.join(_field(key, postgres) for key in amounts)} "
            "FROM commission_lines WHERE rule IS NOT NULL"
        )
    )
    unreadable = [
        row[0]
        for row in rows
        if any(v is not None and not WRITTEN.fullmatch(str(v)) for v in row[1:])
    ]
    if unreadable:
        raise RuntimeError(
            f"{len(unreadable)} ledger lines hold an amount that cannot be read (first: "
            f"{unreadable[0]}); `afftrack ledger verify` names them. Nothing was changed."
        )


def _backfill(postgres: bool) -> None:
    sets = [f"{column} = {_value(key, kind, postgres)}" for column, key, kind in WORKING]
    if postgres:
        stripped = "rule - " + " - ".join(f"'{key}'" for _c, key, _k in WORKING)
        where = "jsonb_typeof(rule) = 'object'"
    else:
        stripped = "json_remove(rule, " + ", ".join(f"'$.{key}'" for _c, key, _k in WORKING) + ")"
        where = "json_type(rule) = 'object'"
    op.execute(f"UPDATE commission_lines SET {', '.join(sets)}, rule = {stripped} WHERE {where}")


def _triggers(drop: bool) -> None:
    """SQLite rebuilds the table to add or drop a CHECK (batch mode), and a table's
    triggers go with it: revision 0008's are created again, exactly."""
    for trigger in VOCABULARY.LINE_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {trigger.split()[2]}" if drop else trigger)


def upgrade() -> None:
    postgres = _postgres()
    if postgres:
        # It takes the ledger whole (docs/operations.md#upgrades-and-migrations).
        op.execute("SET LOCAL lock_timeout = '10s'")
    _check_amounts(postgres)
    if not postgres:
        _triggers(drop=True)
    for column, _key, _kind in WORKING:
        column_type = TYPES.get(column, sa.BigInteger())
        op.add_column("commission_lines", sa.Column(column, column_type, nullable=True))
    if postgres:
        # The ledger is append-only: lifted for the backfill, restored in the same
        # transaction (now freezing the new columns too).
        op.execute(f"ALTER TABLE commission_lines DISABLE TRIGGER {APPEND_ONLY_TRIGGER}")
    _backfill(postgres)
    if postgres:
        op.execute(f"ALTER TABLE commission_lines ENABLE TRIGGER {APPEND_ONLY_TRIGGER}")
        op.execute(FUNCTION)
    with op.batch_alter_table("commission_lines", recreate="auto") as batch:
        for name, condition in CHECKS.items():
            batch.create_check_constraint(op.f(name), condition)
    if not postgres:
        _triggers(drop=False)


def _exponents() -> dict[str, int]:
    # The currencies' decimals, to write amounts as text again (a downgrade only).
    from service.money import EXPONENTS

    return dict(EXPONENTS)


def _text(minor: int, currency: str, exponents: dict[str, int]) -> str:
    exp = exponents.get(currency, 2)
    return str(Decimal(minor).scaleb(-exp).quantize(Decimal(1).scaleb(-exp)))


def downgrade() -> None:
    """The columns back into ``rule`` (amounts as decimal text), and dropped."""
    postgres = _postgres()
    bind = op.get_bind()
    exponents = _exponents()
    columns = [column for column, _key, _kind in WORKING]
    rows = bind.execute(
        sa.text(
            f"SELECT id, currency, rule, {', '.join(columns)} FROM commission_lines "
            f"WHERE {' OR '.join(f'{c} IS NOT NULL' for c in columns)}"
        )
    ).all()
    if postgres:
        op.execute(VOCABULARY.FUNCTION)
        op.execute(f"ALTER TABLE commission_lines DISABLE TRIGGER {APPEND_ONLY_TRIGGER}")
    else:
        _triggers(drop=True)
    for row in rows:
        rule = row.rule if isinstance(row.rule, dict) else json.loads(row.rule or "{}")
        rule = dict(rule or {})
        for column, key, kind in WORKING:
            value = getattr(row, column)
            if value is not None:
                rule[key] = _text(value, row.currency, exponents) if kind == AMOUNT else value
        bind.execute(
            sa.text("UPDATE commission_lines SET rule = :rule WHERE id = :id").bindparams(
                sa.bindparam("rule", type_=sa.JSON)
            ),
            {"rule": rule, "id": row.id},
        )
    if postgres:
        op.execute(f"ALTER TABLE commission_lines ENABLE TRIGGER {APPEND_ONLY_TRIGGER}")
    with op.batch_alter_table("commission_lines", recreate="auto") as batch:
        for name in CHECKS:
            batch.drop_constraint(op.f(name), type_="check")
        for column in columns:
            batch.drop_column(column)
    if not postgres:
        _triggers(drop=False)
