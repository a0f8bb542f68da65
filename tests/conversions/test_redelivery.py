"""Redelivery of the same webhook — sequential, out of order and 8 at once — changes
nothing: one conversion per (source, order id), one reversal per refund id."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from tests.support.app import Api

ORDER = {
    "type": "order",
    "order_id": "A-1",
    "occurred_at": "2026-10-03T12:00:00Z",
    "currency": "EUR",
    "subtotal": "120.00",
    "discount": "12.00",
    "promo_codes": ["ANNA15"],
}
REFUND = {
    "type": "refund",
    "order_id": "A-1",
    "refund_id": "r-1",
    "occurred_at": "2026-10-04T12:00:00Z",
    "amount": "40.00",
}
CANCEL = {"type": "cancel", "order_id": "A-1", "occurred_at": "2026-10-05T12:00:00Z"}


def setup_partner(api: Api) -> dict:
    anna = api.create_influencer("anna")
    campaign = api.create_campaign("spring")
    api.add_partner(campaign["id"], anna["id"])
    api.create_promo_code(campaign["id"], anna["id"], "ANNA15")
    return anna


def lines_of(api: Api, influencer_id: str) -> list[tuple[str, str]]:
    items = api.get(f"/api/v1/commissions?influencer_id={influencer_id}").json["items"]
    return sorted((line["kind"], line["amount"]) for line in items)


def in_parallel(api: Api, payload: dict, copies: int = 8) -> Counter:
    """Post the same signed body from ``copies`` threads released at the same instant."""
    barrier = threading.Barrier(copies)
    outcomes: list[tuple[int, str]] = []
    lock = threading.Lock()

    def send() -> None:
        client = api.app.test_client()
        sender = Api.__new__(Api)
        sender.app, sender.client = api.app, client
        barrier.wait()
        response = sender.webhook(payload)
        with lock:
            outcomes.append((response.status_code, (response.json or {}).get("status", "")))

    threads = [threading.Thread(target=send) for _ in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return Counter(outcomes)


pytestmark = pytest.mark.frozen_at("2026-10-03T12:01:00Z")  # where ``api`` is made


def test_same_order_eight_times_at_once(api):
    anna = setup_partner(api)
    outcomes = in_parallel(api, ORDER)
    assert outcomes == Counter({(200, "created"): 1, (200, "duplicate"): 7})
    assert api.rows("conversions") == 1
    assert lines_of(api, anna["id"]) == [("sale", "10.80")]


def test_same_refund_eight_times_at_once(api):
    anna = setup_partner(api)
    assert api.webhook(ORDER).json["status"] == "created"
    outcomes = in_parallel(api, REFUND)
    assert outcomes == Counter({(200, "applied"): 1, (200, "duplicate"): 7})
    assert lines_of(api, anna["id"]) == [("reversal", "-4.00"), ("sale", "10.80")]


def test_refund_and_cancel_before_the_order_are_applied_when_it_arrives(api):
    anna = setup_partner(api)
    assert api.webhook(REFUND).json["status"] == "pending_order"
    assert api.webhook(REFUND).json["status"] == "duplicate"
    assert api.webhook(ORDER).json["status"] == "created"
    assert lines_of(api, anna["id"]) == [("reversal", "-4.00"), ("sale", "10.80")]
    assert api.webhook(CANCEL).json["status"] == "applied"
    assert lines_of(api, anna["id"]) == [
        ("reversal", "-4.00"),
        ("reversal", "-6.80"),
        ("sale", "10.80"),
    ]
    [conversion] = api.get("/api/v1/conversions").json["items"]
    assert conversion["status"] == "cancelled" and conversion["refunded"] == "108.00"


def test_refunds_never_reverse_more_than_the_order(api):
    anna = setup_partner(api)
    api.webhook(ORDER)
    for i, amount in enumerate(["100.00", "100.00", "5.00"]):
        api.webhook({**REFUND, "refund_id": f"r-{i}", "amount": amount})
    assert lines_of(api, anna["id"]) == [
        ("reversal", "-0.80"),
        ("reversal", "-10.00"),
        ("sale", "10.80"),
    ]
    result = api.app.test_cli_runner().invoke(args=["ledger", "verify"])
    assert result.exit_code == 0, result.output


def test_order_redelivered_with_other_content_keeps_the_first(api):
    anna = setup_partner(api)
    api.webhook(ORDER)
    changed = {**ORDER, "subtotal": "999.00"}
    assert api.webhook(changed).json["status"] == "duplicate"
    [conversion] = api.get("/api/v1/conversions").json["items"]
    assert conversion["amount"] == "108.00"
    assert lines_of(api, anna["id"]) == [("sale", "10.80")]
