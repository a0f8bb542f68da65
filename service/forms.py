"""HTML forms (the dashboard's and the portal's) through the API's own marshmallow schemas.

A browser sends every input as text; the API's schemas expect JSON types. ``submit``
turns a form into the JSON body the API would receive for the same schema — whole
numbers as integers, a list of texts from a text area, rows of a nested list from
inputs named ``<list>-<row>-<field>`` — and loads it with that schema, so a form and the
API accept and refuse exactly the same things. The schema's refusals come back by input
name, worded for people (``worded``), to be shown next to each input; those it knows
are ``service.errors.Words``: English on the dashboard, in the page's language on the
portal.

An input left empty is left out (the schema's default applies) or, where the field may
be empty (``allow_none``), sent as ``null``: clearing a payout email clears it.

A form that makes something carries a one-time token (the hidden input ``once``,
``page_token``): the same form sent twice makes one thing (ADR "a form sent twice makes
one thing"). A token that is not one of ours (``sent_token``: ``None``), such as a page
from before tokens, is sent without that protection.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate
from werkzeug.datastructures import MultiDict

from service.errors import N_, AfftrackError, Words
from service.schemas import URL_NOT_WEB, URL_UNREADABLE, URL_UNSAFE, Tagged
from service.vocabulary import YEAR_MAX, YEAR_MIN, YEAR_SPAN

_MISSING = object()
_WHOLE = re.compile(r"[+-]?\d{1,30}")
_LIST_SPLIT = re.compile(r"[\r\n,]+")
_ON = frozenset({"on", "true", "1", "yes"})
_LOCAL_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?")  # datetime-local
ONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")  # a form's one-time token (input ``once``)

_FILL = N_("Fill this in.")
_TEXT = N_("Enter text.")
_CHECK = N_("Check this value.")
_WEB_ADDRESS = N_("Enter a web address, such as https://example.com/page.")
_AT_LEAST = N_("Enter at least %(min)s characters.")

# marshmallow's wording, and our own checks' (the API's), → a sentence for the person at
# the form; each is a ``Words``, so that the portal writes it in the page's language.
PLAIN: dict[str, Words] = {
    "Missing data for required field.": _FILL,
    "Field may not be null.": _FILL,
    "Invalid value.": _CHECK,
    "Invalid type.": _CHECK,
    "Invalid input type.": _CHECK,
    "Not a valid string.": _TEXT,
    "Not a valid utf-8 string.": _TEXT,
    "Not a valid integer.": N_("Enter a whole number, such as 1200."),
    "Not a valid number.": N_("Enter a number, such as 12.50."),
    "Number too large.": N_("Enter a smaller number."),
    "Not a valid email address.": N_("Enter an email address, such as name@example.com."),
    "Not a valid date.": N_("Enter a date as YYYY-MM-DD."),
    "Not a valid datetime.": N_("Enter a date as YYYY-MM-DD (or a time as 2026-10-01T09:00:00Z)."),
    "Not a valid aware datetime.": N_("Give the time with its zone, such as 2026-10-01T09:00:00Z."),
    "Unknown field.": N_("This form does not take this value."),
    URL_UNSAFE: N_("Enter the address without spaces, backslashes or control characters."),
    URL_UNREADABLE: _WEB_ADDRESS,
    URL_NOT_WEB: _WEB_ADDRESS,
    YEAR_SPAN: N_(
        "Choose a date in the years %(first)s to %(last)s.",
        first=str(YEAR_MIN),
        last=str(YEAR_MAX),
    ),
}


def _shape(template: str) -> re.Pattern[str]:
    """A marshmallow message template ("Longer than maximum length {max}.") as a pattern
    that reads its values back from the message."""
    pieces = re.split(r"\{(\w+)\}", template)
    return re.compile(
        "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(pieces))
    )


_RANGE = validate.Range
# marshmallow's messages with values in them → a sentence with the same values (the
# first that matches: a range's "… and …" before its one-sided forms).
SHAPED: list[tuple[re.Pattern[str], Words]] = [
    (_shape(validate.Length.message_max), N_("Enter at most %(max)s characters.")),
    (_shape(validate.Length.message_min), _AT_LEAST),
    (_shape(validate.Length.message_all), N_("Enter %(min)s to %(max)s characters.")),
    (_shape(validate.Length.message_equal), N_("Enter exactly %(equal)s characters.")),
    (
        _shape(_RANGE.message_all.format(min_op=_RANGE.message_gte, max_op=_RANGE.message_lte)),
        N_("Enter a number from %(min)s to %(max)s."),
    ),
    (
        _shape(_RANGE.message_min.format(min_op=_RANGE.message_gte)),
        N_("Enter a number of at least %(min)s."),
    ),
    (
        _shape(_RANGE.message_max.format(max_op=_RANGE.message_lte)),
        N_("Enter a number of at most %(max)s."),
    ),
    (_shape(validate.OneOf.default_message), N_("Choose one of: %(choices)s.")),
]


def worded(text: str) -> str:
    """A refusal as the person at the form reads it: a ``Words`` (the domain's) as it
    is; marshmallow's or our checks' message as ``PLAIN`` or ``SHAPED`` words it; any
    other made a sentence (English only)."""
    if isinstance(text, Words):
        return text
    if text in PLAIN:
        return PLAIN[text]
    for pattern, words in SHAPED:
        found = pattern.fullmatch(text)
        if found is None:
            continue
        params: dict[str, object] = {
            k: int(v) if _WHOLE.fullmatch(v) else v for k, v in found.groupdict().items()
        }
        if words is _AT_LEAST and params["min"] == 1:
            return _FILL  # shorter than one character: empty
        return Words(words.template, params)
    return _sentence(text)


@dataclass
class Form:
    """What was typed (to fill the inputs again) and what was refused, by input name;
    a refusal of the whole form is under ``""``."""

    values: Mapping[str, str] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    # The answer's status when refused: 422, or the domain refusal's own (409 …).
    status: int = 422

    def value(self, name: str, default: Any = "") -> Any:
        return self.values.get(name, default)

    def error(self, name: str) -> list[str]:
        return self.errors.get(name, [])

    @property
    def failed(self) -> bool:
        return bool(self.errors)

    def refuse(self, exc: AfftrackError) -> Form:
        """A domain refusal (a taken handle, a destination off the allowed domains): on its
        fields where it names them, else on the whole form."""
        self.status = exc.status
        named = flatten(exc.fields) if exc.fields else {}
        for name, texts in (named or {"": [worded(exc.message)]}).items():
            self.errors.setdefault(name, []).extend(texts)
        return self


def sent_token(value: str) -> str | None:
    """The one-time token a form was sent with (its ``once`` input), or ``None`` for one
    that is not ours (missing, a page from before tokens): then the form is not
    protected from being sent twice."""
    return value if ONCE.fullmatch(value) else None


def page_token(form: Form) -> str:
    """The one-time token a form's page carries: the one it was sent with when it comes
    back refused (that submission made nothing), else a fresh one."""
    return sent_token(form.value("once")) or secrets.token_urlsafe(16)


def submit(
    schema: Schema, form: MultiDict[str, str], **context: Any
) -> tuple[dict[str, Any] | None, Form]:
    """Load ``form`` with ``schema``: the loaded data, or ``None`` and the refusals."""
    body = body_of(schema, form)
    result = Form(values={k: v for k, v in form.items() if k != "csrf"})
    try:
        data: dict[str, Any] = schema.load(body, **context)
    except ValidationError as exc:
        result.errors = flatten(exc.messages)
        return None, result
    return data, result


def as_utc(form: MultiDict[str, str], name: str) -> MultiDict[str, str]:
    """``form`` with a time typed without an offset in input ``name`` (a
    ``datetime-local`` input) read as UTC, as the forms say."""
    typed = form.get(name, "").strip()
    if not _LOCAL_TIME.fullmatch(typed):
        return form
    copy = MultiDict(form)
    copy[name] = typed + "Z"
    return copy


def body_of(schema: Schema, form: MultiDict[str, str], prefix: str = "") -> dict[str, Any]:
    """The JSON body the API would receive for the inputs of ``form``."""
    body: dict[str, Any] = {}
    for name, f in schema.fields.items():
        if f.dump_only:
            continue
        key = f.data_key or name
        value = _value(f, form, prefix + key)
        if value is not _MISSING:
            body[key] = value
    return body


def field_value(schema: Schema, form: MultiDict[str, str], name: str) -> Any:
    """What the API would receive for one field of ``schema`` from ``form`` (None if
    the form lacks it)."""
    value = _value(schema.fields[name], form, name)
    return None if value is _MISSING else value


def _value(f: fields.Field[Any], form: MultiDict[str, str], name: str) -> Any:
    if isinstance(f, fields.List) and isinstance(f.inner, Tagged):
        if name not in form and not any(k.startswith(name + "-") for k in form):
            return _MISSING
        return _tagged_rows(f.inner, form, name)
    if isinstance(f, fields.List) and isinstance(f.inner, fields.Nested):
        if name not in form and not any(k.startswith(name + "-") for k in form):
            return _MISSING
        return _rows(f.inner, form, name)
    if isinstance(f, fields.Nested):
        if not any(k.startswith(name + "-") for k in form):
            return _MISSING  # a form without its inputs (media value rates have their own)
        nested = f.schema
        return body_of(nested, form, name + "-")
    if isinstance(f, fields.Boolean):
        return form.get(name, "").strip().lower() in _ON if name in form else _MISSING
    if name not in form:
        return _MISSING
    raw = form.get(name, "").strip()
    if isinstance(f, fields.List):
        return [item.strip() for item in _LIST_SPLIT.split(raw) if item.strip()]
    if raw == "":
        return None if f.allow_none else _MISSING
    if isinstance(f, fields.Integer) and _WHOLE.fullmatch(raw.replace(",", "").replace(" ", "")):
        return int(raw.replace(",", "").replace(" ", ""))
    return raw


def row_numbers(names: Iterable[str], prefix: str) -> list[int]:
    """The row numbers of the inputs named ``<prefix>-<row>-…`` (at most 3 digits: what
    a page draws; anything else is no row of ours), in order."""
    pattern = re.compile(re.escape(prefix) + r"-(\d{1,3})-")
    return sorted({int(m.group(1)) for name in names if (m := pattern.match(name))})


def _rows(inner: fields.Nested, form: MultiDict[str, str], name: str) -> list[dict[str, Any]]:
    """The rows of a nested list, in row order; a row whose inputs are all empty is a
    spare row the person did not use."""
    rows = []
    for i in row_numbers(form, name):
        prefix = f"{name}-{i}-"
        if not any(form.get(k, "").strip() for k in form if k.startswith(prefix)):
            continue
        rows.append(body_of(inner.schema, form, prefix))
    return rows


def _tagged_rows(inner: Tagged, form: MultiDict[str, str], name: str) -> list[dict[str, Any]]:
    """Rows of objects of several shapes (commission rules): ``<list>-<i>-<tag>`` names
    each row's shape, its other inputs are that shape's fields; a row with nothing but
    its tag filled in is a spare one."""
    pattern = re.compile(re.escape(name) + r"-(\d{1,3})-")
    indices = sorted({int(m.group(1)) for k in form if (m := pattern.match(k))})
    rows = []
    for i in indices:
        prefix = f"{name}-{i}-"
        tag = form.get(prefix + inner.tag, "").strip()
        if not any(
            form.get(k, "").strip()
            for k in form
            if k.startswith(prefix) and k != prefix + inner.tag
        ):
            continue
        variant = inner.variants.get(tag)
        row = body_of(variant(), form, prefix) if variant else {}
        rows.append({**row, inner.tag: tag})
    return rows


def compact(form: MultiDict[str, str], name: str, tag: str = "type") -> MultiDict[str, str]:
    """``form`` with the used rows of the list ``name`` (and of the lists inside them)
    numbered 0, 1, 2 … and the spare ones left out, so that a refusal of the API's row
    ``i`` names the input of row ``i``."""
    out: MultiDict[str, str] = MultiDict()
    rows: dict[int, dict[str, str]] = {}
    head = re.compile(re.escape(name) + r"-(\d{1,3})-(.+)")
    for key, value in form.items(multi=True):
        m = head.fullmatch(key)
        if m:
            rows.setdefault(int(m.group(1)), {})[m.group(2)] = value
        else:
            out.add(key, value)
    kept = 0
    for i in sorted(rows):
        row = rows[i]
        if not any(v.strip() for k, v in row.items() if k != tag):
            continue
        for key, value in _compact_inner(row).items():
            out.add(f"{name}-{kept}-{key}", value)
        kept += 1
    return out


def _compact_inner(row: dict[str, str]) -> dict[str, str]:
    """A row's own nested rows (``tiers-<j>-<field>``) numbered from 0, empty ones out."""
    inner = re.compile(r"([a-z_]+)-(\d{1,3})-(.+)")
    plain = {k: v for k, v in row.items() if not inner.fullmatch(k)}
    nested: dict[str, dict[int, dict[str, str]]] = {}
    for k, v in row.items():
        if m := inner.fullmatch(k):
            nested.setdefault(m.group(1), {}).setdefault(int(m.group(2)), {})[m.group(3)] = v
    for list_name, by_index in nested.items():
        j = 0
        for index in sorted(by_index):
            if any(v.strip() for v in by_index[index].values()):
                for field_name, v in by_index[index].items():
                    plain[f"{list_name}-{j}-{field_name}"] = v
                j += 1
    return plain


def flatten(messages: Any) -> dict[str, list[str]]:
    """marshmallow's nested messages as input name → sentences: ``platforms-0-handle``
    for a row's input, ``""`` for a refusal of the whole form."""
    out: dict[str, list[str]] = {}

    def walk(node: Any, name: str) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                # A domain's path ("commission_rules.0.tiers.1") names an input as rows do.
                key = str(key).replace(".", "-")
                walk(value, name if key == "_schema" else f"{name}-{key}" if name else key)
        elif isinstance(node, list | tuple):
            for item in node:
                walk(item, name)
        else:
            out.setdefault(name, []).append(worded(node if isinstance(node, str) else str(node)))

    walk(messages, "")
    return out


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."
