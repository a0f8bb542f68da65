"""The portal's door: the sign-in page of a link, the new-link form, signing out, the
language of the pages (docs/portal.md). The pages behind it are in ``pages``."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from flask import g, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from service.config import Settings
from service.db import Database
from service.http.context import services, settings
from service.portal import access
from service.portal.api import address_hash
from service.portal_site import auth, locale
from service.portal_site.blueprint import bp

log = logging.getLogger(__name__)
REFUSED_STATUS = 410  # every refused link: used, expired, revoked or not ours (ADR)
# Links asked for by e-mail are looked up and mailed here, off the request: the answer
# is the same, and as quick, for an address we know and one we do not.
_mailer = ThreadPoolExecutor(max_workers=2, thread_name_prefix="afftrack-portal-mail")
# At most this many waiting or being handled; more are dropped (and logged), so that a
# flood of requests cannot grow the queue without end.
MAILER_QUEUE = 100
_mailer_room = threading.BoundedSemaphore(MAILER_QUEUE)
MAX_EMAIL = 254


def _queue(job: Callable[..., object], *args: object) -> bool:
    """Hand ``job(*args)`` to the mail thread; False (logged) when the queue is full."""
    if not _mailer_room.acquire(blocking=False):
        log.warning("a portal link asked for by e-mail was dropped: %d are waiting", MAILER_QUEUE)
        return False
    try:
        future = _mailer.submit(job, *args)
    except BaseException:
        _mailer_room.release()
        raise
    future.add_done_callback(lambda _done: _mailer_room.release())
    return True


def _refusal_text(reason: str) -> str:
    texts: dict[str, str] = {
        "used": _("This sign-in link has been used already. Each link works once."),
        "expired": _("This sign-in link has expired."),
        "revoked": _("This sign-in link was withdrawn by the brand."),
    }
    return texts.get(reason) or _("This sign-in link is not valid. Check that it was copied whole.")


def _page(template: str, status: int = 200, **context: object) -> Response:
    # Who is signed in first: their forms (sign out, language, and the door's own)
    # carry the session's token, the one those forms are checked against.
    auth.current_influencer()
    response = Response(
        render_template(template, csrf=auth.csrf_token(), **context),
        status=status,
        mimetype="text/html",
    )
    return auth.keep_csrf(response)


def _refused(reason: str) -> Response:
    return _page("portal/refused.html", REFUSED_STATUS, message=_refusal_text(reason))


@bp.route("/sign-in/<token>", methods=["GET"])
def sign_in_page(token: str) -> Response:
    """The link's page: a Sign in button. Reading it takes nothing (a mail scanner that
    opens the link does not use it up)."""
    with services().db.read_session() as s:
        found = access.check_link(s, token)
    if isinstance(found, access.Refused):
        return _refused(found.reason)
    return _page("portal/sign_in.html", token=token)


@bp.route("/sign-in/<token>", methods=["POST"])
def sign_in(token: str) -> Response:
    """Take the link: a new session, its cookie, and the home page."""
    auth.check_csrf(signed_in=False)
    cfg = settings()
    earlier = request.cookies.get(auth.COOKIE)
    with services().db.session() as s:
        result = access.sign_in(
            s,
            token,
            hours=cfg.portal_session_hours,
            address_hash=address_hash(),
            lang=str(get_locale() or locale.DEFAULT),
            form=request.form.get("csrf"),
        )
        if isinstance(result, access.SignIn) and earlier:
            # Whatever session this browser had before ends: one browser, one session.
            old = access.live_session(s, earlier)
            if old is not None:
                old.ended_at = result.portal_session.created_at
    if isinstance(result, access.Refused):
        return _refused(result.reason)
    response = redirect(url_for("portal.home"), code=303)
    auth.set_cookie(response, auth.COOKIE, result.cookie, max_age=cfg.portal_session_hours * 3600)
    return response


@bp.route("/sign-out", methods=["POST"])
def sign_out() -> Response:
    if auth.current_influencer() is not None:
        auth.check_csrf(signed_in=True)
        with services().db.session() as s:
            access.sign_out(s, g.portal_cookie, address_hash=address_hash())
    response = redirect(url_for("portal.new_link", signed_out=1), code=303)
    auth.clear_cookie(response)
    return response


@bp.route("/new-link", methods=["GET"])
def new_link() -> Response:
    return _page("portal/new_link.html", signed_out=request.args.get("signed_out") == "1")


@bp.route("/new-link", methods=["POST"])
def ask_new_link() -> Response:
    """The same answer whatever the address: whether one of ours has it is never said,
    nor shown by how long the answer takes (the work is done off the request)."""
    auth.check_csrf(signed_in=False)
    email = request.form.get("email", "").strip()
    if not email or "@" not in email or len(email) > MAX_EMAIL:
        return _page(
            "portal/new_link.html",
            422,
            error=_("Enter your e-mail address, such as name@example.com."),
            email=email[:MAX_EMAIL],
        )
    _queue(send_new_link, services().db, settings(), email, address_hash())
    return _page("portal/new_link_sent.html")


def send_new_link(db: Database, cfg: Settings, email: str, address_hash: str | None) -> None:
    """Make and mail a link to each influencer whose address is ``email`` (run by the
    mail thread; the record says what happened, a failure is logged)."""
    try:
        with db.session() as s:
            links = access.request_link(
                s,
                email,
                days=cfg.portal_invite_days,
                address_hash=address_hash,
                can_mail=bool(cfg.smtp_url and cfg.mail_from),
            )
            messages = [
                (
                    link.influencer.id,
                    access.invitation(
                        link.influencer,
                        access.sign_in_url(cfg.public_url, link.token),
                        link.invite.expires_at,
                        access.language_of(s, link.influencer.id),
                    ),
                )
                for link in links
            ]
        for influencer_id, message in messages:
            with db.session() as s:
                access.mail_link(
                    s,
                    message,
                    smtp_url=cfg.smtp_url,
                    sender=cfg.mail_from,
                    influencer_id=influencer_id,
                    actor=access.INFLUENCER,
                )
    except Exception:
        log.exception("a portal link asked for by e-mail was not sent")
