"""Helpers for the platform webhook tests (Shopify, WooCommerce, Stripe).

Fixtures under ``tests/fixtures/<platform>/`` are payloads in each platform's documented
shape. Helpers here load them, swap ids, sign raw bodies the way each platform does, post
them with the platform's headers, and read back conversions and commission lines.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from service import clock
from service.app import create_app
from service.migrate import upgrade
from tests.support.app import Api, _empty_tables, make_settings
from tests.support.flow import HUMAN_UA

FIXTURES = Path(__file__).parents[1] / "fixtures"

SHOPIFY_SECRET = "shpss_test_0f1e2d3c4b5a69788796a5b4c3d2e1f0"
WOOCOMMERCE_SECRET = "wc-test-secret-7c1d0e9f"
STRIPE_SECRET = "whsec_test_5Zk3nQ8vR2xY7pL4mW9tB6cH1jF0dG3s"
SECRETS = {
    "shopify_secret": SHOPIFY_SECRET,
    "woocommerce_secret": WOOCOMMERCE_SECRET,
    "stripe_secret": STRIPE_SECRET,
}

# The click id written into the fixtures; tests swap in a real one (or a stranger).
FIXTURE_CLICK = "Qx7mK2pLw9aZ4rTb"


# Fixtures ---------------------------------------------------------------------------------
def load(platform: str, name: str) -> dict[str, Any]:
    """A fresh copy of ``tests/fixtures/<platform>/<name>.json``."""
    path = FIXTURES / platform / (name if name.endswith(".json") else f"{name}.json")
    return json.loads(path.read_text(encoding="utf-8"))


def replace_ids(payload: Any, mapping: dict[Any, Any]) -> Any:
    """A deep copy of ``payload`` with ids swapped: a value equal to a key of ``mapping``
    becomes its value, and every string has ``str(key)`` replaced by ``str(value)``
    (so ``gid://shopify/Order/<id>``, URLs and ``cs_…`` ids follow along)."""
    if isinstance(payload, dict):
        return {k: replace_ids(v, mapping) for k, v in payload.items()}
    if isinstance(payload, list):
        return [replace_ids(v, mapping) for v in payload]
    if isinstance(payload, bool) or payload is None:
        return payload
    if payload in mapping:
        return mapping[payload]
    if isinstance(payload, str):
        for old, new in mapping.items():
            payload = payload.replace(str(old), str(new))
    return payload


def with_click(payload: Any, click_id: str) -> Any:
    """The fixture with its placeholder click id replaced by ``click_id``."""
    return replace_ids(payload, {FIXTURE_CLICK: click_id})


def body_of(payload: Any) -> bytes:
    """Raw bytes as a platform sends them (compact JSON, UTF-8, non-ASCII kept)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# Signatures -------------------------------------------------------------------------------
def base64_hmac(body: bytes, secret: str) -> str:
    """Shopify's ``X-Shopify-Hmac-Sha256`` and WooCommerce's ``X-WC-Webhook-Signature``."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def stripe_signature(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """``Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">``."""
    ts = int(clock.now_utc().timestamp()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={digest}"


def shopify_headers(body: bytes, topic: str, secret: str = SHOPIFY_SECRET) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": base64_hmac(body, secret),
        "X-Shopify-Shop-Domain": "afftrack-demo.myshopify.com",
        "X-Shopify-API-Version": "2024-07",
        "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        "X-Shopify-Event-Id": str(uuid.uuid4()),
        "X-Shopify-Triggered-At": clock.now_utc().isoformat().replace("+00:00", "Z"),
        "User-Agent": "Shopify-Captain-Hook",
    }


def woocommerce_headers(
    body: bytes, topic: str, secret: str = WOOCOMMERCE_SECRET
) -> dict[str, str]:
    resource, _, event = topic.partition(".")
    return {
        "Content-Type": "application/json",
        "X-WC-Webhook-Source": "https://shop.example/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": resource,
        "X-WC-Webhook-Event": event,
        "X-WC-Webhook-Signature": base64_hmac(body, secret),
        "X-WC-Webhook-ID": "17",
        "X-WC-Webhook-Delivery-ID": uuid.uuid4().hex,
        "User-Agent": "WooCommerce/9.3.3 Hookshot (WordPress/6.6.2)",
    }


def stripe_headers(
    body: bytes, secret: str = STRIPE_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    return {
        "Content-Type": "application/json; charset=utf-8",
        "Stripe-Signature": stripe_signature(body, secret, timestamp),
        "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
    }


# Posting ----------------------------------------------------------------------------------
def post_shopify(api: Api, payload: Any, topic: str, **kw: Any) -> TestResponse:
    body = kw.pop("raw", None) or body_of(payload)
    headers = {**shopify_headers(body, topic, kw.pop("secret", SHOPIFY_SECRET)), **kw}
    return api.client.post("/webhooks/shopify", data=body, headers=headers)


def post_woocommerce(api: Api, payload: Any, topic: str, **kw: Any) -> TestResponse:
    body = kw.pop("raw", None) or body_of(payload)
    headers = {**woocommerce_headers(body, topic, kw.pop("secret", WOOCOMMERCE_SECRET)), **kw}
    return api.client.post("/webhooks/woocommerce", data=body, headers=headers)


def post_stripe(api: Api, payload: Any, **kw: Any) -> TestResponse:
    body = kw.pop("raw", None) or body_of(payload)
    secret = kw.pop("secret", STRIPE_SECRET)
    timestamp = kw.pop("timestamp", None)
    headers = {**stripe_headers(body, secret, timestamp), **kw}
    return api.client.post("/webhooks/stripe", data=body, headers=headers)


def status_of(response: TestResponse) -> str:
    assert response.status_code == 200, (response.status_code, response.get_data(as_text=True))
    return response.json["status"]


def statuses(response: TestResponse) -> list[str]:
    """Each event's outcome of a delivery (one entry when it carried a single event)."""
    assert response.status_code == 200, (response.status_code, response.get_data(as_text=True))
    events = response.json.get("events")
    if not events:
        return [response.json["status"]]
    return [e["status"] if isinstance(e, dict) else str(e) for e in events]


def in_parallel(send: Callable[[Api], TestResponse], api: Api, copies: int = 6) -> Counter:
    """Run ``send`` from ``copies`` threads released at once, each with its own client."""
    barrier = threading.Barrier(copies)
    outcomes: list[tuple[int, str]] = []
    lock = threading.Lock()

    def run() -> None:
        sender = Api.__new__(Api)
        sender.app, sender.client = api.app, api.app.test_client()
        barrier.wait()
        response = send(sender)
        with lock:
            outcomes.append((response.status_code, (response.json or {}).get("status", "")))

    threads = [threading.Thread(target=run) for _ in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return Counter(outcomes)


# Apps with the platform secrets -------------------------------------------------------------
@contextmanager
def shop_api(database_url: str, **extra: Any) -> Iterator[Api]:
    """An app (no Redis: clicks are written straight to the database) with the three
    platform secrets set, and its authenticated API helper. Tables are emptied after."""
    if database_url.startswith("sqlite"):
        upgrade(database_url)
    settings = make_settings(database_url, None, **{**SECRETS, **extra})
    app: Flask = create_app(settings, TESTING=True)
    try:
        yield Api(app, app.test_client())
    finally:
        if not database_url.startswith("sqlite"):
            _empty_tables(app)
        app.extensions["afftrack"].db.dispose()


# Partners, clicks and read-backs ------------------------------------------------------------
def setup_partners(api: Api) -> dict[str, Any]:
    """Campaign ``spring`` (EUR, 10 %): anna with promo code ANNA15, ben with a link."""
    anna = api.create_influencer("anna")
    ben = api.create_influencer("ben")
    campaign = api.create_campaign("spring")
    api.add_partner(campaign["id"], anna["id"])
    api.add_partner(campaign["id"], ben["id"])
    api.create_promo_code(campaign["id"], anna["id"], "ANNA15")
    link = api.create_link(campaign["id"], ben["id"])
    return {"anna": anna, "ben": ben, "campaign": campaign, "link": link}


def click(api: Api, link: dict[str, Any], param: str = "aff_click") -> str:
    """Follow ``/r/<code>`` as a person would and return the click id in the Location."""
    response = api.client.get(f"/r/{link['code']}", headers={"User-Agent": HUMAN_UA})
    assert response.status_code == 302, response.get_data(as_text=True)
    params = parse_qs(urlsplit(response.headers["Location"]).query)
    return params[param][0]


def conversion(api: Api, source: str, order_id: str) -> dict[str, Any]:
    items = api.get(f"/api/v1/conversions?source={source}&order_id={order_id}").json["items"]
    assert len(items) == 1, items
    return items[0]


def conversions(api: Api) -> list[dict[str, Any]]:
    return api.get("/api/v1/conversions").json["items"]


def lines_of(api: Api, influencer_id: str) -> list[tuple[str, str, str]]:
    """(kind, amount, currency) of an influencer's commission lines, sorted."""
    items = api.get(f"/api/v1/commissions?influencer_id={influencer_id}").json["items"]
    return sorted((line["kind"], line["amount"], line["currency"]) for line in items)


def commission_lines(api: Api, influencer_id: str) -> list[dict[str, Any]]:
    return api.get(f"/api/v1/commissions?influencer_id={influencer_id}").json["items"]


@pytest.fixture(name="pg")
def pg_fixture(pg_url: str, frozen: Any) -> Iterator[Api]:
    """An app on the run's PostgreSQL database with the three platform secrets."""
    with shop_api(pg_url) as api:
        yield api


@pytest.fixture(name="sqlite")
def sqlite_fixture(tmp_path: Path, frozen: Any) -> Iterator[Api]:
    """The same on the embedded SQLite default."""
    with shop_api(f"sqlite:///{tmp_path / 'afftrack.db'}") as api:
        yield api
