from __future__ import annotations

from collections.abc import Callable
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from service.campaigns.models import Campaign, Partnership
from service.campaigns.service import check_rules
from service.commissions.rules import MAX_RULES, MAX_TIERS, RULE_FIELDS, TIER_FIELDS
from service.links.destinations import destination_error
from service.money import MAX_MINOR, MoneyError, parse_amount
from service.schemas import (
    Amount,
    Currency,
    Id,
    ListQuery,
    Pattern,
    Tagged,
    Url,
    in_years,
    money_out,
)
from service.vocabulary import (
    CODE_MAX_LENGTH,
    DOMAIN_PATTERN,
    POSITIVE_AMOUNT_PATTERN,
    RATE_PATTERN,
    SLUG_PATTERN,
    SLUG_RULE,
    UTM_MEDIUM_PATTERN,
    YEAR_RULE,
    year_in_range,
)

# Commission rules as the OpenAPI document shows them: a schema per rule type, built from
# the fields service.commissions.rules names for it. service.commissions.rules.parse_rules
# validates them (its messages, and the rules below that no schema can state).
_RATE = 'a percentage, 0 to 100, such as "12.5"'
_AMOUNT = "more than zero, in the campaign's currency"
_POSITIVE = {"pattern": POSITIVE_AMOUNT_PATTERN, "description": _AMOUNT}
# What each field of a rule or of a tier holds.
_VALUES: dict[str, Callable[[], fields.Field[Any]]] = {
    "rate": lambda: fields.String(
        required=True, validate=Pattern(RATE_PATTERN), metadata={"description": _RATE}
    ),
    "amount": lambda: fields.String(
        required=True, validate=Pattern(POSITIVE_AMOUNT_PATTERN), metadata={"description": _AMOUNT}
    ),
    "up_to": lambda: fields.String(
        allow_none=True,
        validate=Pattern(POSITIVE_AMOUNT_PATTERN),
        metadata={"description": f"the upper bound, {_AMOUNT}; null or absent: none"},
    ),
    "tiers": lambda: fields.List(
        fields.Nested(RuleTier),
        required=True,
        validate=validate.Length(min=1, max=MAX_TIERS),
        metadata={
            "description": "marginal brackets: their bounds increase, and only the last "
            "has none (up_to null), as it must (the server checks both)"
        },
    ),
}
RuleTier: type[Schema] = Schema.from_dict(
    {name: _VALUES[name]() for name in TIER_FIELDS}, name="RuleTier"
)
RULE_VARIANTS: dict[str, type[Schema]] = {
    kind: Schema.from_dict(
        {
            "type": fields.String(required=True, validate=validate.OneOf([kind])),
            **{name: _VALUES[name]() for name in names},
        },
        name="".join(word.title() for word in kind.split("_")) + "Rule",
    )
    for kind, names in RULE_FIELDS.items()
}
RULES_DESCRIPTION = (
    "Each rule's `type` names its shape. Beyond the shapes stated here, the server refuses "
    "(422, naming the rule) an amount or tier bound with more decimals than the campaign's "
    f"currency has or over {MAX_MINOR:,} of its minor units, tier bounds that do not "
    "increase, and a tier other than the last without an upper bound or a last one with it."
)


def rules_field(**kwargs: Any) -> fields.List[dict[str, Any]]:
    return fields.List(
        Tagged("type", RULE_VARIANTS),
        validate=validate.Length(max=MAX_RULES),
        metadata={"description": RULES_DESCRIPTION},
        **kwargs,
    )


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
    budget = Amount(load_default=None, allow_none=True, metadata=_POSITIVE)
    monthly_cap_per_influencer = Amount(load_default=None, allow_none=True, metadata=_POSITIVE)
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
    commission_rules = fields.List(Tagged("type", RULE_VARIANTS))
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
    commission_rules = fields.List(Tagged("type", RULE_VARIANTS), allow_none=True)
    effective_rules = fields.List(Tagged("type", RULE_VARIANTS))
    created_at = fields.DateTime()


class CampaignQuery(ListQuery):
    slug = fields.String(validate=validate.Length(max=CODE_MAX_LENGTH))


class PartnershipQuery(ListQuery):
    influencer_id = Id()


__all__ = ["CampaignIn", "CampaignOut", "Partnership", "PartnershipIn", "PartnershipOut"]
