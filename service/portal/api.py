"""The brand's side of portal access: invite an influencer, revoke their access, read
the record (/api/v1/influencers/<id>/portal-…; docs/portal.md)."""

from __future__ import annotations

from typing import Any

from flask import request

from service.http.auth import current_key, require
from service.http.context import services, session, settings
from service.http.contract import QUERY, Blueprint, page_of
from service.influencers.service import get_influencer
from service.paging import Page
from service.portal import access
from service.portal.models import PortalEvent
from service.portal.schemas import InviteOut, PortalEventOut, PortalEventQuery, RevokeOut

bp = Blueprint("portal_access", __name__, url_prefix="/api/v1/influencers")


def _address_hash() -> str | None:
    return access.hash_address(settings().ip_hash_key, request.remote_addr)


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
        address_hash=_address_hash(),
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
    at once. Repeating it ends nothing more."""
    s = session()
    done = access.revoke_all(
        s, get_influencer(s, influencer_id), actor=current_key().id, address_hash=_address_hash()
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
