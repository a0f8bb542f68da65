"""The portal's blueprint: ``/portal``, its own templates and script, pages never
cached; what every page shares (the navigation, the error pages)."""

from __future__ import annotations

import time

from flask import Blueprint, Response, current_app, g, render_template
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.exceptions import NotFound as NoSuchPage

from service.errors import AfftrackError, NotFound
from service.http.routing import allow_header, catch_all, page_options
from service.portal_site.auth import csrf_token, current_influencer

bp = Blueprint(
    "portal",
    __name__,
    url_prefix="/portal",
    template_folder="templates",
    static_folder="static",
)


class Unusable(BadRequest):
    """A value of a page's address (a day, a status) the page cannot use: a 400 whose
    description, already in the page's language, is what the page says."""


def has_page(endpoint: str) -> bool:
    """Whether this afftrack has the portal page ``endpoint`` (a page another part adds,
    such as ``portal.payout``, is linked to only once it is there)."""
    return endpoint in current_app.view_functions


@bp.context_processor
def _shared() -> dict[str, object]:
    # Signed in, every page's forms (sign out, language) carry the session's token; a
    # page before signing in passes its own (it may set the browser's CSRF cookie).
    signed_in = current_influencer()
    return {
        "lang": str(get_locale() or "en"),
        "has_page": has_page,
        "signed_in": signed_in,
        "csrf": csrf_token() if signed_in is not None else None,
    }


@bp.before_request
def _started() -> None:
    g.portal_started = time.perf_counter()


@bp.after_request
def _headers(response: Response) -> Response:
    started = g.get("portal_started")
    # The server's time on a signed-in page (bench/portal.py reads it); never on the door
    # (signing in, asking for a link), whose time could tell a known address apart.
    if started is not None and g.get("portal_influencer") is not None:
        ms = (time.perf_counter() - started) * 1000
        response.headers["Server-Timing"] = f"app;dur={ms:.1f}"
    # A page holds a CSRF token and who is signed in: never kept by a cache, never framed.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"  # the sign-in link is in the URL
    response.headers["X-Content-Type-Options"] = "nosniff"
    return page_options(response)


def _nothing_here() -> str:
    return str(_("There is nothing here, or it is not yours to see."))


# An address under /portal/ that is no page (a mistyped or outdated link): the portal's
# "nothing here" page in the reader's language, not the API's JSON.
catch_all(bp, NoSuchPage)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> tuple[str, int, dict[str, str]]:
    """A refusal as a page in words of the page's language (a stale form: 400), never
    the API's JSON: the page's own words where it gave them, never Werkzeug's English."""
    status = exc.code or 500
    ours = exc.description is not None and exc.description != type(exc).description
    if isinstance(exc, Unusable) or (ours and status != 400):
        message = exc.description or _("Something went wrong.")
    elif status == 400:
        message = _(
            "The form is stale or was not sent by this site. Reload the page and try again."
        )
    elif status == 404:
        message = _nothing_here()
    elif status == 405:
        message = _("This page cannot be used this way. Go back and use its links and buttons.")
    elif status == 413:
        message = _("What you sent is too large.")
    else:
        message = _("Something went wrong.")
    page = render_template("portal/error.html", message=message, refused=True)
    return page, status, allow_header(exc)


@bp.errorhandler(AfftrackError)
def _domain_error(exc: AfftrackError) -> tuple[str, int]:
    """Another influencer's object and a missing one get the same page, naming neither;
    a value of the address the page cannot use, a refusal in words."""
    if isinstance(exc, NotFound):
        message = _nothing_here()
    else:
        message = _(
            "This address holds a value the page cannot use. Go back and choose again "
            "from the page."
        )
    return render_template("portal/error.html", message=message, refused=True), exc.status
