"""The links' pages: the list with its filters, the form to create a link (campaign
first, then a partner, a destination checked against the campaign's allowed domains, a
platform and an optional vanity code), and one link's page (its URLs, pause and resume,
re-point, audit list) — loaded through the API's own schemas and saved by the same
domain operations."""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for
from marshmallow import ValidationError

from service.audit.service import entries_for
from service.campaigns.models import Campaign
from service.campaigns.service import get_campaign, list_campaigns, list_partners
from service.dashboard import login
from service.dashboard.blueprint import bp, changes, error_page, saved
from service.dashboard.forms import Form, flatten, submit
from service.errors import AfftrackError
from service.http.context import session, settings
from service.influencers.models import Influencer
from service.influencers.service import list_influencers
from service.links.models import Link
from service.links.schemas import LinkIn, LinkPatch, LinkQuery
from service.links.service import (
    create_link,
    get_link,
    list_links,
    short_url,
    tracked_url,
    update_link,
)
from service.schemas import PLATFORMS
from service.vocabulary import VANITY_RULE

PAGE_SIZE = 50
# How many campaigns or influencers a filter or a form's list offers.
CHOICES = 500
PLATFORM_OPTIONS = [(p, p.capitalize()) for p in PLATFORMS]
STATUS_OPTIONS = [("active", "Active"), ("paused", "Paused")]


def campaigns_by_id() -> dict[str, Campaign]:
    return {c.id: c for c in list_campaigns(session(), {"limit": CHOICES}).items}


def influencers_by_id() -> dict[str, Influencer]:
    return {i.id: i for i in list_influencers(session(), {"limit": CHOICES}).items}


def list_query(schema: Any) -> dict[str, Any] | tuple[str, int]:
    """A list page's filters loaded with the API's query schema (an empty filter is no
    filter), or the error page for a filter that is not valid."""
    args = {k: v for k, v in request.args.items() if v.strip()}
    try:
        query: dict[str, Any] = schema.load({**args, "limit": PAGE_SIZE})
    except ValidationError as exc:
        problems = "; ".join(t for texts in flatten(exc.messages).values() for t in texts)
        return error_page(400, f"The filter is not valid: {problems}")
    return query


@bp.get("/links")
@login.login_required
def links() -> Any:
    query = list_query(LinkQuery())
    if isinstance(query, tuple):
        return query
    page = list_links(session(), query)
    return render_template(
        "dashboard/links.html",
        page=page,
        query=query,
        campaigns=campaigns_by_id(),
        influencers=influencers_by_id(),
        status_options=STATUS_OPTIONS,
        short_urls={link.id: short_url(settings(), link.code) for link in page.items},
    )


@bp.get("/links/new")
@login.login_required
def new_link() -> Any:
    values = {k: request.args[k] for k in ("campaign_id", "influencer_id") if k in request.args}
    return _new_page(Form(values=values), 200)


@bp.post("/links")
@changes
def create_link_page() -> Any:
    data, form = submit(LinkIn(), request.form)
    if (
        data is not None
        and (link := saved(form, create_link, session(), settings(), data)) is not None
    ):
        return redirect(url_for("dashboard.link", link_id=link.id, created=1), 303)
    return _new_page(form, 422)


@bp.get("/links/<link_id>")
@login.login_required
def link(link_id: str) -> Any:
    found = get_link(session(), link_id)
    return _link_page(found, Form(values={"destination": found.destination}), 200)


@bp.post("/links/<link_id>")
@changes
def change_link_page(link_id: str) -> Any:
    """Pause, resume (``status``) or re-point (``destination``) a link."""
    found = get_link(session(), link_id)
    data, form = submit(LinkPatch(), request.form)
    if data is not None and not data:
        # An emptied destination is a field left out for the schema; here it is a mistake.
        form.errors["destination" if "destination" in request.form else ""] = ["Fill this in."]
        data = None
    if data is not None and saved(form, update_link, session(), found.id, data) is not None:
        return redirect(url_for("dashboard.link", link_id=link_id), 303)
    found = get_link(session(), link_id)
    if "destination" not in form.values:
        form = Form(values={**form.values, "destination": found.destination}, errors=form.errors)
    return _link_page(found, form, 422)


def chosen_campaign(form: Form) -> tuple[Campaign | None, list[tuple[str, str]]]:
    """The campaign a new link's or code's form is for (chosen first) and its partners
    as (influencer id, handle) by handle; no campaign while none is chosen."""
    campaign_id = str(form.value("campaign_id")).strip()
    if not campaign_id:
        return None, []
    try:
        campaign = get_campaign(session(), campaign_id)
    except AfftrackError:
        if not form.error("campaign_id"):
            form.errors["campaign_id"] = ["There is no such campaign."]
        return None, []
    enrolled = list_partners(session(), campaign.id, {"limit": CHOICES}).items
    partners = [(p.influencer_id, p.influencer.handle) for p in enrolled]
    return campaign, sorted(partners, key=lambda pair: pair[1])


def campaign_choices() -> list[Campaign]:
    return sorted(campaigns_by_id().values(), key=lambda c: c.name.lower())


def _new_page(form: Form, status: int) -> tuple[str, int]:
    """The new-link form: with no campaign chosen yet, the choice of campaign; then the
    campaign's partners, and its allowed domains for the destination's check."""
    campaign, partners = chosen_campaign(form)
    page = render_template(
        "dashboard/link_new.html",
        form=form,
        campaign=campaign,
        campaigns=campaign_choices(),
        partners=partners,
        platform_options=PLATFORM_OPTIONS,
        vanity_rule=VANITY_RULE,
    )
    return page, status


def _link_page(found: Link, form: Form, status: int) -> tuple[str, int]:
    s = session()
    page = render_template(
        "dashboard/link.html",
        link=found,
        campaign=found.partnership.campaign,
        influencer=found.partnership.influencer,
        short_url=short_url(settings(), found.code),
        tracked_url=tracked_url(found),
        created=request.args.get("created") == "1",
        audit=entries_for(s, "link", found.id),
        form=form,
    )
    return page, status
