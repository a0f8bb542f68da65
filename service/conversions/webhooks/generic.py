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
from service.vocabulary import CODE_MAX_LENGTH, YEAR_RULE, year_in_range

_ID = validate.Length(min=1, max=128)


class _When(fields.AwareDateTime):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        moment = super()._deserialize(value, attr, data, **kwargs)
        if not year_in_range(moment.year):
            raise ValidationError(YEAR_RULE)
        return moment


class GenericOrder(Schema):
    type = fields.Constant("order")
    order_id = fields.String(required=True, validate=_ID)
    occurred_at = _When(required=True)
    currency = Currency(required=True)
    subtotal = Amount(required=True)
    discount = Amount(load_default="0")
    shipping = Amount(load_default="0")
    tax = Amount(load_default="0")
    total = Amount(load_default=None, allow_none=True)
    promo_codes = fields.List(
        fields.String(validate=validate.Length(max=CODE_MAX_LENGTH)),
        load_default=list,
        validate=validate.Length(max=20),
    )
    click_id = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=CODE_MAX_LENGTH)
    )
    customer_id = fields.String(load_default=None, allow_none=True, validate=_ID)
    landing_url = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=4096)
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
    type = fields.Constant("refund")
    order_id = fields.String(required=True, validate=_ID)
    refund_id = fields.String(required=True, validate=_ID)
    occurred_at = _When(required=True)
    amount = Amount(required=True)

    @validates_schema
    def _positive(self, data: dict[str, Any], **_: Any) -> None:
        amount = data.get("amount", "")
        if amount.startswith("-") or not amount.strip("0.-"):
            raise ValidationError({"amount": ["must be more than zero"]})


class GenericCancel(Schema):
    type = fields.Constant("cancel")
    order_id = fields.String(required=True, validate=_ID)
    occurred_at = _When(required=True)


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
