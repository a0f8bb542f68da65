"""The dashboard's blueprint and what every page shares: security headers, error pages,
the template helpers and the guard on changes (a write key, a fresh CSRF token)."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, g, render_template, request
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.wrappers import Response

from service.audit.service import CLI_ACTOR
from service.dashboard import login
from service.db import Base, table_of
from service.errors import AfftrackError, Conflict
from service.forms import Form, page_token, sent_token
from service.http.context import session
from service.http.routing import allow_header, catch_all, page_options
from service.keys.service import allows, list_keys
from service.portal.access import PORTAL_ACTOR
from service.submissions.service import Made, claim, mark

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T", bound=Base)

bp = Blueprint(
    "dashboard",
    __name__,
    url_prefix="/dashboard",
    template_folder="templates",
    static_folder="static",
)

CSP = (
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
READ_ONLY = (
    "This API key can only read, so nothing was changed. Log in with a key of the "
    "'write' scope to make changes."
)
MADE_AND_GONE = (
    "This form was sent before, and what it made is no longer there: nothing was made "
    "again. Send the form once more to make it anew."
)


def can_write() -> bool:
    """Whether the logged-in key may change things (pages show forms only then)."""
    key = g.get("dashboard_key")
    return key is not None and allows(key, "write")


@bp.app_template_global()
def actor_name(actor: str) -> str:
    """Who an audit entry's actor is, for people: the key's name, the command line, or
    the influencer (a change they made at the portal)."""
    if actor == CLI_ACTOR:
        return "command line"
    if actor.startswith(PORTAL_ACTOR):
        return "the influencer, at the portal"
    names: dict[str, str] | None = g.get("key_names")
    if names is None:
        names = g.key_names = {k.id: f"{k.name} ({k.prefix}…)" for k in list_keys(session())}
    return names.get(actor, actor)


@bp.context_processor
def _template_helpers() -> dict[str, Any]:
    key = g.get("dashboard_key")
    return {
        "csrf_token": login.csrf_token,
        "page_token": page_token,
        "key": key,
        "can_write": can_write(),
    }


def changes(view: F) -> F:
    """A view that changes something: logged in with a write key (else 403, nothing
    changed) and sent by this dashboard's own form (CSRF)."""

    @login.login_required
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not can_write():
            return error_page(403, READ_ONLY)
        login.check_csrf()
        return view(*args, **kwargs)

    # functools.wraps keeps the signature at run time; mypy cannot see that wrapper is an F.
    return wrapper  # type: ignore[return-value]


@bp.before_request
def _started() -> None:
    g.dashboard_started = time.perf_counter()


@bp.after_request
def _headers(response: Response) -> Response:
    started = g.get("dashboard_started")
    if started is not None:  # the server's time on the page (bench/pages.py reads it)
        ms = (time.perf_counter() - started) * 1000
        response.headers["Server-Timing"] = f"app;dur={ms:.1f}"
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if request.endpoint != "dashboard.static":
        response.headers["Cache-Control"] = "no-store"
    return page_options(response)


def saved(
    form: Form, change: Callable[..., T], *args: Any, once: type[T] | None = None
) -> T | None:
    """Make a change (``change(*args)``) and commit it; its result. ``None`` when the
    domain refused it: then nothing of it is kept (rolled back) and the refusal is on
    ``form``, beside the fields it names (its status in ``form.status``).

    ``once``: the model of what a create form makes. The form's one-time token (its
    ``once`` input) is claimed for the logged-in key before anything is made; sent
    again, nothing is made and the result is what the first sending made
    (``service.submissions``). A form without a token of ours is made as it comes."""
    s = session()
    token = sent_token(form.value("once")) if once is not None else None
    try:
        if once is not None and token is not None:
            earlier = claim(s, g.dashboard_key.id, token, table_of(once).name)
            if earlier is not None:
                return _made_before(form, once, earlier)
        result = change(*args)
        if token is not None:
            made_id = str(getattr(result, "id"))  # noqa: B009 - every made model has one
            mark(s, g.dashboard_key.id, token, made_id)
        s.commit()
    except AfftrackError as exc:
        s.rollback()
        form.refuse(exc)
        return None
    return result


def _made_before(form: Form, model: type[T], earlier: Made) -> T | None:
    """What the form's first sending made; ``None``, with the refusal on ``form``, when
    it is no longer there (or the token was another form's): the page then carries a
    fresh token, so that sending it again makes anew."""
    same = earlier.kind == table_of(model).name and earlier.id is not None
    found = session().get(model, earlier.id) if same else None
    if found is None:
        form.refuse(Conflict(MADE_AND_GONE))
        form.values = {k: v for k, v in form.values.items() if k != "once"}
    return found


def error_page(status: int, message: str) -> tuple[str, int]:
    return render_template("dashboard/error.html", status=status, message=message), status


@bp.errorhandler(AfftrackError)
def _domain_error(exc: AfftrackError) -> tuple[str, int]:
    return error_page(exc.status, exc.message)


# An address under /dashboard/ that is no page: a page saying so, not the API's JSON.
catch_all(
    bp,
    lambda: NotFound(
        "There is no such page in the dashboard: the address may be mistyped or out of "
        "date. Start again from the campaigns."
    ),
)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> tuple[str, int, dict[str, str]]:
    if exc.code == 405:
        message = (
            "This is a page of the dashboard, but it cannot be used this way: go back and "
            "use the page's links and buttons."
        )
    else:
        message = exc.description or "request failed"
    page, status = error_page(exc.code or 500, message)
    return page, status, allow_header(exc)
