"""Reading platform payloads: typed, bounded look-ups that fail with a clear 422.

Platform bodies are large and mostly irrelevant to us; a parser reads the few fields it
needs through these helpers, which name the offending field in the error.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from service.errors import InvalidInput
from service.money import (
    MAX_MINOR,
    MoneyError,
    is_currency,
    parse_amount,
    parse_decimal,
)
from service.vocabulary import YEAR_RULE, year_in_range

MAX_ID = 128


class HeaderLookup(Protocol):
    """A delivery's headers as webhook code reads them: the request's (werkzeug
    ``Headers``, any case) or those a stored delivery kept (a plain ``Mapping``)."""

    def get(self, key: str, /) -> str | None: ...

    def __getitem__(self, key: str, /) -> str: ...


def bad(path: str, message: str) -> InvalidInput:
    return InvalidInput(f"{path}: {message}", fields={path: [message]})


def obj(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise bad(path, "must be an object")
    return value


def items(value: Any, path: str, limit: int = 1000) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The objects of a list (absent or null: none), each with its path."""
    if value is None:
        return
    if not isinstance(value, list):
        raise bad(path, "must be a list")
    if len(value) > limit:
        raise bad(path, f"has more than {limit} entries")
    for i, entry in enumerate(value):
        yield f"{path}.{i}", obj(entry, f"{path}.{i}")


def ident(value: Any, path: str) -> str:
    """An id the platform sends as a string or an integer."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise bad(path, "must be a string or an integer id")
    text = str(value).strip()
    if not text or len(text) > MAX_ID:
        raise bad(path, f"must be 1 to {MAX_ID} characters")
    return text


def opt_text(value: Any, path: str, limit: int) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise bad(path, "must be a string")
    text = str(value).strip()
    if len(text) > limit:
        return None  # too long to be ours (a click id, a code): ignored, not refused
    return text or None


def currency(value: Any, path: str) -> str:
    code = value.upper() if isinstance(value, str) else value
    if not is_currency(code):
        raise bad(path, "must be an ISO 4217 currency code")
    return code


def money(value: Any, cur: str, path: str, *, default: str | None = None) -> int:
    """A platform's decimal money string (or JSON number written as such) → minor units."""
    if value is None and default is not None:
        value = default
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise bad(path, 'must be a decimal string such as "12.50"')
    try:
        return parse_amount(value.strip(), cur, allow_negative=True)
    except MoneyError as exc:
        raise bad(path, str(exc)) from None


def minor_int(value: Any, path: str, *, default: int | None = None) -> int:
    """An integer amount as Stripe sends it."""
    if value is None and default is not None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad(path, "must be an integer amount")
    if abs(value) > 10**15:
        raise bad(path, "is too large")
    return value


def bounded(total: int, path: str, *, scale: int = 0) -> int:
    """A sum of amounts kept within what afftrack stores (``scale``: millionths)."""
    if abs(total) > MAX_MINOR * 10**scale:
        raise bad(path, "the amounts add up to more than afftrack accepts")
    return total


def moment(value: Any, path: str, *, naive_is_utc: bool = False) -> datetime:
    """An ISO 8601 time with an offset (or, for WooCommerce's *_gmt fields, without),
    or a Unix timestamp."""
    if isinstance(value, int) and not isinstance(value, bool):
        if not 946684800 <= value <= 4102444800:
            raise bad(path, YEAR_RULE)
        return datetime.fromtimestamp(value, UTC)
    if not isinstance(value, str) or len(value) > 40:
        raise bad(path, "must be an ISO 8601 time")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise bad(path, "must be an ISO 8601 time") from None
    if parsed.tzinfo is None:
        if not naive_is_utc:
            raise bad(path, "must carry a UTC offset")
        parsed = parsed.replace(tzinfo=UTC)
    if not year_in_range(parsed.year):
        raise bad(path, YEAR_RULE)
    return parsed.astimezone(UTC)


def header(headers: HeaderLookup, name: str) -> str:
    return (headers.get(name) or "").strip()


_SCALE = 6


def scaled(value: Any, path: str) -> int:
    """A decimal money string as an integer of millionths (exact; currency-free), for
    summing amounts before the currency that governs them is known."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise bad(path, 'must be a decimal string such as "12.50"')
    try:
        return parse_decimal(value.strip(), _SCALE, allow_negative=True)
    except MoneyError as exc:
        raise bad(path, str(exc)) from None


def unscaled(millionths: int) -> str:
    """Millionths back to a plain decimal string (trailing zeros kept to 6 places)."""
    sign = "-" if millionths < 0 else ""
    whole, frac = divmod(abs(millionths), 10**_SCALE)
    return f"{sign}{whole}.{frac:06d}"
