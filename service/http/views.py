"""Small helpers every domain ``api.py`` uses to answer."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from marshmallow import Schema

from service.paging import Page


def one(schema: Schema, obj: Any, status: int = 200) -> tuple[Response, int]:
    return jsonify(schema.dump(obj)), status


def page(schema: Schema, result: Page[Any]) -> Response:
    return jsonify(
        {"items": schema.dump(result.items, many=True), "next_cursor": result.next_cursor}
    )
