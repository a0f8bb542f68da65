"""Checkout webhook sources: how each verifies its signature and what its body means."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from service.conversions.events import ShopEvent
from service.conversions.webhooks import generic, signatures


@dataclass(frozen=True)
class Source:
    name: str
    verify: Callable[[bytes, Mapping[str, str], str, int], None]
    # None: signature checked, but the body format is not understood yet.
    parse: Callable[[dict[str, Any]], ShopEvent] | None


SOURCES: dict[str, Source] = {
    "generic": Source("generic", signatures.verify_generic, generic.parse),
    "shopify": Source(
        "shopify",
        lambda body, headers, secret, _now: signatures.verify_base64_hmac(
            body, headers.get("X-Shopify-Hmac-Sha256"), secret
        ),
        None,
    ),
    "woocommerce": Source(
        "woocommerce",
        lambda body, headers, secret, _now: signatures.verify_base64_hmac(
            body, headers.get("X-WC-Webhook-Signature"), secret
        ),
        None,
    ),
    "stripe": Source(
        "stripe",
        lambda body, headers, secret, now: signatures.verify_stripe(
            body, headers.get("Stripe-Signature"), secret, now
        ),
        None,
    ),
}


def is_woocommerce_ping(body: bytes, headers: Mapping[str, str]) -> bool:
    """WooCommerce's unsigned creation ping: ``webhook_id=<n>`` as a form body."""
    if headers.get("X-WC-Webhook-Signature"):
        return False
    text = body.decode("utf-8", "replace").strip()
    key, _, value = text.partition("=")
    return key == "webhook_id" and value.isdigit() and len(text) < 64
