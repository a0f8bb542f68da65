"""Reading request bodies and query strings through marshmallow schemas."""

from __future__ import annotations

import json
from typing import Any

from flask import request
from marshmallow import Schema

from service.errors import AfftrackError, InvalidInput, UnsupportedMediaType


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a clear 4xx."""
    if not request.mimetype or request.mimetype != "application/json":
        raise UnsupportedMediaType("send JSON with Content-Type: application/json")
    return parse_json_object(request.get_data(cache=True))


def parse_json_object(raw: bytes, *, numbers_as_text: bool = False) -> dict[str, Any]:
    """A JSON object from a raw body, or a clear 4xx (never a 500).

    ``numbers_as_text``: a JSON number with a fraction or exponent is kept as its exact
    source text (a platform that writes money as JSON numbers, such as Shopify's refund
    lines, is read without ever becoming a float)."""
    try:
        data = json.loads(raw, parse_float=str) if numbers_as_text else json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise AfftrackError("the request body is not valid JSON", code="malformed_json") from None
    if not isinstance(data, dict):
        raise InvalidInput("the request body must be a JSON object")
    if b"\\u0000" in raw:
        # PostgreSQL text cannot hold NUL; no field of ours needs it.
        fields = {
            k: ["must not contain NUL characters"]
            for k, v in data.items()
            if _has_nul(v) or "\x00" in k
        }
        raise InvalidInput("the request body must not contain NUL characters", fields=fields)
    return data


def load(schema: Schema, *, partial: bool = False) -> dict[str, Any]:
    return schema.load(json_body(), partial=partial)  # type: ignore[return-value]


def load_query(schema: Schema) -> dict[str, Any]:
    return schema.load(request.args.to_dict())  # type: ignore[return-value]


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False
