from __future__ import annotations

from marshmallow import Schema, fields, validate

from service.schemas import EXAMPLE_ID, PLATFORMS, Change, Id, ListQuery, Url, in_years
from service.vocabulary import DELIVERABLE_STATUSES, POST_METRICS

METRICS = POST_METRICS
METRIC_MAX = 10**13
METRIC_EXAMPLE = (61000, 40300, 52000, 2900, 180, 95, 410)


# A post's figures: any of METRICS, each a whole number from 0.
MetricsIn = Schema.from_dict(
    {
        name: fields.Integer(
            strict=True,
            validate=validate.Range(min=0, max=METRIC_MAX),
            metadata={"description": f"the post's {name}, a whole number", "example": example},
        )
        for name, example in zip(METRICS, METRIC_EXAMPLE, strict=True)
    },
    name="MetricsIn",
)


class DeliverableIn(Schema):
    campaign_id = Id(required=True, metadata={"example": EXAMPLE_ID["cmp"]})
    influencer_id = Id(
        required=True,
        metadata={"description": "a partner of the campaign", "example": EXAMPLE_ID["inf"]},
    )
    platform = fields.String(
        required=True,
        validate=validate.OneOf(PLATFORMS),
        metadata={"description": "where it was posted", "example": "instagram"},
    )
    url = Url(
        required=True,
        metadata={"description": "the post", "example": "https://www.instagram.com/p/C9x2kQ/"},
    )
    posted_at = fields.AwareDateTime(
        required=True,
        metadata={
            "description": "when it was published, with its UTC offset; "
            + in_years(time=True)["description"],
            "example": "2026-10-05T17:00:00Z",
        },
    )
    link_id = Id(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "the tracked link the post promotes, one of this influencer's "
            "links in the campaign (its clicks give the post's click-through rate); "
            "null: none",
            "example": EXAMPLE_ID["lnk"],
        },
    )
    metrics = fields.Nested(
        MetricsIn,
        load_default=dict,
        metadata={"description": "its figures so far; any of them, none required"},
    )


class DeliverableChange(Change):
    """A post's figures corrected or brought up to date, and the link it promotes; the
    rest of a post is as it was recorded."""

    link_id = Id(
        allow_none=True,
        metadata={
            "description": "the tracked link the post promotes, one of this influencer's "
            "links in the campaign; null: none",
            "example": EXAMPLE_ID["lnk"],
        },
    )
    metrics = fields.Nested(
        MetricsIn,
        metadata={
            "description": "its figures now; replaces the figures recorded (a figure left "
            "out is no longer known)",
            "example": dict(zip(METRICS[:2], METRIC_EXAMPLE[:2], strict=True)),
        },
    )


class DeliverableRejectIn(Schema):
    reason = fields.String(
        required=True,
        validate=validate.Length(min=1, max=1000),
        metadata={
            "description": "why the post is not accepted, for the influencer",
            "example": "the post does not show the discount code",
        },
    )


class DeliverableOut(Schema):
    id = fields.String(metadata={"example": EXAMPLE_ID["dlv"]})
    campaign_id = fields.String(metadata={"example": EXAMPLE_ID["cmp"]})
    influencer_id = fields.String(metadata={"example": EXAMPLE_ID["inf"]})
    platform = fields.String(metadata={"example": "instagram"})
    url = fields.String(metadata={"example": "https://www.instagram.com/p/C9x2kQ/"})
    posted_at = fields.DateTime(metadata={"example": "2026-10-05T17:00:00Z"})
    link_id = fields.String(
        allow_none=True,
        metadata={"description": "the tracked link the post promotes", "example": None},
    )
    metrics = fields.Dict(
        metadata={"description": "the figures given, by name", "example": {"likes": 2900}}
    )
    status = fields.String(
        metadata={
            "description": "`submitted`, then `approved` or `rejected`",
            "example": "submitted",
        }
    )
    approved_at = fields.DateTime(allow_none=True, metadata={"example": None})
    rejected_at = fields.DateTime(allow_none=True, metadata={"example": None})
    rejection_reason = fields.String(
        allow_none=True, metadata={"description": "why it was rejected", "example": None}
    )
    created_at = fields.DateTime(metadata={"example": "2026-10-06T09:00:00Z"})


class DeliverableQuery(ListQuery):
    campaign_id = Id()
    influencer_id = Id()
    status = fields.String(validate=validate.OneOf(DELIVERABLE_STATUSES))
