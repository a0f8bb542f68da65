"""Dashboard login: a session opened with an API key (either scope), in a signed cookie.

The cookie holds the key's id, a proof derived from the key's stored hash and a CSRF
token, never the key. Every page looks the key up again and checks the proof, so
revoking the key (``afftrack keys revoke``) ends its sessions at once, and a cookie
forged with the signing secret alone (public on the embedded demo's defaults) opens
nothing without the hash that only the database holds. A session ends
``SESSION_HOURS`` after the login (not refreshed by use). The cookie is HttpOnly,
SameSite=Lax, limited to ``/dashboard`` and Secure when ``AFFTRACK_PUBLIC_URL`` is https.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, abort, g, redirect, request, session, url_for

from service.http.context import services
from service.keys.models import ApiKey
from service.keys.service import authenticate

F = TypeVar("F", bound=Callable[..., Any])
SESSION_HOURS = 12
COOKIE = "afftrack_dashboard"


def configure(app: Flask) -> None:
    """Session signing and cookie settings (the secret: ``Settings.session_secret``)."""
    settings = app.extensions["afftrack"].settings
    app.secret_key = settings.session_secret
    app.config.update(
        SESSION_COOKIE_NAME=COOKIE,
        SESSION_COOKIE_PATH="/dashboard",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_url.startswith("https://"),
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
        # The signature's time is the login's: the session ends SESSION_HOURS after it.
        SESSION_REFRESH_EACH_REQUEST=False,
    )


def csrf_token() -> str:
    """This session's token for the dashboard's forms (made on first use)."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(24)
        session["csrf"] = token
    return token


def check_csrf() -> None:
    sent = request.form.get("csrf", "")
    if not hmac.compare_digest(sent.encode(), csrf_token().encode()):
        abort(400, "the form is stale or was not sent by this dashboard; reload and retry")


def log_in(token: str) -> ApiKey | None:
    """Open a session for ``token`` when it is a live API key; ``None`` otherwise."""
    with services().db.read_session() as db_session:
        key = authenticate(db_session, token.strip())
        if key is None:
            return None
        db_session.expunge(key)
    session.clear()
    session.permanent = True
    session["key_id"] = key.id
    session["proof"] = _proof(key)
    csrf_token()
    return key


def _proof(key: ApiKey) -> str:
    return hmac.new(
        key.key_hash.encode(), b"afftrack dashboard session", hashlib.sha256
    ).hexdigest()


def log_out() -> None:
    session.clear()


def current_key() -> ApiKey | None:
    """The session's API key, if it is still live."""
    key_id = session.get("key_id")
    if not isinstance(key_id, str):
        return None
    with services().db.read_session() as db_session:
        key = db_session.get(ApiKey, key_id)
        if key is None or key.revoked_at is not None:
            return None
        proof = session.get("proof")
        if not isinstance(proof, str) or not hmac.compare_digest(proof, _proof(key)):
            return None
        db_session.expunge(key)
    return key


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a dashboard path of this site, else the start page."""
    unsafe = "\\" in (target or "") or any(ord(c) < 32 or ord(c) == 127 for c in target or "")
    if target and not unsafe and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and parts.path.startswith("/dashboard"):
            return target
    return url_for("dashboard.campaigns")


def login_required(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = current_key()
        if key is None:
            session.pop("key_id", None)
            return redirect(url_for("dashboard.login_page", next=request.full_path.rstrip("?")))
        g.dashboard_key = key
        g.actor = key.id
        return view(*args, **kwargs)

    # functools.wraps keeps the signature at run time; mypy cannot see that wrapper is an F.
    return wrapper  # type: ignore[return-value]
