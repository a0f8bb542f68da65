"""What a checkout webhook means, whatever the platform: an order, a refund, a cancel.

Each platform's parser turns one delivery into a list of these (a Shopify cancelled
order is the order *and* its cancel; a WooCommerce order snapshot may carry refunds).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class OrderEvent:
    order_id: str
    occurred_at: datetime
    currency: str
    amount_minor: int  # attributable: after discounts, without tax, shipping, tips, duties
    total_minor: int | None
    promo_codes: list[str]
    click_id: str | None
    customer_id: str | None
    landing_url: str | None
    raw: dict[str, Any] = field(repr=False)
    # Tax on the attributable items (what a gross refund is shared against).
    tax_minor: int = 0
    # Whether the platform's item prices include tax (Shopify ``taxes_included``).
    prices_include_tax: bool = False
    # A second reference the platform's refunds use for this order (Stripe's
    # payment intent); None when refunds carry the order id itself.
    order_ref: str | None = None
    # (campaign slug, influencer handle) when the platform reports UTM values itself.
    utm: tuple[str, str] | None = None

    @property
    def lock_key(self) -> str:
        return self.order_ref or self.order_id


@dataclass(frozen=True)
class RefundClaim:
    """What the platform says was refunded, before it is judged against the order.

    ``basis``:
    - ``attributable``: ``amount`` is already on the attributable basis (generic);
    - ``items``: ``amount`` is the refunded items after discounts, and ``tax`` the tax on
      them, which ``amount`` contains when the order's prices include tax (Shopify);
    - ``gross``: ``amount`` is a gross sum of money returned; its attributable share is
      ``gross * attributable / (attributable + tax)`` (docs/product.md §2).
    Amounts are decimal strings in ``currency`` (None: the order's currency). ``paid``,
    for an ``items`` claim, is the money actually returned for those items when the
    platform says so: a refund of less than the items' value reverses proportionally less.
    """

    basis: str
    amount: str
    tax: str = "0"
    currency: str | None = None
    paid: str | None = None


@dataclass(frozen=True)
class RefundEvent:
    order_id: str  # the order id, or the order_ref its platform uses for refunds
    refund_id: str
    occurred_at: datetime
    claim: RefundClaim
    raw: dict[str, Any] = field(repr=False)

    @property
    def lock_key(self) -> str:
        return self.order_id


@dataclass(frozen=True)
class CancelEvent:
    order_id: str
    occurred_at: datetime
    raw: dict[str, Any] = field(repr=False)

    @property
    def lock_key(self) -> str:
        return self.order_id


@dataclass(frozen=True)
class IgnoredEvent:
    reason: str


ShopEvent = OrderEvent | RefundEvent | CancelEvent | IgnoredEvent


@dataclass(frozen=True)
class Outcome:
    """What became of one event of a delivery (the webhook's answer)."""

    status: str  # created | duplicate | applied | not_applied | pending_order | ignored
    conversion_id: str | None = None
    detail: str | None = None
