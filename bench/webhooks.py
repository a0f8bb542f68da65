"""Webhook throughput and latency: signed orders posted at a constant rate.

    python bench/webhooks.py [--source shopify|generic] [--rate 200] [--duration 30]
        [--warmup 5] [--max [--step 100]] [--influencers 200] [--json out.json]

Protocol: a throwaway PostgreSQL database (``afftrack_bench_webhooks``, dropped at the
end) is migrated and seeded with one EUR campaign (a single ``percent 10`` rule) and N
influencers, each a partner with a promo code and a link; every link is clicked once
through the running server and the clicks are moved into PostgreSQL by ``afftrack worker
--drain``, so orders can be attributed by click too. Then gunicorn
(``service/gunicorn_conf.py``, as deployed) serves the app pinned to CPU 0, and this
script, pinned to CPU 1, posts pre-generated, pre-signed orders (Shopify
``orders/create`` bodies, or the generic format) to ``/webhooks/<source>``.

The load is OPEN-LOOP: request i is due at ``t0 + i / rate`` whatever happened to the
earlier ones, on a pool of keep-alive connections that grows when every connection is
busy (up to ``--connections``; beyond that a request queues for a free one). Latency is
measured from the time a request was due, not from when it was written, so a server
that falls behind is charged for the whole wait (no coordinated omission). The first
``--warmup`` seconds of the schedule are discarded. ``--max`` repeats the run at
``--step``, 2 x ``--step``, ... orders/s until p99 reaches ``--p99-ms`` (or anything
fails), halves the gap to the last rate that passed down to ``--resolution``, and reports
the highest rate that stayed under it.

After each run the script checks in PostgreSQL that ``conversions`` holds exactly one
row per order sent, attributed the way each order was built to be (promo code, click,
UTM, none), and that ``commission_lines`` holds one 10 % sale line per attributed order.
Exit status: 0 clean, 2 if a check did not match or (outside ``--max``, where
overloading the server is the point) a request failed, 1 if the benchmark could not
run, 130 when interrupted (server and database cleaned up anyway).
See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import gc
import hashlib
import hmac
import http.client
import json
import os
import random
import re
import resource
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
import redis
from _harness import (
    BROWSER_UA,
    BenchError,
    Server,
    base_env,
    children_of,
    connections_per_process,
    cpu_by_process,
    drop_pg_database,
    free_port,
    interference,
    machine_facts,
    memory_of,
    note,
    percentile,
    proc_cmdline,
    recreate_pg_database,
    run_checked,
    shout,
    start_server,
    table,
    wait_idle,
    wait_port,
)

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from service.campaigns.schemas import CampaignIn  # noqa: E402
from service.campaigns.service import add_partner, create_campaign  # noqa: E402
from service.config import from_env  # noqa: E402
from service.conversions.webhooks.signatures import sign_generic  # noqa: E402
from service.db import Database  # noqa: E402
from service.influencers.schemas import InfluencerIn  # noqa: E402
from service.influencers.service import create_influencer  # noqa: E402
from service.links.service import create_link  # noqa: E402
from service.money import round_half_even  # noqa: E402
from service.promo_codes.service import create_promo_code  # noqa: E402

CAMPAIGN_SLUG = "bench-webhooks"
RATE_PERCENT = 10  # the campaign's one rule
VAT_PERCENT = 20
PROMO_PERCENT = 15
SHOP_DOMAIN = "bench-shop.myshopify.com"
CLICK_PARAM = "aff_click"  # service.config.Settings.click_param default
KINDS = ("promo", "click", "utm", "none")
METHOD_OF = {"promo": "promo_code", "click": "click", "utm": "utm", "none": None}
REDIS_LOCK = "bench:webhooks:lock"  # makes the test suite's fixture skip this db index
TEST_LOCK = "afftrack:test-run-lock"  # the test suite's fixture holds this db index
ORDER_AGE_S = 5  # an order is created this long before its webhook is due
IDLE_REUSE_S = 2.0  # reuse a keep-alive connection idle at most this long (gunicorn: 5 s)
NOISY_SHARE = 0.05  # other processes' CPU-seconds per second above which a run is noisy
PRODUCTS = (
    ("Linen shirt", "Sand / M", "LIN-SH-M", 4990),
    ("Canvas tote", "Natural", "TOTE-NAT", 1990),
    ("Merino beanie", "Charcoal", "BEAN-CH", 2450),
    ("Trail socks (3 pairs)", "38-41", "SOCK-3P", 1499),
    ("Rain jacket", "Olive / L", "RAIN-OL-L", 12900),
    ("Organic tee", "White / S", "TEE-WH-S", 2900),
    ("Leather belt", "Brown / 90", "BELT-BR-90", 5995),
    ("Sunglasses", "Tortoise", "SUN-TOR", 8900),
)
PARIS = timezone(timedelta(hours=1))


# --- setup ---------------------------------------------------------------------------


def afftrack_cli() -> list[str]:
    script = Path(sys.executable).parent / "afftrack"
    if script.exists():
        return [str(script)]
    found = shutil.which("afftrack")
    if found is None:
        raise BenchError("the afftrack command is not installed next to this Python")
    return [found]


def claim_redis(url: str) -> redis.Redis:
    """Flush our db index, unless the test suite is using it right now."""
    client = redis.Redis.from_url(url)
    if client.exists(TEST_LOCK):
        raise BenchError(f"{url} is in use by a test run ({TEST_LOCK}); pick --redis-db")
    client.flushdb()
    client.set(REDIS_LOCK, "1", ex=3600)
    return client


@dataclass
class Partner:
    handle: str
    promo_code: str
    link_code: str
    click_id: str | None = None


def seed(env: dict[str, str], influencers: int) -> list[Partner]:
    """The campaign and its partners, written through the app's own services."""
    settings = from_env(env)
    db = Database(settings.database_url)
    today = datetime.now(UTC).date()
    partners = []
    try:
        with db.session() as s:
            campaign = create_campaign(
                s,
                CampaignIn().load(
                    {
                        "name": "Webhook benchmark",
                        "slug": CAMPAIGN_SLUG,
                        "goal": "conversions",
                        "kind": "affiliate",
                        "currency": "EUR",
                        "starts_on": (today - timedelta(days=7)).isoformat(),
                        "allowed_domains": ["shop.example.com"],
                        "fallback_url": "https://shop.example.com/",
                        "hold_days": 30,
                        "commission_rules": [{"type": "percent", "rate": str(RATE_PERCENT)}],
                    }
                ),
            )
            for i in range(influencers):
                handle = f"creator{i:03d}"
                person = create_influencer(
                    s,
                    InfluencerIn().load(
                        {
                            "handle": handle,
                            "name": f"Creator {i:03d}",
                            "email": f"{handle}@example.com",
                            "platforms": [
                                {"platform": "instagram", "handle": handle, "followers": 1000 + i}
                            ],
                        }
                    ),
                )
                add_partner(s, campaign.id, {"influencer_id": person.id})
                ids = {"campaign_id": campaign.id, "influencer_id": person.id}
                link = create_link(
                    s,
                    settings,
                    {
                        **ids,
                        "destination": "https://shop.example.com/?ref=bio",
                        "platform": "instagram",
                    },
                )
                promo = create_promo_code(s, {**ids, "code": f"CREATOR{i:03d}"})
                partners.append(Partner(handle, promo.code, link.code))
    finally:
        db.dispose()
    return partners


def click_links(port: int, partners: list[Partner]) -> None:
    """One human click on each partner's link; the click id is in the Location."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        for p in partners:
            conn.request("GET", f"/r/{p.link_code}", headers={"User-Agent": BROWSER_UA})
            resp = conn.getresponse()
            resp.read()
            location = resp.getheader("Location") or ""
            if resp.status != 302:
                raise BenchError(f"GET /r/{p.link_code} answered {resp.status}, not 302")
            found = parse_qs(urlsplit(location).query).get(CLICK_PARAM)
            if not found:
                raise BenchError(f"no {CLICK_PARAM} in the redirect's Location {location!r}")
            p.click_id = found[0]
    finally:
        conn.close()


def keep_stored_clicks(pg_url: str, partners: list[Partner]) -> datetime:
    """Forget click ids that are not human clicks in PostgreSQL; the latest click time."""
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("SELECT id, occurred_at FROM clicks WHERE NOT is_bot").fetchall()
    stored = {r[0]: r[1] for r in rows}
    for p in partners:
        if p.click_id not in stored:
            p.click_id = None
    if not stored:
        raise BenchError("no human click reached PostgreSQL: click attribution cannot be tested")
    return max(stored.values())


# --- orders --------------------------------------------------------------------------


@dataclass(frozen=True)
class Order:
    """One prepared delivery: the exact bytes to send and what it should produce."""

    request: bytes
    kind: str  # promo | click | utm | none
    attributable_minor: int
    commission_minor: int  # 0 when unattributed
    body_bytes: int


def _fmt(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


def _money_set(minor: int) -> dict[str, Any]:
    bag = {"amount": _fmt(minor), "currency_code": "EUR"}
    return {"shop_money": bag, "presentment_money": dict(bag)}


def _pct(minor: int, percent: int) -> int:
    return (minor * percent + 50) // 100  # half up, to the cent, as a shop would


def _address(rng: random.Random, first: str, last: str) -> dict[str, Any]:
    return {
        "first_name": first,
        "last_name": last,
        "name": f"{first} {last}",
        "address1": f"{rng.randint(1, 180)} rue de la Paix",
        "address2": None,
        "city": "Paris",
        "zip": f"750{rng.randint(1, 20):02d}",
        "province": None,
        "province_code": None,
        "country": "France",
        "country_code": "FR",
        "company": None,
        "phone": None,
        "latitude": 48.8698,
        "longitude": 2.3311,
    }


@dataclass(frozen=True)
class Plan:
    number: int  # unique in the run: the order id is derived from it
    kind: str
    partner: Partner | None
    created_at: datetime


def build_lines(rng: random.Random, promo: bool) -> tuple[list[tuple[Any, int, int]], int, int]:
    """Line items as (product, quantity, discount allocated), items total, discount."""
    picked = [(rng.choice(PRODUCTS), rng.choice((1, 1, 1, 2, 3))) for _ in range(rng.randint(1, 4))]
    gross = sum(prod[3] * qty for prod, qty in picked)
    discount = _pct(gross, PROMO_PERCENT) if promo else 0
    lines, left = [], discount
    for index, (prod, qty) in enumerate(picked):
        share = left if index == len(picked) - 1 else prod[3] * qty * discount // gross
        left -= share
        lines.append((prod, qty, share))
    return lines, gross, discount


def shopify_order(plan: Plan, rng: random.Random) -> tuple[dict[str, Any], int]:
    """A Shopify ``orders/create`` body (API 2024-10 field names); attributable minor."""
    n = plan.number
    order_id = 5_900_000_000_000 + n
    customer_id = 7_300_000_000_000 + rng.randint(1, 50_000)
    code = plan.partner.promo_code if plan.kind == "promo" and plan.partner else None
    lines, gross, discount = build_lines(rng, code is not None)
    subtotal = gross - discount
    shipping = 0 if subtotal >= 5000 else 490
    shipping_tax = _pct(shipping, VAT_PERCENT)
    line_items, items_tax = [], 0
    for index, (prod, qty, share) in enumerate(lines):
        title, variant, sku, price = prod
        tax = _pct(price * qty - share, VAT_PERCENT)
        items_tax += tax
        item_id = 13_800_000_000_000 + n * 10 + index
        line_items.append(
            {
                "id": item_id,
                "admin_graphql_api_id": f"gid://shopify/LineItem/{item_id}",
                "current_quantity": qty,
                "fulfillable_quantity": qty,
                "fulfillment_service": "manual",
                "fulfillment_status": None,
                "gift_card": False,
                "grams": 250,
                "name": f"{title} - {variant}",
                "price": _fmt(price),
                "price_set": _money_set(price),
                "product_exists": True,
                "product_id": 8_100_000_000_000 + PRODUCTS.index(prod),
                "properties": [],
                "quantity": qty,
                "requires_shipping": True,
                "sku": sku,
                "taxable": True,
                "title": title,
                "total_discount": "0.00",
                "total_discount_set": _money_set(0),
                "variant_id": 45_000_000_000_000 + PRODUCTS.index(prod),
                "variant_inventory_management": "shopify",
                "variant_title": variant,
                "vendor": "Bench Shop",
                "tax_lines": [
                    {
                        "channel_liable": False,
                        "price": _fmt(tax),
                        "price_set": _money_set(tax),
                        "rate": VAT_PERCENT / 100,
                        "title": "FR TVA",
                    }
                ],
                "duties": [],
                "discount_allocations": [
                    {
                        "amount": _fmt(share),
                        "amount_set": _money_set(share),
                        "discount_application_index": 0,
                    }
                ]
                if code
                else [],
            }
        )
    total_tax = items_tax + shipping_tax
    total = subtotal + shipping + total_tax
    landing = _landing_path(plan)
    when = plan.created_at.isoformat()
    first, last = rng.choice(("Camille", "Léa", "Hugo", "Noah", "Inès")), f"Client{n % 997}"
    email = f"client{customer_id % 100_000}@example.org"
    body = {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "app_id": 580111,
        "browser_ip": f"203.0.113.{rng.randint(1, 254)}",
        "buyer_accepts_marketing": False,
        "cancel_reason": None,
        "cancelled_at": None,
        "cart_token": secrets.token_hex(16),
        "checkout_id": 36_000_000_000_000 + n,
        "checkout_token": secrets.token_hex(16),
        "client_details": {
            "accept_language": "fr-FR",
            "browser_height": 844,
            "browser_ip": f"203.0.113.{rng.randint(1, 254)}",
            "browser_width": 390,
            "session_hash": None,
            "user_agent": BROWSER_UA,
        },
        "closed_at": None,
        "confirmation_number": secrets.token_hex(5).upper(),
        "confirmed": True,
        "contact_email": email,
        "created_at": when,
        "currency": "EUR",
        "current_subtotal_price": _fmt(subtotal),
        "current_subtotal_price_set": _money_set(subtotal),
        "current_total_discounts": _fmt(discount),
        "current_total_discounts_set": _money_set(discount),
        "current_total_duties_set": None,
        "current_total_price": _fmt(total),
        "current_total_price_set": _money_set(total),
        "current_total_tax": _fmt(total_tax),
        "current_total_tax_set": _money_set(total_tax),
        "customer_locale": "fr-FR",
        "discount_codes": [{"code": code, "amount": _fmt(discount), "type": "percentage"}]
        if code
        else [],
        "email": email,
        "estimated_taxes": False,
        "financial_status": "paid",
        "fulfillment_status": None,
        "landing_site": landing,
        "landing_site_ref": None,
        "name": f"#{1000 + n}",
        "note": None,
        "note_attributes": [],
        "number": n,
        "order_number": 1000 + n,
        "order_status_url": f"https://{SHOP_DOMAIN}/12345/orders/{secrets.token_hex(16)}"
        "/authenticate?key=" + secrets.token_hex(16),
        "payment_gateway_names": ["shopify_payments"],
        "phone": None,
        "presentment_currency": "EUR",
        "processed_at": when,
        "reference": None,
        "referring_site": "https://l.instagram.com/" if plan.kind != "none" else "",
        "source_identifier": None,
        "source_name": "web",
        "subtotal_price": _fmt(subtotal),
        "subtotal_price_set": _money_set(subtotal),
        "tags": "",
        "tax_exempt": False,
        "tax_lines": [
            {
                "price": _fmt(total_tax),
                "rate": VAT_PERCENT / 100,
                "title": "FR TVA",
                "price_set": _money_set(total_tax),
                "channel_liable": False,
            }
        ],
        "taxes_included": False,
        "test": False,
        "token": secrets.token_hex(16),
        "total_discounts": _fmt(discount),
        "total_discounts_set": _money_set(discount),
        "total_line_items_price": _fmt(gross),
        "total_line_items_price_set": _money_set(gross),
        "total_outstanding": "0.00",
        "total_price": _fmt(total),
        "total_price_set": _money_set(total),
        "total_shipping_price_set": _money_set(shipping),
        "total_tax": _fmt(total_tax),
        "total_tax_set": _money_set(total_tax),
        "total_tip_received": "0.00",
        "total_weight": 250 * sum(qty for _p, qty, _s in lines),
        "updated_at": when,
        "user_id": None,
        "billing_address": _address(rng, first, last),
        "customer": {
            "id": customer_id,
            "email": email,
            "created_at": when,
            "updated_at": when,
            "first_name": first,
            "last_name": last,
            "state": "enabled",
            "note": None,
            "verified_email": True,
            "multipass_identifier": None,
            "tax_exempt": False,
            "phone": None,
            "currency": "EUR",
            "tags": "",
            "admin_graphql_api_id": f"gid://shopify/Customer/{customer_id}",
        },
        "discount_applications": [
            {
                "target_type": "line_item",
                "type": "discount_code",
                "value": f"{PROMO_PERCENT}.0",
                "value_type": "percentage",
                "allocation_method": "across",
                "target_selection": "all",
                "code": code,
            }
        ]
        if code
        else [],
        "fulfillments": [],
        "line_items": line_items,
        "payment_terms": None,
        "refunds": [],
        "shipping_address": _address(rng, first, last),
        "shipping_lines": [
            {
                "id": 4_700_000_000_000 + n,
                "carrier_identifier": None,
                "code": "Standard",
                "discounted_price": _fmt(shipping),
                "discounted_price_set": _money_set(shipping),
                "phone": None,
                "price": _fmt(shipping),
                "price_set": _money_set(shipping),
                "requested_fulfillment_service_id": None,
                "source": "shopify",
                "title": "Standard",
                "tax_lines": [
                    {
                        "channel_liable": False,
                        "price": _fmt(shipping_tax),
                        "price_set": _money_set(shipping_tax),
                        "rate": VAT_PERCENT / 100,
                        "title": "FR TVA",
                    }
                ],
                "discount_allocations": [],
            }
        ],
    }
    return body, subtotal


def generic_order(plan: Plan, rng: random.Random) -> tuple[dict[str, Any], int]:
    """The same order in afftrack's generic format (docs/product.md §2)."""
    code = plan.partner.promo_code if plan.kind == "promo" and plan.partner else None
    lines, gross, discount = build_lines(rng, code is not None)
    subtotal = gross - discount
    shipping = 0 if subtotal >= 5000 else 490
    tax = sum(_pct(p[3] * q - s, VAT_PERCENT) for p, q, s in lines) + _pct(shipping, VAT_PERCENT)
    body = {
        "type": "order",
        "order_id": f"G-{plan.number}",
        "occurred_at": plan.created_at.isoformat(),
        "currency": "EUR",
        "subtotal": _fmt(gross),
        "discount": _fmt(discount),
        "shipping": _fmt(shipping),
        "tax": _fmt(tax),
        "total": _fmt(subtotal + shipping + tax),
        "promo_codes": [code] if code else [],
        "customer_id": f"cust-{rng.randint(1, 50_000)}",
        "landing_url": "https://shop.example.com" + _landing_path(plan),
    }
    return body, subtotal


def _landing_path(plan: Plan) -> str:
    p = plan.partner
    if plan.kind == "utm":
        assert p is not None
        return (
            "/?utm_source=instagram&utm_medium=influencer"
            f"&utm_campaign={CAMPAIGN_SLUG}&utm_content={p.handle}"
        )
    if plan.kind == "none":
        # Half of them carry a click id that matches nothing (the look-up still runs).
        if plan.number % 2:
            return f"/?utm_source=instagram&{CLICK_PARAM}={secrets.token_urlsafe(12)}"
        return "/collections/all?utm_source=newsletter&utm_medium=email"
    assert p is not None
    if plan.kind == "click" or (p.click_id and plan.number % 2):
        # A promo order may carry the click too: the code wins (docs/product.md §4).
        return f"/?utm_source=instagram&{CLICK_PARAM}={p.click_id}"
    return "/?utm_source=instagram"


class OrderMaker:
    """Plans orders (kind, partner) and renders each as a signed HTTP request."""

    def __init__(
        self,
        source: str,
        secret: str,
        port: int,
        partners: list[Partner],
        mix: dict[str, int],
        seed_value: int,
        not_before: datetime,
        keepalive: bool,
    ) -> None:
        self.source = source
        self.secret = secret
        self.port = port
        self.partners = partners
        self.clicked = [p for p in partners if p.click_id]
        self.kinds = [k for k in KINDS if mix.get(k)]
        self.weights = [mix[k] for k in self.kinds]
        self.rng = random.Random(seed_value)
        self.number = 0
        self.not_before = not_before
        self.keepalive = keepalive

    def make(self, count: int, first_send: float, rate: float) -> list[Order]:
        """``count`` orders; the i-th is due ``first_send + i / rate`` (epoch seconds): its
        signature time, and ``ORDER_AGE_S`` after its ``created_at``."""
        out = []
        for i in range(count):
            send_at = first_send + i / rate
            kind = self.rng.choices(self.kinds, self.weights)[0]
            pool = self.clicked if kind in ("click", "promo") and self.clicked else self.partners
            partner = None if kind == "none" else self.rng.choice(pool)
            created = datetime.fromtimestamp(send_at - ORDER_AGE_S, PARIS).replace(microsecond=0)
            created = max(created, self.not_before)
            self.number += 1
            out.append(self.render(Plan(self.number, kind, partner, created), int(send_at)))
        return out

    def render(self, plan: Plan, signed_at: int) -> Order:
        if self.source == "shopify":
            payload, attributable = shopify_order(plan, self.rng)
        else:
            payload, attributable = generic_order(plan, self.rng)
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {
            "Host": f"127.0.0.1:{self.port}",
            "Content-Type": "application/json",
            "Content-Length": str(len(body)),
        }
        if self.source == "shopify":
            digest = hmac.new(self.secret.encode(), body, hashlib.sha256).digest()
            headers.update(
                {
                    "User-Agent": "Shopify-Captain-Hook",
                    "Accept": "*/*",
                    "X-Shopify-Topic": "orders/create",
                    "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
                    "X-Shopify-Shop-Domain": SHOP_DOMAIN,
                    "X-Shopify-Api-Version": "2024-10",
                    "X-Shopify-Webhook-Id": str(uuid.uuid4()),
                    "X-Shopify-Event-Id": str(uuid.uuid4()),
                    "X-Shopify-Triggered-At": datetime.fromtimestamp(signed_at, UTC)
                    .isoformat()
                    .replace("+00:00", "Z"),
                }
            )
        else:
            headers["User-Agent"] = "bench-shop/1.0"
            headers.update(sign_generic(body, self.secret, signed_at))
        if not self.keepalive:
            headers["Connection"] = "close"
        head = f"POST /webhooks/{self.source} HTTP/1.1\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in headers.items()
        )
        attributed = plan.kind != "none"
        commission = (
            round_half_even(Fraction(attributable * RATE_PERCENT, 100)) if attributed else 0
        )
        return Order(
            request=head.encode("latin-1") + b"\r\n" + body,
            kind=plan.kind,
            attributable_minor=attributable,
            commission_minor=commission,
            body_bytes=len(body),
        )


# --- the open-loop load generator ----------------------------------------------------

SOCKET_ERROR, TIMEOUT, UNFINISHED = 0, -1, -2
INF = float("inf")


class _Conn:
    __slots__ = ("last_used", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.last_used = 0.0

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """Status, body and whether the server closes the connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length, close, chunked = 0, head.startswith(b"HTTP/1.0"), False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection":
            close = value.strip().lower() == b"close"
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
    if not chunked:
        return status, (await reader.readexactly(length) if length else b""), close
    parts = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return status, b"".join(parts), close
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


@dataclass
class LoadRun:
    """Per-request figures of one run; index i was due at ``t0 + i / rate``."""

    rate: float
    warmup_n: int
    t0: float
    latency: list[float]  # seconds from due time to the last response byte (nan: none)
    lag: list[float]  # seconds from due time to writing the request
    status: list[int]  # HTTP status, or SOCKET_ERROR / TIMEOUT / UNFINISHED
    written: list[bool]  # the request went out (it may have reached the server)
    done: list[float]  # completion, seconds after t0
    outcome: list[str]  # the "status" of a 2xx body (created, duplicate, ...)
    first_error: dict[str, str] = field(default_factory=dict)
    retries: int = 0
    connections_opened: int = 0
    max_in_flight: int = 0
    client_cpu_s: float = 0.0
    wall_s: float = 0.0


class OpenLoop:
    def __init__(
        self,
        port: int,
        requests: Sequence[bytes],
        rate: float,
        warmup_n: int,
        max_connections: int,
        timeout: float,
        drain_timeout: float,
        t0: float,
    ) -> None:
        self.port = port
        self.requests = requests
        self.timeout = timeout
        self.drain_timeout = drain_timeout
        n = len(requests)
        nan = float("nan")
        self.run = LoadRun(
            rate=rate,
            warmup_n=warmup_n,
            t0=t0,
            latency=[nan] * n,
            lag=[nan] * n,
            status=[UNFINISHED] * n,
            written=[False] * n,
            done=[nan] * n,
            outcome=[""] * n,
        )
        self.max_connections = max_connections
        self.idle: list[_Conn] = []
        self.sem: asyncio.Semaphore | None = None
        self.in_flight = 0

    async def _connection(self) -> tuple[_Conn, bool]:
        now = time.monotonic()
        while self.idle:
            conn = self.idle.pop()  # LIFO: the warmest connection first
            if now - conn.last_used <= IDLE_REUSE_S:
                return conn, False
            conn.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.run.connections_opened += 1
        return _Conn(reader, writer), True

    def _error(self, i: int, code: int, exc: BaseException | str) -> None:
        self.run.status[i] = code
        key = {SOCKET_ERROR: "socket", TIMEOUT: "timeout"}.get(code, str(code))
        self.run.first_error.setdefault(key, exc if isinstance(exc, str) else repr(exc))

    async def _one(self, i: int, due: float) -> None:
        assert self.sem is not None
        run = self.run
        self.in_flight += 1
        run.max_in_flight = max(run.max_in_flight, self.in_flight)
        try:
            async with self.sem:
                for attempt in (1, 2):
                    try:
                        conn, fresh = await self._connection()
                    except OSError as exc:
                        self._error(i, SOCKET_ERROR, exc)
                        return
                    if attempt == 1:
                        run.lag[i] = time.monotonic() - due
                    try:
                        async with asyncio.timeout(self.timeout):
                            conn.writer.write(self.requests[i])
                            run.written[i] = True
                            status, body, close = await _read_response(conn.reader)
                    except TimeoutError as exc:
                        conn.close()
                        self._error(i, TIMEOUT, exc)
                        return
                    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                        conn.close()
                        nothing = not isinstance(exc, asyncio.IncompleteReadError) or (
                            not exc.partial
                        )
                        if attempt == 1 and not fresh and nothing:
                            # The server closed an idle keep-alive connection just as we
                            # reused it: nothing was read, send again on a new one.
                            run.retries += 1
                            continue
                        self._error(i, SOCKET_ERROR, exc)
                        return
                    end = time.monotonic()
                    run.latency[i] = end - due
                    run.done[i] = end - run.t0
                    run.status[i] = status
                    if 200 <= status < 300:
                        with contextlib.suppress(ValueError, AttributeError):
                            run.outcome[i] = str(json.loads(body).get("status"))
                    elif str(status) not in run.first_error:
                        run.first_error[str(status)] = body[:300].decode("utf-8", "replace")
                    if close:
                        conn.close()
                    else:
                        conn.last_used = end
                        self.idle.append(conn)
                    return
        finally:
            self.in_flight -= 1

    async def _main(self) -> None:
        self.sem = asyncio.Semaphore(self.max_connections)
        tasks: set[asyncio.Task[None]] = set()
        interval = 1.0 / self.run.rate
        t0 = self.run.t0
        for i in range(len(self.requests)):
            due = t0 + i * interval
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.get_running_loop().create_task(self._one(i, due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            _done, pending = await asyncio.wait(set(tasks), timeout=self.drain_timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)
        for conn in self.idle:
            conn.close()
        self.idle.clear()
        await asyncio.sleep(0)  # let the transports close

    def go(self) -> LoadRun:
        cpu = resource.getrusage(resource.RUSAGE_SELF)
        started = time.monotonic()
        asyncio.run(self._main())
        after = resource.getrusage(resource.RUSAGE_SELF)
        self.run.wall_s = time.monotonic() - started
        self.run.client_cpu_s = (after.ru_utime - cpu.ru_utime) + (after.ru_stime - cpu.ru_stime)
        return self.run


# --- watching PostgreSQL and the server during a run ---------------------------------


class Watcher(threading.Thread):
    """Samples pg_stat_activity of the bench database (from the admin database, so it is
    not itself counted) every ``period`` seconds during the measured window, and which
    server process holds the connections half-way through."""

    def __init__(
        self,
        admin_url: str,
        database: str,
        window: tuple[float, float],
        port: int,
        server: Server,
        period: float = 0.1,
    ) -> None:
        super().__init__(daemon=True)
        self.admin_url, self.database = admin_url, database
        self.window, self.port, self.server, self.period = window, port, server, period
        self.stop_event = threading.Event()
        self.samples = 0
        self.active: list[int] = []
        self.waits: Counter[str] = Counter()
        self.slow: dict[str, float] = {}  # statement -> longest running time seen, s
        self.spread: dict[int, int] = {}
        self.error: str | None = None

    def run(self) -> None:
        start, end = self.window
        mid = (start + end) / 2
        query = (
            "SELECT state, coalesce(wait_event_type || ':' || wait_event, 'CPU'), "
            "extract(epoch FROM clock_timestamp() - query_start), left(query, 160) "
            "FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'"
        )
        try:
            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                while not self.stop_event.is_set():
                    now = time.monotonic()
                    if now >= end:
                        return
                    if not self.spread and now >= mid:
                        pids = [self.server.pid, *children_of(self.server.pid)]
                        self.spread = connections_per_process(self.port, pids)
                    if now >= start:
                        rows = conn.execute(query, (self.database,)).fetchall()
                        self.samples += 1
                        busy = [r for r in rows if r[0] == "active"]
                        self.active.append(len(busy))
                        for _state, wait, running, text in busy:
                            self.waits[wait] += 1
                            statement = " ".join((text or "").split())
                            if running and running > self.slow.get(statement, 0):
                                self.slow[statement] = float(running)
                    self.stop_event.wait(self.period)
        except psycopg.Error as exc:
            self.error = repr(exc)

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=5)


def pg_counters(pg_url: str) -> dict[str, Any]:
    """Cumulative statistics of the bench database (tables and the database itself)."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT relname, seq_scan, seq_tup_read, coalesce(idx_scan, 0), n_tup_ins, "
            "autovacuum_count, autoanalyze_count FROM pg_stat_user_tables"
        ).fetchall()
        bgwriter = conn.execute(
            "SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter"
        ).fetchone()
        db = conn.execute(
            "SELECT xact_commit, xact_rollback, deadlocks, temp_files, blks_read, blks_hit "
            "FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    names = ("xact_commit", "xact_rollback", "deadlocks", "temp_files", "blks_read", "blks_hit")
    return {
        "tables": {r[0]: tuple(int(v) for v in r[1:]) for r in tables},
        "db": {
            **dict(zip(names, (int(v) for v in db or ()), strict=False)),
            "checkpoints": int(bgwriter[0]) if bgwriter else 0,  # server-wide
        },
    }


def pg_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    tables = {}
    for name, now in after["tables"].items():
        then = before["tables"].get(name, (0,) * len(now))
        diff = tuple(a - b for a, b in zip(now, then, strict=True))
        if any(diff):
            tables[name] = {
                "seq_scan": diff[0],
                "seq_tup_read": diff[1],
                "idx_scan": diff[2],
                "inserted": diff[3],
                "autovacuum": diff[4],
                "autoanalyze": diff[5],
            }
    db = {k: v - before["db"].get(k, 0) for k, v in after["db"].items()}
    return {"tables": tables, "db": db}


LOG_PATTERNS = {
    "tracebacks": re.compile(r"^Traceback ", re.MULTILINE),
    "error_lines": re.compile(r'"level": "ERROR"|\[ERROR\]|"level": "CRITICAL"|\[CRITICAL\]'),
    "warning_lines": re.compile(r'"level": "WARNING"|\[WARNING\]'),
    "worker_timeouts": re.compile(r"WORKER TIMEOUT"),
    "worker_boots": re.compile(r"Booting worker with pid"),
    "retry_503": re.compile(r"webhook transaction failed"),
}


def log_findings(text: str) -> dict[str, Any]:
    out: dict[str, Any] = {k: len(p.findall(text)) for k, p in LOG_PATTERNS.items()}
    samples = []
    for line in text.splitlines():
        if LOG_PATTERNS["error_lines"].search(line) or LOG_PATTERNS["warning_lines"].search(line):
            short = line[:300]
            if short not in samples:
                samples.append(short)
        if len(samples) >= 5:
            break
    out["samples"] = samples
    return out


# --- one step ------------------------------------------------------------------------


@dataclass
class Step:
    rate: float
    duration: float
    warmup: float
    orders: list[Order]
    load: LoadRun | None = None
    figures: dict[str, Any] = field(default_factory=dict)
    check: dict[str, Any] = field(default_factory=dict)
    server: dict[str, Any] = field(default_factory=dict)
    passed: bool = False
    why_not: list[str] = field(default_factory=list)


def figures_of(run: LoadRun, duration: float) -> dict[str, Any]:
    idx = range(run.warmup_n, len(run.status))
    measured = len(idx)
    statuses = Counter(run.status[i] for i in idx)
    ok = [i for i in idx if 200 <= run.status[i] < 300]
    answered = [i for i in idx if run.status[i] >= 100]
    # An order that got no answer (timeout, socket error, still queued at the end) counts
    # as infinitely slow: leaving it out would flatter an overloaded server.
    lat = sorted([run.latency[i] * 1000 for i in answered] + [INF] * (measured - len(answered)))
    lag = sorted(run.lag[i] * 1000 for i in idx if run.lag[i] == run.lag[i])
    start = run.warmup_n / run.rate
    last = max((run.done[i] for i in ok), default=start)
    elapsed = max(last - start, duration)
    non_2xx = {str(s): c for s, c in statuses.items() if s >= 100 and not 200 <= s < 300}
    # Second by second (by due time): where the slow orders cluster.
    seconds: dict[int, list[float]] = {}
    for i in idx:
        ms = run.latency[i] * 1000 if run.status[i] >= 100 else INF
        seconds.setdefault(int(i / run.rate - start), []).append(ms)
    timeline = []
    for sec, values in sorted(seconds.items()):
        values.sort()
        timeline.append(
            [sec, len(values), percentile(values, 50), percentile(values, 99), values[-1]]
        )
    return {
        "measured": measured,
        "achieved_rps": len(ok) / elapsed if elapsed > 0 else 0.0,
        "answered_rps": len(answered) / elapsed if elapsed > 0 else 0.0,
        "ok": len(ok),
        "p50": percentile(lat, 50),
        "p90": percentile(lat, 90),
        "p99": percentile(lat, 99),
        "p999": percentile(lat, 99.9),
        "max": lat[-1] if lat else float("nan"),
        "non_2xx": sum(non_2xx.values()),
        "non_2xx_by_status": non_2xx,
        "socket_errors": statuses.get(SOCKET_ERROR, 0),
        "timeouts": statuses.get(TIMEOUT, 0),
        "unfinished": statuses.get(UNFINISHED, 0),
        "outcomes": dict(Counter(run.outcome[i] for i in ok)),
        "lag_p99": percentile(lag, 99),
        "lag_max": lag[-1] if lag else float("nan"),
        "all_statuses_incl_warmup": {str(k): v for k, v in Counter(run.status).items()},
        "first_error": run.first_error,
        "retries": run.retries,
        "connections_opened": run.connections_opened,
        "max_in_flight": run.max_in_flight,
        "client_cpu_share": run.client_cpu_s / run.wall_s if run.wall_s else 0.0,
        "timeline": timeline,  # [second of the measured window, orders, p50, p99, max]
    }


@dataclass
class Ledger:
    """What PostgreSQL should hold after everything sent so far."""

    sent: int = 0  # written to a socket
    never_sent: int = 0  # still waiting for a connection when the run ended
    timed_out: int = 0  # written, no answer: the server may or may not have stored it
    answered_2xx: int = 0
    by_method: Counter[str] = field(default_factory=Counter)
    attributable_minor: int = 0
    sale_lines: int = 0
    commission_minor: int = 0

    def add(
        self, orders: Sequence[Order], statuses: Sequence[int], written: Sequence[bool]
    ) -> None:
        for order, status, out in zip(orders, statuses, written, strict=True):
            if not out:
                self.never_sent += 1
                continue
            self.sent += 1
            self.timed_out += status in (TIMEOUT, SOCKET_ERROR, UNFINISHED)
            self.answered_2xx += 200 <= status < 300
            self.by_method[METHOD_OF[order.kind] or "none"] += 1
            self.attributable_minor += order.attributable_minor
            if order.kind != "none":
                self.sale_lines += 1
                self.commission_minor += order.commission_minor


def db_totals(pg_url: str, source: str) -> dict[str, Any]:
    """What the conversions and commission tables hold now."""
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute(
            "SELECT coalesce(method, 'none'), count(*), coalesce(sum(amount_minor), 0) "
            "FROM conversions WHERE source = %s GROUP BY 1",
            (source,),
        ).fetchall()
        lines = conn.execute(
            "SELECT count(*), coalesce(sum(amount_minor), 0), count(DISTINCT conversion_id), "
            "count(*) FILTER (WHERE currency <> 'EUR') "
            "FROM commission_lines WHERE kind = 'sale'"
        ).fetchone()
        other = conn.execute(
            "SELECT count(*) FROM commission_lines WHERE kind <> 'sale'"
        ).fetchone()
    by_method = {r[0]: int(r[1]) for r in rows}
    conversions = sum(by_method.values())
    amount = sum(int(r[2]) for r in rows)
    assert lines is not None and other is not None
    return {
        "conversions": conversions,
        "by_method": by_method,
        "attributable_minor": amount,
        "sale_lines": int(lines[0]),
        "commission_minor": int(lines[1]),
        "sale_lines_distinct_conversions": int(lines[2]),
        "sale_lines_not_eur": int(lines[3]),
        "other_lines": int(other[0]),
    }


def check_database(
    pg_url: str, source: str, expected: Ledger, baseline: dict[str, Any] | None
) -> dict[str, Any]:
    """Compare what one run added to the tables (since ``baseline``) with ``expected``."""
    totals = db_totals(pg_url, source)
    got = dict(totals)
    if baseline is not None:
        for key, value in totals.items():
            if isinstance(value, int):
                got[key] = value - baseline[key]
        methods = Counter(totals["by_method"])
        methods.subtract(baseline["by_method"])
        got["by_method"] = {k: v for k, v in methods.items() if v}
    conversions, by_method, amount = got["conversions"], got["by_method"], got["attributable_minor"]
    want_methods = {k: v for k, v in expected.by_method.items() if v}
    checks = {
        "conversions = orders sent": conversions == expected.sent,
        "attribution by method": by_method == want_methods,
        "sale lines = attributed orders": got["sale_lines"] == expected.sale_lines
        and got["sale_lines_distinct_conversions"] == expected.sale_lines,
        "commission total (10 %)": got["commission_minor"] == expected.commission_minor,
        "attributable amount total": amount == expected.attributable_minor,
    }
    return {
        "expected": {
            "sent": expected.sent,
            "never_sent": expected.never_sent,
            "timed_out": expected.timed_out,
            "answered_2xx": expected.answered_2xx,
            "by_method": want_methods,
            "attributable_minor": expected.attributable_minor,
            "sale_lines": expected.sale_lines,
            "commission_minor": expected.commission_minor,
        },
        "got": got,
        "totals": totals,
        "checks": checks,
        "ok": all(checks.values()),
    }


# --- report --------------------------------------------------------------------------


def _ms(value: float) -> str:
    if value != value:
        return "-"
    return "inf" if value == INF else f"{value:.1f}"


def eur(minor: int) -> str:
    return f"EUR {minor / 100:,.2f}"


def step_line(step: Step) -> str:
    f = step.figures
    return (
        f"target {step.rate:g} orders/s: achieved {f['achieved_rps']:.1f} orders/s, "
        f"p50 {_ms(f['p50'])} ms, p90 {_ms(f['p90'])} ms, p99 {_ms(f['p99'])} ms, "
        f"max {_ms(f['max'])} ms, non-2xx {f['non_2xx']}"
        + (f" {f['non_2xx_by_status']}" if f["non_2xx"] else "")
        + (f" (answered {f['answered_rps']:.1f}/s)" if f["non_2xx"] else "")
        + f", socket errors {f['socket_errors']}, timeouts {f['timeouts']}"
        + (f", unfinished {f['unfinished']}" if f["unfinished"] else "")
    )


def check_lines(check: dict[str, Any]) -> list[str]:
    exp, got, ok = check["expected"], check["got"], check["checks"]

    def mark(name: str) -> str:
        return "OK" if ok[name] else "MISMATCH"

    methods = sorted(set(exp["by_method"]) | set(got["by_method"]))
    return [
        f"  orders sent {exp['sent']} (answered 2xx: {exp['answered_2xx']}"
        + (f", no answer: {exp['timed_out']}" if exp["timed_out"] else "")
        + (f"; never sent: {exp['never_sent']}" if exp["never_sent"] else "")
        + f"); conversions rows {got['conversions']}  {mark('conversions = orders sent')}",
        "  attribution (got/expected): "
        + ", ".join(
            f"{m} {got['by_method'].get(m, 0)}/{exp['by_method'].get(m, 0)}" for m in methods
        )
        + f"  {mark('attribution by method')}",
        f"  commission sale lines {got['sale_lines']} (on {got['sale_lines_distinct_conversions']}"
        f" conversions), expected {exp['sale_lines']}  {mark('sale lines = attributed orders')}",
        f"  commission total {eur(got['commission_minor'])}, expected "
        f"{eur(exp['commission_minor'])}  {mark('commission total (10 %)')}",
        f"  attributable amount total {eur(got['attributable_minor'])}, expected "
        f"{eur(exp['attributable_minor'])} (items after discounts, without tax and shipping)"
        f"  {mark('attributable amount total')}",
    ]


def step_report(step: Step, args: argparse.Namespace, first: bool = False) -> list[str]:
    f, s = step.figures, step.server
    out = [step_line(step)]
    out.append(
        f"  measured {f['measured']} orders over {step.duration:g} s after a {step.warmup:g} s "
        f"warm-up; p99.9 {_ms(f['p999'])} ms; responses {f['outcomes']}"
    )
    out.append(
        f"  load generator: lag behind schedule p99 {_ms(f['lag_p99'])} ms, max "
        f"{_ms(f['lag_max'])} ms; {f['connections_opened']} connections opened, at most "
        f"{f['max_in_flight']} requests in flight; {f['retries']} resent on a closed "
        f"keep-alive connection; client CPU {100 * f['client_cpu_share']:.0f} % of CPU "
        f"{args.client_cpu}"
    )
    if s:
        spread = sorted((n for n in s.get("connections_midrun", {}).values() if n), reverse=True)
        out.append(
            f"  server (CPU {args.server_cpu}): gunicorn used {s['server_cpu_s']:.1f} CPU-s "
            f"({100 * s['server_cpu_s'] / s['wall_s']:.0f} % of one CPU) over the "
            f"{s['wall_s']:.0f} s run, postgres+redis {s['backing_cpu_s']:.1f} CPU-s "
            f"({1000 * s['backing_cpu_s'] / max(1, s['sent']):.2f} ms per order), other "
            f"processes {s['foreign_cpu_s']:.1f} CPU-s"
            + (
                " (" + ", ".join(f"{c} {t:.1f}" for c, t in s["top_foreign"]) + ")"
                if s["top_foreign"]
                else ""
            )
            + "; connections per worker mid-run: "
            f"{' + '.join(map(str, spread)) or '-'}"
        )
        pg = s.get("pg", {})
        if pg.get("samples"):
            waits = ", ".join(f"{w} {100 * c / pg['busy_samples']:.0f} %" for w, c in pg["waits"])
            out.append(
                f"  PostgreSQL: {pg['mean_active']:.2f} statements running on average "
                f"(max {pg['max_active']}; {pg['samples']} samples); while running: {waits}"
            )
            for statement, seconds in pg["slow"]:
                out.append(f"    seen running {1000 * seconds:.0f} ms: {statement[:140]}")
        delta = s.get("pg_delta", {})
        if delta:
            db = delta["db"]
            out.append(
                f"  PostgreSQL counters: {db.get('xact_commit', 0)} commits, "
                f"{db.get('xact_rollback', 0)} rollbacks, {db.get('deadlocks', 0)} deadlocks, "
                f"{db.get('temp_files', 0)} temp files, {db.get('blks_read', 0)} blocks read, "
                f"{db.get('checkpoints', 0)} checkpoints"
            )
            auto = [
                f"{kind} {t}"
                for t, v in sorted(delta["tables"].items())
                for kind in ("autovacuum", "autoanalyze")
                if v.get(kind)
            ]
            if auto:
                out.append("  PostgreSQL background work during the run: " + ", ".join(auto))
            scans = sorted(
                ((t, v) for t, v in delta["tables"].items() if v["seq_scan"]),
                key=lambda tv: -tv[1]["seq_tup_read"],
            )
            if scans:
                out.append(
                    "  sequential scans: "
                    + ", ".join(
                        f"{t} {v['seq_scan']} ({v['seq_tup_read'] // max(1, v['seq_scan'])}"
                        " rows each)"
                        for t, v in scans[:6]
                    )
                )
        logs = s.get("log", {})
        if logs:
            bits = [f"{k.replace('_', ' ')} {v}" for k, v in logs.items() if k != "samples" and v]
            out.append("  server log during the run: " + (", ".join(bits) or "nothing unusual"))
            for sample in logs.get("samples", [])[:3]:
                out.append(f"    | {sample}")
    worst = sorted(f["timeline"], key=lambda row: -row[4])[:3]
    if worst and worst[0][4] >= args.p99_ms:
        out.append(
            "  slowest seconds (by due time, into the measured window): "
            + ", ".join(
                f"+{sec}s max {_ms(mx)} ms (p50 {_ms(p50)})" for sec, _n, p50, _p99, mx in worst
            )
        )
    for status, text in f["first_error"].items():
        out.append(f"  first {status} answer: {text[:240]}")
    if step.check:
        out.append(
            "  PostgreSQL check (rows this run added; its warm-up included"
            + (", and the first order" if first else "")
            + "):"
        )
        out.extend(check_lines(step.check))
    return out


# --- main ----------------------------------------------------------------------------


def parse_mix(text: str) -> dict[str, int]:
    mix = {}
    for part in text.split(","):
        kind, _, weight = part.partition(":")
        kind = kind.strip()
        if kind not in KINDS or not weight.strip().isdigit():
            raise argparse.ArgumentTypeError(f"--mix: {part!r} is not kind:weight ({KINDS})")
        mix[kind] = int(weight)
    if not sum(mix.values()):
        raise argparse.ArgumentTypeError("--mix: all weights are zero")
    return mix


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--source", choices=("shopify", "generic"), default="shopify")
    p.add_argument(
        "--rate", type=float, help="orders/s (default 200; with --max the first step, --step)"
    )
    p.add_argument("--duration", type=float, default=30, help="measured seconds per run")
    p.add_argument("--warmup", type=float, default=5, help="seconds of load before measuring")
    p.add_argument("--max", action="store_true", help="step the rate up until p99 fails")
    p.add_argument("--step", type=float, default=100, help="--max: rate increment")
    p.add_argument("--max-rate", type=float, default=2000, help="--max: stop there")
    p.add_argument(
        "--resolution",
        type=float,
        help="--max: after the first failure, bisect down to this (default --step / 4)",
    )
    p.add_argument("--max-steps", type=int, default=12, help="--max: at most this many runs")
    p.add_argument("--p99-ms", type=float, default=50, help="the latency target")
    p.add_argument("--influencers", type=int, default=200)
    p.add_argument(
        "--mix",
        type=parse_mix,
        default="promo:70,click:10,utm:10,none:10",
        help="share of orders with a promo code, only a click id, only utm_campaign + "
        "utm_content, nothing attributable",
    )
    p.add_argument("--connections", type=int, default=64, help="most connections at once")
    p.add_argument(
        "--no-keepalive",
        dest="keepalive",
        action="store_false",
        help="a new connection per order (Connection: close)",
    )
    p.add_argument("--timeout", type=float, default=10, help="seconds before a request fails")
    p.add_argument("--seed", type=int, default=4, help="random seed of the order mix")
    p.add_argument(
        "--quiet-wait",
        type=float,
        default=120,
        help="before each run, wait up to this long for other processes to go quiet",
    )
    p.add_argument("--json", type=Path, help="write every step's figures here")
    g = p.add_argument_group("gunicorn: passed after -c service/gunicorn_conf.py, so they win")
    g.add_argument("--workers", type=int)
    g.add_argument("--threads", type=int)
    g.add_argument("--worker-class")
    p.add_argument("--server-cpu", type=int, default=0)
    p.add_argument("--client-cpu", type=int, default=1)
    p.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    p.add_argument("--database", default="afftrack_bench_webhooks", help="dropped at the end")
    p.add_argument("--keep-database", action="store_true", help="leave it for inspection")
    p.add_argument("--redis-base", default="redis://127.0.0.1:6379")
    p.add_argument("--redis-db", type=int, default=4, help="flushed at start and end")
    p.add_argument("--keep-logs", action="store_true", help="keep the temp dir with the log")
    args = p.parse_args(argv)
    if not args.database.startswith("afftrack_bench_"):
        p.error("--database must start with afftrack_bench_ (it is dropped)")
    if args.resolution is None:
        args.resolution = args.step / 4
    if (
        (args.rate is not None and args.rate <= 0)
        or args.duration <= 0
        or args.warmup < 0
        or args.step <= 0
    ):
        p.error("--rate, --duration and --step must be positive, --warmup not negative")
    if args.server_cpu == args.client_cpu:
        p.error("the server and the load generator must run on different CPUs")
    return args


def gunicorn_argv(args: argparse.Namespace, port: int) -> list[str]:
    argv = [
        "taskset",
        "-c",
        str(args.server_cpu),
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        str(REPO / "service" / "gunicorn_conf.py"),
        "--bind",
        f"127.0.0.1:{port}",
    ]
    if args.worker_class:
        argv += ["-k", args.worker_class]
    if args.workers:
        argv += ["-w", str(args.workers)]
    if args.threads:
        argv += ["--threads", str(args.threads)]
    return [*argv, "service.wsgi:app"]


def pg_settings(admin_url: str) -> str:
    names = ("server_version", "synchronous_commit", "fsync", "shared_buffers", "max_connections")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        values = [conn.execute(f"SHOW {n}").fetchone() for n in names]
    return ", ".join(f"{n}={v[0] if v else '?'}" for n, v in zip(names, values, strict=True))


def code_fingerprint() -> str:
    digest = hashlib.sha256()
    conf = REPO / "service" / "gunicorn_conf.py"
    for path in sorted([*(REPO / "service").rglob("*.py"), conf]):
        with contextlib.suppress(OSError):
            digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def run_step(
    step: Step,
    args: argparse.Namespace,
    port: int,
    server: Server,
    pg_url: str,
    ledger: Ledger,
    baseline: dict[str, Any] | None,
) -> None:
    gc.collect()
    gc.freeze()  # the prepared orders are never collected: keep them out of the GC's walk
    requests = [o.request for o in step.orders]
    warmup_n = int(step.warmup * step.rate)
    t0 = time.monotonic() + 0.3
    window = (t0 + step.warmup, t0 + step.warmup + step.duration)
    log_offset = len(server.log_text())
    pg_before = pg_counters(pg_url)
    watcher = Watcher(args.pg_admin_url, args.database, window, port, server)
    ours = {os.getpid(), server.pid, *children_of(server.pid)}
    server_pids = [server.pid, *children_of(server.pid)]
    cpu_before = cpu_by_process()
    watcher.start()
    loader = OpenLoop(
        port,
        requests,
        step.rate,
        warmup_n,
        args.connections,
        args.timeout,
        drain_timeout=args.timeout + 5,
        t0=t0,
    )
    try:
        step.load = loader.go()
    finally:
        watcher.stop()
        gc.unfreeze()
    cpu_after = cpu_by_process()
    noise = interference(cpu_before, cpu_after, ours | set(server_pids))
    # PostgreSQL serving other databases (a test suite) is noise, not our workload.
    mine = {args.database, args.pg_admin_url.rsplit("/", 1)[-1]}
    other_pg = other_databases_cpu(cpu_before, cpu_after, mine)
    server_ticks = sum(
        cpu_after.get(pid, ("", 0))[1] - cpu_before.get(pid, ("", 0))[1] for pid in server_pids
    )
    step.figures = figures_of(step.load, step.duration)
    # Let a request the client gave up on finish, and the statistics reach the views.
    wait_idle(server.pid, timeout=args.timeout + 5)
    time.sleep(1.0)
    pg_after = pg_counters(pg_url)  # before the check's own queries
    ledger.add(step.orders, step.load.status, step.load.written)
    step.check = check_database(pg_url, args.source, ledger, baseline)
    busy = [n for n in watcher.active if n]
    step.server = {
        "wall_s": step.load.wall_s,
        "sent": len(step.orders),
        "server_cpu_s": server_ticks / os.sysconf("SC_CLK_TCK"),
        "backing_cpu_s": noise.backing_s - other_pg,
        "foreign_cpu_s": noise.foreign_s + other_pg,
        "top_foreign": sorted(
            [
                *noise.top_foreign,
                *([("postgres for other databases", other_pg)] if other_pg else []),
            ],
            key=lambda ct: -ct[1],
        )[:3],
        "connections_midrun": watcher.spread,
        "pg": {
            "samples": watcher.samples,
            "busy_samples": max(1, sum(busy)),
            "mean_active": sum(watcher.active) / max(1, watcher.samples),
            "max_active": max(watcher.active, default=0),
            "waits": watcher.waits.most_common(5),
            "slow": sorted(
                ((q, t) for q, t in watcher.slow.items() if t * 1000 >= args.p99_ms / 2),
                key=lambda qt: -qt[1],
            )[:5],
            "error": watcher.error,
        },
        "pg_delta": pg_delta(pg_before, pg_after),
        "log": log_findings(server.log_text()[log_offset:]),
        "server_alive": server.alive(),
    }
    f = step.figures
    if f["p99"] != f["p99"] or f["p99"] >= args.p99_ms:
        step.why_not.append(f"p99 {_ms(f['p99'])} ms >= {args.p99_ms:g} ms")
    if f["non_2xx"] or f["socket_errors"] or f["timeouts"] or f["unfinished"]:
        step.why_not.append("failed requests")
    if f["achieved_rps"] < 0.97 * step.rate:
        step.why_not.append(f"achieved only {f['achieved_rps']:.1f} orders/s")
    if not step.check["ok"]:
        step.why_not.append("PostgreSQL check did not match")
    if not server.alive():
        step.why_not.append("the server died")
    step.passed = not step.why_not


# "postgres: 15/main: USER DB HOST(PORT) STATE" or "...: autovacuum worker DB".
_PG_BACKEND = re.compile(
    r"postgres: [^:]+: (?:autovacuum worker (\S+)|\S+ (\S+) (?:\[local\]|\S+\(\d+\)) )"
)


def other_databases_cpu(
    before: dict[int, tuple[str, int]], after: dict[int, tuple[str, int]], mine: set[str]
) -> float:
    """CPU-seconds PostgreSQL backends of other databases used between two snapshots
    (a backend's process title names its database)."""
    ticks = 0
    for pid, (comm, now) in after.items():
        if not comm.startswith("postgres"):
            continue
        m = _PG_BACKEND.match(proc_cmdline(pid))
        if m and (m.group(1) or m.group(2)) not in mine:
            ticks += max(0, now - before.get(pid, (comm, 0))[1])
    return ticks / os.sysconf("SC_CLK_TCK")


def wait_quiet(ours: set[int], patience: float) -> None:
    """Wait (up to ``patience`` s) until other processes use under NOISY_SHARE of a CPU:
    PostgreSQL and the CPUs are shared, and a test suite running meanwhile would be
    measured too."""
    deadline = time.monotonic() + patience
    told = False
    while True:
        before = cpu_by_process()
        time.sleep(2.0)
        noise = interference(before, cpu_by_process(), ours)
        busy = noise.foreign_s + noise.backing_s
        if busy <= NOISY_SHARE * 2.0:
            return
        if time.monotonic() >= deadline:
            note(f"still not quiet after {patience:.0f} s ({noise.top_foreign}); measuring anyway")
            return
        if not told:
            who = ", ".join(f"{c} {t:.1f}" for c, t in noise.top_foreign) or "postgres/redis"
            note(
                f"waiting for a quiet machine (CPU-s in 2 s: {who}, postgres+redis "
                f"{noise.backing_s:.1f})"
            )
            told = True


def next_rate(args: argparse.Namespace, steps: list[Step]) -> float | None:
    """--max: up by --step until a rate fails, then halve the gap down to --resolution."""
    if not args.max or len(steps) >= args.max_steps:
        return None
    failed = [s.rate for s in steps if not s.passed]
    if not failed:
        up = steps[-1].rate + args.step
        return up if up <= args.max_rate else None
    hi = min(failed)
    lo = max((s.rate for s in steps if s.passed and s.rate < hi), default=0.0)
    mid = round((lo + hi) / 2 / args.resolution) * args.resolution
    return mid if lo < mid < hi and hi - lo > args.resolution else None


def _sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    cpus = os.sched_getaffinity(0)
    if not {args.server_cpu, args.client_cpu} <= cpus:
        raise BenchError(f"CPUs {args.server_cpu} and {args.client_cpu} needed, have {cpus}")
    if shutil.which("taskset") is None:
        raise BenchError("taskset is missing")
    facts = machine_facts(REPO)
    facts.pop("wrk", None)
    facts.pop("nginx", None)
    facts["postgres_settings"] = pg_settings(args.pg_admin_url)
    os.sched_setaffinity(0, {args.client_cpu})  # the load generator (this process)
    print("Machine: " + "; ".join(f"{k} {v}" for k, v in facts.items()), flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="afftrack-bench-webhooks-"))
    server: Server | None = None
    rds: redis.Redis | None = None
    steps: list[Step] = []
    failed = False
    interrupted = False
    created_db = False
    try:
        note(f"recreating database {args.database}")
        pg_url = recreate_pg_database(args.pg_admin_url, args.database)
        created_db = True
        redis_url = f"{args.redis_base}/{args.redis_db}"
        rds = claim_redis(redis_url)
        secret = secrets.token_urlsafe(24)
        env = base_env()
        env.update(
            DATABASE_URL=pg_url,
            REDIS_URL=redis_url,
            AFFTRACK_HASHIDS_SALT=secrets.token_hex(16),
            AFFTRACK_IP_HASH_KEY=secrets.token_hex(16),
        )
        env[
            "AFFTRACK_SHOPIFY_SECRET" if args.source == "shopify" else "AFFTRACK_WEBHOOK_SECRET"
        ] = secret
        cli = afftrack_cli()
        run_checked([*cli, "db", "upgrade"], env, REPO)
        note(f"seeding one campaign and {args.influencers} partners (promo code + link each)")
        partners = seed(env, args.influencers)
        prom = tmp / "prometheus"
        prom.mkdir()
        env["PROMETHEUS_MULTIPROC_DIR"] = str(prom)
        port = free_port()
        argv_server = gunicorn_argv(args, port)
        server = start_server(
            "afftrack", argv_server, env=env, cwd=REPO, log_path=tmp / "gunicorn.log"
        )
        wait_port(server, port)
        if not wait_idle(server.pid):
            shout("the server is still busy 20 s after start; measuring anyway")
        code_before = code_fingerprint()
        facts["service_code_sha256"] = code_before[:12]
        note("one click on each link, then `afftrack worker --drain`")
        click_links(port, partners)
        run_checked([*cli, "worker", "--drain"], env, REPO, timeout=300)
        last_click = keep_stored_clicks(pg_url, partners)
        with psycopg.connect(pg_url, autocommit=True) as conn:
            # The seeded tables, as autovacuum would have by now on a live database; not
            # the empty ones the run fills (statistics of an empty table would make the
            # planner scan it whole for every order as it grows).
            conn.execute("ANALYZE campaigns, influencers, partnerships, links, promo_codes, clicks")
        clicked = sum(1 for p in partners if p.click_id)
        note(f"{clicked} clicks stored in PostgreSQL")
        m = re.search(r"Using worker: (\S+)", server.log_text())
        boots = server.log_text().count("Booting worker with pid")
        print(
            f"afftrack: {' '.join(argv_server[3:])} (taskset -c {args.server_cpu}); "
            f"worker class {m.group(1) if m else '?'}, {boots} workers booted; "
            f"source {args.source}; {args.influencers} partners, {clicked} clicked links; "
            f"mix {args.mix}; keep-alive {'on' if args.keepalive else 'off'}, at most "
            f"{args.connections} connections",
            flush=True,
        )
        not_before = (last_click + timedelta(seconds=2)).astimezone(PARIS).replace(microsecond=0)
        maker = OrderMaker(
            args.source,
            secret,
            port,
            partners,
            args.mix,
            args.seed,
            not_before,
            args.keepalive,
        )
        ledger, baseline = Ledger(), None
        # One order by hand first: shows what the endpoint answers before any load.
        first = maker.make(1, time.time(), 1.0)
        with socket.create_connection(("127.0.0.1", port), timeout=args.timeout) as sock:
            sock.sendall(first[0].request)
            resp = http.client.HTTPResponse(sock, method="POST")
            resp.begin()
            answer = resp.read().decode("utf-8", "replace")
        print(
            f"first order ({first[0].body_bytes} bytes, {first[0].kind}): "
            f"HTTP {resp.status} {answer.strip()[:300]}",
            flush=True,
        )
        ledger.add(first, [resp.status], [True])
        if resp.status in (401, 403, 404, 400, 422):
            raise BenchError(f"the endpoint refuses our orders ({resp.status}): fix that first")
        rate: float | None = args.rate or (args.step if args.max else 200.0)
        while rate is not None:
            count = int((args.warmup + args.duration) * rate)
            note(f"preparing {count} signed {args.source} orders for {rate:g}/s")
            prepared_at = time.perf_counter()
            orders = maker.make(count, time.time(), rate)
            sizes = sorted(o.body_bytes for o in orders)
            note(
                f"prepared in {time.perf_counter() - prepared_at:.1f} s; body size median "
                f"{sizes[len(sizes) // 2]} bytes; kinds {dict(Counter(o.kind for o in orders))}"
            )
            step = Step(rate, args.duration, args.warmup, orders)
            if not wait_idle(server.pid):
                shout("the server is busy before the run; measuring anyway")
            wait_quiet({os.getpid(), server.pid, *children_of(server.pid)}, args.quiet_wait)
            note(f"{rate:g} orders/s: {args.warmup:g} s warm-up + {args.duration:g} s measured")
            run_step(step, args, port, server, pg_url, ledger, baseline)
            baseline, ledger = step.check["totals"], Ledger()
            steps.append(step)
            print("\n".join(step_report(step, args, first=len(steps) == 1)), flush=True)
            if noisy(step):
                shout(
                    f"{rate:g}/s: other processes used {step.server['foreign_cpu_s']:.1f} CPU-s "
                    f"during the run ({step.server['top_foreign'][:2]}): figures are noisy"
                )
            step.orders = []  # the bytes are not needed any more
            if not server.alive():
                raise BenchError(f"the server died:\n{server.log_tail()}")
            rate = next_rate(args, steps)
        if code_fingerprint() != code_before:
            shout("service/ or service/gunicorn_conf.py changed on disk during the runs")
            facts["service_code_changed_during_runs"] = "yes"
        worker_rss = [memory_of(pid, "worker").rss_kb or 0 for pid in children_of(server.pid)]
        facts["worker_rss_mb_after"] = " ".join(f"{kb / 1024:.0f}" for kb in worker_rss)
    except KeyboardInterrupt:
        interrupted = True
        shout("interrupted: stopping the server and dropping the database")
    except BenchError:
        failed = True
        raise
    finally:
        if server is not None:
            server.stop()
        if rds is not None:
            with contextlib.suppress(redis.RedisError):
                rds.flushdb()
        if created_db and not args.keep_database:
            with contextlib.suppress(psycopg.Error):
                drop_pg_database(args.pg_admin_url, args.database)
        elif created_db:
            note(f"database {args.database} kept")
        if args.keep_logs or failed:
            note(f"server log kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if interrupted:
        return 130
    print(summary(steps, args, facts), flush=True)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": facts,
                    "options": {k: str(v) for k, v in vars(args).items()},
                    "steps": [
                        {
                            "rate": s.rate,
                            "duration": s.duration,
                            "warmup": s.warmup,
                            "figures": s.figures,
                            "check": s.check,
                            "server": s.server,
                            "passed": s.passed,
                            "why_not": s.why_not,
                        }
                        for s in steps
                    ],
                },
                indent=2,
                default=str,
            )
            + "\n"
        )
        note(f"wrote {args.json}")
    return exit_status(steps, args)


def noisy(step: Step) -> bool:
    wall = step.server.get("wall_s") or 1.0
    return step.server.get("foreign_cpu_s", 0.0) > NOISY_SHARE * wall


def _failed_requests(step: Step) -> int:
    f = step.figures
    return f["non_2xx"] + f["socket_errors"] + f["timeouts"] + f["unfinished"]


def exit_status(steps: list[Step], args: argparse.Namespace) -> int:
    """2 if a PostgreSQL check did not match (on a run where every order was answered)
    or, except in --max mode where overloading the server is the point, a request
    failed; else 0."""
    for step in steps:
        unanswered = step.check.get("expected", {}).get("timed_out", 0)
        if not step.check.get("ok") and not unanswered:
            return 2
        if not args.max and _failed_requests(step):
            return 2
    return 0


def summary(steps: list[Step], args: argparse.Namespace, facts: dict[str, str]) -> str:
    lines = [
        "",
        f"Webhook benchmark ({args.source}), {facts['date']}, HEAD {facts['git_rev']} "
        f"(modified: {facts['git_modified']}); service/ + gunicorn.conf.py sha256 "
        f"{facts.get('service_code_sha256', '?')}",
        f"Protocol: open-loop constant rate, latency from each order's due time; gunicorn "
        f"on CPU {args.server_cpu}, load generator on CPU {args.client_cpu}; "
        f"{args.warmup:g} s warm-up + {args.duration:g} s measured per rate.",
        "",
    ]
    headers = ["target/s", "achieved/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "non-2xx",
               "errors", "PG check", "p99 < target", "other CPU s"]  # fmt: skip
    rows = []
    for s in steps:
        f = s.figures
        rows.append(
            [
                f"{s.rate:g}",
                f"{f['achieved_rps']:.1f}",
                _ms(f["p50"]),
                _ms(f["p90"]),
                _ms(f["p99"]),
                _ms(f["max"]),
                str(f["non_2xx"]),
                str(f["socket_errors"] + f["timeouts"] + f["unfinished"]),
                "ok" if s.check.get("ok") else "MISMATCH",
                "yes" if f["p99"] == f["p99"] and f["p99"] < args.p99_ms else "no",
                f"{s.server.get('foreign_cpu_s', 0):.1f}" + (" ~" if noisy(s) else ""),
            ]
        )
    lines.append(table(headers, rows))
    lines.append(
        "(other CPU s: CPU-seconds used during the run, warm-up included, by processes other "
        "than gunicorn, this script, PostgreSQL (except its backends of other databases), Redis "
        "and kernel threads; '~' marks a run "
        f"where that exceeded {100 * NOISY_SHARE:.0f} % of a CPU: re-run on a quiet machine)"
    )
    if steps:
        target = 200.0
        at_target = [s for s in steps if s.rate == target]
        if at_target:
            s = at_target[0]
            met = s.passed
            lines.append(
                f"\nThe webhook target, p99 under {args.p99_ms:g} ms at {target:g} orders/s: "
                + ("MET" if met else "NOT MET (" + "; ".join(s.why_not) + ")")
            )
        if args.max:
            good = [s.rate for s in steps if s.passed]
            best = max(good) if good else None
            above = sorted(
                (s for s in steps if not s.passed and (best is None or s.rate > best)),
                key=lambda s: s.rate,
            )
            lines.append(
                f"Highest rate with p99 under {args.p99_ms:g} ms and nothing failing: "
                + (f"{best:g} orders/s" if best is not None else "none")
                + (
                    f"; {above[0].rate:g}/s did not pass ({'; '.join(above[0].why_not)})"
                    if above
                    else " (stopped by --max-rate or --max-steps before any failure)"
                )
            )
    if facts.get("worker_rss_mb_after"):
        lines.append(f"Worker RSS after the runs (MB): {facts['worker_rss_mb_after']}")
    return "\n".join(lines)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        shout(str(exc))
        sys.exit(1)
