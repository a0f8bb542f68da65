from __future__ import annotations

from marshmallow import Schema, fields, validate

from service.influencers.models import Influencer
from service.influencers.tiers import tier_for
from service.schemas import PLATFORMS, Change, Id, ListQuery, Pattern
from service.vocabulary import HANDLE_PATTERN, HANDLE_RULE


class PlatformAccountIn(Schema):
    platform = fields.String(required=True, validate=validate.OneOf(PLATFORMS))
    handle = fields.String(required=True, validate=validate.Length(min=1, max=100))
    followers = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=0, max=10**12)
    )


class InfluencerIn(Schema):
    handle = fields.String(
        required=True,
        validate=Pattern(HANDLE_PATTERN, error=HANDLE_RULE),
    )
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    email = fields.Email(required=True, validate=validate.Length(max=254))
    payout_email = fields.Email(
        load_default=None, allow_none=True, validate=validate.Length(max=254)
    )
    platforms = fields.List(
        fields.Nested(PlatformAccountIn), load_default=list, validate=validate.Length(max=20)
    )


class InfluencerChange(Change, InfluencerIn):
    """Any of an influencer's fields but its handle, which names it for good (links,
    codes and exports carry it). ``platforms``, when sent, replaces the list."""

    class Meta:
        exclude = ("handle",)


class PlatformAccountOut(Schema):
    platform = fields.String()
    handle = fields.String()
    followers = fields.Integer()


class InfluencerOut(Schema):
    id = fields.String()
    handle = fields.String()
    name = fields.String()
    email = fields.String()
    payout_email = fields.String(allow_none=True)
    tier = fields.Method("_tier")
    platforms = fields.List(fields.Nested(PlatformAccountOut))
    created_at = fields.DateTime()

    def _tier(self, influencer: Influencer) -> str:
        return tier_for(p.followers for p in influencer.platforms)


class InfluencerQuery(ListQuery):
    handle = Id()
    q = fields.String(
        validate=validate.Length(max=100),
        metadata={"description": "text found in the handle, name or email (any case)"},
    )
