"""Shopify order webhooks (topic in ``X-Shopify-Topic``; docs/webhooks/shopify.md).

Money is in the shop currency (``currency``, the fields without ``_set``). The
attributable amount is ``subtotal_price`` (after every discount, before shipping and
tax; tips and duties are outside it), less the line items' tax when the shop's prices
include tax (``taxes_included``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from service.conversions.attribution import query_params
from service.conversions.events import (
    CancelEvent,
    IgnoredEvent,
    OrderEvent,
    RefundClaim,
    RefundEvent,
    ShopEvent,
)
from service.conversions.webhooks.fields import (
    HeaderLookup,
    bounded,
    currency,
    header,
    ident,
    items,
    moment,
    money,
    obj,
    opt_text,
    scaled,
    unscaled,
)
from service.vocabulary import CODE_MAX_LENGTH

ORDER_TOPICS = ("orders/create", "orders/paid", "orders/updated", "orders/cancelled")
# An order counts once money is committed: not while payment is pending, nor after an
# authorization expired or was voided without capture.
UNPAID = ("pending", "voided", "expired")

# The order's fields afftrack reads (the OpenAPI document and docs/reference.md show
# them; the rest of Shopify's body is kept with the delivery and otherwise ignored).
FIELDS_READ: tuple[tuple[str, str], ...] = (
    ("id", "the order id"),
    ("processed_at, created_at", "when the order was placed"),
    ("currency", "the shop currency, in which every amount below is read"),
    ("subtotal_price", "after discounts, before shipping and tax: what earns commission"),
    ("taxes_included, line_items[].tax_lines[].price", "VAT taken out of subtotal_price"),
    ("total_price", "kept for reference"),
    ("financial_status, test", "unpaid and test orders earn nothing"),
    ("discount_codes[].code", "promo codes"),
    ("landing_site, note_attributes[]", "the click id (aff_click), utm_campaign, utm_content"),
    ("customer.id", "the customer"),
    (
        "refunds[].id, refunds[].refund_line_items, refunds[].transactions, order_id",
        "refunds, on the order or alone (refunds/create, with order_id)",
    ),
    ("cancelled_at, updated_at", "the cancellation"),
)


def topic_of(headers: HeaderLookup) -> str:
    return header(headers, "X-Shopify-Topic")


def parse(payload: dict[str, Any], headers: HeaderLookup, click_param: str) -> list[ShopEvent]:
    topic = topic_of(headers)
    if topic == "refunds/create":
        order_id = ident(payload.get("order_id"), "order_id")
        refund = _refund(payload, order_id, None, "")
        return [refund] if refund else [IgnoredEvent("refund of shipping or nothing attributable")]
    if topic not in ORDER_TOPICS:
        return [IgnoredEvent(f"topic {topic or '(none)'} is not used")]
    if payload.get("test") is True:
        return [IgnoredEvent("test order")]
    order = _order(payload, click_param)
    events: list[ShopEvent] = []
    status = payload.get("financial_status")
    if status in UNPAID:
        events.append(IgnoredEvent(f"order not paid (financial_status {status})"))
    else:
        events.append(order)
    for path, entry in items(payload.get("refunds"), "refunds"):
        refund = _refund(entry, order.order_id, order.currency, f"{path}.")
        if refund:
            events.append(refund)
    if topic == "orders/cancelled" or payload.get("cancelled_at"):
        # Always: the order may have been recorded while it was authorized or paid.
        when = payload.get("cancelled_at") or payload.get("updated_at")
        events.append(CancelEvent(order.order_id, moment(when, "cancelled_at"), payload))
    return events


def _order(p: dict[str, Any], click_param: str) -> OrderEvent:
    cur = currency(p.get("currency"), "currency")
    subtotal = money(p.get("subtotal_price"), cur, "subtotal_price")
    item_tax = 0
    for path, line in items(p.get("line_items"), "line_items"):
        for tax_path, tax in items(line.get("tax_lines"), f"{path}.tax_lines"):
            item_tax += money(tax.get("price"), cur, f"{tax_path}.price")
    item_tax = bounded(item_tax, "line_items")
    included = p.get("taxes_included") is True
    amount = subtotal - item_tax if included else subtotal
    if amount < 0:
        amount = 0
    landing = opt_text(p.get("landing_site"), "landing_site", 4096)
    click_id = query_params(landing).get(click_param)
    if not click_id:
        for _path, attr in items(p.get("note_attributes"), "note_attributes", 200):
            if attr.get("name") in (click_param, f"_{click_param}"):
                click_id = opt_text(attr.get("value"), "note_attributes.value", CODE_MAX_LENGTH)
                break
    codes = [
        code
        for path, d in items(p.get("discount_codes"), "discount_codes", 50)
        if (code := opt_text(d.get("code"), f"{path}.code", CODE_MAX_LENGTH))
    ]
    customer = p.get("customer")
    customer_id = (
        opt_text(obj(customer, "customer").get("id"), "customer.id", 128) if customer else None
    )
    total = p.get("total_price")
    return OrderEvent(
        order_id=ident(p.get("id"), "id"),
        occurred_at=moment(p.get("processed_at") or p.get("created_at"), "created_at"),
        currency=cur,
        amount_minor=amount,
        total_minor=money(total, cur, "total_price") if total is not None else None,
        promo_codes=codes,
        click_id=click_id,
        customer_id=customer_id,
        landing_url=landing,
        raw=p,
        tax_minor=item_tax,
        prices_include_tax=included,
    )


def _refund(
    r: Mapping[str, Any], order_id: str, shop_currency: str | None, prefix: str
) -> RefundEvent | None:
    """A refund object (the refunds/create body, or an entry of an order's ``refunds``).

    Refund lines are in the shop currency (their ``subtotal_set.shop_money``); the refund
    transactions are in the buyer's (presentment) currency. Sums are exact in
    millionths; a claim whose currency is not known is judged in the order's.
    """
    refund_id = ident(r.get("id"), f"{prefix}id")
    when = moment(r.get("processed_at") or r.get("created_at"), f"{prefix}created_at")
    lines = list(items(r.get("refund_line_items"), f"{prefix}refund_line_items"))
    shop = shop_currency or _shop_currency(lines, prefix)
    paid_in = None
    for path, tx in items(r.get("transactions"), f"{prefix}transactions"):
        if tx.get("kind") == "refund" and tx.get("currency"):
            paid_in = currency(tx.get("currency"), f"{path}.currency")
            break
    if lines:
        subtotal = tax = 0
        for path, line in lines:
            subtotal += scaled(line.get("subtotal", "0"), f"{path}.subtotal")
            tax += scaled(line.get("total_tax", "0"), f"{path}.total_tax")
        # The money actually returned for the items (a merchant may refund less than
        # their value): the refund transactions less any shipping refund — comparable
        # only when it was paid back in the shop currency.
        paid = None
        if isinstance(r.get("transactions"), list) and shop is not None and paid_in in (None, shop):
            paid = max(_money_returned(r, prefix, paid_in or shop), 0)
        bounded(subtotal, f"{prefix}refund_line_items", scale=6)
        bounded(tax, f"{prefix}refund_line_items", scale=6)
        claim = RefundClaim(
            "items",
            unscaled(subtotal),
            unscaled(tax),
            shop,
            None if paid is None else unscaled(paid),
        )
    else:
        gross = _money_returned(r, prefix, paid_in)
        if gross <= 0:
            return None
        # In the currency it was paid back in: a refund in another currency than the
        # shop's cannot be shared without FX, and is recorded, not applied.
        claim = RefundClaim("gross", unscaled(gross), "0", paid_in or shop)
    return RefundEvent(order_id, refund_id, when, claim, dict(r))


def _shop_currency(lines: list[tuple[str, Mapping[str, Any]]], prefix: str) -> str | None:
    for path, line in lines:
        bag = line.get("subtotal_set")
        if isinstance(bag, Mapping) and isinstance(bag.get("shop_money"), Mapping):
            code = bag["shop_money"].get("currency_code")
            if code:
                return currency(code, f"{path}.subtotal_set.shop_money.currency_code")
    return None


def _money_returned(r: Mapping[str, Any], prefix: str, paid_in: str | None) -> int:
    """Successful refund transactions less refunded shipping, in millionths.

    Refunded shipping is an ``order_adjustments`` entry of kind ``shipping_refund`` in
    API versions before 2024-10, ``refund_shipping_lines`` after (whose money bag in the
    currency the transactions were paid back in is taken).
    """
    gross = 0
    for path, tx in items(r.get("transactions"), f"{prefix}transactions"):
        if tx.get("kind") == "refund" and tx.get("status") in ("success", "pending", None):
            gross += abs(scaled(tx.get("amount"), f"{path}.amount"))
    for path, adj in items(r.get("order_adjustments"), f"{prefix}order_adjustments"):
        if adj.get("kind") == "shipping_refund":
            gross -= abs(scaled(adj.get("amount", "0"), f"{path}.amount"))
            gross -= abs(scaled(adj.get("tax_amount", "0"), f"{path}.tax_amount"))
    for path, line in items(r.get("refund_shipping_lines"), f"{prefix}refund_shipping_lines"):
        for name in ("subtotal_amount_set", "tax_amount_set"):
            gross -= abs(_bag(line.get(name), paid_in, f"{path}.{name}"))
    return bounded(gross, f"{prefix}transactions", scale=6)


def _bag(bag: Any, cur: str | None, path: str) -> int:
    """The amount (millionths) of a Shopify money bag in ``cur``; 0 if it has none."""
    if not isinstance(bag, Mapping) or cur is None:
        return 0
    for side in ("shop_money", "presentment_money"):
        money_ = bag.get(side)
        if isinstance(money_, Mapping) and money_.get("currency_code") == cur:
            return scaled(money_.get("amount", "0"), f"{path}.{side}.amount")
    return 0
