"""The links' pages: the list with its filters, the form to create a link (campaign
first, then a partner, a destination checked against the campaign's allowed domains, a
platform and an optional vanity code), and one link's page (its URLs, pause and resume,
re-point, audit list) — loaded through the API's own schemas and saved by the same
domain operations."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import redirect, render_template, request, url_for
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict

from service.audit.service import entries_for
from service.campaigns.models import Campaign
from service.campaigns.service import get_campaign, list_campaigns, list_partners
from service.dashboard import login
from service.dashboard.blueprint import bp, changes, error_page, saved
from service.dashboard.pickers import Kind, pick, resolve
from service.forms import Form, flatten, submit
from service.http.context import session, settings
from service.influencers.models import Influencer
from service.influencers.service import get_influencer
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
from service.paging import Page
from service.promo_codes.models import PromoCode
from service.schemas import PLATFORMS
from service.vocabulary import VANITY_RULE

PAGE_SIZE = 50
PLATFORM_OPTIONS = [(p, p.capitalize()) for p in PLATFORMS]
STATUS_OPTIONS = [("active", "Active"), ("paused", "Paused")]
# The campaign and the influencer are chosen by picker (slug or name, handle).
PICKERS: dict[str, Kind] = {"campaign_id": "campaign", "influencer_id": "influencer"}


@dataclass
class Filters:
    """A list page's filters: the API's query, or ``None`` when a picker names nothing
    (or several: its refusal is on ``form``); ``form``, the filters as typed."""

    query: dict[str, Any] | None
    form: Form

    @property
    def status(self) -> int:
        return 200 if self.query is not None else 422


def campaigns_of(items: Iterable[Link | PromoCode]) -> dict[str, Campaign]:
    """The campaigns of the rows shown, by id."""
    s = session()
    return {c: get_campaign(s, c) for c in {item.campaign_id for item in items}}


def influencers_of(items: Iterable[Link | PromoCode]) -> dict[str, Influencer]:
    """The influencers of the rows shown, by id."""
    s = session()
    return {i: get_influencer(s, i) for i in {item.influencer_id for item in items}}


def list_query(schema: Any) -> Filters | tuple[str, int]:
    """A list page's filters loaded with the API's query schema (an empty filter is no
    filter, a picker's text the one campaign or influencer it names), or the error page
    for a filter that is not valid."""
    args = {k: v for k, v in request.args.items() if v.strip()}
    typed = Form(values={k: v for k, v in args.items() if k != "cursor"})
    picked = resolve(MultiDict(args), PICKERS)
    if picked.errors:
        return Filters(None, picked.onto(typed))
    try:
        query: dict[str, Any] = schema.load({**picked.values, "limit": PAGE_SIZE})
    except ValidationError as exc:
        problems = "; ".join(t for texts in flatten(exc.messages).values() for t in texts)
        return error_page(400, f"The filter is not valid: {problems}")
    return Filters(query, typed)


@bp.get("/links")
@login.login_required
def links() -> Any:
    filters = list_query(LinkQuery())
    if isinstance(filters, tuple):
        return filters
    query = filters.query
    page = list_links(session(), query) if query is not None else Page([], None)
    shown = render_template(
        "dashboard/links.html",
        page=page,
        query=query or {},
        filters=filters.form,
        campaigns=campaigns_of(page.items),
        influencers=influencers_of(page.items),
        status_options=STATUS_OPTIONS,
        short_urls={link.id: short_url(settings(), link.code) for link in page.items},
    )
    return shown, filters.status


@bp.get("/links/new")
@login.login_required
def new_link() -> Any:
    values = {k: request.args[k] for k in ("campaign_id", "influencer_id") if k in request.args}
    return _new_page(Form(values=values), 200)


@bp.post("/links")
@changes
def create_link_page() -> Any:
    picked = resolve(request.form, PICKERS)
    data, form = submit(LinkIn(), picked.values)
    form.values = {k: v for k, v in request.form.items() if k != "csrf"}  # as typed
    if picked.errors:
        return _new_page(picked.onto(form), 422)
    if (
        data is not None
        and (link := saved(form, create_link, session(), settings(), data, once=Link)) is not None
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


def chosen_campaign(form: Form) -> tuple[Campaign | None, bool]:
    """The campaign a new link's or code's form is for (chosen first, by picker), and
    whether it has partners; no campaign while none is chosen (or the picker's text names
    none: the refusal is then beside it)."""
    text = str(form.value("campaign_id")).strip()
    if not text:
        return None, False
    campaign_id, problem = pick("campaign", text)
    if campaign_id is None:
        if not form.error("campaign_id"):
            form.errors["campaign_id"] = [problem]
        return None, False
    campaign = get_campaign(session(), campaign_id)
    return campaign, bool(list_partners(session(), campaign.id, {"limit": 1}).items)


def any_campaign() -> bool:
    """Whether there is a campaign to choose (else the form says to create one)."""
    return bool(list_campaigns(session(), {"limit": 1}).items)


def _new_page(form: Form, status: int) -> tuple[str, int]:
    """The new-link form: with no campaign chosen yet, the choice of campaign; then the
    campaign's partners, and its allowed domains for the destination's check."""
    campaign, partners = chosen_campaign(form)
    page = render_template(
        "dashboard/link_new.html",
        form=form,
        campaign=campaign,
        any_campaign=any_campaign(),
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
