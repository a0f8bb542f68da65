"""``GET|HEAD /r/<code>``, served at the WSGI level in front of Flask.

The redirect is the hottest path in the product; Flask's routing, request objects and
context cost more than the redirect itself (docs/BENCHMARKS.md#what-flask-costs-a-redirect),
so this middleware answers ``/r/`` directly from the WSGI environ and hands every other
request to Flask.
Same process, same settings, same services.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from service import metrics
from service.clicks.identity import client_address
from service.config import Settings
from service.redirect.service import Answer, Redirector, Visit
from service.vocabulary import CODE_PATTERN, LINK_SOURCE, QR_MARKER, QR_SOURCE, full

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

NOT_FOUND_PAGE = (
    b"<!doctype html><html><head><meta charset=utf-8><title>Link not found</title></head>"
    b"<body><h1>Link not found</h1><p>This link does not exist or has been removed.</p>"
    b"</body></html>"
)
UNAVAILABLE_PAGE = (
    b"<!doctype html><html><head><meta charset=utf-8><title>Try again</title></head>"
    b"<body><h1>Temporarily unavailable</h1><p>Please try again in a moment.</p>"
    b"</body></html>"
)
_CODE = full(CODE_PATTERN)
_COMMON = [("Cache-Control", "no-store"), ("Referrer-Policy", "no-referrer-when-downgrade")]
_HTML = ("Content-Type", "text/html; charset=utf-8")
_COUNTERS = {
    outcome: metrics.REDIRECTS.labels(outcome)
    for outcome in ("redirect", "fallback", "not_found", "unavailable")
}
_NOT_FOUND = Answer(404, "not_found")


class RedirectMiddleware:
    """Answers ``/r/<code>``; passes everything else to ``app``."""

    def __init__(
        self,
        app: WSGIApp,
        redirector: Redirector,
        settings: Settings,
        *,
        on_first_request: Callable[[], None] | None = None,
    ) -> None:
        self.app = app
        self.redirector = redirector
        self.trusted_proxies = settings.trusted_proxies
        self._on_first_request = on_first_request

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if self._on_first_request is not None:  # (e.g. move on what a dead process spooled)
            first, self._on_first_request = self._on_first_request, None
            first()
        path: str = environ.get("PATH_INFO", "")
        if not path.startswith("/r/"):
            return self.app(environ, start_response)
        method = environ["REQUEST_METHOD"]
        if method not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Allow", "GET, HEAD"), *_COMMON])
            return [b""]
        code = path[3:]
        if _CODE.fullmatch(code) is None:
            answer = _NOT_FOUND
        else:
            answer = self.redirector.follow(code, self.visit(environ, method))
        _COUNTERS[answer.outcome].inc()
        if answer.status == 302:
            start_response(
                "302 Found",
                [("Location", answer.location), ("Content-Length", "0"), *_COMMON],
            )
            return [b""]
        if answer.status == 404:
            body = NOT_FOUND_PAGE
            start_response("404 Not Found", [_HTML, ("Content-Length", str(len(body))), *_COMMON])
        else:
            body = UNAVAILABLE_PAGE
            start_response(
                "503 Service Unavailable",
                [_HTML, ("Content-Length", str(len(body))), ("Retry-After", "5"), *_COMMON],
            )
        return [b"" if method == "HEAD" else body]

    def visit(self, environ: dict[str, Any], method: str) -> Visit:
        trusted = self.trusted_proxies
        country = environ.get("HTTP_CF_IPCOUNTRY") if trusted else None
        purpose = ";".join(
            environ[name]
            for name in ("HTTP_SEC_PURPOSE", "HTTP_PURPOSE", "HTTP_X_PURPOSE", "HTTP_X_MOZ")
            if name in environ
        )
        return Visit(
            method=method,
            user_agent=environ.get("HTTP_USER_AGENT", "")[:512],
            address=client_address(
                environ.get("REMOTE_ADDR"), environ.get("HTTP_X_FORWARDED_FOR"), trusted
            ),
            referrer=environ.get("HTTP_REFERER", "")[:1024] or None,
            country=_country(country),
            purpose=purpose or None,
            source=_source(environ.get("QUERY_STRING")),
        )


def _source(query: str | None) -> str:
    """``qr`` when the query carries the QR code's marker (``qr=1``), else ``link``. The
    query is read for nothing else and never forwarded to the shop."""
    if query and QR_MARKER in query.split("&"):
        return QR_SOURCE
    return LINK_SOURCE


def _country(value: str | None) -> str | None:
    if value and len(value) == 2 and value.isalpha() and value.upper() not in ("XX", "T1"):
        return value.upper()
    return None
