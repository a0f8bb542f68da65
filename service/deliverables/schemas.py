from __future__ import annotations

from marshmallow import Schema, fields, validate

from service.schemas import PLATFORMS, Id, ListQuery, Url

METRICS = ("impressions", "reach", "views", "likes", "comments", "shares", "saves")


class DeliverableIn(Schema):
    campaign_id = Id(required=True)
    influencer_id = Id(required=True)
    platform = fields.String(required=True, validate=validate.OneOf(PLATFORMS))
    url = Url(required=True)
    posted_at = fields.AwareDateTime(required=True)
    metrics = fields.Dict(
        keys=fields.String(validate=validate.OneOf(METRICS)),
        values=fields.Integer(strict=True, validate=validate.Range(min=0, max=10**13)),
        load_default=dict,
    )


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
