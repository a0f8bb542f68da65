"""Stripe Checkout webhooks (event ``type`` in the body; docs/webhooks/stripe.md).

An order is a Checkout Session (``checkout.session.completed`` once paid, or
``checkout.session.async_payment_succeeded``); refunds find it through its payment
intent. Stripe amounts are integers in Stripe's own minor unit for the currency, which
differs from ISO 4217 for a few currencies (see :func:`to_minor`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from service.conversions.events import (
    IgnoredEvent,
    OrderEvent,
    RefundClaim,
    RefundEvent,
    ShopEvent,
)
from service.conversions.webhooks.fields import (
    HeaderLookup,
    bad,
    bounded,
    currency,
    ident,
    items,
    minor_int,
    moment,
    obj,
    opt_text,
)
from service.money import exponent, format_amount
from service.vocabulary import CODE_MAX_LENGTH

# Stripe's exponents where they are not 2 (stripe.com/docs/currencies). ISK is
# zero-decimal in ISO 4217 but two-decimal in Stripe's API (amounts in multiples of 100);
# MGA is the reverse.
STRIPE_ZERO_DECIMAL = frozenset(
    "BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split()  # noqa: SIM905
)
STRIPE_THREE_DECIMAL = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])

ORDER_TYPES = ("checkout.session.completed", "checkout.session.async_payment_succeeded")
REFUND_SKIP = ("failed", "canceled")

# The event's fields afftrack reads (the OpenAPI document and docs/reference.md show them;
# the rest of Stripe's body is kept with the delivery and otherwise ignored).
FIELDS_READ: tuple[tuple[str, str], ...] = (
    (
        "type",
        "checkout.session.completed, ….async_payment_succeeded, refund.created, "
        "charge.refunded; other events are ignored",
    ),
    ("data.object.id", "the Checkout Session: the order id"),
    ("data.object.created", "when the order was placed"),
    ("data.object.currency", "the order's currency; amounts are Stripe's integer units"),
    (
        "data.object.amount_subtotal, data.object.total_details",
        "what earns: after discounts, without tax and shipping",
    ),
    ("data.object.payment_status, data.object.mode", "unpaid and setup sessions earn nothing"),
    ("data.object.metadata", "aff_click, promo_code, landing_url"),
    ("data.object.discounts[].promotion_code.code", "promo codes"),
    ("data.object.client_reference_id", "the click id, when metadata has none"),
    (
        "data.object.payment_intent, data.object.customer",
        "refunds find the order by it; the customer",
    ),
    (
        "data.object.amount, data.object.status, data.object.refunds.data[]",
        "a refund (refund.created, or each of charge.refunded's): its amount, applied once; "
        "failed and canceled ones are ignored",
    ),
)


def stripe_exponent(cur: str) -> int:
    if cur in STRIPE_ZERO_DECIMAL:
        return 0
    if cur in STRIPE_THREE_DECIMAL:
        return 3
    return 2


def to_minor(amount: int, cur: str, path: str) -> int:
    """A Stripe integer amount → ISO 4217 minor units of ``cur``, exactly."""
    shift = exponent(cur) - stripe_exponent(cur)
    scale: int = 10 ** abs(shift)
    if shift >= 0:
        return amount * scale
    whole, rest = divmod(amount, scale)
    if rest:
        raise bad(path, f"{amount} is not a whole number of {cur} minor units")
    return whole


def topic_of(payload: Mapping[str, Any]) -> str:
    kind = payload.get("type")
    return kind if isinstance(kind, str) else ""


def parse(payload: dict[str, Any], headers: HeaderLookup, click_param: str) -> list[ShopEvent]:
    kind = topic_of(payload)
    data = obj(payload.get("data"), "data")
    thing = obj(data.get("object"), "data.object")
    if kind in ORDER_TYPES:
        if thing.get("mode") == "setup":
            return [IgnoredEvent("setup session: no purchase")]
        status = thing.get("payment_status")
        if status not in ("paid", "no_payment_required"):
            return [IgnoredEvent(f"session not paid yet (payment_status {status!s:.20})")]
        return [_order(thing, payload, click_param)]
    if kind == "refund.created":
        refund = _refund(thing, "data.object")
        return [refund] if refund else [IgnoredEvent("refund failed, canceled or unlinked")]
    if kind == "charge.refunded":
        listed = thing.get("refunds")
        if not isinstance(listed, Mapping) or not isinstance(listed.get("data"), list):
            return [IgnoredEvent("charge without its refunds list; refund.created carries each")]
        events: list[ShopEvent] = []
        for path, entry in items(listed.get("data"), "data.object.refunds.data"):
            refund = _refund({"payment_intent": thing.get("payment_intent"), **entry}, path)
            if refund:
                events.append(refund)
        return events or [IgnoredEvent("no refund to apply")]
    return [IgnoredEvent(f"event type {kind or '(none)'} is not used")]


def _order(s: Mapping[str, Any], event: dict[str, Any], click_param: str) -> OrderEvent:
    p = "data.object"
    cur = currency(s.get("currency"), f"{p}.currency")

    def amount(value: Any, path: str) -> int:
        return to_minor(minor_int(value, path, default=0), cur, path)

    details = s.get("total_details") or {}
    details = obj(details, f"{p}.total_details")
    subtotal = amount(s.get("amount_subtotal"), f"{p}.amount_subtotal")
    total = amount(s.get("amount_total"), f"{p}.amount_total")
    discount = amount(details.get("amount_discount"), f"{p}.total_details.amount_discount")
    shipping = amount(details.get("amount_shipping"), f"{p}.total_details.amount_shipping")
    tax = amount(details.get("amount_tax"), f"{p}.total_details.amount_tax")
    exclusive = min(max(total - subtotal + discount - shipping, 0), tax)
    inclusive = tax - exclusive
    shipping_cost = s.get("shipping_cost")
    shipping_tax = 0
    if shipping_cost:
        cost = obj(shipping_cost, f"{p}.shipping_cost")
        shipping_tax = amount(cost.get("amount_tax"), f"{p}.shipping_cost.amount_tax")
        if amount(cost.get("amount_total"), f"{p}.shipping_cost.amount_total") == amount(
            cost.get("amount_subtotal"), f"{p}.shipping_cost.amount_subtotal"
        ):
            # The shipping's tax is inside its price (inclusive): it is part of the
            # inclusive tax above, and not the items'.
            inclusive = max(inclusive - shipping_tax, 0)
    metadata = obj(s.get("metadata") or {}, f"{p}.metadata")
    codes: list[str] = []
    raw_codes = opt_text(metadata.get("promo_code"), f"{p}.metadata.promo_code", 500)
    if raw_codes:
        codes.extend(c.strip() for c in raw_codes.split(",") if c.strip())
    for path, d in items(s.get("discounts"), f"{p}.discounts", 50):
        promo = d.get("promotion_code")
        if isinstance(promo, Mapping) and (
            code := opt_text(promo.get("code"), path, CODE_MAX_LENGTH)
        ):
            codes.append(code)
    # metadata[<click param>] names the click outright; client_reference_id is the
    # shop's own reference and only carries the click id when the shop puts it there.
    click_id = opt_text(metadata.get(click_param), f"{p}.metadata.{click_param}", CODE_MAX_LENGTH)
    if not click_id:
        click_id = opt_text(
            s.get("client_reference_id"), f"{p}.client_reference_id", CODE_MAX_LENGTH
        )
    payment_intent = s.get("payment_intent")
    if isinstance(payment_intent, Mapping):  # expanded
        payment_intent = payment_intent.get("id")
    customer = s.get("customer")
    if isinstance(customer, Mapping):
        customer = customer.get("id")
    return OrderEvent(
        order_id=ident(s.get("id"), f"{p}.id"),
        occurred_at=moment(s.get("created"), f"{p}.created"),
        currency=cur,
        amount_minor=bounded(max(subtotal - discount - inclusive, 0), f"{p}.amount_subtotal"),
        total_minor=bounded(total, f"{p}.amount_total"),
        promo_codes=codes,
        click_id=click_id,
        customer_id=opt_text(customer, f"{p}.customer", 128),
        landing_url=opt_text(metadata.get("landing_url"), f"{p}.metadata.landing_url", 4096),
        raw=event,
        tax_minor=max(tax - shipping_tax, 0),
        prices_include_tax=inclusive > 0,
        order_ref=opt_text(payment_intent, f"{p}.payment_intent", 128),
    )


def _refund(r: Mapping[str, Any], p: str) -> RefundEvent | None:
    if r.get("status") in REFUND_SKIP:
        return None
    payment_intent = r.get("payment_intent")
    if isinstance(payment_intent, Mapping):
        payment_intent = payment_intent.get("id")
    if not payment_intent:
        return None
    cur = currency(r.get("currency"), f"{p}.currency")
    gross = to_minor(minor_int(r.get("amount"), f"{p}.amount"), cur, f"{p}.amount")
    if gross <= 0:
        return None
    return RefundEvent(
        order_id=ident(payment_intent, f"{p}.payment_intent"),
        refund_id=ident(r.get("id"), f"{p}.id"),
        occurred_at=moment(r.get("created"), f"{p}.created"),
        claim=RefundClaim("gross", format_amount(gross, cur), "0", cur),
        raw=dict(r),
    )
