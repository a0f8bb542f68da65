from __future__ import annotations

from marshmallow import Schema, fields, validate

from service.schemas import EXAMPLE_ID, PLATFORMS, Id, ListQuery, Url
from service.vocabulary import (
    CODE_MAX_LENGTH,
    QR_SCALE_DEFAULT,
    QR_SCALE_MAX,
    QR_SCALE_MIN,
    VANITY_MIN_LENGTH,
)

_DESTINATION = "the shop page the link opens, on one of the campaign's allowed domains"


class LinkIn(Schema):
    campaign_id = Id(required=True, metadata={"example": EXAMPLE_ID["cmp"]})
    influencer_id = Id(
        required=True,
        metadata={"description": "a partner of the campaign", "example": EXAMPLE_ID["inf"]},
    )
    destination = Url(
        required=True,
        metadata={"description": _DESTINATION, "example": "https://shop.example/autumn?ref=bio"},
    )
    platform = fields.String(
        required=True,
        validate=validate.OneOf(PLATFORMS),
        metadata={
            "description": "where the link is posted; sent as `utm_source`",
            "example": "instagram",
        },
    )
    slug = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=VANITY_MIN_LENGTH, max=CODE_MAX_LENGTH),
        metadata={
            "description": "a vanity code for the short URL (letters, digits, `-`, `_`); "
            "null or absent: a generated one",
            "example": "anna-autumn",
        },
    )


class LinkPatch(Schema):
    status = fields.String(
        validate=validate.OneOf(("active", "paused")),
        metadata={
            "description": "`paused`: the link sends followers to the campaign's "
            "`fallback_url` and earns nothing; `active`: as before",
            "example": "paused",
        },
    )
    destination = Url(
        metadata={"description": _DESTINATION, "example": "https://shop.example/winter"}
    )


class LinkOut(Schema):
    id = fields.String(metadata={"example": EXAMPLE_ID["lnk"]})
    code = fields.String(metadata={"description": "the short URL's code", "example": "3A7ALr9b"})
    campaign_id = fields.String(metadata={"example": EXAMPLE_ID["cmp"]})
    influencer_id = fields.String(metadata={"example": EXAMPLE_ID["inf"]})
    partnership_id = fields.String(metadata={"example": EXAMPLE_ID["prt"]})
    destination = fields.String(metadata={"example": "https://shop.example/autumn?ref=bio"})
    platform = fields.String(metadata={"example": "instagram"})
    status = fields.String(metadata={"description": "`active` or `paused`", "example": "active"})
    short_url = fields.String(
        metadata={
            "description": "the link to post",
            "example": "https://go.example.com/r/3A7ALr9b",
        }
    )
    tracked_url = fields.String(
        metadata={
            "description": "where it sends followers: `destination` with the UTM parameters "
            "(the click id is added per click)",
            "example": "https://shop.example/autumn?ref=bio&utm_source=instagram"
            "&utm_medium=influencer&utm_campaign=autumn-2026&utm_content=anna.travels",
        }
    )
    created_at = fields.DateTime(metadata={"example": "2026-09-28T10:20:00Z"})


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
