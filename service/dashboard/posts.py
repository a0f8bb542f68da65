"""The posts' pages: the list with filters (campaign, influencer, status), the form to
record a post, and one post (its figures, status, fee lines and audit list) with its
review (approve, reject with a reason) and the form to correct its figures — through the
API's own schemas and the deliverables' operations."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask import redirect, render_template, request, url_for
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict

from service import clock
from service.audit.service import entries_for
from service.campaigns.service import get_campaign
from service.commissions.ledger import lines_of_deliverable, status_of
from service.dashboard import login
from service.dashboard.blueprint import bp, changes, error_page, saved
from service.dashboard.pickers import Kind, resolve
from service.deliverables.models import Deliverable
from service.deliverables.schemas import (
    METRICS,
    DeliverableChange,
    DeliverableIn,
    DeliverableQuery,
    DeliverableRejectIn,
)
from service.deliverables.service import (
    approve,
    change_deliverable,
    create_deliverable,
    get_deliverable,
    list_deliverables,
    reject,
)
from service.errors import AfftrackError
from service.forms import Form, as_utc, flatten, submit
from service.http.context import session, settings
from service.influencers.service import get_influencer
from service.links.service import list_links
from service.money import format_amount
from service.paging import MAX_LIMIT, Page
from service.schemas import PLATFORMS
from service.vocabulary import DELIVERABLE_STATUSES

PAGE_SIZE = 50
PLATFORM_OPTIONS = [(p, p.capitalize()) for p in PLATFORMS]
STATUS_OPTIONS = [(s, s.capitalize()) for s in DELIVERABLE_STATUSES]
METRIC_LABELS = [(name, name.capitalize()) for name in METRICS]
# The campaign and the influencer are chosen by picker (slug or name, handle).
PICKERS: dict[str, Kind] = {"campaign_id": "campaign", "influencer_id": "influencer"}


def _choices(posts: Iterable[Deliverable] = ()) -> dict[str, Any]:
    """The form's options, and the names of the posts' campaigns and influencers."""
    s = session()
    handles: dict[str, str] = {}
    campaign_names: dict[str, str] = {}
    for p in posts:
        if p.influencer_id not in handles:
            handles[p.influencer_id] = get_influencer(s, p.influencer_id).handle
        if p.campaign_id not in campaign_names:
            campaign_names[p.campaign_id] = get_campaign(s, p.campaign_id).name
    return {
        "campaign_names": campaign_names,
        "handles": handles,
        "platform_options": PLATFORM_OPTIONS,
        "status_options": STATUS_OPTIONS,
        "metric_labels": METRIC_LABELS,
    }


def _link_options(campaign_id: str, influencer_id: str) -> list[tuple[str, str]]:
    """The tracked links a post may name: its influencer's links in its campaign."""
    if not campaign_id or not influencer_id:
        return []
    query = {"campaign_id": campaign_id, "influencer_id": influencer_id, "limit": MAX_LIMIT}
    return [
        (link.id, f"{link.platform} · {link.code} · {link.destination}")
        for link in list_links(session(), query).items
    ]


@bp.get("/posts")
@login.login_required
def posts() -> Any:
    typed = {k: v for k, v in request.args.items() if v.strip()}
    picked = resolve(MultiDict(typed), PICKERS)
    filters = Form(values={k: typed.get(k, "") for k in ("campaign_id", "influencer_id", "status")})
    if picked.errors:  # a picker naming nothing (or several): said beside it
        page: Page[Deliverable] = Page([], None)
        return _list_page(page, picked.onto(filters), 422)
    try:
        query = DeliverableQuery().load({**picked.values, "limit": PAGE_SIZE})
    except ValidationError as exc:
        problems = "; ".join(t for texts in flatten(exc.messages).values() for t in texts)
        return error_page(400, f"The filter is not valid: {problems}")
    return _list_page(list_deliverables(session(), query), filters, 200)


def _list_page(page: Page[Deliverable], filters: Form, status: int) -> tuple[str, int]:
    shown = render_template(
        "dashboard/posts.html",
        page=page,
        filters=filters,
        chosen={k: v for k, v in filters.values.items() if v},
        **_choices(page.items),
    )
    return shown, status


@bp.get("/posts/new")
@login.login_required
def new_post() -> Any:
    values = {k: request.args[k] for k in ("campaign_id", "influencer_id") if k in request.args}
    return _new_page(Form(values=values), 200)


@bp.post("/posts")
@changes
def create_post_page() -> Any:
    picked = resolve(request.form, PICKERS)
    typed = {k: v for k, v in request.form.items() if k != "csrf"}
    if request.form.get("action") == "links":  # the chosen influencer's links, nothing saved
        shown = Form(values=typed)
        if picked.errors:
            return _new_page(picked.onto(shown), 422)
        return _new_page(shown, 200, picked.values)
    data, form = submit(DeliverableIn(), as_utc(picked.values, "posted_at"))
    form.values = typed  # as typed
    if picked.errors:
        return _new_page(picked.onto(form), 422)
    if (
        data is not None
        and (post := saved(form, create_deliverable, session(), data, once=Deliverable)) is not None
    ):
        return redirect(url_for("dashboard.post", deliverable_id=post.id), 303)
    return _new_page(form, 422, picked.values)


@bp.get("/posts/<deliverable_id>")
@login.login_required
def post(deliverable_id: str) -> Any:
    found = get_deliverable(session(), deliverable_id)
    return _post_page(found, _figures(found), Form(), 200)


@bp.post("/posts/<deliverable_id>/metrics")
@changes
def change_post_page(deliverable_id: str) -> Any:
    found = get_deliverable(session(), deliverable_id)
    data, form = submit(DeliverableChange(), request.form)
    if data is not None and saved(form, change_deliverable, session(), found.id, data) is not None:
        return redirect(url_for("dashboard.post", deliverable_id=deliverable_id), 303)
    return _post_page(get_deliverable(session(), deliverable_id), form, Form(), 422)


@bp.post("/posts/<deliverable_id>/approve")
@changes
def approve_post_page(deliverable_id: str) -> Any:
    get_deliverable(session(), deliverable_id)
    try:
        approve(session(), deliverable_id, settings().timezone)
        session().commit()
    except AfftrackError as exc:
        session().rollback()
        found = get_deliverable(session(), deliverable_id)
        return _post_page(found, _figures(found), Form().refuse(exc), exc.status)
    return redirect(url_for("dashboard.post", deliverable_id=deliverable_id), 303)


@bp.post("/posts/<deliverable_id>/reject")
@changes
def reject_post_page(deliverable_id: str) -> Any:
    get_deliverable(session(), deliverable_id)
    data, form = submit(DeliverableRejectIn(), request.form)
    if (
        data is not None
        and saved(form, reject, session(), deliverable_id, data["reason"]) is not None
    ):
        return redirect(url_for("dashboard.post", deliverable_id=deliverable_id), 303)
    found = get_deliverable(session(), deliverable_id)
    return _post_page(found, _figures(found), form, form.status)


def _figures(post: Deliverable) -> Form:
    """The figures form as the post's figures (and its link) are now."""
    values = {f"metrics-{k}": str(v) for k, v in post.metrics.items()}
    return Form(values={**values, "link_id": post.link_id or ""})


def _new_page(form: Form, status: int, ids: Mapping[str, str] | None = None) -> tuple[str, int]:
    """The new-post form; its tracked-link choices from the campaign and influencer the
    pickers resolved (``ids``), or the form's own values (ids in a link to the form)."""
    chosen = ids if ids is not None else {k: form.value(k) for k in PICKERS}
    links = _link_options(chosen.get("campaign_id", ""), chosen.get("influencer_id", ""))
    page = render_template("dashboard/post_new.html", form=form, link_options=links, **_choices())
    return page, status


def _post_page(found: Deliverable, form: Form, review: Form, status: int) -> tuple[str, int]:
    s = session()
    now = clock.now_utc()
    lines = [
        (line, format_amount(line.amount_minor, line.currency), status_of(line, now))
        for line in lines_of_deliverable(s, found.id)
    ]
    page = render_template(
        "dashboard/post.html",
        post=found,
        lines=lines,
        audit=entries_for(s, "deliverable", found.id),
        form=form,
        review=review,
        link_options=_link_options(found.campaign_id, found.influencer_id),
        **_choices([found]),
    )
    return page, status
