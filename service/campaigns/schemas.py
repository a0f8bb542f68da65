from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from service.campaigns.models import Campaign, Partnership
from service.campaigns.service import check_rules
from service.links.destinations import destination_error
from service.money import MoneyError, parse_amount
from service.schemas import Amount, Currency, Id, ListQuery, Pattern, Url, in_years, money_out
from service.vocabulary import (
    CODE_MAX_LENGTH,
    DOMAIN_PATTERN,
    SLUG_PATTERN,
    SLUG_RULE,
    UTM_MEDIUM_PATTERN,
    YEAR_RULE,
    year_in_range,
)


def rules_field(**kwargs: Any) -> fields.List[dict[str, Any]]:
    return fields.List(fields.Dict(), validate=validate.Length(max=10), **kwargs)


class CampaignIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    slug = fields.String(
        required=True,
        validate=Pattern(SLUG_PATTERN, error=SLUG_RULE),
    )
    goal = fields.String(
        required=True, validate=validate.OneOf(("awareness", "traffic", "conversions"))
    )
    kind = fields.String(
        required=True, validate=validate.OneOf(("organic", "paid", "affiliate", "multichannel"))
    )
    currency = Currency(required=True)
    starts_on = fields.Date(required=True, metadata=in_years())
    ends_on = fields.Date(load_default=None, allow_none=True, metadata=in_years())
    budget = Amount(load_default=None, allow_none=True)
    monthly_cap_per_influencer = Amount(load_default=None, allow_none=True)
    allowed_domains = fields.List(
        fields.String(validate=Pattern(DOMAIN_PATTERN, error="not a domain name")),
        required=True,
        validate=validate.Length(min=1, max=50),
    )
    fallback_url = Url(required=True)
    attribution_window_days = fields.Integer(
        load_default=30, strict=True, validate=validate.Range(min=1, max=365)
    )
    hold_days = fields.Integer(
        load_default=30, strict=True, validate=validate.Range(min=0, max=365)
    )
    utm_medium = fields.String(load_default="influencer", validate=Pattern(UTM_MEDIUM_PATTERN))
    commission_rules = rules_field(required=True)

    @validates_schema
    def _check(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, list[str]] = {}
        start, end = data.get("starts_on"), data.get("ends_on")
        if start and not year_in_range(start.year):
            errors["starts_on"] = [YEAR_RULE]
        if end and not year_in_range(end.year):
            errors["ends_on"] = [YEAR_RULE]
        elif start and end and end < start:
            errors["ends_on"] = ["must not be before starts_on"]
        domains, fallback = data.get("allowed_domains"), data.get("fallback_url")
        if domains and fallback:
            problem = destination_error(fallback, domains)
            if problem:
                errors["fallback_url"] = [problem]
        currency = data.get("currency")
        if currency:
            for name in ("budget", "monthly_cap_per_influencer"):
                if data.get(name) is not None:
                    try:
                        if parse_amount(data[name], currency) <= 0:
                            errors[name] = ["must be more than zero"]
                    except MoneyError as exc:
                        errors[name] = [str(exc)]
            if "commission_rules" in data:
                try:
                    check_rules(data["commission_rules"], currency, "commission_rules")
                except ValidationError as exc:
                    # marshmallow types messages as a list or a dict; rules' are a dict.
                    errors.update(exc.messages)  # type: ignore[arg-type]
        if errors:
            raise ValidationError(errors)

    @post_load
    def _convert(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        currency = data["currency"]
        budget = data.pop("budget", None)
        data["budget_minor"] = parse_amount(budget, currency) if budget is not None else None
        cap = data.pop("monthly_cap_per_influencer", None)
        data["monthly_cap_minor"] = parse_amount(cap, currency) if cap is not None else None
        data["commission_rules"] = check_rules(
            data["commission_rules"], currency, "commission_rules"
        )
        data["allowed_domains"] = sorted({d.lower() for d in data["allowed_domains"]})
        return data


class CampaignOut(Schema):
    id = fields.String()
    name = fields.String()
    slug = fields.String()
    goal = fields.String()
    kind = fields.String()
    currency = fields.String()
    starts_on = fields.Date()
    ends_on = fields.Date(allow_none=True)
    budget = fields.Method("_budget")
    monthly_cap_per_influencer = fields.Method("_cap")
    allowed_domains = fields.List(fields.String())
    fallback_url = fields.String()
    attribution_window_days = fields.Integer()
    hold_days = fields.Integer()
    utm_medium = fields.String()
    commission_rules = fields.List(fields.Dict())
    created_at = fields.DateTime()

    def _budget(self, c: Campaign) -> str | None:
        return money_out(c.budget_minor, c.currency)

    def _cap(self, c: Campaign) -> str | None:
        return money_out(c.monthly_cap_minor, c.currency)


class PartnershipIn(Schema):
    influencer_id = Id(required=True)
    commission_rules = rules_field(load_default=None, allow_none=True)


class PartnershipOut(Schema):
    id = fields.String()
    campaign_id = fields.String()
    influencer_id = fields.String()
    commission_rules = fields.List(fields.Dict(), allow_none=True)
    effective_rules = fields.List(fields.Dict())
    created_at = fields.DateTime()


class CampaignQuery(ListQuery):
    slug = fields.String(validate=validate.Length(max=CODE_MAX_LENGTH))


class PartnershipQuery(ListQuery):
    influencer_id = Id()


__all__ = ["CampaignIn", "CampaignOut", "Partnership", "PartnershipIn", "PartnershipOut"]
