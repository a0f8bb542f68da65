"""Reading a request's JSON body (the rules for any raw JSON body: service/json_body.py)."""

from __future__ import annotations

from typing import Any

from flask import request

from service.errors import UnsupportedMediaType
from service.json_body import parse_json_object


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a clear 4xx."""
    if not request.mimetype or request.mimetype != "application/json":
        raise UnsupportedMediaType("send JSON with Content-Type: application/json")
    return parse_json_object(request.get_data(cache=True))
