"""Ledger corner cases: carry-forward of a negative balance, rejection with reversals,
cancelling a fully discounted order."""

from __future__ import annotations

import csv
import hashlib
import io

import pytest

from tests.support.app import Api

ORDER = {
    "type": "order",
    "order_id": "S-1",
    "occurred_at": "2026-09-10T12:00:00Z",
    "currency": "EUR",
    "subtotal": "100.00",
    "promo_codes": ["ANNA15"],
}


pytestmark = pytest.mark.frozen_at("2026-09-01T09:00:00Z")  # where ``api`` is made


def setup(api: Api, rules=None) -> dict:
    anna = api.create_influencer("anna")
    campaign = api.create_campaign("autumn", hold_days=0)
    api.add_partner(campaign["id"], anna["id"], rules=rules)
    api.create_promo_code(campaign["id"], anna["id"], "ANNA15")
    return {"anna": anna, "campaign": campaign}


def summary(api: Api, period: str) -> dict[str, dict]:
    body = api.get(f"/api/v1/exports/commissions/{period}").data
    return {row["handle"]: row for row in csv.DictReader(io.StringIO(body.decode()))}


def test_clawback_of_a_paid_line_carries_a_negative_balance_forward(api, frozen):
    setup(api)
    frozen.set("2026-09-10T12:00:00Z")
    api.webhook(ORDER)  # 10% of 100.00 = 10.00, due at once (hold 0)
    frozen.set("2026-10-01T08:00:00Z")
    assert api.post("/api/v1/exports/commissions/2026-09/close").status_code == 200

    frozen.set("2026-10-05T08:00:00Z")  # full refund after payment: a -10.00 clawback
    refund = {
        "type": "refund",
        "order_id": "S-1",
        "refund_id": "r-1",
        "occurred_at": "2026-10-05T08:00:00Z",
        "amount": "100.00",
    }
    assert api.webhook(refund).json["status"] == "applied"
    frozen.set("2026-11-01T08:00:00Z")
    october = summary(api, "2026-10")["anna"]
    assert (october["reversals"], october["adjustments"], october["net_payable"]) == (
        "-10.00",
        "10.00",
        "0.00",
    )
    before = api.get("/api/v1/exports/commissions/2026-10").data
    closed = api.post("/api/v1/exports/commissions/2026-10/close").json
    after = api.get("/api/v1/exports/commissions/2026-10").data
    assert after == before and hashlib.sha256(after).hexdigest() == closed["checksum"]

    # November: the debt is netted against a new 30.00 sale (3.00 commission).
    frozen.set("2026-11-03T12:00:00Z")
    api.webhook(
        {**ORDER, "order_id": "S-2", "occurred_at": "2026-11-03T12:00:00Z", "subtotal": "30.00"}
    )
    frozen.set("2026-12-01T08:00:00Z")
    november = summary(api, "2026-11")["anna"]
    assert (november["gross"], november["adjustments"], november["net_payable"]) == (
        "3.00",
        "-3.00",
        "0.00",
    )  # -10.00 brought in, +7.00 carried on to December
    assert api.app.test_cli_runner().invoke(args=["ledger", "verify"]).exit_code == 0


def test_a_manual_adjustment_is_never_mistaken_for_a_carry_forward(api, frozen):
    parts = setup(api)
    frozen.set("2026-09-10T12:00:00Z")
    api.webhook(ORDER)
    r = api.post(
        "/api/v1/commissions/adjustments",
        {
            "influencer_id": parts["anna"]["id"],
            "campaign_id": parts["campaign"]["id"],
            "amount": "5.00",
            "currency": "EUR",
            "reason": "negative balance settled by hand",
        },
    )
    assert r.status_code == 201
    frozen.set("2026-10-01T08:00:00Z")
    before = api.get("/api/v1/exports/commissions/2026-09").data
    assert summary(api, "2026-09")["anna"]["net_payable"] == "15.00"
    closed = api.post("/api/v1/exports/commissions/2026-09/close").json
    assert closed["totals"] == [{"currency": "EUR", "net_payable": "15.00"}]
    assert api.get("/api/v1/exports/commissions/2026-09").data == before


def test_an_adjustment_in_another_currency_than_the_campaigns_is_refused(api, frozen):
    parts = setup(api)
    body = {
        "influencer_id": parts["anna"]["id"],
        "campaign_id": parts["campaign"]["id"],
        "amount": "5.00",
        "currency": "USD",
        "reason": "bonus",
    }
    before = api.rows("commission_lines")
    r = api.post("/api/v1/commissions/adjustments", body)
    assert r.status_code == 422, r.json
    assert r.json["error"]["fields"] == {
        "currency": ["This campaign pays in EUR; an adjustment must be in EUR."]
    }
    assert api.rows("commission_lines") == before
    assert (
        api.post("/api/v1/commissions/adjustments", body | {"currency": "EUR"}).status_code == 201
    )


def test_an_adjustment_may_be_in_a_currency_the_partner_already_earns_in(api, frozen):
    """An order in another currency than the campaign's earns in its own; correcting
    such a line takes an adjustment in that currency."""
    parts = setup(api)
    frozen.set("2026-09-10T12:00:00Z")
    assert api.webhook(ORDER | {"currency": "JPY", "subtotal": "12000"}).status_code < 300
    body = {
        "influencer_id": parts["anna"]["id"],
        "campaign_id": parts["campaign"]["id"],
        "amount": "-100",
        "currency": "JPY",
        "reason": "part of the order came back",
    }
    assert api.post("/api/v1/commissions/adjustments", body).status_code == 201
    r = api.post("/api/v1/commissions/adjustments", body | {"currency": "USD"})
    assert r.status_code == 422
    assert r.json["error"]["fields"] == {
        "currency": ["This partner earns in EUR, JPY here; an adjustment must be in one of them."]
    }


def test_rejecting_a_sale_takes_its_reversals_with_it(api, frozen):
    parts = setup(api)
    frozen.set("2026-09-10T12:00:00Z")
    api.webhook(ORDER)
    api.webhook(
        {
            "type": "refund",
            "order_id": "S-1",
            "refund_id": "r-1",
            "occurred_at": "2026-09-10T12:00:00Z",
            "amount": "40.00",
        }
    )
    lines = api.get(f"/api/v1/commissions?influencer_id={parts['anna']['id']}").json["items"]
    sale = next(line for line in lines if line["kind"] == "sale")
    reversal = next(line for line in lines if line["kind"] == "reversal")
    refused = api.post(f"/api/v1/commissions/{reversal['id']}/reject", {"reason": "x"})
    assert refused.status_code == 409
    assert (
        api.post(f"/api/v1/commissions/{sale['id']}/reject", {"reason": "fraud"}).status_code == 200
    )
    frozen.set("2026-10-01T08:00:00Z")
    assert "anna" not in summary(api, "2026-09")


def test_cancelling_a_fully_discounted_order_reverses_its_flat_line(api, frozen):
    parts = setup(api, rules=[{"type": "flat", "amount": "5.00"}])
    frozen.set("2026-09-10T12:00:00Z")
    api.webhook({**ORDER, "discount": "100.00"})
    api.webhook({"type": "cancel", "order_id": "S-1", "occurred_at": "2026-09-10T12:00:00Z"})
    lines = api.get(f"/api/v1/commissions?influencer_id={parts['anna']['id']}").json["items"]
    assert sorted(line["amount"] for line in lines) == ["-5.00", "5.00"]
    [conversion] = api.get("/api/v1/conversions").json["items"]
    assert conversion["status"] == "cancelled"
