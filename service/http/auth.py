"""Bearer API keys on the management API: 401 without a valid key, 403 on scope.

The HTTP layer does not know how keys are stored: the app hands it a :class:`KeyLookup`
at creation (``service.app``), built on ``service.keys``."""

from __future__ import annotations

from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass
from functools import wraps
from typing import Any, Generic, Protocol, TypeVar

from flask import Flask, current_app, g, request
from sqlalchemy.orm import Session

from service.errors import Forbidden, Unauthorized
from service.http.context import services
from service.http.contract import BEARER

F = TypeVar("F", bound=Callable[..., Any])


class Key(Protocol):
    id: str
    scope: str


K = TypeVar("K", bound=Key)


@dataclass(frozen=True)
class KeyLookup(Generic[K]):
    """``authenticate(session, token)``: the live key or ``None``; ``allows(key, scope)``."""

    authenticate: Callable[[Session, str], K | None]
    allows: Callable[[K, str], bool]


def init_app(app: Flask, lookup: KeyLookup[Any]) -> None:
    app.extensions["afftrack.keys"] = lookup


def current_key() -> Key:
    key: Key = g.api_key
    return key


def require(scope: str) -> Callable[[F], F]:
    """The route needs a bearer key with ``scope``; checked before anything else of the
    request is read. Documented on the operation: the security scheme, ``x-scope`` and
    its 401 answer, and 403 where a key can lack the scope (every key may read)."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            header = request.headers.get("Authorization", "")
            kind, _, token = header.partition(" ")
            if kind.lower() != "bearer" or not token.strip():
                raise Unauthorized("an API key is required: Authorization: Bearer <key>")
            lookup: KeyLookup[Key] = current_app.extensions["afftrack.keys"]
            # A short session of its own: on SQLite a transaction holds the write lock,
            # so it must not stay open through the view.
            with services().db.session() as auth_session:
                key = lookup.authenticate(auth_session, token.strip())
            if key is None:
                raise Unauthorized("the API key is not valid")
            if not lookup.allows(key, scope):
                raise Forbidden(f"this API key has the '{key.scope}' scope; '{scope}' is needed")
            g.api_key = key
            g.actor = key.id
            return view(*args, **kwargs)

        apidoc = deepcopy(getattr(view, "_apidoc", {}))
        manual = apidoc.setdefault("manual_doc", {})
        manual["security"] = [{BEARER: []}]
        manual["x-scope"] = scope
        responses = apidoc.setdefault("response", {}).setdefault("responses", {})
        responses.setdefault(401, []).append("UNAUTHORIZED")
        if scope != "read":
            responses.setdefault(403, []).append("FORBIDDEN")
        # flask-smorest reads _apidoc off the view; functions have no such attribute to mypy.
        wrapper._apidoc = apidoc  # type: ignore[attr-defined]
        # functools.wraps keeps the signature at run time; mypy cannot see that wrapper is an F.
        return wrapper  # type: ignore[return-value]

    return decorator
