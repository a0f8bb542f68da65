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
    raw = request.get_data(cache=True)
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise AfftrackError("the request body is not valid JSON", code="malformed_json") from None
    if not isinstance(data, dict):
        raise InvalidInput("the request body must be a JSON object")
    return data


def load(schema: Schema, *, partial: bool = False) -> dict[str, Any]:
    return schema.load(json_body(), partial=partial)  # type: ignore[return-value]


def load_query(schema: Schema) -> dict[str, Any]:
    return schema.load(request.args.to_dict())  # type: ignore[return-value]
