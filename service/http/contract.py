"""The management API's routes as their own contract (flask-smorest).

Each route declares its arguments, its answer, every error status it can answer and its
scope; the OpenAPI document at /api/v1/openapi.json is built from those declarations.
Request bodies and query strings keep our own rules (``service.http.request``): 415 for
a body that is not JSON, 400 ``malformed_json``, NUL and lone surrogates refused, unknown
query parameters refused, and every error in our one shape (``service.http.errors``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from http import HTTPStatus
from typing import Any, NoReturn, TypeVar

import flask_smorest
from flask import Flask, Request, request
from marshmallow import RAISE, Schema, ValidationError, fields
from webargs.flaskparser import FlaskParser
from werkzeug.routing import BaseConverter

from service import __version__
from service.errors import InvalidInput, NotFound
from service.http.request import json_body
from service.paging import CURSOR_PATTERN
from service.schemas import Pattern, Tagged
from service.vocabulary import HANDLE_RULE

F = TypeVar("F", bound=Callable[..., Any])
View = Callable[..., Any]

# Where the document is served and which security scheme a bearer route names.
OPENAPI_URL_PREFIX = "/api/v1"
BEARER = "apiKey"


# Built from a dict: declared in a class body, a field named "fields" would override
# ``Schema.fields`` as far as mypy knows (marshmallow's metaclass takes it out at run time).
ErrorBody = Schema.from_dict(
    {
        "code": fields.String(
            required=True,
            metadata={"description": "machine-readable, stable", "example": "validation_failed"},
        ),
        "message": fields.String(
            required=True,
            metadata={"description": "for a person", "example": "the request body is not valid"},
        ),
        "fields": fields.Dict(
            required=True,
            metadata={
                "description": "the offending fields, by name, each with what is wrong (may "
                "be empty)",
                "example": {"handle": [HANDLE_RULE]},
            },
        ),
    },
    name="ErrorBody",
)


class Error(Schema):
    """Every error answer: ``{"error": {"code", "message", "fields"}}``."""

    error = fields.Nested(ErrorBody, required=True)


class Parser(FlaskParser):
    """webargs with our rules: the JSON body through ``json_body`` (415, 400
    ``malformed_json``, NUL, lone surrogates), the query string as a plain dict (first
    value of each name) with unknown names refused, and a refusal raised as marshmallow's
    ``ValidationError`` so ``service.http.errors`` answers it in our shape."""

    DEFAULT_UNKNOWN_BY_LOCATION: dict[str, str | None] = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "json": RAISE,
        "query": RAISE,
        "querystring": RAISE,
    }

    def load_json(self, req: Request, schema: Schema) -> Any:
        return json_body()

    def load_querystring(self, req: Request, schema: Schema) -> Any:
        nul = [k for k, v in req.args.items(multi=True) if "\x00" in k + v]
        if nul:  # PostgreSQL text cannot hold NUL; no value of ours needs it
            raise InvalidInput(
                "the query string must not contain NUL characters",
                fields={k: ["must not contain NUL characters"] for k in nul},
            )
        return req.args.to_dict()

    def handle_error(
        self,
        error: ValidationError,
        req: Request,
        schema: Schema,
        *,
        error_status_code: int | None,
        error_headers: Mapping[str, str] | None,
    ) -> NoReturn:
        messages = error.messages
        # webargs files the messages under their location ({"json": {...}}): ours do not.
        if isinstance(messages, dict) and len(messages) == 1:
            (location, messages), *_ = messages.items()
            if location == "query" and isinstance(messages, dict):
                raise InvalidInput("the query string is not valid", fields=messages)
        raise ValidationError(messages)


# The error statuses a route can answer because of what it reads, beyond 401/403
# (``service.http.auth.require``): a JSON body (malformed, over 1 MiB, not JSON, not
# valid) or a query string (not valid).
JSON_BODY = (400, 413, 415, 422)
QUERY = (422,)

# What each error status means when a route names it without a description of its own
# (``Blueprint.errors``), in the words of docs/api.md#errors.
MEANINGS = {
    400: "the body is not JSON (`malformed_json`)",
    401: "no API key, or an unknown or revoked one (`unauthorized`)",
    403: "a `read` key on a call that needs `write` (`forbidden`)",
    404: "nothing has this id (`not_found`)",
    413: "the body is over 1 MiB",
    415: "the body is not `application/json`",
    422: "not valid (`validation_failed`): `fields` names each field at fault and why",
}


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.before_request(_refuse_nul)

    # flask-smorest's decorators, typed (it ships no types). ``route`` registers the view
    # as it is; ``doc`` and ``alt_response`` wrap it with the same call; ``arguments``
    # passes the view the parsed arguments first and ``response`` serializes what it
    # returns, so neither keeps the view's signature.

    def route(self, rule: str, **options: Any) -> Callable[[F], F]:
        decorator: Callable[[F], F] = super().route(rule, **options)
        return decorator

    def arguments(self, schema: type[Schema] | Schema, **options: Any) -> Callable[[View], View]:
        decorator: Callable[[View], View] = super().arguments(schema, **options)
        return decorator

    def response(
        self, status_code: int, schema: type[Schema] | Schema | None = None, **options: Any
    ) -> Callable[[View], View]:
        decorator: Callable[[View], View] = super().response(status_code, schema, **options)
        return decorator

    def alt_response(
        self, status_code: int, response: str | None = None, **options: Any
    ) -> Callable[[F], F]:
        decorator: Callable[[F], F] = super().alt_response(status_code, response, **options)
        return decorator

    @staticmethod
    def doc(**kwargs: Any) -> Callable[[F], F]:
        decorator: Callable[[F], F] = flask_smorest.Blueprint.doc(**kwargs)
        return decorator

    def errors(self, *statuses: int | tuple[int, ...], **described: str) -> Callable[[F], F]:
        """Document the error answers a route can give, each in the one ``Error`` shape:
        ``statuses`` by their standard description, ``described`` as ``_409="..."``."""
        flat = sorted(
            {s for item in statuses for s in (item if isinstance(item, tuple) else (item,))}
        )

        def decorator(func: F) -> F:
            for status in flat:
                if f"_{status}" not in described:
                    func = self.alt_response(status, response=HTTPStatus(status).name)(func)
            for key, description in described.items():
                status = int(key.removeprefix("_"))
                func = self.alt_response(status, schema=Error, description=description)(func)
            return func

        return decorator


class Api(flask_smorest.Api):
    """flask-smorest's Api with our error shape, no catch-all ``default`` answer (every
    status is listed per operation) and no error handler of its own."""

    ERROR_SCHEMA = Error
    DEFAULT_ERROR_RESPONSE_NAME = None

    def _register_error_handlers(self) -> None:
        """``service.http.errors`` answers every error."""

    def _register_responses(self) -> None:
        """flask-smorest's answer per status, each error status described by ``MEANINGS``."""
        super()._register_responses()
        for status, meaning in MEANINGS.items():
            self.spec.components.responses_lazy[HTTPStatus(status).name]["description"] = meaning


def _refuse_nul() -> None:
    """PostgreSQL text cannot hold NUL and no id of ours has one: an id with it names
    nothing (404) and is not looked up."""
    args = request.view_args or {}
    if any("\x00" in str(v) for k, v in args.items() if k.endswith("_id")):
        raise NotFound("no such resource")


class LineId(BaseConverter):
    """A ledger line's id in a path: any segment but ``adjustments``, which is a route of
    its own (so that /commissions/adjustments names only the methods it has)."""

    regex = r"(?!adjustments(?:/|$))[^/]+"


def tagged2properties(
    converter: Any, field: fields.Field[Any], ret: dict[str, Any]
) -> dict[str, Any]:
    """apispec: a ``Tagged`` field as a ``oneOf`` of its variants' components, with a
    discriminator on its tag (in place of a free-form object's ``additionalProperties``)."""
    if not isinstance(field, Tagged):
        return {}
    refs = {tag: converter.resolve_nested_schema(schema) for tag, schema in field.variants.items()}
    ret.pop("additionalProperties", None)
    one_of = list({ref["$ref"]: ref for ref in refs.values()}.values())
    mapping = {tag: ref["$ref"] for tag, ref in refs.items()}
    return {"oneOf": one_of, "discriminator": {"propertyName": field.tag, "mapping": mapping}}


def make_api(app: Flask) -> Api:
    """The Api for ``app``: serves the document at /api/v1/openapi.json (no UI pages)."""
    app.config.update(
        API_TITLE="afftrack management API",
        API_VERSION=__version__,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX=OPENAPI_URL_PREFIX,
        OPENAPI_JSON_PATH="openapi.json",
    )
    api = Api(
        app,
        spec_kwargs={
            "info": {
                "description": (
                    "Every management call needs `Authorization: Bearer <key>`; each "
                    "operation names the scope it needs in `x-scope` (a `write` key may "
                    "also read). Checkout webhooks are signed by the shop instead. No "
                    "text may contain NUL (U+0000): PostgreSQL cannot store it, so a body "
                    "or query with it is refused (422). A request line over 4094 bytes or "
                    "headers over gunicorn's limits never reach the API: gunicorn answers "
                    "414 or 431 itself, in plain text."
                )
            }
        },
    )
    api.spec.components.security_scheme(BEARER, {"type": "http", "scheme": "bearer"})
    app.extensions["afftrack.api"] = api
    api.ma_plugin.converter.add_attribute_function(tagged2properties)
    app.url_map.converters["line_id"] = LineId
    api.register_converter(
        LineId, lambda _c: {"type": "string", "pattern": "^(?!adjustments$)[^/]+$"}
    )
    return api


def document(app: Flask) -> dict[str, Any]:
    """The OpenAPI document ``app`` serves, its operations in the order they are declared."""
    api: Api = app.extensions["afftrack.api"]
    spec: dict[str, Any] = api.spec.to_dict()
    return spec


@cache
def page_of(schema: type[Schema]) -> type[Schema]:
    """The schema of one page of ``schema``: ``{"items": [...], "next_cursor": ...}``."""
    return type(
        schema.__name__.removesuffix("Out") + "Page",
        (Schema,),
        {
            "items": fields.List(fields.Nested(schema), required=True),
            "next_cursor": fields.String(
                required=True,
                allow_none=True,
                validate=Pattern(CURSOR_PATTERN),
                metadata={
                    "description": "`cursor` for the next page; null on the last",
                    "example": None,
                },
            ),
        },
    )
