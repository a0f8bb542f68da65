"""Orders left unattributed at first: the worker attributes an order whose click was
still queued in Redis when the order came, as soon as it writes that click; and
``afftrack conversions replay --id`` verifies a stored delivery again and re-runs it,
attributing an order whose promo code was created late. Refunds applied meanwhile
reverse the new lines."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import text

from service.app import create_app
from tests.support.app import Api, make_settings

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def replay(app: Any, ident: str) -> Any:
    return app.test_cli_runner().invoke(args=["conversions", "replay", "--id", ident])


def lines(api: Api, influencer_id: str) -> list[tuple[str, str]]:
    items = api.get(f"/api/v1/commissions?influencer_id={influencer_id}").json["items"]
    return sorted((x["kind"], x["amount"]) for x in items)


def test_the_worker_attributes_an_order_whose_click_was_still_queued(pg_api: Api, frozen: Any):
    frozen.set("2026-10-03T11:00:00Z")
    anna = pg_api.create_influencer("anna")
    campaign = pg_api.create_campaign("spring")
    pg_api.add_partner(campaign["id"], anna["id"])
    link = pg_api.create_link(campaign["id"], anna["id"])
    r = pg_api.client.get(f"/r/{link['code']}", headers={"User-Agent": BROWSER})
    click_id = parse_qs(urlsplit(r.headers["Location"]).query)["aff_click"][0]

    frozen.set("2026-10-03T12:01:00Z")
    order = {
        "type": "order",
        "order_id": "R-1",
        "occurred_at": "2026-10-03T12:00:00Z",
        "currency": "EUR",
        "subtotal": "200.00",
        "click_id": click_id,
    }
    created = pg_api.webhook(order).json
    assert created["status"] == "created"
    conversion_id = created["conversion_id"]
    # The click is still in the Redis stream: nothing to attribute to yet.
    assert pg_api.get(f"/api/v1/conversions/{conversion_id}").json["attribution"] is None
    refund = {
        "type": "refund",
        "order_id": "R-1",
        "refund_id": "rf-1",
        "occurred_at": "2026-10-03T13:00:00Z",
        "amount": "50.00",
    }
    refunded = pg_api.webhook(refund)
    assert refunded.json.get("status") == "applied", refunded.json
    assert lines(pg_api, anna["id"]) == []

    # Replaying before the click is written changes nothing.
    early = replay(pg_api.app, conversion_id)
    assert early.exit_code == 0, early.output
    assert "still unattributed" in early.output

    drained = pg_api.app.test_cli_runner().invoke(args=["worker", "--drain"])
    assert drained.exit_code == 0, drained.output
    conversion = pg_api.get(f"/api/v1/conversions/{conversion_id}").json
    assert conversion["attribution"]["method"] == "click"
    assert conversion["attribution"]["click_id"] == click_id
    assert conversion["attribution"]["influencer_id"] == anna["id"]
    # 10 % of 200.00, less 10 % of the 50.00 refunded before attribution.
    assert lines(pg_api, anna["id"]) == [("reversal", "-5.00"), ("sale", "20.00")]
    assert "already attributed" in replay(pg_api.app, conversion_id).output


def test_replay_attributes_an_order_once_its_promo_code_exists(pg_api: Api, frozen: Any):
    frozen.set("2026-10-03T12:01:00Z")
    anna = pg_api.create_influencer("anna")
    campaign = pg_api.create_campaign("spring")
    pg_api.add_partner(campaign["id"], anna["id"])
    order = {
        "type": "order",
        "order_id": "R-3",
        "occurred_at": "2026-10-03T12:00:00Z",
        "currency": "EUR",
        "subtotal": "80.00",
        "promo_codes": ["ANNA-LATE"],
    }
    conversion_id = pg_api.webhook(order).json["conversion_id"]
    refund = {
        "type": "refund",
        "order_id": "R-3",
        "refund_id": "rf-3",
        "occurred_at": "2026-10-03T12:30:00Z",
        "amount": "20.00",
    }
    assert pg_api.webhook(refund).json["status"] == "applied"
    assert pg_api.get(f"/api/v1/conversions/{conversion_id}").json["attribution"] is None
    pg_api.create_promo_code(campaign["id"], anna["id"], "ANNA-LATE")

    result = replay(pg_api.app, conversion_id)
    assert result.exit_code == 0, result.output
    assert "attributed by promo_code" in result.output
    attribution = pg_api.get(f"/api/v1/conversions/{conversion_id}").json["attribution"]
    assert attribution["method"] == "promo_code"
    assert attribution["promo_code"] == "ANNA-LATE"
    assert lines(pg_api, anna["id"]) == [("reversal", "-2.00"), ("sale", "8.00")]

    # Attributed once: replaying again (by conversion or by delivery) changes nothing.
    assert "already attributed" in replay(pg_api.app, conversion_id).output
    db = pg_api.app.extensions["afftrack"].db
    with db.engine.connect() as conn:
        delivery_ids = [row[0] for row in conn.execute(text("SELECT id FROM webhook_deliveries"))]
    assert len(delivery_ids) == 2  # the order and the refund, each stored once
    for delivery_id in delivery_ids:
        out = replay(pg_api.app, delivery_id)
        assert out.exit_code == 0, out.output
        assert "duplicate" in out.output
    assert lines(pg_api, anna["id"]) == [("reversal", "-2.00"), ("sale", "8.00")]
    assert pg_api.rows("conversion_events") == 1


def test_replay_refuses_a_delivery_that_no_longer_verifies(pg_api: Api, pg_url: str, redis_url):
    assert (
        pg_api.webhook(
            {
                "type": "order",
                "order_id": "R-2",
                "occurred_at": "2026-09-30T12:00:00Z",
                "currency": "EUR",
                "subtotal": "10.00",
            }
        ).status_code
        == 200
    )
    db = pg_api.app.extensions["afftrack"].db
    with db.engine.connect() as conn:
        delivery_id = conn.execute(text("SELECT id FROM webhook_deliveries")).scalar_one()
    other = create_app(make_settings(pg_url, redis_url, webhook_secret="rotated"), TESTING=True)
    try:
        result = replay(other, delivery_id)
        assert result.exit_code == 1
        assert "signature" in result.output
    finally:
        other.extensions["afftrack"].db.dispose()
    disabled = create_app(make_settings(pg_url, redis_url, webhook_secret=None), TESTING=True)
    try:
        result = replay(disabled, delivery_id)
        assert result.exit_code == 1
        assert "not configured" in result.output
    finally:
        disabled.extensions["afftrack"].db.dispose()
    assert replay(pg_api.app, delivery_id).exit_code == 0


def test_replay_of_an_unknown_id_exits_1(pg_api: Api):
    for ident in ("whd_nope", "cnv_nope"):
        result = replay(pg_api.app, ident)
        assert result.exit_code == 1
        assert "cannot replay" in result.output
