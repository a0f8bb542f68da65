"""An influencer's portal access on their page: invite them (the link to copy, or
"mailed to …"), revoke their access, and the last events (docs/portal.md)."""

from __future__ import annotations

from typing import Any

from flask import g, redirect, request, url_for

from service.dashboard.blueprint import bp, changes
from service.http.context import services, session, settings
from service.influencers.service import get_influencer
from service.portal import access

LAST_EVENTS = 10


def section(influencer_id: str) -> list[Any]:
    """The last events shown in the page's "Portal access" section, newest first."""
    return access.last_events(session(), influencer_id, LAST_EVENTS)


@bp.post("/influencers/<influencer_id>/portal-invites")
@changes
def invite_to_portal(influencer_id: str) -> Any:
    """A new sign-in link, shown once on the page (and mailed when mail is set up)."""
    from service.dashboard.people import influencer_page

    get_influencer(session(), influencer_id)  # 404 before anything is made
    session().close()  # the invitation is written in transactions of its own
    sent = access.invite_and_mail(
        services().db,
        settings(),
        influencer_id,
        actor=g.dashboard_key.id,
        address_hash=access.hash_address(settings().ip_hash_key, request.remote_addr),
    )
    return influencer_page(influencer_id, invitation=sent)


@bp.post("/influencers/<influencer_id>/portal-access/revoke")
@changes
def revoke_portal_access(influencer_id: str) -> Any:
    s = session()
    access.revoke_all(
        s,
        get_influencer(s, influencer_id),
        actor=g.dashboard_key.id,
        address_hash=access.hash_address(settings().ip_hash_key, request.remote_addr),
    )
    s.commit()
    return redirect(url_for("dashboard.influencer", influencer_id=influencer_id) + "#portal", 303)
