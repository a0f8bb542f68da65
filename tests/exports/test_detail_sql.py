"""The detail CSV is formatted twice: by PostgreSQL for the lines in the ledger
(``service.exports.detail_sql``) and in Python for SQLite and for lines not written yet
(``service.exports.writers``). A preview shows both side by side, so they must give the
same characters for every value: checked here on generated values, cell by cell, against
the real database."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import BigInteger, DateTime, Engine, String, Text, cast, create_engine, literal
from sqlalchemy import select as sql_select
from sqlalchemy.dialects.postgresql import JSONB

from service.commissions.ledger import shown_rule
from service.commissions.models import WORKING
from service.exports import detail_sql, writers
from service.money import EXPONENTS, MAX_MINOR, format_amount
from service.vocabulary import CAPS

CURRENCIES = sorted(EXPONENTS)
SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def engine(pg_url: str) -> Iterator[Engine]:
    engine = create_engine(pg_url)
    yield engine
    engine.dispose()


def sql(engine: Engine, expression: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(sql_select(expression)).scalar_one()


@SETTINGS
@given(
    minor=st.integers(-MAX_MINOR, MAX_MINOR) | st.sampled_from([0, 1, -1, 5, -5, 99, -100]),
    currency=st.sampled_from(CURRENCIES),
)
def test_amounts_match(engine: Engine, minor: int, currency: str) -> None:
    got = sql(engine, detail_sql.money(literal(minor, BigInteger), literal(currency, String)))
    assert got == format_amount(minor, currency)


@SETTINGS
@given(
    at=st.datetimes(
        min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
    )
    | st.sampled_from(
        [datetime(2026, 10, 31, 23, 59, 59, 999999, UTC), datetime(2026, 11, 1, tzinfo=UTC)]
    )
)
def test_dates_match(engine: Engine, at: datetime) -> None:
    got = sql(engine, detail_sql.isoformat(literal(at, DateTime(timezone=True))))
    assert got == at.isoformat()


# Text as a shop or an operator may send it: formula starters, numbers, quotes, commas,
# line breaks, tabs, non-ASCII (PostgreSQL text cannot hold NUL).
FREE_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
) | st.sampled_from(
    ["=1+1", "-12.50", "-12.", "+49 30", "@SUM(A1)", "\tx", "\rx", '"q"', "a,b", "l1\nl2", "-"]
)


def python_cell(text: str) -> str:
    """What the Python writer puts in the file for a free-text cell, checked against
    the csv module itself."""
    cell = writers.inert(text) if text else ""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([cell, "x"])
    assert buffer.getvalue() == writers.csv_cell(cell) + ",x\r\n"
    return writers.csv_cell(cell)


@SETTINGS
@given(text=FREE_TEXT)
def test_free_text_cells_match(engine: Engine, text: str) -> None:
    got = sql(engine, detail_sql.quoted(detail_sql.inert(literal(text, Text))))
    assert got == python_cell(text)


def test_absent_cell_is_empty(engine: Engine) -> None:
    assert sql(engine, detail_sql.quoted(detail_sql.inert(literal(None, Text)))) == ""


JSON_KEYS = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=8
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | JSON_KEYS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(JSON_KEYS, inner, max_size=5),
    max_leaves=12,
)


@SETTINGS
@given(rule=st.dictionaries(JSON_KEYS, JSON_VALUES, max_size=6))
def test_rule_text_is_how_postgresql_prints_jsonb(engine: Engine, rule: dict[str, Any]) -> None:
    assert sql(engine, cast(literal(rule, JSONB), Text)) == writers.rule_text(rule)


def test_rule_text_of_a_shown_rule_shape(engine: Engine) -> None:
    rule = {
        "type": "tiered_percent",
        "index": 0,
        "tiers": [{"rate": "5", "up_to": "1000.00"}, {"rate": "10", "up_to": None}],
        "before": "157447.77",
        "cut": "-0.10",
    }
    text = writers.rule_text(rule)
    assert text.startswith('{"cut": "-0.10", "type": "tiered_percent", "index": 0, ')
    assert sql(engine, cast(literal(rule, JSONB), Text)) == text


WORKED = {
    "rule_index": st.integers(0, 9),
    "cut_minor": st.integers(-MAX_MINOR, MAX_MINOR),
    "cap": st.sampled_from(CAPS),
    "before_minor": st.integers(0, MAX_MINOR),
    "month": st.sampled_from(["2026-10", "2027-01"]),
    "clicks": st.integers(0, 2**40),
    "sales_minor": st.integers(-MAX_MINOR, MAX_MINOR),
    "recorded_minor": st.integers(-MAX_MINOR, MAX_MINOR),
    "withheld_minor": st.integers(-MAX_MINOR, MAX_MINOR),
}
assert set(WORKED) == {fact.column for fact in WORKING}


@SETTINGS
@given(
    rule=st.none()
    | st.sampled_from(
        [
            {"type": "percent", "rate": "12.5"},
            {"type": "flat", "amount": "5.00"},
            {"type": "cpc", "amount": "0.05"},
            {
                "type": "tiered_percent",
                "tiers": [{"rate": "5", "up_to": "100.00"}, {"rate": "10", "up_to": None}],
            },
        ]
    ),
    currency=st.sampled_from(CURRENCIES),
    worked=st.fixed_dictionaries({}, optional={k: v | st.none() for k, v in WORKED.items()}),
)
def test_the_shown_rule_matches(
    engine: Engine, rule: dict[str, Any] | None, currency: str, worked: dict[str, Any]
) -> None:
    """A line's rule with how its amount was worked out, each fact present or absent."""
    facts = {fact.column: worked.get(fact.column) for fact in WORKING}
    kinds = {"cap": String, "month": String}
    line = sql_select(
        literal(rule, JSONB).label("rule"),
        literal(currency, String).label("currency"),
        *(literal(v, kinds.get(k, BigInteger)).label(k) for k, v in facts.items()),
    ).subquery()
    shown = shown_rule(SimpleNamespace(rule=rule, currency=currency, **facts))
    got = sql(engine, detail_sql.rule(line.c))
    assert got == (None if shown is None else writers.rule_text(shown))


NASTY_ORDER_IDS = ['=HYPERLINK("http://x")', "-5", "+49", "@A1", "a,b", 'q"q', "l1\nl2", "ü€-7"]


def test_whole_rows_match_on_real_lines(pg_api: Any, frozen: Any) -> None:
    """Every line of a month, formatted by PostgreSQL and by Python, CSV and JSON:
    orders with formula-like, quoted, multi-line and non-ASCII ids, a refund, a
    rejection, zero- and three-decimal currencies, adjustments with a free-text reason
    that starts a formula and holds a comma, quotes and a line break."""
    from service.exports import statement

    frozen.set("2026-09-01T09:00:00Z")
    anna = pg_api.create_influencer("anna")
    rules = [{"type": "percent", "rate": "10"}, {"type": "flat", "amount": "5.00"}]
    campaign = pg_api.create_campaign("autumn", hold_days=0, commission_rules=rules)
    pg_api.add_partner(campaign["id"], anna["id"])
    pg_api.create_promo_code(campaign["id"], anna["id"], "ANNA15")
    for n, order_id in enumerate(NASTY_ORDER_IDS):
        frozen.set(f"2026-09-{10 + n:02d}T12:00:00.{n * 1000:06d}Z")
        order = {
            "type": "order",
            "order_id": order_id,
            "occurred_at": f"2026-09-{10 + n:02d}T12:00:00Z",
            "currency": "JPY" if n % 2 else "EUR",
            "subtotal": "12000" if n % 2 else "120.50",
            "promo_codes": ["ANNA15"],
        }
        assert pg_api.webhook(order).status_code in (200, 201)
    refund = {
        "type": "refund",
        "order_id": NASTY_ORDER_IDS[1],
        "refund_id": "r-1",
        "occurred_at": "2026-09-20T12:00:00Z",
        "amount": "3000",
    }
    assert pg_api.webhook(refund).json["status"] == "applied"
    items = pg_api.get("/api/v1/commissions?limit=100").json["items"]
    first = next(i["id"] for i in items if i["kind"] == "sale")
    reason = '=fraud, "see" ticket\nline 2'
    assert (
        pg_api.post(f"/api/v1/commissions/{first}/reject", {"reason": "fraud"}).status_code == 200
    )
    paying = {"EUR": campaign}
    for currency in ("JPY", "KWD"):  # an adjustment is in its campaign's currency
        paying[currency] = pg_api.create_campaign(f"autumn-{currency.lower()}", currency=currency)
        pg_api.add_partner(paying[currency]["id"], anna["id"])
    for n, (amount, currency) in enumerate((("-2.50", "EUR"), ("1000", "JPY"), ("0.001", "KWD"))):
        frozen.set(f"2026-09-25T12:00:0{n}Z")
        adjustment = {
            "influencer_id": anna["id"],
            "campaign_id": paying[currency]["id"],
            "amount": amount,
            "currency": currency,
            "reason": reason,
        }
        assert pg_api.post("/api/v1/commissions/adjustments", adjustment).status_code == 201
    frozen.set("2026-10-01T08:00:00Z")

    db = pg_api.app.extensions["afftrack"].db
    with db.sessions() as session:
        sel = statement.select_period(session, "2026-09", "UTC")
        lines = list(statement.detail_lines(session, sel))
        assert len(lines) >= 2 * len(NASTY_ORDER_IDS)
        for fmt, python in (("csv", writers.detail_row), ("json", writers.detail_object)):
            by_sql = [row[0] for row in statement.formatted_lines(session, sel, fmt)]
            assert by_sql == [python("2026-09", line) for line in lines], fmt
        session.rollback()

    body = pg_api.get("/api/v1/exports/commissions/2026-09?detail=lines&format=json").data
    items = json.loads(body)["lines"]
    assert {i["order_id"] for i in items} >= set(NASTY_ORDER_IDS)  # raw: JSON is no sheet
    assert reason in {i["reason"] for i in items}
    text = pg_api.get("/api/v1/exports/commissions/2026-09?detail=lines").data.decode()
    cells = {r["order_id"] for r in csv.DictReader(io.StringIO(text, newline=""))}
    assert '\'=HYPERLINK("http://x")' in cells and "-5" in cells and "'+49" in cells
