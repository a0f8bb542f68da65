"""The portal's blueprint: ``/portal``, its own templates, pages never cached."""

from __future__ import annotations

from flask import Blueprint, Response, render_template
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

bp = Blueprint("portal", __name__, url_prefix="/portal", template_folder="templates")


@bp.context_processor
def _language() -> dict[str, str]:
    return {"lang": str(get_locale() or "en")}


@bp.after_request
def _headers(response: Response) -> Response:
    # A page holds a CSRF token and who is signed in: never kept by a cache, never framed.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"  # the sign-in link is in the URL
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> tuple[str, int]:
    """A refusal as a page in words (a stale form: 400), never the API's JSON."""
    status = exc.code or 500
    message = _("The form is stale or was not sent by this site. Reload the page and try again.")
    if status != 400:
        message = exc.description or _("Something went wrong.")
    return render_template("portal/error.html", message=message), status
