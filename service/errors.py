"""Errors the domain raises; the HTTP layer turns them into docs/product.md §2's error JSON.

A refusal a person may read on a portal page is written ``N_("…")`` (``Words``): English
wherever it is a ``str`` (the API's answers, the dashboard), and a page in another
language writes it from its catalogue (docs/portal.md "Languages").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class Words(str):
    """An English sentence for people that a page can write in its own language:
    ``template`` is its catalogue's message id (``%(name)s`` placeholders) and
    ``params`` the values written into it. As a ``str`` it is the sentence in English."""

    template: str
    params: dict[str, object]

    def __new__(cls, template: str, params: Mapping[str, object] | None = None) -> Words:
        values = dict(params or {})
        made = super().__new__(cls, template % values if values else template)
        made.template = template
        made.params = values
        return made


def N_(template: str, **params: object) -> Words:
    """Mark ``template`` for the portal's catalogues (``pybabel extract`` finds ``N_``)
    and keep the values written into it; the text itself stays English."""
    return Words(template, params)


class AfftrackError(Exception):
    status = 400
    code = "bad_request"

    def __init__(
        self, message: str, *, fields: Mapping[str, Any] | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fields = dict(fields or {})
        if code:
            self.code = code


class InvalidInput(AfftrackError):
    status = 422
    code = "validation_failed"


class NotFound(AfftrackError):
    status = 404
    code = "not_found"


class Conflict(AfftrackError):
    status = 409
    code = "conflict"


class Unauthorized(AfftrackError):
    status = 401
    code = "unauthorized"


class Forbidden(AfftrackError):
    status = 403
    code = "forbidden"


class Unavailable(AfftrackError):
    status = 503
    code = "unavailable"


class UnsupportedMediaType(AfftrackError):
    status = 415
    code = "unsupported_media_type"


class NotSupported(AfftrackError):
    status = 501
    code = "not_implemented"
