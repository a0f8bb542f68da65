"""Platform webhook bodies at their edges: NaN and infinity, lone surrogates, item tax past
64 bits, Stripe's inclusive shipping tax, gross refunds that round to zero, late attribution
of a cancelled free order, and an order in flight while its click is being written."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import text

from service import clock
from service.clicks.partitions import ensure_ahead
from service.conversions.events import OrderEvent
from service.conversions.intake import ingest
from tests.support.app import Api
from tests.support.flow import HUMAN_UA
from tests.support.platforms import (
    load,
    post_shopify,
    post_stripe,
    setup_partners,
)

ORDER_AT = "2026-10-03T12:05:00Z"
SESSION_CREATED = 1791028800  # 2026-10-03T12:00:00Z


@pytest.fixture(params=["pg", "sqlite"])
def shop(request: Any) -> Api:
    return request.getfixturevalue(request.param)


def scalar(api: Api, sql: str, **params: Any) -> Any:
    db = api.app.extensions["afftrack"].db
    with db.engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def shopify_order(order_id: int) -> dict[str, Any]:
    payload = load("shopify", "orders_create_eur_promo")
    payload["id"] = order_id
    return payload


def stripe_session(session_id: str, intent: str, **fields: Any) -> dict[str, Any]:
    session = {
        "id": session_id,
        "object": "checkout.session",
        "mode": "payment",
        "payment_status": "paid",
        "status": "complete",
        "currency": "eur",
        "created": SESSION_CREATED,
        "payment_intent": intent,
        "metadata": {},
        "discounts": [],
        "shipping_cost": None,
        **fields,
    }
    return {
        "id": f"evt_{session_id}",
        "object": "event",
        "type": "checkout.session.completed",
        "data": {"object": session},
    }


def stripe_refund(refund_id: str, intent: str, amount: int) -> dict[str, Any]:
    refund = {
        "id": refund_id,
        "object": "refund",
        "amount": amount,
        "currency": "eur",
        "payment_intent": intent,
        "status": "succeeded",
        "created": SESSION_CREATED + 3600,
    }
    return {
        "id": f"evt_{refund_id}",
        "object": "event",
        "type": "refund.created",
        "data": {"object": refund},
    }


# 1. JSON that is not JSON: NaN / Infinity in a signed platform body ----------------------
# Fails on HEAD 64e41bf (fixed in the uncommitted tree): json.loads accepts NaN/Infinity
# (parse_constant is not overridden); the raw payload is stored as JSONB, which
# PostgreSQL refuses: 500 instead of 400
@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_or_infinity_in_a_signed_shopify_body_is_a_4xx(
    pg: Api, frozen: Any, constant: str
) -> None:
    frozen.set(ORDER_AT)
    setup_partners(pg)
    payload = shopify_order(6201000009001)
    payload["note"] = "__CONSTANT__"
    raw = json.dumps(payload).encode().replace(b'"__CONSTANT__"', constant.encode())
    response = post_shopify(pg, None, "orders/create", raw=raw)
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)
    assert pg.rows("conversions") == 0


# Fails on HEAD 64e41bf (fixed in the uncommitted tree): same hole for Stripe: NaN in
# metadata reaches the JSONB raw column (500)
def test_nan_in_a_signed_stripe_body_is_a_4xx(pg: Api, frozen: Any) -> None:
    frozen.set(ORDER_AT)
    setup_partners(pg)
    event = stripe_session(
        "cs_nan_1",
        "pi_nan_1",
        amount_subtotal=10000,
        amount_total=10000,
        total_details={"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        metadata={"note": "__CONSTANT__"},
    )
    raw = json.dumps(event).encode().replace(b'"__CONSTANT__"', b"NaN")
    response = post_stripe(pg, None, raw=raw)
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)


# 2. Lone UTF-16 surrogates (valid JSON escapes, not encodable as UTF-8) -----------------
# Fails on HEAD 64e41bf (fixed in the uncommitted tree): a lone surrogate (\ud800)
# parses to a str that neither psycopg nor sqlite3 can encode; it is not refused like
# NUL is: 500 on both databases
def test_a_lone_surrogate_in_a_shopify_discount_code_is_a_4xx(shop: Api, frozen: Any) -> None:
    frozen.set(ORDER_AT)
    setup_partners(shop)
    payload = shopify_order(6201000009002)
    payload["discount_codes"] = [{"code": "__SURROGATE__", "amount": "12.00"}]
    raw = json.dumps(payload).encode().replace(b'"__SURROGATE__"', b'"\\udfff"')
    response = post_shopify(shop, None, "orders/create", raw=raw)
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)
    assert shop.rows("conversions") == 0


# Fails on HEAD 64e41bf (fixed in the uncommitted tree): a lone surrogate anywhere in
# the body (here an unused field) reaches the JSONB raw payload on PostgreSQL: 500
def test_a_lone_surrogate_in_an_unused_shopify_field_is_a_4xx(pg: Api, frozen: Any) -> None:
    frozen.set(ORDER_AT)
    setup_partners(pg)
    payload = shopify_order(6201000009003)
    payload["note"] = "__SURROGATE__"
    raw = json.dumps(payload).encode().replace(b'"__SURROGATE__"', b'"\\ud800"')
    response = post_shopify(pg, None, "orders/create", raw=raw)
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)


# 3. Sums of bounded amounts are not bounded ---------------------------------------------
# Fails on HEAD 64e41bf (fixed in the uncommitted tree): shopify._order sums every
# line's tax_lines without a bound; 10 000 maximal tax lines overflow BIGINT
# (tax_minor): 500 instead of 422
def test_shopify_item_tax_past_bigint_is_a_4xx(shop: Api, frozen: Any) -> None:
    frozen.set(ORDER_AT)
    setup_partners(shop)
    payload = shopify_order(6201000009004)
    tax_lines = [{"price": "9999999999999.99", "rate": 0.2, "title": "VAT"}] * 1000
    payload["line_items"] = [
        {"id": i, "price": "1.00", "quantity": 1, "tax_lines": tax_lines} for i in range(10)
    ]
    response = post_shopify(shop, payload, "orders/create")
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)[:300]


# 4. Stripe: VAT included in the shipping price is taken off the items -------------------
def test_stripe_inclusive_shipping_tax_is_not_taken_off_the_items(pg: Api, frozen: Any) -> None:
    frozen.set(ORDER_AT)
    setup_partners(pg)
    # 100.00 of items and 10.00 of shipping, both with 20 % VAT included:
    # item VAT 16.67, shipping VAT 1.67 → the items are worth 83.33 without tax.
    event = stripe_session(
        "cs_ship_vat_1",
        "pi_ship_vat_1",
        amount_subtotal=10000,
        amount_total=11000,
        total_details={"amount_discount": 0, "amount_shipping": 1000, "amount_tax": 1834},
        shipping_cost={"amount_subtotal": 1000, "amount_tax": 167, "amount_total": 1000},
    )
    assert post_stripe(pg, event).json["status"] == "created"
    items = pg.get("/api/v1/conversions?source=stripe&order_id=cs_ship_vat_1").json["items"]
    assert items[0]["amount"] == "83.33"


# 5. Gross refunds: a share that rounds to 0 drops out of the cumulative gross -----------
# Fails on HEAD 64e41bf (fixed in the uncommitted tree): ingest._gross_applied sums only
# gross events with amount_minor > 0, so a refund whose share rounded to 0 is forgotten
# and rounding no longer telescopes
def test_gross_refunds_that_round_to_zero_still_count(shop: Api, frozen: Any) -> None:
    frozen.set(ORDER_AT)
    setup_partners(shop)
    # attributable 10.00, exclusive tax 20.00: each gross cent is worth 1/3 cent.
    event = stripe_session(
        "cs_cents_1",
        "pi_cents_1",
        amount_subtotal=1000,
        amount_total=3000,
        total_details={"amount_discount": 0, "amount_shipping": 0, "amount_tax": 2000},
    )
    assert post_stripe(shop, event).json["status"] == "created"
    for n in range(3):
        assert post_stripe(shop, stripe_refund(f"re_cent_{n}", "pi_cents_1", 1)).status_code == 200
    # 0.03 refunded gross → 0.03 * 10 / 30 = 0.01 of the attributable amount.
    items = shop.get("/api/v1/conversions?source=stripe&order_id=cs_cents_1").json["items"]
    assert items[0]["refunded"] == "0.01"


# 6. Late attribution of a cancelled, fully discounted order keeps its flat line --------
# Fails on HEAD 64e41bf (fixed in the uncommitted tree): deliveries._reattribute
# reverses only events with amount_minor > 0; the cancel of a zero-amount order (amount
# 0) is skipped, so its new flat line stays (the direct path reverses it:
# record_reversal's zero-basis cancel rule)
def test_late_attribution_of_a_cancelled_free_order_reverses_its_flat_line(
    pg_api: Api, frozen: Any
) -> None:
    frozen.set("2026-10-03T12:01:00Z")
    anna = pg_api.create_influencer("anna")
    campaign = pg_api.create_campaign(
        "spring", commission_rules=[{"type": "flat", "amount": "5.00"}]
    )
    pg_api.add_partner(campaign["id"], anna["id"])
    order = {
        "type": "order",
        "order_id": "FREE-1",
        "occurred_at": "2026-10-03T12:00:00Z",
        "currency": "EUR",
        "subtotal": "50.00",
        "discount": "50.00",
        "promo_codes": ["ANNA-FREE"],
    }
    conversion_id = pg_api.webhook(order).json["conversion_id"]
    cancel = {"type": "cancel", "order_id": "FREE-1", "occurred_at": "2026-10-03T13:00:00Z"}
    assert pg_api.webhook(cancel).json["status"] == "applied"
    pg_api.create_promo_code(campaign["id"], anna["id"], "ANNA-FREE")

    result = pg_api.app.test_cli_runner().invoke(
        args=["conversions", "replay", "--id", conversion_id]
    )
    assert "attributed by promo_code" in result.output, result.output
    items = pg_api.get(f"/api/v1/commissions?influencer_id={anna['id']}").json["items"]
    # Same as when the order is attributed on arrival and then cancelled.
    assert sorted((x["kind"], x["amount"]) for x in items) == [
        ("reversal", "-5.00"),
        ("sale", "5.00"),
    ]


# 7. Late attribution: the click committed while the order was in flight ---------------
# Fails on HEAD 64e41bf (fixed in the uncommitted tree): attribute_late only looks for
# conversions already committed; an order whose gather() ran before the click was
# written and which commits after the worker's look-up is never attributed: no later
# worker run looks again
def test_an_order_in_flight_while_its_click_is_written_is_attributed(
    pg_api: Api, frozen: Any
) -> None:
    frozen.set("2026-10-03T11:00:00Z")
    anna = pg_api.create_influencer("anna")
    campaign = pg_api.create_campaign("spring")
    pg_api.add_partner(campaign["id"], anna["id"])
    link = pg_api.create_link(campaign["id"], anna["id"])
    response = pg_api.client.get(f"/r/{link['code']}", headers={"User-Agent": HUMAN_UA})
    click_id = response.headers["Location"].rsplit("aff_click=", 1)[1].split("&")[0]

    frozen.set("2026-10-03T12:01:00Z")
    svc = pg_api.app.extensions["afftrack"]
    order = OrderEvent(
        order_id="RACE-1",
        occurred_at=frozen.set("2026-10-03T12:00:00Z"),
        currency="EUR",
        amount_minor=20000,
        total_minor=None,
        promo_codes=[],
        click_id=click_id,
        customer_id=None,
        landing_url=None,
        raw={},
    )
    with svc.db.engine.begin() as conn:
        ensure_ahead(conn, clock.now_utc())  # no partition DDL while the order is open
    with svc.db.session() as session:
        # The order has read its facts (the click is still queued) but not committed...
        assert ingest(session, svc.settings, "generic", [order])[0].status == "created"
        # ...when the worker writes the click and looks for orders waiting for it.
        drained = pg_api.app.test_cli_runner().invoke(args=["worker", "--drain"])
        assert drained.exit_code == 0, drained.output
    # The order is committed now; the worker keeps running (here: drains again).
    again = pg_api.app.test_cli_runner().invoke(args=["worker", "--drain"])
    assert again.exit_code == 0, again.output
    method = scalar(pg_api, "SELECT method FROM conversions WHERE order_id = 'RACE-1'")
    assert method == "click"
