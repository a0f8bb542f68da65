"""The generic webhook format (docs/product.md §2): money as decimal strings in the
order's currency."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from service.conversions.events import CancelEvent, OrderEvent, RefundClaim, RefundEvent, ShopEvent
from service.conversions.webhooks.fields import HeaderLookup
from service.money import MoneyError, parse_amount
from service.schemas import Amount, Currency
from service.vocabulary import CODE_MAX_LENGTH, YEAR_MAX, YEAR_MIN, YEAR_RULE, year_in_range

_ID = validate.Length(min=1, max=128)
_MONEY = 'a decimal string in the order\'s currency such as "12.50"'
_YEARS = f"the year {YEAR_MIN} to {YEAR_MAX}"


class _When(fields.AwareDateTime):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        moment = super()._deserialize(value, attr, data, **kwargs)
        if not year_in_range(moment.year):
            raise ValidationError(YEAR_RULE)
        return moment


class GenericOrder(Schema):
    """An order placed in the shop (``"type": "order"``)."""

    type = fields.Constant(
        "order", required=True, metadata={"type": "string", "enum": ["order"], "example": "order"}
    )
    order_id = fields.String(
        required=True,
        validate=_ID,
        metadata={
            "description": "the shop's own order number; a second order with the same id "
            "is a duplicate and changes nothing",
            "example": "1001",
        },
    )
    occurred_at = _When(
        required=True,
        metadata={
            "description": f"when the order was placed, with its UTC offset; {_YEARS}",
            "example": "2026-10-03T12:00:00Z",
        },
    )
    currency = Currency(
        required=True,
        metadata={"description": "the order's currency (ISO 4217)", "example": "EUR"},
    )
    subtotal = Amount(
        required=True,
        metadata={
            "description": f"the items' price before the discount, {_MONEY}",
            "example": "120.00",
        },
    )
    discount = Amount(
        load_default="0",
        metadata={
            "description": f"the discount on the items, {_MONEY}; not more than `subtotal`; "
            "commission is earned on `subtotal` minus `discount`",
            "example": "12.00",
        },
    )
    shipping = Amount(
        load_default="0",
        metadata={"description": f"shipping, {_MONEY}; kept, earns nothing", "example": "5.00"},
    )
    tax = Amount(
        load_default="0",
        metadata={"description": f"tax, {_MONEY}; kept, earns nothing", "example": "20.52"},
    )
    total = Amount(
        load_default=None,
        allow_none=True,
        metadata={
            "description": f"what the customer paid, {_MONEY}; kept, earns nothing",
            "example": "133.52",
        },
    )
    promo_codes = fields.List(
        fields.String(validate=validate.Length(max=CODE_MAX_LENGTH)),
        load_default=list,
        validate=validate.Length(max=20),
        metadata={
            "description": "the codes used at checkout, as the customer typed them (case "
            "and spaces around them do not matter); a code of an influencer wins over a click",
            "example": ["ANNA15"],
        },
    )
    click_id = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=CODE_MAX_LENGTH),
        metadata={
            "description": "the `aff_click` value the tracked link added to the shop's URL, "
            "if the shop kept it",
            "example": "Vq3kX9aZ0bLrT7mN",
        },
    )
    customer_id = fields.String(
        load_default=None,
        allow_none=True,
        validate=_ID,
        metadata={"description": "the shop's id of the customer", "example": "c-77"},
    )
    landing_url = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=4096),
        metadata={
            "description": "the first page of the customer's visit, query string included: "
            "its `aff_click`, `utm_campaign` and `utm_content` attribute the order when "
            "nothing else does",
            "example": "https://shop.example/autumn?utm_campaign=autumn-2026"
            "&utm_content=anna.travels&aff_click=Vq3kX9aZ0bLrT7mN",
        },
    )

    @validates_schema
    def _money(self, data: dict[str, Any], **_: Any) -> None:
        currency = data.get("currency")
        if not currency:
            return
        errors: dict[str, list[str]] = {}
        for name in ("subtotal", "discount", "shipping", "tax", "total"):
            if data.get(name) is None:
                continue
            try:
                parse_amount(data[name], currency)
            except MoneyError as exc:
                errors[name] = [str(exc)]
        if not errors and parse_amount(data["discount"], currency) > parse_amount(
            data["subtotal"], currency
        ):
            errors["discount"] = ["must not exceed the subtotal"]
        if errors:
            raise ValidationError(errors)


class GenericRefund(Schema):
    """Money given back on an order (``"type": "refund"``), in part or in full."""

    type = fields.Constant(
        "refund",
        required=True,
        metadata={"type": "string", "enum": ["refund"], "example": "refund"},
    )
    order_id = fields.String(
        required=True,
        validate=_ID,
        metadata={"description": "the order refunded, as its order sent it", "example": "1001"},
    )
    refund_id = fields.String(
        required=True,
        validate=_ID,
        metadata={
            "description": "the shop's id of this refund; a refund id is applied once",
            "example": "r-1",
        },
    )
    occurred_at = _When(
        required=True,
        metadata={
            "description": f"when the money was given back, with its UTC offset; {_YEARS}",
            "example": "2026-10-09T08:30:00Z",
        },
    )
    amount = Amount(
        required=True,
        metadata={
            "description": f"the refunded part of the items after discount (no tax, no "
            f"shipping), {_MONEY}, more than zero; the commission is reversed in proportion, "
            "never beyond what is left of the order",
            "example": "40.00",
        },
    )

    @validates_schema
    def _positive(self, data: dict[str, Any], **_: Any) -> None:
        amount = data.get("amount", "")
        if amount.startswith("-") or not amount.strip("0.-"):
            raise ValidationError({"amount": ["must be more than zero"]})


class GenericCancel(Schema):
    """An order called off (``"type": "cancel"``): what is left of it earns nothing."""

    type = fields.Constant(
        "cancel",
        required=True,
        metadata={"type": "string", "enum": ["cancel"], "example": "cancel"},
    )
    order_id = fields.String(
        required=True,
        validate=_ID,
        metadata={"description": "the order cancelled, as its order sent it", "example": "1001"},
    )
    occurred_at = _When(
        required=True,
        metadata={
            "description": f"when the order was cancelled, with its UTC offset; {_YEARS}",
            "example": "2026-10-04T09:00:00Z",
        },
    )


# Each body by its ``type``.
BODIES: dict[str, type[Schema]] = {
    "order": GenericOrder,
    "refund": GenericRefund,
    "cancel": GenericCancel,
}


def parse(payload: dict[str, Any], headers: HeaderLookup, click_param: str) -> list[ShopEvent]:
    return [_parse(payload)]


def topic_of(payload: Mapping[str, Any]) -> str:
    kind = payload.get("type")
    return kind if isinstance(kind, str) else ""


def _parse(payload: dict[str, Any]) -> ShopEvent:
    kind = payload.get("type")
    if kind == "order":
        data = GenericOrder().load(payload)
        currency = data["currency"]
        subtotal = parse_amount(data["subtotal"], currency)
        discount = parse_amount(data["discount"], currency)
        total = data.get("total")
        return OrderEvent(
            order_id=data["order_id"],
            occurred_at=data["occurred_at"],
            currency=currency,
            amount_minor=subtotal - discount,
            total_minor=parse_amount(total, currency) if total is not None else None,
            promo_codes=list(data["promo_codes"]),
            click_id=data.get("click_id"),
            customer_id=data.get("customer_id"),
            landing_url=data.get("landing_url"),
            raw=payload,
        )
    if kind == "refund":
        data = GenericRefund().load(payload)
        return RefundEvent(
            data["order_id"],
            data["refund_id"],
            data["occurred_at"],
            RefundClaim("attributable", data["amount"]),
            payload,
        )
    if kind == "cancel":
        data = GenericCancel().load(payload)
        return CancelEvent(data["order_id"], data["occurred_at"], payload)
    raise ValidationError({"type": ["must be one of order, refund, cancel"]})
