"""Each platform's real signature scheme over the raw body. Pure, constant-time."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from service.conversions.webhooks.fields import HeaderLookup
from service.errors import Unauthorized

TOLERANCE_SECONDS = 300
_TIMESTAMP_RE = re.compile(r"[0-9]{1,12}\Z")


def _same(expected: str, given: str) -> bool:
    """Constant-time comparison that also refuses non-ASCII input instead of raising."""
    return given.isascii() and hmac.compare_digest(expected.encode(), given.encode())


def _hmac(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()


def _check_fresh(timestamp: str | None, now: int) -> int:
    if not timestamp or not _TIMESTAMP_RE.match(timestamp.strip()):
        raise Unauthorized("the signature timestamp is missing or malformed", code="bad_signature")
    ts = int(timestamp.strip())
    if abs(now - ts) > TOLERANCE_SECONDS:
        raise Unauthorized(
            "the signature timestamp is outside the 5-minute tolerance", code="stale_signature"
        )
    return ts


def verify_base64_hmac(body: bytes, header: str | None, secret: str) -> None:
    """Shopify (X-Shopify-Hmac-Sha256) and WooCommerce (X-WC-Webhook-Signature)."""
    if not header:
        raise Unauthorized("the signature header is missing", code="bad_signature")
    expected = base64.b64encode(_hmac(secret, body)).decode()
    if not _same(expected, header.strip()):
        raise Unauthorized("the signature does not match the body", code="bad_signature")


def verify_stripe(body: bytes, header: str | None, secret: str, now: int) -> None:
    """``Stripe-Signature: t=<unix>,v1=<hex>`` over ``"<t>." + body``."""
    if not header:
        raise Unauthorized("the Stripe-Signature header is missing", code="bad_signature")
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    ts = _check_fresh(next(iter(parts.get("t", [])), None), now)
    expected = _hmac(secret, f"{ts}.".encode() + body).hex()
    if not any(_same(expected, sig) for sig in parts.get("v1", [])):
        raise Unauthorized("the signature does not match the body", code="bad_signature")


def verify_generic(body: bytes, headers: HeaderLookup, secret: str, now: int) -> None:
    """``X-Afftrack-Signature: sha256=<hex>`` over ``"<X-Afftrack-Timestamp>." + body``."""
    ts = _check_fresh(headers.get("X-Afftrack-Timestamp"), now)
    header = headers.get("X-Afftrack-Signature") or ""
    scheme, _, signature = header.partition("=")
    if scheme != "sha256" or not signature:
        raise Unauthorized("X-Afftrack-Signature must be sha256=<hex>", code="bad_signature")
    expected = _hmac(secret, f"{ts}.".encode() + body).hex()
    if not _same(expected, signature.strip().lower()):
        raise Unauthorized("the signature does not match the body", code="bad_signature")


def sign_generic(body: bytes, secret: str, timestamp: int) -> dict[str, str]:
    """The headers a sender puts on a generic webhook (used by tests and docs)."""
    digest = _hmac(secret, f"{timestamp}.".encode() + body).hex()
    return {"X-Afftrack-Timestamp": str(timestamp), "X-Afftrack-Signature": f"sha256={digest}"}
