"""Marshmallow fields shared by the domain schemas."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, overload
from urllib.parse import urlsplit

from marshmallow import Schema, ValidationError, fields, post_load, validate

from service.money import EXPONENTS, is_currency
from service.paging import DEFAULT_LIMIT, MAX_LIMIT
from service.vocabulary import (
    AMOUNT_PATTERN,
    CURSOR_PATTERN,
    DATE_PATTERN,
    PLATFORMS,
    URL_MAX_LENGTH,
    URL_PATTERN,
    YEAR_MAX,
    YEAR_MIN,
    full,
)

__all__ = ["PLATFORMS"]

DECIMAL_RE = full(AMOUNT_PATTERN)

# Ids the documentation's examples use (the OpenAPI document and docs/reference.md), by
# type prefix: one influencer, campaign, … throughout, so the examples read as one story.
EXAMPLE_ID = {
    prefix: f"{prefix}_01m98bw9{tail}"
    for prefix, tail in (
        ("inf", "ekkm9eeetcdzwd9e7j"),
        ("cmp", "f2q8dx1a6k3v4c7h0r"),
        ("prt", "g5n2c8vd2m7q9n3r5t"),
        ("lnk", "h3s0c8vd2m7q9n3r5w"),
        ("pc", "j7x4s0c8vd2m7q9n3r"),
        ("dlv", "k1a6k3v4c7h0r2q8dx"),
        ("cnv", "m4q7s0c8vd2m7q9n3r"),
        ("cml", "n8v2d2m7q9n3r5t1wz"),
        ("exp", "p2m7q9n3r5t1wzx4s0"),
        ("key", "q6t1wzx4s0c8vd2m7q"),
        ("whd", "r9n3r5t1wzx4s0c8vd"),
        ("obj", "s3v4c7h0r2q8dxk1a6"),
    )
}
URL_RE = full(URL_PATTERN)


def in_years(*, time: bool = False) -> dict[str, Any]:
    """``metadata`` for a date (or, ``time``, a date and time) whose year the server keeps
    to YEAR_MIN..YEAR_MAX. A date states it as a pattern; a date-time only says so (a pattern on
    top of its format leaves generators nothing to try)."""
    rule = f"the year is {YEAR_MIN} to {YEAR_MAX}"
    return {"description": rule} if time else {"pattern": DATE_PATTERN, "description": rule}


class Pattern(validate.Regexp):
    """A vocabulary pattern (``service.vocabulary``): the OpenAPI document shows it as
    written (JSON Schema syntax); a value is checked against it whole, a trailing newline
    included."""

    def __init__(self, pattern: str, *, error: str | None = None) -> None:
        super().__init__(pattern, error=error)
        self._whole = full(pattern)

    @overload
    def __call__(self, value: str) -> str: ...

    @overload
    def __call__(self, value: bytes) -> bytes: ...

    def __call__(self, value: str | bytes) -> str | bytes:
        if isinstance(value, bytes):  # a text pattern: the base class refuses bytes alike
            return super().__call__(value)
        if self._whole.match(value) is None:
            raise ValidationError(self._format_error(value))
        return value


class Currency(fields.String):
    def __init__(self, **kwargs: Any) -> None:
        kwargs["metadata"] = {"enum": sorted(EXPONENTS), **kwargs.get("metadata", {})}
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not is_currency(text):
            raise ValidationError(f"{text!r} is not an ISO 4217 currency code")
        return text


class Amount(fields.String):
    """A decimal string such as ``"12.50"``. Exactness per currency is checked where
    the currency is known (``service.money.parse_amount``)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["metadata"] = {"pattern": AMOUNT_PATTERN, **kwargs.get("metadata", {})}
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str):
            raise ValidationError('money is a decimal string such as "12.50", not a number')
        text = super()._deserialize(value, attr, data, **kwargs)
        if not DECIMAL_RE.match(text):
            raise ValidationError(f"{text!r} is not a decimal amount")
        return text


class Tagged(fields.Dict):
    """An object whose ``tag`` field names its shape: ``variants`` holds a schema for each
    tag value. It loads as the mapping it is, for the domain to validate (its messages,
    its cross-field rules); the OpenAPI document shows it as a ``oneOf`` of the variants
    with a discriminator on ``tag`` (``service.http.contract``), so the variants must
    state every rule of shape the domain enforces."""

    def __init__(self, tag: str, variants: Mapping[str, type[Schema]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tag = tag
        self.variants = dict(variants)


def unsafe_url_chars(value: str) -> bool:
    """Backslashes, spaces and control characters: browsers and Python disagree on what
    such a URL means (``https://evil.com\\.shop.example`` goes to evil.com)."""
    return "\\" in value or any(ord(c) <= 32 or ord(c) == 127 for c in value)


# Why ``http_url`` refuses an address (the API's words; ``service.forms`` words them
# for people).
URL_UNSAFE = "must not contain backslashes, spaces or control characters"
URL_UNREADABLE = "not a valid URL"
URL_NOT_WEB = "must be an http(s) URL with a host"


def http_url(value: str) -> None:
    if unsafe_url_chars(value):
        raise ValidationError(URL_UNSAFE)
    try:
        parts = urlsplit(value)
    except ValueError:
        raise ValidationError(URL_UNREADABLE) from None
    if parts.scheme not in ("http", "https") or not parts.hostname or not URL_RE.match(value):
        raise ValidationError(URL_NOT_WEB)


class Url(fields.String):
    def __init__(self, **kwargs: Any) -> None:
        kwargs["metadata"] = {"pattern": URL_PATTERN, **kwargs.get("metadata", {})}
        super().__init__(validate=[validate.Length(max=URL_MAX_LENGTH), http_url], **kwargs)


class Id(fields.String):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=validate.Length(min=1, max=40), **kwargs)


class Change(Schema):
    """A partial change (PATCH): every field optional, and a field not sent is left out
    of the result rather than given its default, so it stays as it is."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if self.partial is None:  # its own fields only: a nested row is still whole
            self.partial = tuple(self.fields)

    @post_load(pass_original=True)
    def _sent_only(self, data: dict[str, Any], original: Any, **_: Any) -> dict[str, Any]:
        sent = original if isinstance(original, Mapping) else {}
        return {
            name: value
            for name, value in data.items()
            if (self.fields[name].data_key or name) in sent
        }


class ListQuery(Schema):
    cursor = fields.String(
        validate=Pattern(CURSOR_PATTERN, error="not a cursor from this API"),
        metadata={"description": "`next_cursor` of the page before; empty: the first page"},
    )
    limit = fields.Integer(
        load_default=DEFAULT_LIMIT,
        validate=validate.Range(min=1, max=MAX_LIMIT),
        metadata={"description": "how many per page"},
    )


def money_out(minor: int | None, currency: str) -> str | None:
    from service.money import format_amount

    return None if minor is None else format_amount(minor, currency)
