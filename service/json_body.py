"""A raw body read as a JSON object — an API request's (``service.http.request``) or a
webhook delivery's, live, spooled or replayed (``service.conversions.intake``) — or a
clear 4xx, never a 500."""

from __future__ import annotations

import json
import re
from typing import Any

from service.errors import AfftrackError, InvalidInput


def parse_json_object(raw: bytes, *, numbers_as_text: bool = False) -> dict[str, Any]:
    """A JSON object from a raw body, or a clear 4xx (never a 500).

    ``numbers_as_text``: a JSON number with a fraction or exponent is kept as its exact
    source text (a platform that writes money as JSON numbers, such as Shopify's refund
    lines, is read without ever becoming a float)."""
    try:
        if numbers_as_text:
            data = json.loads(raw, parse_float=str, parse_constant=_no_constant)
        else:
            data = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise AfftrackError("the request body is not valid JSON", code="malformed_json") from None
    if not isinstance(data, dict):
        raise InvalidInput("the request body must be a JSON object")
    if _SURROGATE_RE.search(raw) and _has_lone_surrogate(data):
        # JSON can spell half of a UTF-16 pair; no database can store it.
        raise AfftrackError("the request body is not valid Unicode", code="malformed_json")
    if b"\\u0000" in raw:
        # PostgreSQL text cannot hold NUL; no field of ours needs it.
        fields = {
            k: ["must not contain NUL characters"]
            for k, v in data.items()
            if _has_nul(v) or "\x00" in k
        }
        raise InvalidInput("the request body must not contain NUL characters", fields=fields)
    return data


_SURROGATE_RE = re.compile(rb"\\u[dD][89a-fA-F]")


def _no_constant(name: str) -> Any:
    """NaN and Infinity are not JSON (RFC 8259), whatever Python's parser allows."""
    raise ValueError(f"{name} is not JSON")


def _has_lone_surrogate(value: object) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False
