"""An influencer's portal access on their page: invite them (the link to copy, or
"mailed to …"), revoke their access, the last events; the payout e-mail changes they
asked for, to confirm or decline (docs/portal.md)."""

from __future__ import annotations

from typing import Any

from flask import g, redirect, request, url_for

from service.dashboard.blueprint import bp, changes
from service.errors import AfftrackError
from service.forms import Form, submit
from service.http.context import services, session, settings
from service.influencers.service import get_influencer
from service.portal import access, payout
from service.portal.api import address_hash
from service.portal.schemas import PayoutDeclineIn

LAST_EVENTS = 10
LAST_PAYOUT_REQUESTS = 10


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
        address_hash=address_hash(),
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
        address_hash=address_hash(),
    )
    s.commit()
    return redirect(url_for("dashboard.influencer", influencer_id=influencer_id) + "#portal", 303)


def payout_requests(influencer_id: str) -> list[Any]:
    """The payout e-mail requests shown in the page's section, newest first (the open
    one, if any, with Confirm and Decline)."""
    return payout.history(session(), influencer_id, LAST_PAYOUT_REQUESTS)


def _back_to_section(influencer_id: str) -> Any:
    return redirect(
        url_for("dashboard.influencer", influencer_id=influencer_id) + "#payout-requests", 303
    )


def _refused(influencer_id: str, form: Form) -> Any:
    from service.dashboard.people import influencer_page

    session().rollback()
    return influencer_page(influencer_id, payout_refusal=form, status=form.status)


@bp.post("/influencers/<influencer_id>/payout-requests/<request_id>/confirm")
@changes
def confirm_payout_request(influencer_id: str, request_id: str) -> Any:
    """The influencer's payout e-mail becomes the address they asked for."""
    s = session()
    get_influencer(s, influencer_id)
    try:
        payout.confirm(s, request_id, g.dashboard_key.id, influencer_id=influencer_id)
        s.commit()
    except AfftrackError as exc:
        return _refused(influencer_id, Form().refuse(exc))
    return _back_to_section(influencer_id)


@bp.post("/influencers/<influencer_id>/payout-requests/<request_id>/decline")
@changes
def decline_payout_request(influencer_id: str, request_id: str) -> Any:
    """The payout e-mail stays; the influencer reads the reason at the portal."""
    s = session()
    get_influencer(s, influencer_id)
    data, form = submit(PayoutDeclineIn(), request.form)
    if data is None:
        return _refused(influencer_id, form)
    try:
        payout.decline(
            s, request_id, data["reason"], g.dashboard_key.id, influencer_id=influencer_id
        )
        s.commit()
    except AfftrackError as exc:
        return _refused(influencer_id, form.refuse(exc))
    return _back_to_section(influencer_id)
