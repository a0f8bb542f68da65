"""A new order costs no more than 3 SQL round trips on PostgreSQL in the
common case — counted with SQLAlchemy events: the statements the app executes plus
its COMMIT. (psycopg's implicit BEGIN and the pool's pre-ping are not SQL the app
issues; docs/BENCHMARKS.md#sql-round-trips-per-order counts them separately.)"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask

from service.app import create_app
from tests.support.app import Api, _empty_tables, make_settings

SECRET = "shpss_round_trip_test"
BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Safari/605.1.15"


@pytest.fixture
def shop_api(pg_url: str, frozen: Any) -> Iterator[Api]:
    # No Redis: the click is written straight to PostgreSQL, so it can be attributed.
    app: Flask = create_app(make_settings(pg_url, None, shopify_secret=SECRET), TESTING=True)
    yield Api(app, app.test_client())
    _empty_tables(app)
    app.extensions["afftrack"].db.dispose()


def shopify_order(order_id: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": order_id,
        "created_at": "2026-10-03T14:00:00+02:00",
        "processed_at": "2026-10-03T14:00:00+02:00",
        "currency": "EUR",
        "subtotal_price": "108.00",
        "total_price": "133.52",
        "total_tax": "20.52",
        "taxes_included": False,
        "test": False,
        "discount_codes": [],
        "landing_site": "/",
        "note_attributes": [],
        "customer": {"id": 77},
        "line_items": [
            {"id": 1, "price": "120.00", "quantity": 1, "tax_lines": [{"price": "20.52"}]}
        ],
        "refunds": [],
        **extra,
    }


def post(api: Api, payload: dict[str, Any], topic: str = "orders/create") -> Any:
    body = json.dumps(payload).encode()
    digest = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    return api.client.post(
        "/webhooks/shopify",
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": digest,
        },
    )


def setup(api: Api) -> dict[str, Any]:
    anna = api.create_influencer("anna")
    campaign = api.create_campaign("spring")
    api.add_partner(campaign["id"], anna["id"])
    api.create_promo_code(campaign["id"], anna["id"], "ANNA15")
    link = api.create_link(campaign["id"], anna["id"])
    return {"anna": anna, "campaign": campaign, "link": link}


def click_id(api: Api, code: str) -> str:
    r = api.client.get(f"/r/{code}", headers={"User-Agent": BROWSER})
    assert r.status_code == 302
    return parse_qs(urlsplit(r.headers["Location"]).query)["aff_click"][0]


def cases(api: Api, world: dict[str, Any]) -> dict[str, dict[str, Any]]:
    click = click_id(api, world["link"]["code"])
    return {
        "promo_code": shopify_order(1001, discount_codes=[{"code": "anna15", "amount": "12.00"}]),
        "click": shopify_order(1002, landing_site=f"/?aff_click={click}"),
        "utm": shopify_order(1003, landing_site="/?utm_campaign=spring&utm_content=anna"),
        "unattributed": shopify_order(1004),
    }


@pytest.mark.parametrize("method", ["promo_code", "click", "utm", "unattributed"])
def test_a_new_order_is_two_statements_and_the_commit(
    shop_api: Api, frozen: Any, method: str, count_queries: Any
):
    frozen.set("2026-10-03T11:55:00Z")  # the click comes before the order (12:00Z)
    world = setup(shop_api)
    payload = cases(shop_api, world)[method]
    with count_queries(shop_api.app) as seen:
        r = post(shop_api, payload)
    assert r.status_code == 200, r.json
    assert r.json["status"] == "created"
    assert len(seen.statements) + len(seen.commits) <= 3, seen
    assert len(seen.commits) == 1
    conversion = shop_api.get(f"/api/v1/conversions/{r.json['conversion_id']}").json
    if method == "unattributed":
        assert conversion["attribution"] is None
    else:
        assert conversion["attribution"]["method"] == method
        assert conversion["attribution"]["influencer_id"] == world["anna"]["id"]
        lines = shop_api.get(f"/api/v1/commissions?influencer_id={world['anna']['id']}").json
        assert [(x["kind"], x["amount"]) for x in lines["items"]] == [("sale", "10.80")]


def test_a_redelivered_order_is_two_statements_and_the_commit(
    shop_api: Api, frozen: Any, count_queries: Any
):
    frozen.set("2026-10-03T12:05:00Z")
    setup(shop_api)
    payload = shopify_order(2001, discount_codes=[{"code": "ANNA15", "amount": "12.00"}])
    first = post(shop_api, payload)
    with count_queries(shop_api.app) as seen:
        again = post(shop_api, payload)
    assert again.json == {**first.json, "status": "duplicate"}
    assert len(seen.statements) + len(seen.commits) <= 3, seen
    assert shop_api.rows("conversions") == 1
    assert shop_api.rows("webhook_deliveries") == 1
    assert shop_api.rows("commission_lines") == 1
