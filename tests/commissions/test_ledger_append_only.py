"""The ledger is append-only for real on PostgreSQL: a trigger refuses
deleting a line and changing anything but its payment or rejection, whoever asks."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from service.commissions.models import CommissionLine
from tests.support.app import Api

ORDER = {
    "type": "order",
    "order_id": "L-1",
    "occurred_at": "2026-10-03T12:00:00Z",
    "currency": "EUR",
    "subtotal": "100.00",
    "promo_codes": ["ANNA15"],
}


def a_line(api: Api, frozen: Any) -> str:
    frozen.set("2026-10-03T12:01:00Z")
    anna = api.create_influencer("anna")
    campaign = api.create_campaign("spring")
    api.add_partner(campaign["id"], anna["id"])
    api.create_promo_code(campaign["id"], anna["id"], "ANNA15")
    assert api.webhook(ORDER).json["status"] == "created"
    items = api.get(f"/api/v1/commissions?influencer_id={anna['id']}").json["items"]
    assert [(x["kind"], x["amount"]) for x in items] == [("sale", "10.00")]
    return str(items[0]["id"])


def run(api: Api, sql: str, **params: Any) -> int:
    with api.app.extensions["afftrack"].db.engine.begin() as conn:
        return conn.execute(text(sql), params).rowcount


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM commission_lines WHERE id = :id",
        "UPDATE commission_lines SET amount_minor = 1 WHERE id = :id",
        "UPDATE commission_lines SET currency = 'USD' WHERE id = :id",
        "UPDATE commission_lines SET due_at = due_at + interval '1 day' WHERE id = :id",
        "UPDATE commission_lines SET idempotency_key = 'x' WHERE id = :id",
    ],
)
def test_deleting_or_rewriting_a_line_is_refused(pg_api: Api, frozen: Any, sql: str) -> None:
    line_id = a_line(pg_api, frozen)
    with pytest.raises(DBAPIError, match="append-only"):
        run(pg_api, sql, id=line_id)
    assert pg_api.rows("commission_lines") == 1
    items = pg_api.get("/api/v1/commissions").json["items"]
    assert [(x["amount"], x["currency"], x["status"]) for x in items] == [
        ("10.00", "EUR", "pending")
    ]


def test_rejection_is_recorded_once_and_then_final(pg_api: Api, frozen: Any) -> None:
    line_id = a_line(pg_api, frozen)
    assert run(pg_api, "UPDATE commission_lines SET status = 'rejected' WHERE id = :id", id=line_id)
    with pytest.raises(DBAPIError, match="already rejected"):
        run(pg_api, "UPDATE commission_lines SET status = 'pending' WHERE id = :id", id=line_id)


def test_the_api_reject_still_works(pg_api: Api, frozen: Any) -> None:
    line_id = a_line(pg_api, frozen)
    r = pg_api.post(f"/api/v1/commissions/{line_id}/reject", {"reason": "fraud"})
    assert r.status_code == 200, r.json
    items = pg_api.get("/api/v1/commissions").json["items"]
    by_kind = {x["kind"]: x for x in items}
    assert set(by_kind) == {"sale", "adjustment"}  # the rejection is a line of its own
    assert by_kind["sale"]["status"] == "rejected"
    assert by_kind["sale"]["amount"] == "10.00"  # amounts never change


def _changed(column: Any) -> str:
    """An SQL expression giving ``column`` a different value, whatever it holds."""
    name = column.name
    kind = column.type.__class__.__name__.lower()
    if name == "rule":
        return "coalesce(rule, '{}'::jsonb) || '{\"x\": 1}'::jsonb"
    if "int" in kind:
        return f"coalesce({name}, 0) + 1"
    if "date" in kind or name.endswith("_at"):
        return f"{name} + interval '1 second'"
    return f"'x' || substr(coalesce({name}, ''), 2)"


FROZEN_COLUMNS = [
    c for c in CommissionLine.__table__.columns if c.name not in ("status", "export_id")
]


@pytest.mark.parametrize("column", FROZEN_COLUMNS, ids=lambda c: c.name)
def test_every_column_but_payment_is_frozen(pg_api: Api, frozen: Any, column: Any) -> None:
    """Every column of the model, so a column added later without being added to the
    trigger's list (migration 0006) fails here."""
    line_id = a_line(pg_api, frozen)
    with pytest.raises(DBAPIError, match="append-only"):
        run(
            pg_api,
            f"UPDATE commission_lines SET {column.name} = {_changed(column)} WHERE id = :id",
            id=line_id,
        )
    # The control: the same statement shape on a payment column passes.
    assert run(pg_api, "UPDATE commission_lines SET status = status WHERE id = :id", id=line_id)


def test_trigger_lists_exactly_the_frozen_columns() -> None:
    migration = importlib.import_module(
        "migrations.versions.20261207_0900_0012_line_working_columns"
    )
    assert sorted(migration.FROZEN) == sorted(c.name for c in FROZEN_COLUMNS)
