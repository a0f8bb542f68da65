"""Who is signed in to the portal, and the CSRF tokens of its forms.

The session is a server-side row (``service.portal``): the cookie ``afftrack_portal``
holds a random value whose SHA-256 names the row. It is made anew at every sign-in, so
a value a browser held before is never promoted (no session fixation). The cookie is
HttpOnly, SameSite=Lax, limited to ``/portal`` and Secure when ``AFFTRACK_PUBLIC_URL``
is https.

Every portal POST carries a ``csrf`` field. With a session it is an HMAC of the
session's cookie value; before one (signing in, asking for a new link) it is an HMAC
of a random value in the ``afftrack_portal_csrf`` cookie (a signed double-submit
cookie): a page of another site can neither read nor forge either.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, g, redirect, request, url_for
from werkzeug.wrappers import Response

from service.http.context import services, settings
from service.influencers.models import Influencer
from service.portal import access

F = TypeVar("F", bound=Callable[..., Any])
COOKIE = "afftrack_portal"
CSRF_COOKIE = "afftrack_portal_csrf"
PATH = "/portal"


def _key() -> bytes:
    return hmac.new(
        settings().session_secret.encode(), b"afftrack portal csrf", hashlib.sha256
    ).digest()


def _mac(label: str, value: str) -> str:
    return hmac.new(_key(), f"{label}:{value}".encode(), hashlib.sha256).hexdigest()


def _secure() -> bool:
    return settings().public_url.startswith("https://")


def set_cookie(response: Response, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PATH,
        httponly=True,
        samesite="Lax",
        secure=_secure(),
    )


def clear_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="Lax", secure=_secure())


# CSRF --------------------------------------------------------------------------------


def _pre_session_value() -> str:
    """This browser's double-submit value (made on first use, set by ``keep_csrf``)."""
    value = g.get("portal_csrf_value") or request.cookies.get(CSRF_COOKIE, "")
    if len(value) != 43:
        value = secrets.token_urlsafe(32)
        g.portal_csrf_new = True
    g.portal_csrf_value = value
    return value


def csrf_token() -> str:
    """The token for this page's forms: tied to the session when signed in."""
    cookie = g.get("portal_cookie")
    if cookie:
        return _mac("session", cookie)
    return _mac("browser", _pre_session_value())


def keep_csrf(response: Response) -> Response:
    """Set the double-submit cookie when this answer's form made a new one."""
    if g.get("portal_csrf_new"):
        set_cookie(response, CSRF_COOKIE, g.portal_csrf_value, max_age=None)
    return response


def check_csrf(*, signed_in: bool) -> None:
    """400 unless the form's ``csrf`` is this session's token (or, ``signed_in`` false,
    this browser's)."""
    sent = request.form.get("csrf", "").encode()
    cookie = request.cookies.get(COOKIE, "")
    expected = [_mac("session", cookie)] if cookie else []
    if not signed_in:
        # A page before signing in (Sign in, a new link) carries the session's token
        # when the browser is signed in already, else the browser's.
        value = request.cookies.get(CSRF_COOKIE, "")
        if len(value) == 43:
            expected.append(_mac("browser", value))
    if not any(hmac.compare_digest(sent, e.encode()) for e in expected):
        abort(400, "the form is stale or was not sent by this site; reload the page and retry")


# who is signed in ----------------------------------------------------------------------


def current_influencer() -> Influencer | None:
    """The influencer of this request's live portal session, or None (looked up once
    per request; a revoked or ended session is none at once)."""
    if "portal_influencer" in g:
        found: Influencer | None = g.portal_influencer
        return found
    cookie = request.cookies.get(COOKIE)
    influencer = None
    with services().db.read_session() as s:
        row = access.live_session(s, cookie)
        if row is not None:
            influencer = s.get(Influencer, row.influencer_id)
            if influencer is not None:
                s.expunge(influencer)
                g.portal_cookie = cookie
                g.portal_session_id = row.id
    g.portal_influencer = influencer
    return influencer


def portal_login_required(view: F) -> F:
    """The page needs a live portal session; without one, the page to ask for a link."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_influencer() is None:
            response = redirect(url_for("portal.new_link"))
            if request.cookies.get(COOKIE):
                clear_cookie(response)
            return response
        return view(*args, **kwargs)

    # functools.wraps keeps the signature at run time; mypy cannot see that wrapper is an F.
    return wrapper  # type: ignore[return-value]
