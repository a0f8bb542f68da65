"""The brand's side of the portal: invite an influencer, revoke their access, read the
record (/api/v1/influencers/<id>/portal-…); the influencer's payout e-mail requests,
listed, confirmed or declined (…/payout-requests; docs/portal.md)."""

from __future__ import annotations

from typing import Any

from flask import request

from service.clicks.identity import client_address
from service.http.auth import current_key, require
from service.http.context import services, session, settings
from service.http.contract import JSON_BODY, QUERY, Blueprint, page_of
from service.influencers.service import get_influencer
from service.paging import Page
from service.portal import access, payout
from service.portal.models import PayoutChangeRequest, PortalEvent
from service.portal.schemas import (
    InviteOut,
    PayoutDeclineIn,
    PayoutRequestOut,
    PayoutRequestQuery,
    PortalEventOut,
    PortalEventQuery,
    RevokeOut,
)

bp = Blueprint("portal_access", __name__, url_prefix="/api/v1/influencers")
payout_bp = Blueprint("payout_requests", __name__, url_prefix="/api/v1/payout-requests")


def address_hash() -> str | None:
    """The request's client address as the portal's record keeps it (keyed-hashed),
    believing ``AFFTRACK_TRUSTED_PROXIES`` hops of X-Forwarded-For as the redirect
    does: the brand's routes, the dashboard's portal actions and the portal's pages."""
    address = client_address(
        request.remote_addr, request.headers.get("X-Forwarded-For"), settings().trusted_proxies
    )
    return access.hash_address(settings().ip_hash_key, address)


@bp.route("/<influencer_id>/portal-invites", methods=["POST"])
@require("write")
@bp.response(201, InviteOut)
@bp.errors(404)
def invite(influencer_id: str) -> dict[str, Any]:
    """Invite an influencer to the portal

    A new one-time sign-in link, valid `AFFTRACK_PORTAL_INVITE_DAYS` days (7 unless set).
    With a mail server set up (`AFFTRACK_SMTP_URL`) it is mailed to the influencer's
    address; otherwise, or when the mail fails, `mailed` is false and the link is for
    copying. Each call makes another link; earlier ones keep working until used,
    expired or revoked."""
    sent = access.invite_and_mail(
        services().db,
        settings(),
        influencer_id,
        actor=current_key().id,
        address_hash=address_hash(),
    )
    return {
        "influencer_id": influencer_id,
        "sign_in_url": sent.url,
        "expires_at": sent.expires_at,
        "mailed": sent.mailed.mailed,
        "mail_error": sent.mailed.reason,
    }


@bp.route("/<influencer_id>/portal-access/revoke", methods=["POST"])
@require("write")
@bp.response(200, RevokeOut)
@bp.errors(404)
def revoke(influencer_id: str) -> dict[str, Any]:
    """Revoke an influencer's portal access

    Every unused sign-in link is refused from now on and every open portal session ends
    at once. Repeating it ends nothing more. Until the brand invites the influencer
    again, no link is sent when they ask for one by e-mail at the portal."""
    s = session()
    done = access.revoke_all(
        s, get_influencer(s, influencer_id), actor=current_key().id, address_hash=address_hash()
    )
    s.commit()
    return {
        "influencer_id": influencer_id,
        "links_ended": done.links,
        "sessions_ended": done.sessions,
    }


@bp.route("/<influencer_id>/portal-events", methods=["GET"])
@require("read")
@bp.arguments(PortalEventQuery, location="query")
@bp.response(200, page_of(PortalEventOut))
@bp.errors(QUERY, 404)
def events(query: dict[str, Any], influencer_id: str) -> Page[PortalEvent]:
    """List an influencer's portal events

    Invitations, mails, sign-ins, refused links (and why), links asked for by e-mail,
    sign-outs and revocations, oldest first; who, when, and the address keyed-hashed."""
    s = session()
    get_influencer(s, influencer_id)
    return access.list_events(s, influencer_id, query.get("cursor"), query["limit"])


@bp.route("/<influencer_id>/payout-requests", methods=["GET"])
@require("read")
@bp.arguments(PayoutRequestQuery, location="query")
@bp.response(200, page_of(PayoutRequestOut))
@bp.errors(QUERY, 404)
def payout_requests(query: dict[str, Any], influencer_id: str) -> Page[PayoutChangeRequest]:
    """List an influencer's payout e-mail requests

    Every change of payout e-mail the influencer asked for at the portal, oldest first:
    open (`requested`), confirmed, declined (and why) or withdrawn. At most one is open."""
    s = session()
    get_influencer(s, influencer_id)
    return payout.list_requests(s, influencer_id, query.get("cursor"), query["limit"])


@payout_bp.route("/<request_id>/confirm", methods=["POST"])
@require("write")
@payout_bp.response(200, PayoutRequestOut)
@payout_bp.errors(404, _409="the request is closed: declined, or withdrawn by the influencer")
def confirm(request_id: str) -> PayoutChangeRequest:
    """Confirm a payout e-mail request

    The influencer's payout e-mail becomes the address asked for (recorded in their
    history with your key). Confirming again changes nothing."""
    s = session()
    row = payout.confirm(s, request_id, current_key().id)
    s.commit()
    return row


@payout_bp.route("/<request_id>/decline", methods=["POST"])
@require("write")
@payout_bp.arguments(PayoutDeclineIn)
@payout_bp.response(200, PayoutRequestOut)
@payout_bp.errors(
    JSON_BODY, 404, _409="the request is closed: confirmed, or withdrawn by the influencer"
)
def decline(data: dict[str, Any], request_id: str) -> PayoutChangeRequest:
    """Decline a payout e-mail request

    The payout e-mail stays as it is; the influencer sees the reason on their portal.
    Declining again changes nothing."""
    s = session()
    row = payout.decline(s, request_id, data["reason"], current_key().id)
    s.commit()
    return row
