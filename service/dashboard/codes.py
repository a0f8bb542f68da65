"""The promo codes' pages: the list with its filters, the form to create a code
(campaign first, then a partner, the code or a suggestion from the handle, validity
days and a limit of uses), and one code's page (its uses so far, its window and limit
to change, retire and reactivate, audit list) — loaded through the API's own schemas and
saved by the same domain operations.

The API takes ``starts_at``/``ends_at`` as times; the forms also take a UTC day
(YYYY-MM-DD): valid from the start of the first day to the end of the last.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from service.audit.service import entries_for
from service.conversions.candidates import promo_code_uses
from service.dashboard import login
from service.dashboard.blueprint import bp, changes, saved
from service.dashboard.links import (
    PICKERS,
    any_campaign,
    campaigns_of,
    chosen_campaign,
    influencers_of,
    list_query,
)
from service.dashboard.pickers import resolve
from service.forms import Form, submit
from service.http.context import session
from service.paging import Page
from service.promo_codes.models import PromoCode
from service.promo_codes.schemas import PromoCodeChange, PromoCodeIn, PromoCodeQuery
from service.promo_codes.service import (
    change_promo_code,
    create_promo_code,
    get_promo_code,
    list_promo_codes,
)

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
WINDOW = ("starts_at", "ends_at")


def _as_time(raw: str, *, end: bool) -> str:
    """A day typed in a validity input as the time the API takes: the start of the day,
    or for the last day the start of the next (``ends_at`` is the first moment out)."""
    raw = raw.strip()
    if not _DAY.fullmatch(raw):
        return raw
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        return raw
    if end:
        day += timedelta(days=1)
    return datetime.combine(day, time(), UTC).isoformat().replace("+00:00", "Z")


def as_day(moment: datetime | None, *, end: bool) -> str:
    """A validity time as the form shows it: a UTC day when it falls on midnight (for the
    end, the last day it is valid), else the time itself."""
    if moment is None:
        return ""
    moment = moment.astimezone(UTC)
    if moment.time() != time():
        return moment.isoformat().replace("+00:00", "Z")
    return ((moment - timedelta(days=1)) if end else moment).date().isoformat()


def _submit(schema: Any) -> tuple[dict[str, Any] | None, Form]:
    picked = resolve(request.form, PICKERS)
    sent: MultiDict[str, str] = picked.values
    for name in WINDOW:
        if name in sent:
            sent[name] = _as_time(sent[name], end=name == "ends_at")
    data, form = submit(schema, sent)
    form.values = {k: v for k, v in request.form.items() if k != "csrf"}  # as typed
    if picked.errors:
        return None, picked.onto(form)
    return data, form


@bp.get("/codes")
@login.login_required
def codes() -> Any:
    filters = list_query(PromoCodeQuery())
    if isinstance(filters, tuple):
        return filters
    query = filters.query
    page = list_promo_codes(session(), query) if query is not None else Page([], None)
    shown = render_template(
        "dashboard/codes.html",
        page=page,
        query=query or {},
        filters=filters.form,
        campaigns=campaigns_of(page.items),
        influencers=influencers_of(page.items),
        as_day=as_day,
    )
    return shown, filters.status


@bp.get("/codes/new")
@login.login_required
def new_code() -> Any:
    values = {k: request.args[k] for k in ("campaign_id", "influencer_id") if k in request.args}
    return _new_page(Form(values=values), 200)


@bp.post("/codes")
@changes
def create_code_page() -> Any:
    data, form = _submit(PromoCodeIn())
    if (
        data is not None
        and (promo := saved(form, create_promo_code, session(), data, once=PromoCode)) is not None
    ):
        return redirect(url_for("dashboard.code", promo_id=promo.id, created=1), 303)
    return _new_page(form, 422)


@bp.get("/codes/<promo_id>")
@login.login_required
def code(promo_id: str) -> Any:
    found = get_promo_code(session(), promo_id)
    return _code_page(found, _filled(found), 200)


@bp.post("/codes/<promo_id>")
@changes
def change_code_page(promo_id: str) -> Any:
    """Retire or reactivate (``status``), or change the window and the limit."""
    found = get_promo_code(session(), promo_id)
    data, form = _submit(PromoCodeChange())
    if data is not None and saved(form, change_promo_code, session(), found, data) is not None:
        return redirect(url_for("dashboard.code", promo_id=promo_id), 303)
    found = get_promo_code(session(), promo_id)
    shown = Form(values={**_filled(found).values, **form.values}, errors=form.errors)
    return _code_page(found, shown, 422)


def _filled(promo: PromoCode) -> Form:
    """The change form as the code is now."""
    return Form(
        values={
            "starts_at": as_day(promo.starts_at, end=False),
            "ends_at": as_day(promo.ends_at, end=True),
            "max_uses": "" if promo.max_uses is None else str(promo.max_uses),
        }
    )


def _new_page(form: Form, status: int) -> tuple[str, int]:
    campaign, partners = chosen_campaign(form)
    page = render_template(
        "dashboard/code_new.html",
        form=form,
        campaign=campaign,
        any_campaign=any_campaign(),
        partners=partners,
    )
    return page, status


def _code_page(found: PromoCode, form: Form, status: int) -> tuple[str, int]:
    s = session()
    page = render_template(
        "dashboard/code.html",
        promo=found,
        campaign=found.partnership.campaign,
        influencer=found.partnership.influencer,
        uses=promo_code_uses(s, found.id),
        created=request.args.get("created") == "1",
        audit=entries_for(s, "promo_code", found.id),
        form=form,
        as_day=as_day,
    )
    return page, status
