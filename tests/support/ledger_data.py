"""A small commission ledger for finance's pages: two influencers on two campaigns,
orders in September 2026 in EUR and JPY sent through the webhook, a partial refund (a
reversal), and the clock left on 2 October: September has ended and is open, October
runs. Made through the API and the webhooks only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.support.app import Api


@dataclass
class Ledger:
    anna: dict[str, Any]
    ben: dict[str, Any]
    autumn: dict[str, Any]
    winter: dict[str, Any]


def order(order_id: str, code: str, subtotal: str, currency: str = "EUR") -> dict[str, Any]:
    return {
        "type": "order",
        "order_id": order_id,
        "occurred_at": "2026-09-10T12:00:00Z",
        "currency": currency,
        "subtotal": subtotal,
        "promo_codes": [code],
    }


def seed_ledger(api: Api, frozen: Any) -> Ledger:
    """Needs the clock at 2026-09-01 or earlier in September (``frozen_at``)."""
    anna, ben = api.create_influencer("anna"), api.create_influencer("ben")
    autumn = api.create_campaign("autumn", hold_days=0)  # 10 % of each order
    winter = api.create_campaign(
        "winter", hold_days=0, commission_rules=[{"type": "flat", "amount": "5.00"}]
    )
    for campaign in (autumn, winter):
        api.add_partner(campaign["id"], anna["id"])
    api.add_partner(autumn["id"], ben["id"])
    api.create_promo_code(autumn["id"], anna["id"], "ANNA15")
    api.create_promo_code(autumn["id"], ben["id"], "BEN10")
    api.create_promo_code(winter["id"], anna["id"], "ANNAW")
    frozen.set("2026-09-10T12:00:00Z")
    for body in (
        order("S-1", "ANNA15", "100.00"),
        order("S-2", "BEN10", "80.00"),
        order("S-3", "ANNAW", "50.00"),
        order("S-4", "BEN10", "12000", currency="JPY"),
    ):
        assert api.webhook(body).status_code in (200, 201)
    frozen.set("2026-09-12T12:00:00Z")
    refund = {
        "type": "refund",
        "order_id": "S-1",
        "refund_id": "r-1",
        "occurred_at": "2026-09-12T12:00:00Z",
        "amount": "30.00",
    }
    assert api.webhook(refund).json["status"] == "applied"
    frozen.set("2026-10-02T08:00:00Z")
    return Ledger(anna, ben, autumn, winter)
