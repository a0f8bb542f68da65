"""Errors the domain raises; the HTTP layer turns them into docs/product.md §2's error JSON."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


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
