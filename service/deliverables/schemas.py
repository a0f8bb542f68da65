from __future__ import annotations

from marshmallow import Schema, fields, validate

from service.schemas import PLATFORMS, Id, ListQuery, Url, in_years

METRICS = ("impressions", "reach", "views", "likes", "comments", "shares", "saves")
METRIC_MAX = 10**13


# A post's figures: any of METRICS, each a whole number from 0.
MetricsIn = Schema.from_dict(
    {
        name: fields.Integer(strict=True, validate=validate.Range(min=0, max=METRIC_MAX))
        for name in METRICS
    },
    name="MetricsIn",
)


class DeliverableIn(Schema):
    campaign_id = Id(required=True)
    influencer_id = Id(required=True)
    platform = fields.String(required=True, validate=validate.OneOf(PLATFORMS))
    url = Url(required=True)
    posted_at = fields.AwareDateTime(required=True, metadata=in_years(time=True))
    metrics = fields.Nested(MetricsIn, load_default=dict)


class DeliverableOut(Schema):
    id = fields.String()
    campaign_id = fields.String()
    influencer_id = fields.String()
    platform = fields.String()
    url = fields.String()
    posted_at = fields.DateTime()
    metrics = fields.Dict()
    status = fields.String()
    approved_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class DeliverableQuery(ListQuery):
    campaign_id = Id()
    influencer_id = Id()
