"""The ledger's vocabulary is the database's: a line of an unknown kind, status or
purpose, or an order of an unknown status, is refused by a CHECK constraint on both
backends, and so is an unknown cap or a negative cut on a line that earns; migration
0010 gives every existing line its purpose from the key it was written under, and 0012
moves how each amount was worked out into typed columns; and one module writes the
ledger."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from alembic import command
from sqlalchemy import MetaData, Table, create_engine, insert, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from service.commissions.ledger import shown_rule
from service.commissions.models import (
    WORKING,
    CommissionLine,
    LineKind,
    LinePurpose,
    LineStatus,
    WorkedOut,
)
from service.conversions.models import ConversionStatus
from service.migrate import alembic_config, upgrade
from tests.support.app import PG_ADMIN_URL, Api

LINES = CommissionLine.__table__
ORDER = {
    "type": "order",
    "order_id": "V-1",
    "occurred_at": "2026-10-03T12:00:00Z",
    "currency": "EUR",
    "subtotal": "100.00",
    "promo_codes": ["ANNA15"],
}


@pytest.fixture(params=["pg", "sqlite"])
def api(request: Any) -> Api:
    return request.getfixturevalue(f"{request.param}_api")


def a_sale(api: Api, frozen: Any) -> dict[str, Any]:
    frozen.set("2026-10-03T12:01:00Z")
    anna = api.create_influencer("anna")
    campaign = api.create_campaign("spring")
    api.add_partner(campaign["id"], anna["id"])
    api.create_promo_code(campaign["id"], anna["id"], "ANNA15")
    assert api.webhook(ORDER).json["status"] == "created"
    with api.app.extensions["afftrack"].db.engine.connect() as conn:
        (line,) = conn.execute(select(LINES)).mappings().all()
    return dict(line)


def _copy(line: dict[str, Any], **values: Any) -> dict[str, Any]:
    key = f"test:{uuid.uuid4().hex}"
    return {**line, "id": key[:40], "idempotency_key": key, **values}


def _insert(api: Api, row: dict[str, Any]) -> None:
    with api.app.extensions["afftrack"].db.engine.begin() as conn:
        conn.execute(insert(LINES).values(**row))


def test_the_sale_line_records_its_kind_status_and_purpose(api: Api, frozen: Any) -> None:
    line = a_sale(api, frozen)
    assert (line["kind"], line["status"], line["purpose"]) == ("sale", "pending", "sale")


@pytest.mark.parametrize(
    "column,value",
    [("kind", "bonus"), ("status", "approved"), ("status", "void"), ("purpose", "gift")],
)
def test_a_line_of_an_unknown_kind_status_or_purpose_is_refused(
    api: Api, frozen: Any, column: str, value: str
) -> None:
    line = a_sale(api, frozen)
    with pytest.raises(IntegrityError, match=f"ck_commission_lines_{column}"):
        _insert(api, _copy(line, **{column: value}))
    assert api.rows("commission_lines") == 1
    # The control: the same row with a value of the vocabulary is written.
    known = {"kind": LineKind.ADJUSTMENT, "status": LineStatus.PAID, "purpose": LinePurpose.CPC}
    _insert(api, _copy(line, **{column: known[column]}))
    assert api.rows("commission_lines") == 2


@pytest.mark.parametrize(
    "values,check,allowed",
    [
        # A cap of no name; a named one is written.
        ({"cap": "weekly_cap", "cut_minor": 100}, "cap", {"cap": "budget", "cut_minor": 100}),
        # A line that earns gives nothing back; a reversal does.
        ({"cut_minor": -100}, "cut", {"cut_minor": -100, "kind": "reversal"}),
        ({"before_minor": -1}, "working", {"before_minor": 0}),
        ({"kind": "cpc", "clicks": -3}, "working", {"kind": "cpc", "clicks": 3}),
    ],
)
def test_what_a_line_records_of_how_it_was_worked_out_is_typed_and_checked(
    api: Api, frozen: Any, values: dict[str, Any], check: str, allowed: dict[str, Any]
) -> None:
    line = a_sale(api, frozen)
    # Each fact in its own column, the rule alone in ``rule``.
    assert (line["rule_index"], line["cut_minor"], line["before_minor"]) == (0, None, None)
    assert line["rule"] == {"type": "percent", "rate": "10"}
    with pytest.raises(IntegrityError, match=f"ck_commission_lines_{check}"):
        _insert(api, _copy(line, **values))
    assert api.rows("commission_lines") == 1
    _insert(api, _copy(line, **allowed))
    assert api.rows("commission_lines") == 2


def test_every_fact_of_how_a_line_was_worked_out_is_a_column_and_a_field() -> None:
    columns = {fact.column for fact in WORKING}
    assert columns <= set(LINES.c.keys())
    assert {f.name for f in fields(WorkedOut)} == columns
    assert len({fact.key for fact in WORKING}) == len(WORKING)


def test_an_order_of_an_unknown_status_is_refused(api: Api, frozen: Any) -> None:
    a_sale(api, frozen)
    engine = api.app.extensions["afftrack"].db.engine
    with pytest.raises(IntegrityError, match="ck_conversions_status"), engine.begin() as conn:
        conn.execute(text("UPDATE conversions SET status = 'lost'"))
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE conversions SET status = :s"), {"s": ConversionStatus.PARTIALLY_REFUNDED}
        )
        assert conn.scalar(text("SELECT status FROM conversions")) == "partially_refunded"


# --- migration 0010 --------------------------------------------------------------------


@pytest.fixture(params=["pg", "sqlite"])
def scratch_url(request: Any, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'v.db'}"
        return
    name = f"afftrack_voc_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    yield f"{base}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


OWNERS = [
    "INSERT INTO influencers (id, handle, name, email, created_at, updated_at) "
    "VALUES ('inf_v', 'v', 'V', 'v@example.com', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
    "INSERT INTO campaigns (id, name, slug, goal, kind, currency, starts_on, allowed_domains, "
    "fallback_url, attribution_window_days, hold_days, utm_medium, commission_rules, "
    "created_at, updated_at) VALUES ('cmp_v', 'V', 'v', 'sales', 'affiliate', 'EUR', "
    "'2026-01-01', '[\"shop.example\"]', 'https://shop.example/', 30, 30, 'influencer', "
    "'[]', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
]
# Lines as revision 0009 stored them: what each is for told only by its key.
OLD_LINES = {
    # id: (idempotency key, kind, amount, reverses)
    "cml_sale": ("sale:cnv_1:0", "sale", 1000, None),
    "cml_rev": ("reversal:evt_1:cml_sale", "reversal", -500, "cml_sale"),
    "cml_fee": ("per_post:dlv_1:1", "per_post", 2000, None),
    "cml_up": ("true_up:prt_1:0:2026-10:0", "true_up", 30, None),
    "cml_cpc": ("cpc:prt_1:2:2026-10:0", "cpc", 40, None),
    "cml_adj": ("adjustment:cml_adj", "adjustment", 700, None),
    "cml_rej": ("rejection:cml_fee", "adjustment", 0, "cml_fee"),
    "cml_out": ("carry:2026-10:inf_v:EUR", "adjustment", 300, None),
    "cml_in": ("carried:2026-10:inf_v:EUR", "adjustment", -300, None),
}
OLD_LINE = (
    "INSERT INTO commission_lines (id, idempotency_key, influencer_id, campaign_id, "
    "reverses_line_id, kind, amount_minor, currency, status, occurred_at, due_at, "
    "recorded_at) VALUES (:id, :key, 'inf_v', 'cmp_v', :reverses, :kind, :amount, 'EUR', "
    "'pending', '2026-10-31 12:00:00+00:00', '2026-10-31 12:00:00+00:00', "
    "'2026-10-31 12:00:00+00:00')"
)


def _lines(url: str) -> dict[str, tuple[str, str | None]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, purpose, reverses_line_id FROM commission_lines"))
            return {row.id: (row.purpose, row.reverses_line_id) for row in rows}
    finally:
        engine.dispose()


def test_migration_0010_gives_each_line_its_purpose_from_its_key_and_round_trips(
    scratch_url: str,
) -> None:
    upgrade(scratch_url, "0009")
    engine = create_engine(scratch_url)
    try:
        with engine.begin() as conn:
            for statement in OWNERS:
                conn.execute(text(statement))
            for line_id, (key, kind, amount, reverses) in OLD_LINES.items():
                conn.execute(
                    text(OLD_LINE),
                    {
                        "id": line_id,
                        "key": key,
                        "kind": kind,
                        "amount": amount,
                        "reverses": reverses,
                    },
                )

        upgrade(scratch_url)
        assert _lines(scratch_url) == {
            "cml_sale": ("sale", None),
            "cml_rev": ("reversal", "cml_sale"),
            "cml_fee": ("per_post", None),
            "cml_up": ("true_up", None),
            "cml_cpc": ("cpc", None),
            "cml_adj": ("adjustment", None),
            "cml_rej": ("rejection", "cml_fee"),
            "cml_out": ("carry_out", None),
            "cml_in": ("carry_in", "cml_out"),  # the carry-forward's second line reverses its first
        }
        with engine.connect() as conn:
            # The roll-ups' triggers are there again (SQLite rebuilt the table): 9 lines.
            assert conn.scalar(text("SELECT sum(lines) FROM commission_daily")) == 9
        if engine.dialect.name == "postgresql":
            # The append-only trigger was lifted for the backfill only, and now keeps
            # the purpose too.
            for column in ("amount_minor = 1", "purpose = 'rejection'"):
                with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
                    conn.execute(text(f"UPDATE commission_lines SET {column} WHERE id = 'cml_adj'"))

        command.downgrade(alembic_config(scratch_url), "0009")
        with engine.connect() as conn:
            columns = conn.execute(text("SELECT * FROM commission_lines LIMIT 1")).keys()
            reverses = conn.scalar(
                text("SELECT reverses_line_id FROM commission_lines WHERE id = 'cml_in'")
            )
        assert "purpose" not in columns and reverses is None
        upgrade(scratch_url)
        assert _lines(scratch_url)["cml_in"] == ("carry_in", "cml_out")
    finally:
        engine.dispose()


# --- one writer --------------------------------------------------------------------------

SERVICE = Path(__file__).resolve().parents[2] / "service"
LEDGER = SERVICE / "commissions" / "ledger.py"
# What writes the ledger: SQL or SQLAlchemy inserts and updates of commission_lines,
# ORM lines made or marked, and the engine's old writers.
WRITES = re.compile(
    r"INSERT\s+INTO\s+commission_lines"
    r"|UPDATE\s+commission_lines"
    r"|\b(insert|update)\(\s*CommissionLine\b"
    r"|CommissionLine\.__table__"
    r"|(?<!class )\bCommissionLine\("
    r"|\bdef\s+(append_lines?|record_sale|record_reversal|record_per_post|mark_paid)\b",
    re.IGNORECASE,
)
# Telling lines apart by their key (their purpose says what they are for).
BY_KEY = re.compile(r"idempotency_key\.(like|startswith|endswith)|idempotency_key LIKE")


def _writers(pattern: re.Pattern[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted(SERVICE.rglob("*.py")):
        hits = [m.group(0) for m in pattern.finditer(path.read_text())]
        if hits:
            found[str(path.relative_to(SERVICE.parent))] = hits
    return found


def test_only_the_ledger_module_writes_commission_lines() -> None:
    found = _writers(WRITES)
    # The control: the ledger's own writes are found.
    assert str(LEDGER.relative_to(SERVICE.parent)) in found
    assert [path for path in found if Path(SERVICE.parent / path) != LEDGER] == []


def test_no_code_tells_lines_apart_by_their_idempotency_key() -> None:
    assert _writers(BY_KEY) == {}


# --- migration 0012 --------------------------------------------------------------------

TIERS = [{"up_to": "100.00", "rate": "10"}, {"up_to": None, "rate": "12"}]
# Lines as revision 0011 stored them: how each amount was worked out inside ``rule``,
# amounts as decimal text in the line's currency.
WORKED_IN_RULE = {
    # id: (kind, currency, rule)
    "cml_tiered": (
        "sale",
        "EUR",
        {
            "type": "tiered_percent",
            "tiers": TIERS,
            "index": 0,
            "cut": "5.00",
            "cap": "monthly_cap",
            "before": "80.00",
        },
    ),
    "cml_rev": (
        "reversal",
        "EUR",
        {"type": "percent", "rate": "10", "index": 1, "cut": "-2.50", "cap": "monthly_cap"},
    ),
    "cml_yen": (
        "sale",
        "JPY",
        {"type": "flat", "amount": "500", "index": 0, "cut": "100", "cap": "budget"},
    ),
    "cml_up": (
        "true_up",
        "EUR",
        {
            "type": "tiered_percent",
            "tiers": TIERS,
            "index": 0,
            "month": "2026-10",
            "sales": "140.00",
            "recorded": "13.00",
            "withheld": "1.50",
        },
    ),
    "cml_cpc": (
        "cpc",
        "EUR",
        {"type": "cpc", "amount": "0.50", "index": 2, "month": "2026-10", "clicks": 3},
    ),
    # A settlement line that gives back what caps withheld: a cut, and no cap (null).
    "cml_back": (
        "cpc",
        "KWD",
        {
            "type": "cpc",
            "amount": "0.050",
            "index": 0,
            "month": "2026-10",
            "clicks": 9,
            "cut": "-0.005",
            "cap": None,
        },
    ),
    "cml_adj": ("adjustment", "EUR", None),
}
RULE_KEYS = ("type", "rate", "amount", "tiers")
TYPED = {
    # id: (rule_index, cut, cap, before, month, clicks, sales, recorded, withheld)
    "cml_tiered": (0, 500, "monthly_cap", 8000, None, None, None, None, None),
    "cml_rev": (1, -250, "monthly_cap", None, None, None, None, None, None),
    "cml_yen": (0, 100, "budget", None, None, None, None, None, None),
    "cml_up": (0, None, None, None, "2026-10", None, 14000, 1300, 150),
    "cml_cpc": (2, None, None, None, "2026-10", 3, None, None, None),
    "cml_back": (0, -5, None, None, "2026-10", 9, None, None, None),
    "cml_adj": (None,) * 9,
}


def _insert_0011_lines(url: str, lines: dict[str, tuple[str, str, Any]]) -> None:
    engine = create_engine(url)
    try:
        table = Table("commission_lines", MetaData(), autoload_with=engine)
        at = datetime(2026, 10, 31, 12, tzinfo=UTC)
        with engine.begin() as conn:
            for statement in OWNERS:
                conn.execute(text(statement))
            for line_id, (kind, currency, rule) in lines.items():
                conn.execute(
                    insert(table).values(
                        id=line_id,
                        idempotency_key=f"key:{line_id}",
                        influencer_id="inf_v",
                        campaign_id="cmp_v",
                        kind=kind,
                        purpose=kind,
                        rule=rule,
                        amount_minor=100,
                        currency=currency,
                        status="pending",
                        occurred_at=at,
                        due_at=at,
                        recorded_at=at,
                    )
                )
    finally:
        engine.dispose()


def _read(url: str, sql: str) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql)))
    finally:
        engine.dispose()


def _rules(url: str) -> dict[str, Any]:
    rows = _read(url, "SELECT id, rule FROM commission_lines")
    return {row.id: json.loads(row.rule) if isinstance(row.rule, str) else row.rule for row in rows}


def test_migration_0012_moves_how_each_amount_was_worked_out_into_typed_columns(
    scratch_url: str,
) -> None:
    upgrade(scratch_url, "0011")
    _insert_0011_lines(scratch_url, WORKED_IN_RULE)

    upgrade(scratch_url)
    columns = [fact.column for fact in WORKING]
    typed = _read(scratch_url, f"SELECT id, {', '.join(columns)} FROM commission_lines")
    assert {row[0]: tuple(row[1:]) for row in typed} == TYPED
    # ``rule`` holds the rule alone; shown, it is what the line held before.
    rules = _rules(scratch_url)
    for line_id, (_kind, currency, before) in WORKED_IN_RULE.items():
        assert rules[line_id] == (
            None if before is None else {k: v for k, v in before.items() if k in RULE_KEYS}
        )
        line = SimpleNamespace(
            rule=rules[line_id],
            currency=currency,
            **dict(zip(columns, TYPED[line_id], strict=True)),
        )
        assert shown_rule(line) == before
    # The roll-ups count the lines once (SQLite rebuilt the table with its triggers).
    assert _read(scratch_url, "SELECT sum(lines) FROM commission_daily")[0][0] == len(TYPED)

    command.downgrade(alembic_config(scratch_url), "0011")
    assert _rules(scratch_url) == {
        line_id: rule for line_id, (_k, _c, rule) in WORKED_IN_RULE.items()
    }
    upgrade(scratch_url)
    typed = _read(scratch_url, f"SELECT id, {', '.join(columns)} FROM commission_lines")
    assert {row[0]: tuple(row[1:]) for row in typed} == TYPED


BAD_LINES = {
    # id: (kind, currency, rule, what the migration says of it)
    "cml_text": (
        "sale",
        "EUR",
        {"type": "flat", "amount": "1.00", "cut": "a lot"},
        "cut 'a lot' is not an amount in EUR",
    ),
    "cml_short": (
        "sale",
        "EUR",
        {"type": "flat", "amount": "1.00", "cut": "0.5"},
        "cut '0.5' is not an amount in EUR",
    ),
    "cml_number": (
        "sale",
        "EUR",
        {"type": "flat", "amount": "1.00", "before": 12.5},
        "before 12.5 is not an amount in EUR",
    ),
    "cml_extra": (
        "sale",
        "EUR",
        {"type": "flat", "amount": "1.00", "note": "x"},
        "unknown key(s) note",
    ),
    "cml_minus": (
        "sale",
        "EUR",
        {"type": "flat", "amount": "1.00", "cut": "-0.50"},
        "a sale line with a negative cut",
    ),
    "cml_cap": (
        "sale",
        "EUR",
        {"type": "flat", "amount": "1.00", "cut": "0.50", "cap": "weekly"},
        "cap 'weekly' is not one of monthly_cap, budget",
    ),
    "cml_clicks": (
        "cpc",
        "EUR",
        {"type": "cpc", "amount": "0.10", "clicks": 2.5},
        "clicks 2.5 is not a whole number of 0 or more",
    ),
}


def test_migration_0012_refuses_what_it_cannot_move_names_the_lines_and_changes_nothing(
    scratch_url: str,
) -> None:
    upgrade(scratch_url, "0011")
    lines = {
        **WORKED_IN_RULE,
        **{line_id: (kind, cur, rule) for line_id, (kind, cur, rule, _why) in BAD_LINES.items()},
    }
    _insert_0011_lines(scratch_url, lines)
    with pytest.raises(RuntimeError, match=r"^7 ledger line\(s\) record how") as refused:
        upgrade(scratch_url)
    for line_id, (*_line, why) in BAD_LINES.items():
        assert f"{line_id}: {why}" in str(refused.value)
    assert _read(scratch_url, "SELECT version_num FROM alembic_version") == [("0011",)]
    assert _rules(scratch_url) == {line_id: rule for line_id, (_k, _c, rule) in lines.items()}
