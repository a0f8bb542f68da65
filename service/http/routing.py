"""What a site's catch-all route asks of the routing: the dashboard and the portal each
answer any address under their prefix that no page takes with a page of their own, not
the API's JSON, and a page's address asked the wrong way with 405 and its ``Allow``."""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn, TypeVar

from flask import Blueprint, current_app, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.wrappers import Response

# The endpoint name (under each site's blueprint) of its catch-all route, and every
# method it takes (OPTIONS included: an address that is no page allows nothing).
CATCH_ALL = "no_such_page"
ANY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]
R = TypeVar("R", bound=Response)


def _methods_here() -> list[str]:
    """The methods the routes other than a catch-all take at the request's address."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = []
    for method in [*ANY_METHOD, "HEAD"]:
        try:
            endpoint, _values = adapter.match(method=method)
        except HTTPException:
            continue
        if endpoint.rpartition(".")[2] != CATCH_ALL:
            allowed.append(method)
    return sorted(allowed)


def refusal(not_found: HTTPException) -> HTTPException:
    """The answer to the request a catch-all route caught: 405 with the methods a page
    takes at this address, else ``not_found``."""
    allowed = _methods_here()
    return MethodNotAllowed(valid_methods=allowed) if allowed else not_found


def allow_header(exc: HTTPException) -> dict[str, str]:
    """The ``Allow`` header a 405 answer carries (none for other refusals)."""
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        return {"Allow": ", ".join(exc.valid_methods)}
    return {}


def page_options(response: R) -> R:
    """An OPTIONS answer for a page names the methods of the page, not the catch-all's
    (Flask's own answer counts every route at the address)."""
    if request.method == "OPTIONS" and "Allow" in response.headers:
        response.headers["Allow"] = ", ".join(_methods_here())
    return response


def catch_all(bp: Blueprint, not_found: Callable[[], HTTPException]) -> None:
    """Give ``bp`` its catch-all route: any address under its prefix that no page takes
    (the routing tries every page first) answers ``not_found()``, which the blueprint's
    error handler writes as its own page; a page's address asked the wrong way, 405."""

    def no_such_page(_unknown: str) -> NoReturn:
        raise refusal(not_found())

    bp.add_url_rule(
        "/<path:_unknown>",
        endpoint=CATCH_ALL,
        view_func=no_such_page,
        methods=ANY_METHOD,
        provide_automatic_options=False,
    )
