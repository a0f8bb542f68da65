"""What the brand's API says about portal access and payout e-mail requests, and the
portal's payout e-mail form (docs/portal.md)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from service.portal.access import EVENT_KINDS
from service.portal.payout import STATUSES
from service.schemas import EXAMPLE_ID, ListQuery

INFLUENCER = EXAMPLE_ID["inf"]


class InviteOut(Schema):
    influencer_id = fields.String(metadata={"example": INFLUENCER})
    sign_in_url = fields.String(
        metadata={
            "description": "the one-time sign-in link; shown once, only its hash is kept",
            "example": "https://go.brand.example/portal/sign-in/"
            "Xb3kq0yW7pLr2sV9nM4cT8hJ1dF6gA5eZ0uQ7wR2tY8",
        }
    )
    expires_at = fields.DateTime(
        metadata={
            "description": "when the link stops working (AFFTRACK_PORTAL_INVITE_DAYS)",
            "example": "2026-10-08T09:00:00Z",
        }
    )
    mailed = fields.Boolean(
        metadata={"description": "whether afftrack mailed the link to the influencer"}
    )
    mail_error = fields.String(
        allow_none=True,
        metadata={
            "description": "why it was not mailed (no mail server set up, or the server's "
            "refusal); null when mailed. The link works either way: copy it to them",
            "example": None,
        },
    )


class RevokeOut(Schema):
    influencer_id = fields.String(metadata={"example": INFLUENCER})
    links_ended = fields.Integer(
        metadata={"description": "unused sign-in links refused from now on", "example": 1}
    )
    sessions_ended = fields.Integer(
        metadata={"description": "portal sessions signed out now", "example": 1}
    )


class PortalEventOut(Schema):
    id = fields.String(metadata={"example": "pev_01m98bw9ekkm9eeetcdzwd9e7j"})
    influencer_id = fields.String(metadata={"example": INFLUENCER})
    kind = fields.String(
        validate=validate.OneOf(EVENT_KINDS),
        metadata={"description": "what happened", "example": "signed_in"},
    )
    actor = fields.String(
        metadata={
            "description": "who did it: an API key's id, `cli`, or `influencer`",
            "example": "influencer",
        }
    )
    reason = fields.String(
        allow_none=True,
        metadata={
            "description": "why (a refused link: used, expired, revoked or unknown)",
            "example": None,
        },
    )
    address_hash = fields.String(
        allow_none=True,
        metadata={
            "description": "the client's address, keyed-hashed (never the address)",
            "example": "3f0c5d5e9a1b2c4d6e7f8091a2b3c4d5",
        },
    )
    at = fields.DateTime(metadata={"example": "2026-10-01T09:05:00Z"})


class PortalEventQuery(ListQuery):
    pass


class PayoutRequestOut(Schema):
    id = fields.String(metadata={"example": "pcr_01m98bw9ekkm9eeetcdzwd9e7j"})
    influencer_id = fields.String(metadata={"example": INFLUENCER})
    email = fields.String(
        metadata={"description": "the payout e-mail asked for", "example": "new@anna.example"}
    )
    status = fields.String(
        validate=validate.OneOf(STATUSES),
        metadata={
            "description": "`requested` (open: the brand has to decide), `confirmed` (the "
            "payout e-mail is now this address), `declined` (by the brand, with a reason), "
            "`withdrawn` (by the influencer, or replaced by their request for another "
            "address)",
            "example": "requested",
        },
    )
    requested_at = fields.DateTime(metadata={"example": "2026-10-01T09:05:00Z"})
    decided_at = fields.DateTime(allow_none=True, metadata={"example": None})
    decided_by = fields.String(
        allow_none=True,
        metadata={
            "description": "who closed it: an API key's id, or `portal:<influencer id>` "
            "(the influencer)",
            "example": None,
        },
    )
    reason = fields.String(
        allow_none=True,
        metadata={"description": "why it was declined or withdrawn", "example": None},
    )


class PayoutRequestQuery(ListQuery):
    pass


class PayoutDeclineIn(Schema):
    reason = fields.String(
        required=True,
        validate=validate.Length(min=1, max=1000),
        metadata={
            "description": "why the address is not taken, for the influencer",
            "example": "please use the PayPal address of your company",
        },
    )


class PayoutEmailIn(Schema):
    """The portal's form: the payout e-mail the influencer asks for."""

    email = fields.Email(required=True, validate=validate.Length(max=254))
