from __future__ import annotations

from marshmallow import Schema, fields, validate

from service.schemas import PLATFORMS, Id, ListQuery, Url
from service.vocabulary import (
    CODE_MAX_LENGTH,
    QR_SCALE_DEFAULT,
    QR_SCALE_MAX,
    QR_SCALE_MIN,
    VANITY_MIN_LENGTH,
)


class LinkIn(Schema):
    campaign_id = Id(required=True)
    influencer_id = Id(required=True)
    destination = Url(required=True)
    platform = fields.String(required=True, validate=validate.OneOf(PLATFORMS))
    slug = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=VANITY_MIN_LENGTH, max=CODE_MAX_LENGTH),
    )


class LinkPatch(Schema):
    status = fields.String(validate=validate.OneOf(("active", "paused")))
    destination = Url()


class LinkOut(Schema):
    id = fields.String()
    code = fields.String()
    campaign_id = fields.String()
    influencer_id = fields.String()
    partnership_id = fields.String()
    destination = fields.String()
    platform = fields.String()
    status = fields.String()
    short_url = fields.String()
    tracked_url = fields.String()
    created_at = fields.DateTime()


class LinkQuery(ListQuery):
    campaign_id = Id()
    influencer_id = Id()
    status = fields.String(validate=validate.OneOf(("active", "paused")))


class QrQuery(Schema):
    scale = fields.Integer(
        load_default=QR_SCALE_DEFAULT,
        validate=validate.Range(min=QR_SCALE_MIN, max=QR_SCALE_MAX),
        metadata={"description": "pixels (PNG) or SVG units per module of the code"},
    )
