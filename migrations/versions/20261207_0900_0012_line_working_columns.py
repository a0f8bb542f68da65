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
# The keys a stored rule may hold besides the facts moved here (Rule.to_json).
RULE_KEYS = ("type", "rate", "amount", "tiers")
MONTH = re.compile(r"[0-9]{4}-[0-9]{2}")
SHOWN_AT_MOST = 20  # lines named when the migration refuses
APPEND_ONLY_TRIGGER = VOCABULARY.APPEND_ONLY_TRIGGER
FROZEN = (*VOCABULARY.FROZEN, *(column for column, _key, _type in WORKING))
FUNCTION = VOCABULARY.FUNCTION.replace(
    ", ".join(f"NEW.{c}" for c in VOCABULARY.FROZEN), ", ".join(f"NEW.{c}" for c in FROZEN)
).replace(", ".join(f"OLD.{c}" for c in VOCABULARY.FROZEN), ", ".join(f"OLD.{c}" for c in FROZEN))
assert all(FUNCTION.count(f"{row}.withheld_minor") == 1 for row in ("NEW", "OLD"))


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


def _written(exponent: int) -> re.Pattern[str]:
    """An amount as format_amount writes it: exactly the currency's decimals, so the
    digits without the point are its minor units ("12.50" EUR: 1250; "-2.50": -250;
    "500" JPY: 500; "12.5" EUR would be 125, and is refused)."""
    decimals = rf"\.[0-9]{{{exponent}}}" if exponent else ""
    return re.compile(rf"-?(0|[1-9][0-9]*){decimals}")


def _problem(kind: str, currency: str, rule: object, exponents: dict[str, int]) -> str | None:
    """Why a stored rule's facts cannot be moved as they are, if they cannot."""
    if not isinstance(rule, dict):
        return None
    unknown = set(rule) - set(RULE_KEYS) - {key for _column, key, _type in WORKING}
    if unknown:
        return f"unknown key(s) {', '.join(sorted(unknown))}"
    written = _written(exponents.get(currency, 2))
    for _column, key, type_ in WORKING:
        value = rule.get(key)
        if value is None:
            continue
        if type_ == AMOUNT and not (isinstance(value, str) and written.fullmatch(value)):
            return f"{key} {value!r} is not an amount in {currency}"
        if type_ == NUMBER and (type(value) is not int or value < 0):
            return f"{key} {value!r} is not a whole number of 0 or more"
    if rule.get("cap") not in (None, *CAPS):
        return f"cap {rule['cap']!r} is not one of {', '.join(CAPS)}"
    if rule.get("month") is not None and not MONTH.fullmatch(str(rule["month"])):
        return f"month {rule['month']!r} is not YYYY-MM"
    if str(rule.get("before", "")).startswith("-"):
        return "before is negative"
    if kind not in GIVES_BACK and str(rule.get("cut", "")).startswith("-"):
        return f"a {kind} line with a negative cut"
    return None


def _check(exponents: dict[str, int]) -> None:
    """Refuse (changing nothing) to move a fact that format_amount and the engine did not
    write: the lines are named, to be corrected by hand, and the migration run again."""
    rows = op.get_bind().execute(
        sa.text(
            "SELECT id, kind, currency, rule FROM commission_lines WHERE rule IS NOT NULL"
        ).execution_options(stream_results=True, yield_per=5000)
    )
    problems = []
    for line_id, kind, currency, rule in rows:
        stored = json.loads(rule) if isinstance(rule, str) else rule
        problem = _problem(kind, currency, stored, exponents)
        if problem:
            problems.append(f"{line_id}: {problem}")
    if problems:
        shown = "; ".join(problems[:SHOWN_AT_MOST])
        more = (
            f" (and {len(problems) - SHOWN_AT_MOST} more)" if len(problems) > SHOWN_AT_MOST else ""
        )
        raise RuntimeError(
            f"{len(problems)} ledger line(s) record how their amount was worked out in a "
            f"form this migration cannot move, and nothing was changed: {shown}{more}"
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
    _check(_exponents())
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
    # The currencies' decimals (ISO 4217), to read and write amounts as text.
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
        if row.cut_minor is not None:
            rule["cap"] = row.cap  # written beside every cut, null when it gives back
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
