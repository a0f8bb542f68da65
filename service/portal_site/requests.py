"""What the influencer asks of the brand at the portal (docs/portal.md): submitting a
post (``/portal/posts/new``) and asking to change their payout e-mail
(``/portal/payout``). Each form is checked for its CSRF token; bad input answers 422 in
words of the page's language (the templates' ``portal_words``) with the form as typed,
and nothing is stored."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from service.db import act_as
from service.deliverables.schemas import METRICS, DeliverableIn
from service.errors import AfftrackError, NotFound
from service.forms import Form, as_utc, page_token, submit
from service.http.context import services, settings
from service.influencers.models import Influencer
from service.portal import own, payout, posts
from service.portal.access import portal_actor
from service.portal.schemas import PayoutEmailIn
from service.portal_site import auth
from service.portal_site.blueprint import bp


def _metric_labels() -> list[tuple[str, str]]:
    """Each figure of a post with its name in the page's language."""
    words = {
        "impressions": _("Impressions"),
        "reach": _("Reach"),
        "views": _("Views"),
        "likes": _("Likes"),
        "comments": _("Comments"),
        "shares": _("Shares"),
        "saves": _("Saves"),
    }
    return [(name, words.get(name, name.capitalize())) for name in METRICS]


def _page(template: str, status: int = 200, **context: Any) -> Response:
    page = render_template(template, csrf=auth.csrf_token(), **context)
    return Response(page, status=status, mimetype="text/html")


def _me() -> Influencer:
    influencer = auth.current_influencer()
    assert influencer is not None  # portal_login_required
    return influencer


@contextmanager
def _as_influencer(influencer_id: str) -> Iterator[Session]:
    """A session (committed at the end) whose changes the audit trail records as the
    influencer's: ``portal:<influencer id>``."""
    with services().db.session() as s:
        act_as(s, portal_actor(influencer_id))
        yield s


# submitting a post ---------------------------------------------------------------------


def _post_page(form: Form, status: int, sent: own.OwnPost | None = None) -> Response:
    me = _me()
    with services().db.read_session() as s:
        campaigns = own.campaigns_of(s, me.id)
    return _page(
        "portal/post_new.html",
        status,
        form=form,
        campaigns=campaigns,
        platforms=posts.platforms_of(me),
        metric_labels=_metric_labels(),
        once=page_token(form),
        sent=sent,
    )


@bp.route("/posts/new", methods=["GET"])
@auth.portal_login_required
def new_post() -> Response:
    sent = None
    if request.args.get("sent"):
        with services().db.read_session() as s:
            try:
                sent = own.post(s, _me().id, request.args["sent"])
            except NotFound:
                sent = None
    chosen = request.args.get("campaign_id", "")
    return _post_page(Form(values={"campaign_id": chosen}), 200, sent)


@bp.route("/posts/new", methods=["POST"])
@auth.portal_login_required
def submit_post() -> Response:
    auth.check_csrf(signed_in=True)
    me = _me()
    typed = {k: v for k, v in request.form.items() if k != "csrf"}
    sent = as_utc(request.form, "posted_at").copy()
    sent["influencer_id"] = me.id  # always the signed-in influencer, whatever was sent
    data, form = submit(DeliverableIn(), sent)
    form.values = typed
    if data is not None:
        try:
            with _as_influencer(me.id) as s:
                post = posts.submit_post(s, _fresh(s, me), data, form.value("once"))
                post_id = post.id
        except AfftrackError as exc:
            form.refuse(exc)
        else:
            return redirect(url_for("portal.new_post", sent=post_id), 303)
    return _post_page(form, form.status)


def _fresh(session: Session, influencer: Influencer) -> Influencer:
    found = session.get(Influencer, influencer.id)
    assert found is not None
    return found


# the payout e-mail ---------------------------------------------------------------------


def _payout_page(form: Form, status: int, notice: str | None = None) -> Response:
    me = _me()
    with services().db.read_session() as s:  # drawn while the rows are loaded
        history = payout.history(s, me.id)
        return _page(
            "portal/payout.html",
            status,
            form=form,
            influencer=me,
            payout_email=_fresh(s, me).payout_email,
            history=history,
            reasons={r.id: payout.reason_words(r.reason) for r in history},
            open_request=next((r for r in history if r.status == "requested"), None),
            statuses={
                "requested": _("waiting for the brand"),
                "confirmed": _("confirmed"),
                "declined": _("declined"),
                "withdrawn": _("withdrawn"),
            },
            notice=notice,
        )


def _notice_text(key: str) -> str | None:
    texts = {
        "asked": _("Your request was sent to the brand. Nothing changes until they confirm it."),
        "withdrawn": _("Your request was withdrawn."),
    }
    return texts.get(key)


@bp.route("/payout", methods=["GET"], endpoint="payout")
@auth.portal_login_required
def payout_page() -> Response:
    return _payout_page(Form(), 200, _notice_text(request.args.get("done", "")))


@bp.route("/payout", methods=["POST"])
@auth.portal_login_required
def request_payout_change() -> Response:
    auth.check_csrf(signed_in=True)
    me = _me()
    data, form = submit(PayoutEmailIn(), request.form)
    if data is not None:
        try:
            with _as_influencer(me.id) as s:
                asked = payout.request_change(s, me.id, data["email"], portal_actor(me.id))
                request_id, made = asked.request.id, asked.made
        except AfftrackError as exc:
            form.refuse(exc)
        else:
            if made:  # the same request again mails nothing again
                payout.mail_notice(services().db, settings(), request_id)
            return redirect(url_for("portal.payout", done="asked"), 303)
    return _payout_page(form, form.status)


@bp.route("/payout/<request_id>/withdraw", methods=["POST"])
@auth.portal_login_required
def withdraw_payout_request(request_id: str) -> Response:
    auth.check_csrf(signed_in=True)
    me = _me()
    try:
        with _as_influencer(me.id) as s:
            payout.withdraw(s, me.id, request_id, portal_actor(me.id))
    except NotFound:
        abort(404, _("There is no such request of yours."))
    except AfftrackError as exc:
        return _payout_page(Form().refuse(exc), exc.status)
    return redirect(url_for("portal.payout", done="withdrawn"), 303)
