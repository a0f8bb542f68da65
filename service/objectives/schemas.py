"""An objective as the API takes it and shows it, and its progress (docs/objectives.md)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from service.objectives.models import Objective
from service.reports.objectives import format_value
from service.schemas import EXAMPLE_ID, Change, Id, in_years
from service.vocabulary import KPIS, OBJECTIVE_SCOPES, OBJECTIVE_STATUSES, YEAR_RULE, year_in_range

_TARGET = (
    "the value to reach, in the KPI's unit: a count as a whole number (`5000`), money as a "
    'decimal in the campaign\'s currency (`"12000.00"`), a rate as a fraction with up to 4 '
    'decimals (`"0.0250"` is 2.5 %); for cost_per_acquisition and cost_per_click a ceiling'
)


# A value in a KPI's unit: a count is a JSON number, money and rates decimal strings.
NUMBER_OR_TEXT = {"oneOf": [{"type": "integer"}, {"type": "string"}]}


class Target(fields.String):
    """A target as typed: a decimal string, or a whole number (a count)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        return super()._deserialize(value, attr, data, **kwargs)


class ObjectiveIn(Schema):
    kpi = fields.String(
        required=True,
        validate=validate.OneOf(KPIS),
        metadata={"description": "what is measured (docs/objectives.md)", "example": "revenue"},
    )
    target = Target(
        required=True,
        validate=validate.Length(min=1, max=40),
        metadata={"description": _TARGET, "example": "12000.00"},
    )
    starts_on = fields.Date(
        load_default=None,
        metadata={
            **in_years(),
            "description": "the first day counted; absent: the campaign's first day",
            "example": "2026-10-01",
        },
    )
    deadline = fields.Date(
        required=True,
        metadata={
            **in_years(),
            "description": "the last day counted, not before the start",
            "example": "2026-10-31",
        },
    )
    scope = fields.String(
        load_default="campaign",
        validate=validate.OneOf(OBJECTIVE_SCOPES),
        metadata={
            "description": "`campaign`: the target is for the campaign as a whole; "
            "`influencer`: for one partner (`influencer_id`) or, without one, for each partner",
            "example": "campaign",
        },
    )
    influencer_id = Id(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "with scope `influencer`: the partner the target is for; "
            "null: each partner",
            "example": None,
        },
    )

    @validates_schema
    def _check(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, list[str]] = {}
        for name in ("starts_on", "deadline"):
            day = data.get(name)
            if day is not None and not year_in_range(day.year):
                errors[name] = [YEAR_RULE]
        start, deadline = data.get("starts_on"), data.get("deadline")
        if start and deadline and deadline < start and "deadline" not in errors:
            errors["deadline"] = ["must not be before starts_on"]
        if errors:
            raise ValidationError(errors)


class ObjectiveChange(Change, ObjectiveIn):
    """Any of an objective's fields; each is checked against the objective as it will be."""


class ObjectiveOut(Schema):
    id = fields.String(metadata={"example": EXAMPLE_ID["obj"]})
    campaign_id = fields.String(metadata={"example": EXAMPLE_ID["cmp"]})
    kpi = fields.String(metadata={"example": "revenue"})
    target = fields.Method(
        "_target",
        metadata={
            **NUMBER_OR_TEXT,
            "description": "as typed, in the KPI's unit (a count is a JSON number)",
            "example": "12000.00",
        },
    )
    starts_on = fields.Date(metadata={"example": "2026-10-01"})
    deadline = fields.Date(metadata={"example": "2026-10-31"})
    scope = fields.String(metadata={"example": "campaign"})
    influencer_id = fields.String(allow_none=True, metadata={"example": None})
    created_at = fields.DateTime(metadata={"example": "2026-09-28T10:00:00Z"})
    updated_at = fields.DateTime(metadata={"example": "2026-09-28T10:00:00Z"})

    def _target(self, o: Objective) -> Any:
        return format_value(o.kpi, o.target, o.campaign.currency)


class ObjectiveList(Schema):
    items = fields.List(fields.Nested(ObjectiveOut))
    suggested_kpis = fields.List(
        fields.String(),
        metadata={
            "description": "the KPIs the campaign's goal suggests (any may be chosen)",
            "example": ["conversions", "revenue", "roi", "cost_per_acquisition"],
        },
    )


_VALUE = {
    **NUMBER_OR_TEXT,
    "nullable": True,
    "description": "in the KPI's unit, as `target` (a count is a JSON number)",
}


class PartnerProgress(Schema):
    influencer_id = fields.String(metadata={"example": EXAMPLE_ID["inf"]})
    handle = fields.String(allow_none=True, metadata={"example": "anna"})
    actual = fields.Raw(metadata=_VALUE)
    percent_reached = fields.String(allow_none=True, metadata={"example": "62.5"})
    pace = fields.Raw(metadata=_VALUE)
    forecast = fields.Raw(metadata=_VALUE)
    forecast_method = fields.String()
    status = fields.String(
        allow_none=True, metadata={"enum": list(OBJECTIVE_STATUSES), "example": "behind"}
    )
    reason = fields.String(allow_none=True)
    below_pace = fields.Boolean(
        metadata={"description": "behind the pace today (or missed)", "example": True}
    )


class Contribution(Schema):
    influencer_id = fields.String(metadata={"example": EXAMPLE_ID["inf"]})
    handle = fields.String(allow_none=True, metadata={"example": "anna"})
    actual = fields.Raw(
        metadata={
            **_VALUE,
            "description": "the partner's own value of the KPI over the objective's days "
            "(null: a rate over nothing yet, or a KPI afftrack cannot measure yet)",
            "example": "4000.00",
        }
    )
    share = fields.String(
        allow_none=True,
        metadata={
            "description": "a total of the whole campaign: the partner's actual / the "
            "campaign's actual * 100, 1 decimal, half-even; null for a rate or a cost per "
            "result, a per-influencer objective, and a campaign with nothing yet",
            "example": "66.7",
        },
    )
    percent_reached = fields.String(
        allow_none=True,
        metadata={
            "description": "a per-influencer objective: the partner's own percent reached",
            "example": None,
        },
    )
    status = fields.String(
        allow_none=True,
        metadata={
            "enum": list(OBJECTIVE_STATUSES),
            "description": "a per-influencer objective: the partner's own status; null for "
            "the whole campaign's",
            "example": "behind",
        },
    )
    below_target = fields.Boolean(
        metadata={
            "description": "a per-influencer objective: the partner is below its pace today "
            "(after the deadline: missed); always false for the whole campaign's",
            "example": False,
        }
    )


class ObjectiveProgress(Schema):
    id = fields.String(metadata={"example": EXAMPLE_ID["obj"]})
    kpi = fields.String(metadata={"example": "revenue"})
    scope = fields.String(metadata={"example": "campaign"})
    influencer_id = fields.String(allow_none=True, metadata={"example": None})
    starts_on = fields.String(metadata={"example": "2026-10-01"})
    deadline = fields.String(metadata={"example": "2026-10-31"})
    target = fields.Raw(metadata={**_VALUE, "nullable": False, "example": "10000.00"})
    actual = fields.Raw(
        metadata={
            **_VALUE,
            "description": "the value from the start to today (to the deadline once it has "
            "passed); null for a rate over nothing yet, a KPI that cannot be measured for "
            "the campaign (media value without rates for its currency or platforms: "
            "`reason` says why), "
            "and an objective for each partner (see `partners`)",
            "example": "6000.00",
        }
    )
    percent_reached = fields.String(
        allow_none=True,
        metadata={
            "description": "actual / target * 100 (a ceiling: target / actual * 100), 1 decimal",
            "example": "60.0",
        },
    )
    pace = fields.Raw(
        metadata={
            **_VALUE,
            "description": "where a straight line from the start to the target on the "
            "deadline stands today (a rate's or a cost's pace is its target)",
            "example": "6666.67",
        }
    )
    forecast = fields.Raw(
        metadata={
            **_VALUE,
            "description": "the value expected on the deadline",
            "example": "9000.00",
        }
    )
    forecast_method = fields.String(
        metadata={
            "description": "how the forecast was made",
            "example": "actual + the mean of the last 7 complete days times 10 days left",
        }
    )
    status = fields.String(
        allow_none=True,
        metadata={
            "enum": list(OBJECTIVE_STATUSES),
            "description": "null when the KPI cannot be measured (see `reason`); for each "
            "partner, the worst of theirs",
            "example": "behind",
        },
    )
    reason = fields.String(
        allow_none=True,
        metadata={"description": "why `actual` is null, when it is not just nothing yet"},
    )
    partners_below_pace = fields.Integer(
        metadata={"description": "an objective for each partner: how many are below pace"}
    )
    partners = fields.List(
        fields.Nested(PartnerProgress),
        allow_none=True,
        metadata={
            "description": "scope `influencer`: each partner's own progress, those below "
            "pace first; null for the campaign as a whole"
        },
    )
    contributions = fields.List(
        fields.Nested(Contribution),
        allow_none=True,
        metadata={
            "description": "with `?contributions=true` (else null): each partner the "
            "objective applies to (every partner for the whole campaign's), the biggest "
            "contribution first (the lowest for a cost per result; no value last, ties by "
            "handle): its own value, its share of a total"
        },
    )


class ProgressQuery(Schema):
    contributions = fields.Boolean(
        load_default=False,
        metadata={
            "description": "each partner's contribution to each objective "
            "(`contributions`); off by default: with a thousand partners it is most of the "
            "answer"
        },
    )


class ProgressOut(Schema):
    campaign_id = fields.String(metadata={"example": EXAMPLE_ID["cmp"]})
    currency = fields.String(metadata={"example": "EUR"})
    today = fields.String(metadata={"description": "the UTC day judged", "example": "2026-10-21"})
    suggested_kpis = fields.List(fields.String(), metadata={"example": ["conversions"]})
    objectives = fields.List(fields.Nested(ObjectiveProgress))
