"""What a checkout webhook means, whatever the platform: an order, a refund, a cancel."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class OrderEvent:
    order_id: str
    occurred_at: datetime
    currency: str
    amount_minor: int  # attributable: after discounts, without tax and shipping
    total_minor: int | None
    promo_codes: list[str]
    click_id: str | None
    customer_id: str | None
    landing_url: str | None
    raw: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class RefundEvent:
    order_id: str
    refund_id: str
    occurred_at: datetime
    amount_text: str  # decimal string in the order's currency, attributable basis
    raw: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class CancelEvent:
    order_id: str
    occurred_at: datetime
    raw: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class IgnoredEvent:
    reason: str


ShopEvent = OrderEvent | RefundEvent | CancelEvent | IgnoredEvent
