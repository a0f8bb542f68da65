"""Checkout webhook sources: how each verifies its signature, names its topic, and what
its body means (docs/webhooks/)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from service.conversions.events import ShopEvent
from service.conversions.webhooks import generic, shopify, signatures, stripe, woocommerce
from service.conversions.webhooks.fields import HeaderLookup

Verify = Callable[[bytes, HeaderLookup, str, int], None]
Parse = Callable[[dict[str, Any], HeaderLookup, str], list[ShopEvent]]


@dataclass(frozen=True)
class Source:
    name: str
    verify: Verify
    parse: Parse
    topic: Callable[[Mapping[str, Any], HeaderLookup], str]
    # The headers kept with a stored delivery: enough to verify it again and to see
    # what the platform said it was.
    kept_headers: tuple[str, ...]
    # Money may come as JSON numbers: read them as their exact text, never as floats.
    numbers_as_text: bool = True
    # A platform's body is its own: the fields of it afftrack reads, and what for.
    fields_read: tuple[tuple[str, str], ...] = ()


SOURCES: dict[str, Source] = {
    "generic": Source(
        "generic",
        signatures.verify_generic,
        generic.parse,
        lambda payload, _headers: generic.topic_of(payload),
        ("X-Afftrack-Signature", "X-Afftrack-Timestamp"),
        numbers_as_text=False,  # our own format: money is a decimal string, always
    ),
    "shopify": Source(
        "shopify",
        lambda body, headers, secret, _now: signatures.verify_base64_hmac(
            body, headers.get("X-Shopify-Hmac-Sha256"), secret
        ),
        shopify.parse,
        lambda _payload, headers: shopify.topic_of(headers),
        (
            "X-Shopify-Hmac-Sha256",
            "X-Shopify-Topic",
            "X-Shopify-Shop-Domain",
            "X-Shopify-Webhook-Id",
            "X-Shopify-Event-Id",
            "X-Shopify-Triggered-At",
            "X-Shopify-API-Version",
        ),
        fields_read=shopify.FIELDS_READ,
    ),
    "woocommerce": Source(
        "woocommerce",
        lambda body, headers, secret, _now: signatures.verify_base64_hmac(
            body, headers.get("X-WC-Webhook-Signature"), secret
        ),
        woocommerce.parse,
        lambda _payload, headers: woocommerce.topic_of(headers),
        (
            "X-WC-Webhook-Signature",
            "X-WC-Webhook-Topic",
            "X-WC-Webhook-Source",
            "X-WC-Webhook-ID",
            "X-WC-Webhook-Delivery-ID",
        ),
        fields_read=woocommerce.FIELDS_READ,
    ),
    "stripe": Source(
        "stripe",
        lambda body, headers, secret, now: signatures.verify_stripe(
            body, headers.get("Stripe-Signature"), secret, now
        ),
        stripe.parse,
        lambda payload, _headers: stripe.topic_of(payload),
        ("Stripe-Signature",),
        fields_read=stripe.FIELDS_READ,
    ),
}


def is_woocommerce_ping(body: bytes, headers: HeaderLookup) -> bool:
    """WooCommerce's unsigned creation ping: ``webhook_id=<n>`` as a form body."""
    if headers.get("X-WC-Webhook-Signature"):
        return False
    text = body.decode("utf-8", "replace").strip()
    key, _, value = text.partition("=")
    return key == "webhook_id" and value.isdigit() and len(text) < 64
