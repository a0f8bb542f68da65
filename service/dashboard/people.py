"""The influencers' pages: the list with a search, one influencer (their campaigns,
links, codes and audit list), and the forms to create and change one — loaded through
the API's own schemas and saved by the same domain operations."""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for
from marshmallow import ValidationError

from service.audit.service import entries_for
from service.campaigns.service import partnerships_of
from service.dashboard import login, portal_access
from service.dashboard.blueprint import bp, changes, error_page, saved
from service.forms import Form, flatten, row_numbers, submit
from service.http.context import session, settings
from service.influencers.models import Influencer
from service.influencers.schemas import InfluencerChange, InfluencerIn, InfluencerQuery
from service.influencers.service import (
    change_influencer,
    create_influencer,
    get_influencer,
    list_influencers,
)
from service.influencers.tiers import tier_for
from service.links.service import list_links, short_url
from service.portal.access import Invitation
from service.promo_codes.service import list_promo_codes
from service.schemas import PLATFORMS

# Empty platform rows offered below an influencer's accounts, to add more.
SPARE_ROWS = 2
PAGE_SIZE = 50
PLATFORM_OPTIONS = [(p, p.capitalize()) for p in PLATFORMS]


@bp.get("/influencers")
@login.login_required
def influencers() -> Any:
    try:
        query = InfluencerQuery().load({**request.args.to_dict(), "limit": PAGE_SIZE})
    except ValidationError as exc:
        problems = "; ".join(t for texts in flatten(exc.messages).values() for t in texts)
        return error_page(400, f"The search is not valid: {problems}")
    page = list_influencers(session(), query)
    return render_template(
        "dashboard/influencers.html",
        page=page,
        q=query.get("q", ""),
        tiers={i.id: tier_for(p.followers for p in i.platforms) for i in page.items},
    )


@bp.get("/influencers/new")
@login.login_required
def new_influencer() -> Any:
    return _new_page(Form(), 200)


@bp.post("/influencers")
@changes
def create_influencer_page() -> Any:
    data, form = submit(InfluencerIn(), request.form)
    if (
        data is not None
        and (influencer := saved(form, create_influencer, session(), data, once=Influencer))
        is not None
    ):
        return redirect(url_for("dashboard.influencer", influencer_id=influencer.id), 303)
    return _new_page(form, 422)


@bp.get("/influencers/<influencer_id>")
@login.login_required
def influencer(influencer_id: str) -> Any:
    return influencer_page(influencer_id)


def influencer_page(
    influencer_id: str,
    invitation: Invitation | None = None,
    payout_refusal: Form | None = None,
    status: int = 200,
) -> Any:
    """The page as it is now; ``invitation``: a portal link just made, shown once;
    ``payout_refusal``: why a payout e-mail request was not confirmed or declined."""
    found = get_influencer(session(), influencer_id)
    return _influencer_page(found, _filled(found), status, invitation, payout_refusal)


@bp.post("/influencers/<influencer_id>")
@changes
def change_influencer_page(influencer_id: str) -> Any:
    found = get_influencer(session(), influencer_id)
    data, form = submit(InfluencerChange(), request.form)
    if data is not None and saved(form, change_influencer, session(), found, data) is not None:
        return redirect(url_for("dashboard.influencer", influencer_id=influencer_id), 303)
    found = get_influencer(session(), influencer_id)
    return _influencer_page(found, form, 422)


def _filled(influencer: Influencer) -> Form:
    """The edit form as the influencer is now."""
    values = {
        "name": influencer.name,
        "email": influencer.email,
        "payout_email": influencer.payout_email or "",
    }
    for i, p in enumerate(influencer.platforms):
        values.update(
            {
                f"platforms-{i}-platform": p.platform,
                f"platforms-{i}-handle": p.handle,
                f"platforms-{i}-followers": str(p.followers),
            }
        )
    return Form(values=values)


def _rows(form: Form) -> range:
    """The platform rows to draw: those filled in, and spare ones."""
    used = row_numbers(form.values, "platforms")
    return range((used[-1] + 1 if used else 0) + SPARE_ROWS)


def _new_page(form: Form, status: int) -> tuple[str, int]:
    page = render_template(
        "dashboard/influencer_new.html",
        form=form,
        rows=_rows(form),
        platform_options=PLATFORM_OPTIONS,
    )
    return page, status


def _influencer_page(
    found: Influencer,
    form: Form,
    status: int,
    invitation: Invitation | None = None,
    payout_refusal: Form | None = None,
) -> tuple[str, int]:
    s = session()
    wide = {"influencer_id": found.id, "limit": 200}
    links = list_links(s, wide).items
    page = render_template(
        "dashboard/influencer.html",
        influencer=found,
        tier=tier_for(p.followers for p in found.platforms),
        partnerships=partnerships_of(s, found.id),
        links=[(link, short_url(settings(), link.code)) for link in links],
        codes=list_promo_codes(s, wide).items,
        audit=entries_for(s, "influencer", found.id),
        portal_events=portal_access.section(found.id),
        payout_requests=portal_access.payout_requests(found.id),
        payout_refusal=payout_refusal or Form(),
        invitation=invitation,
        form=form,
        rows=_rows(form),
        platform_options=PLATFORM_OPTIONS,
    )
    return page, status
