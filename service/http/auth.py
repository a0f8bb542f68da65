"""Bearer API keys on the management API: 401 without a valid key, 403 on scope."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import g, request

from service.errors import Forbidden, Unauthorized
from service.http.context import services
from service.keys.models import ApiKey
from service.keys.service import allows, authenticate

F = TypeVar("F", bound=Callable[..., Any])


def current_key() -> ApiKey:
    return g.api_key


def require(scope: str) -> Callable[[F], F]:
    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            header = request.headers.get("Authorization", "")
            kind, _, token = header.partition(" ")
            if kind.lower() != "bearer" or not token.strip():
                raise Unauthorized("an API key is required: Authorization: Bearer <key>")
            # A short session of its own: on SQLite a transaction holds the write lock,
            # so it must not stay open through the view.
            with services().db.session() as auth_session:
                key = authenticate(auth_session, token.strip())
            if key is None:
                raise Unauthorized("the API key is not valid")
            if not allows(key, scope):
                raise Forbidden(f"this API key has the '{key.scope}' scope; '{scope}' is needed")
            g.api_key = key
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator
