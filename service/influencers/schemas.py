from __future__ import annotations

from marshmallow import Schema, fields, validate

from service.influencers.models import Influencer
from service.influencers.tiers import tier_for
from service.schemas import EXAMPLE_ID, PLATFORMS, Change, Id, ListQuery, Pattern
from service.vocabulary import HANDLE_PATTERN, HANDLE_RULE


class PlatformAccountIn(Schema):
    platform = fields.String(
        required=True,
        validate=validate.OneOf(PLATFORMS),
        metadata={"description": "where the account is", "example": "instagram"},
    )
    handle = fields.String(
        required=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "the account's name there", "example": "anna.travels"},
    )
    followers = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=0, max=10**12),
        metadata={
            "description": "its followers, a whole number; the largest count sets the tier",
            "example": 48200,
        },
    )


class InfluencerIn(Schema):
    handle = fields.String(
        required=True,
        validate=Pattern(HANDLE_PATTERN, error=HANDLE_RULE),
        metadata={
            "description": "unique; lower-case letters, digits, `.`, `_` and `-`, 2 to 40; "
            "sent to the shop as `utm_content`",
            "example": "anna.travels",
        },
    )
    name = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "the person's name", "example": "Anna Berg"},
    )
    email = fields.Email(
        required=True,
        validate=validate.Length(max=254),
        metadata={"description": "where to reach them", "example": "anna@example.com"},
    )
    payout_email = fields.Email(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=254),
        metadata={
            "description": "the PayPal address the PayPal export pays; null: `email`",
            "example": "pay@annaberg.example",
        },
    )
    platforms = fields.List(
        fields.Nested(PlatformAccountIn),
        load_default=list,
        validate=validate.Length(max=20),
        metadata={"description": "their accounts; none: tier `emerging`"},
    )


class InfluencerChange(Change, InfluencerIn):
    """Any of an influencer's fields but its handle, which names it for good (links,
    codes and exports carry it). ``platforms``, when sent, replaces the list."""

    class Meta:
        exclude = ("handle",)


class PlatformAccountOut(Schema):
    platform = fields.String(metadata={"example": "instagram"})
    handle = fields.String(metadata={"example": "anna.travels"})
    followers = fields.Integer(metadata={"example": 48200})


class InfluencerOut(Schema):
    id = fields.String(metadata={"example": EXAMPLE_ID["inf"]})
    handle = fields.String(metadata={"example": "anna.travels"})
    name = fields.String(metadata={"example": "Anna Berg"})
    email = fields.String(metadata={"example": "anna@example.com"})
    payout_email = fields.String(allow_none=True, metadata={"example": "pay@annaberg.example"})
    tier = fields.Method(
        "_tier",
        metadata={
            "type": "string",
            "description": "derived from the largest follower count (emerging, nano, micro, "
            "macro or mega)",
            "example": "micro",
        },
    )
    platforms = fields.List(fields.Nested(PlatformAccountOut))
    created_at = fields.DateTime(metadata={"example": "2026-09-28T10:15:00Z"})

    def _tier(self, influencer: Influencer) -> str:
        return tier_for(p.followers for p in influencer.platforms)


# The longest text a search (``?q=``, a dashboard picker) looks for.
SEARCH_MAX = 100


class InfluencerQuery(ListQuery):
    handle = Id()
    q = fields.String(
        validate=validate.Length(max=SEARCH_MAX),
        metadata={"description": "text found in the handle, name or email (any case)"},
    )
