"""``GET /r/<code>``: resolve, build the redirect, hand the click to the recorder."""

from __future__ import annotations

import secrets

from flask import Blueprint, Response, request

from service import clock, metrics
from service.clicks.bots import bot_reason
from service.clicks.identity import client_address, ip_hash
from service.clicks.recorder import ClickRecord
from service.http.context import services
from service.links.destinations import merge_query
from service.redirect.resolver import resolve

bp = Blueprint("redirect", __name__)

NOT_FOUND_PAGE = (
    "<!doctype html><html><head><meta charset=utf-8><title>Link not found</title></head>"
    "<body><h1>Link not found</h1><p>This link does not exist or has been removed.</p>"
    "</body></html>"
)
_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer-when-downgrade"}


def new_click_id() -> str:
    """Short and unguessable: 96 random bits, URL-safe."""
    return secrets.token_urlsafe(12)


@bp.route("/r/<code>", methods=["GET", "HEAD"])
def follow(code: str) -> Response:
    svc = services()
    settings = svc.settings
    if len(code) > 64:
        target = None
    else:
        with svc.db.session() as session:
            target = resolve(session, code)
    if target is None:
        metrics.REDIRECTS.labels("not_found").inc()
        return Response(
            NOT_FOUND_PAGE, 404, {**_HEADERS, "Content-Type": "text/html; charset=utf-8"}
        )

    now = clock.now_utc()
    click_id = new_click_id()
    if target.live_on(now.astimezone(settings.zone).date()):
        outcome = "redirect"
        location = merge_query(target.tracked_url, {settings.click_param: click_id})
    else:
        outcome = "fallback"
        location = target.fallback_url

    user_agent = request.headers.get("User-Agent", "")[:512]
    reason = bot_reason(
        user_agent,
        method=request.method,
        purpose=request.headers.get("Sec-Purpose") or request.headers.get("Purpose"),
    )
    address = client_address(
        request.remote_addr, request.headers.get("X-Forwarded-For"), settings.trusted_proxies
    )
    svc.clicks.record(
        ClickRecord(
            id=click_id,
            link_id=target.link_id,
            occurred_at=now,
            ip_hash=ip_hash(settings.ip_hash_key, address),
            user_agent=user_agent,
            referrer=(request.headers.get("Referer") or None) and request.headers["Referer"][:1024],
            country=_country(
                request.headers.get("CF-IPCountry") if settings.trusted_proxies else None
            ),
            is_bot=reason is not None,
            bot_reason=reason,
            outcome=outcome,
        )
    )
    metrics.REDIRECTS.labels(outcome).inc()
    return Response(status=302, headers={**_HEADERS, "Location": location})


def _country(value: str | None) -> str | None:
    if value and len(value) == 2 and value.isalpha() and value.upper() not in ("XX", "T1"):
        return value.upper()
    return None
