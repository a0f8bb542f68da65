from __future__ import annotations

from collections.abc import Callable
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from service.campaigns.models import Campaign, Partnership
from service.campaigns.service import check_media_value_rates, check_rules, media_value_rates
from service.commissions.rules import MAX_RULES, MAX_TIERS, RULE_FIELDS, TIER_FIELDS
from service.links.destinations import destination_error
from service.money import MAX_MINOR, MoneyError, parse_amount
from service.reports.media_value import DEFAULT_RATES, RATE_METRICS, REFERENCE_CURRENCY, rates_json
from service.schemas import (
    EXAMPLE_ID,
    Amount,
    Change,
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
    CAMPAIGN_GOALS,
    CODE_MAX_LENGTH,
    DOMAIN_PATTERN,
    PLATFORMS,
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
_RATE = 'the share earned, in percent ("10" is 10 %)'
_AMOUNT = "more than zero, in the campaign's currency"
_POSITIVE = {"pattern": POSITIVE_AMOUNT_PATTERN, "description": _AMOUNT}
# What each rule type earns (the document's description of its schema), and an example.
RULE_MEANINGS: dict[str, str] = {
    "percent": "A share of each attributed order: the rate of its amount after discount, "
    "without tax or shipping, in the order's currency.",
    "flat": "A fixed amount for each attributed order, in the campaign's currency.",
    "tiered_percent": "Rates by bracket of the influencer's sales in the campaign over the "
    "calendar month: each order earns the rate of the bracket the month's sales have "
    "reached, and the month is trued up when it is closed.",
    "cpc": "An amount for each unique click on the influencer's links (bots never count), "
    "settled when the month is closed.",
    "per_post": "A fee for each post (deliverable) of the influencer, earned when it is approved.",
}
RULE_EXAMPLES: dict[str, dict[str, Any]] = {
    "percent": {"rate": "10"},
    "flat": {"amount": "5.00"},
    "tiered_percent": {
        "tiers": [{"up_to": "1000.00", "rate": "10"}, {"up_to": None, "rate": "15"}]
    },
    "cpc": {"amount": "0.05"},
    "per_post": {"amount": "150.00"},
}
_TIER_EXAMPLE = RULE_EXAMPLES["tiered_percent"]["tiers"][0]
# What each field of a rule or of a tier holds.
_VALUES: dict[str, Callable[[Any], fields.Field[Any]]] = {
    "rate": lambda example: fields.String(
        required=True,
        validate=Pattern(RATE_PATTERN),
        metadata={"description": _RATE, "example": example},
    ),
    "amount": lambda example: fields.String(
        required=True,
        validate=Pattern(POSITIVE_AMOUNT_PATTERN),
        metadata={"description": _AMOUNT, "example": example},
    ),
    "up_to": lambda example: fields.String(
        allow_none=True,
        validate=Pattern(POSITIVE_AMOUNT_PATTERN),
        metadata={
            "description": f"the bracket's upper bound of the month's sales, {_AMOUNT}; "
            "null or absent: no upper bound (the last tier)",
            "example": example,
        },
    ),
    "tiers": lambda example: fields.List(
        fields.Nested(RuleTier),
        required=True,
        validate=validate.Length(min=1, max=MAX_TIERS),
        metadata={
            "description": "marginal brackets: their bounds increase, and only the last "
            "has none (up_to null), as it must (the server checks both)",
            "example": example,
        },
    ),
}


RuleTier: type[Schema] = Schema.from_dict(
    {name: _VALUES[name](_TIER_EXAMPLE[name]) for name in TIER_FIELDS}, name="RuleTier"
)
RULE_VARIANTS: dict[str, type[Schema]] = {
    kind: Schema.from_dict(
        {
            "type": fields.String(
                required=True,
                validate=validate.OneOf([kind]),
                metadata={"description": RULE_MEANINGS[kind], "example": kind},
            ),
            **{name: _VALUES[name](RULE_EXAMPLES[kind][name]) for name in names},
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


def rules_field(
    example: list[dict[str, Any]], meaning: str, **kwargs: Any
) -> fields.List[dict[str, Any]]:
    return fields.List(
        Tagged("type", RULE_VARIANTS),
        validate=validate.Length(max=MAX_RULES),
        metadata={"description": meaning + RULES_DESCRIPTION, "example": example},
        **kwargs,
    )


# Media value rates: per platform, one rate per 1,000 impressions and one per engagement.
RATE_MEANINGS = {
    "impressions": "per 1,000 impressions",
    "likes": "per like",
    "comments": "per comment",
    "shares": "per share",
    "saves": "per save",
}
MediaValueRatesOf = Schema.from_dict(
    {
        metric: Amount(
            required=True,
            metadata={
                "description": f"the value {RATE_MEANINGS[metric]}, in the campaign's currency; "
                "0 or more, no finer than the currency's minor unit",
                "example": DEFAULT_RATES["instagram"][metric],
            },
        )
        for metric in RATE_METRICS
    },
    name="MediaValueRatesOf",
)
MediaValueRates = Schema.from_dict(
    {
        platform: fields.Nested(
            MediaValueRatesOf, metadata={"description": f"the rates of {platform} posts"}
        )
        for platform in PLATFORMS
    },
    name="MediaValueRates",
)
MEDIA_VALUE_RATES_DESCRIPTION = (
    'Media value rates per platform (docs/objectives.md, "Media value"): what a post\'s '
    "impressions and engagements are valued at, in the campaign's currency. A media-value "
    "estimate, not revenue. A platform left out gives its posts no media value. null: the "
    f"illustrative defaults, which exist in {REFERENCE_CURRENCY} only (a campaign in "
    "another currency then has no media value)."
)


def _about(description: str, example: Any, **more: Any) -> dict[str, Any]:
    return {"description": description, "example": example, **more}


class CampaignIn(Schema):
    name = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata=_about("the campaign's name, for people", "Autumn 2026"),
    )
    slug = fields.String(
        required=True,
        validate=Pattern(SLUG_PATTERN, error=SLUG_RULE),
        metadata=_about(
            "unique; sent to the shop as `utm_campaign` (lower-case letters, digits, - and _)",
            "autumn-2026",
        ),
    )
    goal = fields.String(
        required=True,
        validate=validate.OneOf(CAMPAIGN_GOALS),
        metadata=_about("what the campaign is for", "conversions"),
    )
    kind = fields.String(
        required=True,
        validate=validate.OneOf(("organic", "paid", "affiliate", "multichannel")),
        metadata=_about("how the influencers are paid or not", "affiliate"),
    )
    currency = Currency(
        required=True,
        metadata=_about("the currency of the budget, the cap and the rules' amounts", "EUR"),
    )
    starts_on = fields.Date(
        required=True, metadata={**in_years(), **_about("the first day", "2026-10-01")}
    )
    ends_on = fields.Date(
        load_default=None,
        allow_none=True,
        metadata={
            **in_years(),
            **_about(
                "the last day, not before `starts_on`; after it, links send followers to "
                "`fallback_url`; null: open-ended",
                "2026-12-31",
            ),
        },
    )
    budget = Amount(
        load_default=None,
        allow_none=True,
        metadata={
            **_POSITIVE,
            **_about(f"the most the campaign pays in all, {_AMOUNT}; null: no budget", "50000.00"),
        },
    )
    monthly_cap_per_influencer = Amount(
        load_default=None,
        allow_none=True,
        metadata={
            **_POSITIVE,
            **_about(
                f"the most one influencer earns in a calendar month, {_AMOUNT}; null: no cap",
                "2500.00",
            ),
        },
    )
    allowed_domains = fields.List(
        fields.String(validate=Pattern(DOMAIN_PATTERN, error="not a domain name")),
        required=True,
        validate=validate.Length(min=1, max=50),
        metadata=_about(
            "the shop's domains: links may only point there (or to a subdomain)",
            ["shop.example"],
        ),
    )
    fallback_url = Url(
        required=True,
        metadata=_about(
            "where paused links and an ended campaign's links send followers; on an allowed domain",
            "https://shop.example/",
        ),
    )
    attribution_window_days = fields.Integer(
        load_default=30,
        strict=True,
        validate=validate.Range(min=1, max=365),
        metadata=_about("how many days after a click an order still counts for it", 30),
    )
    hold_days = fields.Integer(
        load_default=30,
        strict=True,
        validate=validate.Range(min=0, max=365),
        metadata=_about(
            "how many days a sale's commission stays pending (refunds may still come) "
            "before it can be paid",
            30,
        ),
    )
    utm_medium = fields.String(
        load_default="influencer",
        validate=Pattern(UTM_MEDIUM_PATTERN),
        metadata=_about("sent to the shop as `utm_medium`", "influencer"),
    )
    commission_rules = rules_field(
        [{"type": "percent", "rate": "10"}],
        "What the influencers earn, unless a partnership has rules of its own; several "
        "rules add up. ",
        required=True,
    )

    media_value_rates = fields.Nested(
        MediaValueRates,
        load_default=None,
        allow_none=True,
        metadata={
            "description": MEDIA_VALUE_RATES_DESCRIPTION,
            "example": {"instagram": DEFAULT_RATES["instagram"]},
        },
    )

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
            try:
                check_media_value_rates(data.get("media_value_rates"), currency)
            except ValidationError as exc:
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
        data["media_value_rates"] = check_media_value_rates(data["media_value_rates"], currency)
        return data


class CampaignChange(Change, CampaignIn):
    """Any of a campaign's fields but its slug, which links and the shop's reports carry
    for good. Each is checked against the campaign as it will be (the domain does that:
    amounts need its currency, the fallback its domains). The currency changes only while
    no order or commission refers to the campaign; rules apply to orders recorded from
    then on."""

    class Meta:
        exclude = ("slug",)

    def _check(self, data: dict[str, Any], **_: Any) -> None:
        """Only what needs no other field; the rest is the domain's (change_campaign)."""
        for name in ("starts_on", "ends_on"):
            day = data.get(name)
            if day and not year_in_range(day.year):
                raise ValidationError({name: [YEAR_RULE]})

    _check = validates_schema(_check)

    def _convert(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return data

    _convert = post_load(_convert)


def _shown(field: fields.Field[Any]) -> dict[str, Any]:
    """An answer's field as its request field describes it (one description of each)."""
    return {key: field.metadata[key] for key in ("description", "example") if key in field.metadata}


_IN = CampaignIn._declared_fields


class CampaignOut(Schema):
    id = fields.String(metadata={"example": EXAMPLE_ID["cmp"]})
    name = fields.String(metadata=_shown(_IN["name"]))
    slug = fields.String(metadata=_shown(_IN["slug"]))
    goal = fields.String(metadata=_shown(_IN["goal"]))
    kind = fields.String(metadata=_shown(_IN["kind"]))
    currency = fields.String(metadata=_shown(_IN["currency"]))
    starts_on = fields.Date(metadata=_shown(_IN["starts_on"]))
    ends_on = fields.Date(allow_none=True, metadata=_shown(_IN["ends_on"]))
    budget = fields.Method(
        "_budget", metadata={"type": "string", "nullable": True, **_shown(_IN["budget"])}
    )
    monthly_cap_per_influencer = fields.Method(
        "_cap",
        metadata={
            "type": "string",
            "nullable": True,
            **_shown(_IN["monthly_cap_per_influencer"]),
        },
    )
    allowed_domains = fields.List(fields.String(), metadata=_shown(_IN["allowed_domains"]))
    fallback_url = fields.String(metadata=_shown(_IN["fallback_url"]))
    attribution_window_days = fields.Integer(metadata=_shown(_IN["attribution_window_days"]))
    hold_days = fields.Integer(metadata=_shown(_IN["hold_days"]))
    utm_medium = fields.String(metadata=_shown(_IN["utm_medium"]))
    commission_rules = fields.List(
        Tagged("type", RULE_VARIANTS),
        metadata={
            "description": "what the influencers earn, unless a partnership has rules of its own",
            "example": _IN["commission_rules"].metadata["example"],
        },
    )
    media_value_rates = fields.Method(
        "_value_rates",
        metadata={
            "type": "object",
            "nullable": True,
            "description": "the rates the campaign's media value is computed with: its own, "
            f"else the defaults (in {REFERENCE_CURRENCY} only); null: none",
            "example": {"instagram": DEFAULT_RATES["instagram"]},
        },
    )
    media_value_rates_are_defaults = fields.Method(
        "_value_defaults",
        metadata={
            "type": "boolean",
            "description": "whether those rates are afftrack's illustrative defaults (the "
            "campaign has none of its own)",
            "example": True,
        },
    )
    created_at = fields.DateTime(metadata={"example": "2026-09-28T10:00:00Z"})

    def _value_rates(self, c: Campaign) -> dict[str, dict[str, str]] | None:
        table, _ = media_value_rates(c)
        return None if table is None else rates_json(table, c.currency)

    def _value_defaults(self, c: Campaign) -> bool:
        return media_value_rates(c)[1]

    def _budget(self, c: Campaign) -> str | None:
        return money_out(c.budget_minor, c.currency)

    def _cap(self, c: Campaign) -> str | None:
        return money_out(c.monthly_cap_minor, c.currency)


class PartnershipIn(Schema):
    influencer_id = Id(required=True, metadata=_about("the influencer to enrol", EXAMPLE_ID["inf"]))
    commission_rules = rules_field(
        [{"type": "tiered_percent", **RULE_EXAMPLES["tiered_percent"]}],
        "The influencer's own rules, in place of the campaign's; null or absent: the campaign's. ",
        load_default=None,
        allow_none=True,
    )


class PartnershipChange(Change):
    commission_rules = rules_field(
        [{"type": "percent", "rate": "12.5"}],
        "The influencer's own rules, in place of the campaign's, for orders recorded from "
        "now on; null: the campaign's. ",
        allow_none=True,
    )


class PartnershipOut(Schema):
    id = fields.String(metadata={"example": EXAMPLE_ID["prt"]})
    campaign_id = fields.String(metadata={"example": EXAMPLE_ID["cmp"]})
    influencer_id = fields.String(metadata={"example": EXAMPLE_ID["inf"]})
    commission_rules = fields.List(
        Tagged("type", RULE_VARIANTS),
        allow_none=True,
        metadata={
            "description": "the influencer's own rules; null: the campaign's",
            "example": [{"type": "tiered_percent", **RULE_EXAMPLES["tiered_percent"]}],
        },
    )
    effective_rules = fields.List(
        Tagged("type", RULE_VARIANTS),
        metadata={
            "description": "the rules that apply: their own, else the campaign's",
            "example": [{"type": "tiered_percent", **RULE_EXAMPLES["tiered_percent"]}],
        },
    )
    created_at = fields.DateTime(metadata={"example": "2026-09-28T10:10:00Z"})


class CampaignQuery(ListQuery):
    slug = fields.String(validate=validate.Length(max=CODE_MAX_LENGTH))


class PartnershipQuery(ListQuery):
    influencer_id = Id()


__all__ = [
    "CampaignChange",
    "CampaignIn",
    "CampaignOut",
    "Partnership",
    "PartnershipChange",
    "PartnershipIn",
    "PartnershipOut",
]
