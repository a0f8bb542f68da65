"""WooCommerce order webhooks (topic in ``X-WC-Webhook-Topic``; docs/webhooks/woocommerce.md).

Every order webhook carries the whole order (REST API v3). An order counts once it is
paid; its ``refunds`` (gross sums) and a cancellation after payment are read from the
same snapshot, so deliveries in any order converge on the same ledger. Line totals are
after discounts and without tax, whatever ``prices_include_tax`` says.
"""

from __future__ import annotations

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
    opt_text,
    scaled,
    unscaled,
)
from service.vocabulary import CODE_MAX_LENGTH

ORDER_TOPICS = ("order.created", "order.updated", "order.restored")
PAID_STATUSES = ("processing", "completed", "refunded")
ATTRIBUTION_META = "_wc_order_attribution_"

# The order's fields afftrack reads (the OpenAPI document and docs/reference.md show
# them; the rest of WooCommerce's body is kept with the delivery and otherwise ignored).
FIELDS_READ: tuple[tuple[str, str], ...] = (
    ("id", "the order id"),
    ("date_created_gmt", "when the order was placed"),
    ("status, date_paid_gmt", "an order counts once paid; cancelled reverses what is left"),
    ("date_modified_gmt", "when a refund or the cancellation happened"),
    ("currency", "the order's currency"),
    ("line_items[].total, line_items[].total_tax", "after discounts, without tax: what earns"),
    ("total", "kept for reference"),
    ("coupon_lines[].code", "promo codes"),
    ("meta_data[]", "the click id (_aff_click) and WooCommerce's order attribution (UTM)"),
    ("customer_id", "the customer"),
    ("refunds[].id, refunds[].total", "refunds, as gross sums"),
)


def topic_of(headers: HeaderLookup) -> str:
    return header(headers, "X-WC-Webhook-Topic")


def parse(payload: dict[str, Any], headers: HeaderLookup, click_param: str) -> list[ShopEvent]:
    topic = topic_of(headers)
    if topic not in ORDER_TOPICS:
        return [IgnoredEvent(f"topic {topic or '(none)'} is not used")]
    status = payload.get("status")
    paid = status in PAID_STATUSES or bool(payload.get("date_paid_gmt"))
    if not paid:
        return [IgnoredEvent(f"order not paid (status {status!s:.20})")]
    order = _order(payload, click_param)
    events: list[ShopEvent] = [order]
    changed = payload.get("date_modified_gmt") or payload.get("date_created_gmt")
    for path, refund in items(payload.get("refunds"), "refunds"):
        gross = bounded(abs(scaled(refund.get("total"), f"{path}.total")), path, scale=6)
        if gross:
            events.append(
                RefundEvent(
                    order.order_id,
                    ident(refund.get("id"), f"{path}.id"),
                    moment(changed, "date_modified_gmt", naive_is_utc=True),
                    RefundClaim("gross", unscaled(gross), "0", order.currency),
                    dict(refund),
                )
            )
    if status == "cancelled":
        events.append(
            CancelEvent(
                order.order_id, moment(changed, "date_modified_gmt", naive_is_utc=True), payload
            )
        )
    return events


def _order(p: dict[str, Any], click_param: str) -> OrderEvent:
    cur = currency(p.get("currency"), "currency")
    amount = tax = 0
    for path, line in items(p.get("line_items"), "line_items"):
        amount += money(line.get("total"), cur, f"{path}.total")
        tax += money(line.get("total_tax"), cur, f"{path}.total_tax", default="0")
    amount, tax = bounded(amount, "line_items"), bounded(tax, "line_items")
    meta: dict[str, Any] = {}
    for _path, entry in items(p.get("meta_data"), "meta_data", 500):
        key = entry.get("key")
        if isinstance(key, str) and (
            key in (click_param, f"_{click_param}") or key.startswith(ATTRIBUTION_META)
        ):
            meta.setdefault(key, entry.get("value"))
    landing = opt_text(meta.get(f"{ATTRIBUTION_META}session_entry"), "meta_data", 4096)
    click_id = opt_text(
        meta.get(f"_{click_param}") or meta.get(click_param), "meta_data", CODE_MAX_LENGTH
    )
    if not click_id:
        click_id = query_params(landing).get(click_param)
    campaign = opt_text(meta.get(f"{ATTRIBUTION_META}utm_campaign"), "meta_data", 200)
    content = opt_text(meta.get(f"{ATTRIBUTION_META}utm_content"), "meta_data", 200)
    codes = [
        code
        for path, c in items(p.get("coupon_lines"), "coupon_lines", 50)
        if (code := opt_text(c.get("code"), f"{path}.code", CODE_MAX_LENGTH))
    ]
    customer = p.get("customer_id")
    total = p.get("total")
    return OrderEvent(
        order_id=ident(p.get("id"), "id"),
        occurred_at=moment(p.get("date_created_gmt"), "date_created_gmt", naive_is_utc=True),
        currency=cur,
        amount_minor=max(amount, 0),
        total_minor=money(total, cur, "total") if total is not None else None,
        promo_codes=codes,
        click_id=click_id,
        customer_id=opt_text(customer, "customer_id", 128) if customer not in (0, "0") else None,
        landing_url=landing,
        raw=p,
        tax_minor=tax,
        prices_include_tax=p.get("prices_include_tax") is True,
        utm=(campaign.lower(), content.lower()) if campaign and content else None,
    )
