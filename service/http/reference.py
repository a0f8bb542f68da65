"""The API reference in Markdown (docs/reference.md), written from the OpenAPI document.

Every operation with its scope, parameters, request body, answers and answer body; each
body as a table of its fields (name, type, required, constraints, description) and an
example put together from its fields' ``example`` metadata; the objects found inside
the bodies (commission rules, tiers, …) once each, at the end. Nothing here knows a
route: what the document says is what the page says (``afftrack openapi --markdown``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from service.vocabulary import (
    AMOUNT_PATTERN,
    CURSOR_PATTERN,
    DATE_PATTERN,
    DOMAIN_PATTERN,
    PERIOD_PATTERN,
    POSITIVE_AMOUNT_PATTERN,
    RATE_DECIMALS,
    RATE_PATTERN,
    URL_PATTERN,
    YEAR_MAX,
    YEAR_MIN,
)

# The command that writes the committed page (the test that pins it names it).
COMMAND = "afftrack openapi --markdown --out docs/reference.md"

_MISSING: Any = object()
# The vocabulary's longer patterns in words (the document carries the patterns themselves).
_PATTERNS = {
    AMOUNT_PATTERN: 'a decimal string such as `"12.50"` (`"-12.50"` below zero)',
    POSITIVE_AMOUNT_PATTERN: 'a decimal string above zero such as `"12.50"`',
    RATE_PATTERN: f'a percentage from 0 to 100 such as `"12.5"`, at most {RATE_DECIMALS} decimals',
    DATE_PATTERN: f"YYYY-MM-DD, the year {YEAR_MIN} to {YEAR_MAX}",
    PERIOD_PATTERN: f"YYYY-MM, the year {YEAR_MIN} to {YEAR_MAX}",
    URL_PATTERN: "an http(s) URL without spaces or backslashes",
    DOMAIN_PATTERN: "a domain name such as `shop.example`",
    CURSOR_PATTERN: "a `next_cursor` from the page before",
}
_STATUS_ORDER = re.compile(r"\d+")


@dataclass(frozen=True)
class Example:
    """An example the reference shows: of which schema (a component's name, else where it
    is), the schema itself, and whether a request sends it (else an answer holds it)."""

    name: str
    schema: dict[str, Any]
    sent: bool
    value: Any


class IncompleteExample(ValueError):
    """A request body whose required field has no example to show."""


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _cell(text: Any) -> str:
    """A table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _code(value: Any) -> str:
    shown = value if isinstance(value, str) else json.dumps(value)
    return f"`{shown}`"


def _json(value: Any) -> str:
    return "```json\n" + json.dumps(value, indent=2, ensure_ascii=False) + "\n```"


class _Writer:
    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document
        self.schemas: Mapping[str, Any] = document.get("components", {}).get("schemas", {})
        # Objects named inside bodies, shown once at the end: whether a request sends them.
        self.nested: dict[str, bool] = {}
        # Every example shown: the schema it is of, and whether a request sends it.
        self.shown: list[Example] = []

    # Schemas --------------------------------------------------------------------------

    def resolve(self, schema: Mapping[str, Any]) -> tuple[str | None, Mapping[str, Any]]:
        ref = schema.get("$ref")
        if not isinstance(ref, str):
            return None, schema
        name = ref.rsplit("/", 1)[1]
        return name, self.schemas[name]

    def type_of(self, schema: Mapping[str, Any], request: bool = False) -> str:
        name, _ = self.resolve(schema)
        if name is not None:
            self.nested.setdefault(name, request)
            return f"[{name}](#{slug(name)})"
        text = ""
        for keyword in ("oneOf", "anyOf"):
            if keyword in schema:
                names = [self.type_of(s, request) for s in schema[keyword]]
                text = " or ".join([", ".join(names[:-1]), names[-1]] if names[:-1] else names)
                if "discriminator" in schema:
                    text += f" (by `{schema['discriminator']['propertyName']}`)"
        if "allOf" in schema:
            text = " and ".join(self.type_of(s, request) for s in schema["allOf"])
        if not text:
            kind = schema.get("type")
            if kind == "array":
                text = f"list of {self.type_of(schema.get('items', {}), request)}"
            elif kind == "string" and schema.get("format") in ("date", "date-time", "email"):
                text = f"string ({schema['format']})"
            else:
                text = str(kind or "any")
        if schema.get("nullable"):
            return f"{text}; or null" if "(by " in text else f"{text} or null"
        return text

    @staticmethod
    def constraints(schema: Mapping[str, Any]) -> str:
        parts: list[str] = []
        enum = schema.get("enum")
        if enum and len(enum) > 20 and all(re.fullmatch("[A-Z]{3}", str(v)) for v in enum):
            parts.append("an ISO 4217 currency code")
        elif enum and len(enum) > 1:
            parts.append("one of " + ", ".join(_code(v) for v in enum))
        elif enum:
            parts.append(f"always {_code(enum[0])}")
        for low, high, unit in (
            ("minLength", "maxLength", " characters"),
            ("minItems", "maxItems", " items"),
            ("minimum", "maximum", ""),
        ):
            lo, hi = schema.get(low), schema.get(high)
            if lo is not None and hi is not None:
                parts.append(f"{lo:,} to {hi:,}{unit}")
            elif hi is not None:
                parts.append(f"at most {hi:,}{unit}")
            elif lo == 1 and unit:
                parts.append("not empty")
            elif lo is not None and lo > 0:
                parts.append(f"at least {lo:,}{unit}")
        if "pattern" in schema:
            pattern = schema["pattern"]
            parts.append(_PATTERNS.get(pattern, f"pattern `{pattern}`"))
        if schema.get("default") is not None and not enum:
            parts.append(f"default {_code(schema['default'])}")
        items = schema.get("items")
        if schema.get("type") == "array" and isinstance(items, Mapping) and "$ref" not in items:
            inner = _Writer.constraints(items)
            if inner:
                parts.append(f"each: {inner}")
        return "; ".join(parts)

    def example(self, schema: Mapping[str, Any], *, strict: bool, where: str) -> Any:
        """An example of ``schema`` from its fields' examples; ``_MISSING`` when a field
        that is always there has none (``strict``: an error naming it)."""
        if "example" in schema:
            return schema["example"]
        name, schema = self.resolve(schema)
        where = name or where
        if "example" in schema:
            return schema["example"]
        for keyword in ("oneOf", "anyOf", "allOf"):
            if keyword in schema:
                return self.example(schema[keyword][0], strict=strict, where=where)
        if schema.get("type") == "array" and "items" in schema:
            item = self.example(schema["items"], strict=strict, where=where)
            return _MISSING if item is _MISSING else [item]
        properties: Mapping[str, Any] = schema.get("properties", {})
        if not properties:
            return _MISSING
        needed = set(schema.get("required", properties))
        found: dict[str, Any] = {}
        for field, prop in properties.items():
            value = self.example(prop, strict=strict, where=f"{where}.{field}")
            if value is not _MISSING:
                found[field] = value
            elif field in needed:
                if strict:
                    raise IncompleteExample(f"{where}.{field} has no example")
                return _MISSING
        return found

    def fields_table(self, schema: Mapping[str, Any], *, request: bool) -> Iterator[str]:
        _, schema = self.resolve(schema)
        required = set(schema.get("required", ()))
        if request:
            yield "| field | type | required | constraints | description |"
            yield "|---|---|---|---|---|"
        else:
            yield "| field | type | description |"
            yield "|---|---|---|"
        for field, prop in schema.get("properties", {}).items():
            cells = [f"`{field}`", self.type_of(prop, request)]
            if request:
                cells += ["yes" if field in required else "no", self.constraints(prop)]
            cells.append(prop.get("description", ""))
            yield "| " + " | ".join(_cell(c) for c in cells) + " |"

    def body(self, schema: Mapping[str, Any], *, request: bool, where: str) -> Iterator[str]:
        """A body: its field table and example, or each shape it may take."""
        name, resolved = self.resolve(schema)
        shapes = resolved.get("oneOf") or resolved.get("anyOf")
        if shapes:
            yield "It is one of these shapes:"
            yield ""
            for shape in shapes:
                yield from self.shape(shape, request=request, where=where)
            return
        if resolved.get("properties"):
            yield from self.fields_table(resolved, request=request)
            yield ""
            value = self.example(schema, strict=request, where=where)
            if value is not _MISSING:
                self.shown.append(Example(name or where, dict(resolved), request, value))
                yield "Example:"
                yield ""
                yield _json(value)
                yield ""
        elif resolved.get("description"):
            yield _cell(resolved["description"])
            yield ""

    def shape(self, schema: Mapping[str, Any], *, request: bool, where: str) -> Iterator[str]:
        name, resolved = self.resolve(schema)
        inners = resolved.get("oneOf") or resolved.get("anyOf") or []
        if inners:
            for inner in inners:
                yield from self.shape(inner, request=request, where=where)
            return
        kind = resolved.get("properties", {}).get("type", {}).get("enum", [None])[0]
        title = name or resolved.get("title") or "object"
        yield f"#### {title}" + (f' (`"type": "{kind}"`)' if kind else "")
        yield ""
        if resolved.get("properties"):
            yield from self.body(schema, request=request, where=where)
            return
        if resolved.get("description"):
            yield _cell(resolved["description"]) + "."
            yield ""
        for source, rows in resolved.get("x-fields-read", {}).items():
            yield f"What afftrack reads of a `{source}` body:"
            yield ""
            yield "| field | what for |"
            yield "|---|---|"
            for row in rows:
                fields = ", ".join(f"`{f.strip()}`" for f in row["field"].split(","))
                yield f"| {_cell(fields)} | {_cell(row['use'])} |"
            yield ""

    # Operations -----------------------------------------------------------------------

    def operations(self) -> Iterator[tuple[str, str, str, Mapping[str, Any], list[Any]]]:
        """(tag, method, path, operation, path-level parameters) in the document's order."""
        for path, item in self.document.get("paths", {}).items():
            for method, operation in item.items():
                if method == "parameters":
                    continue
                tag = (operation.get("tags") or ["other"])[0]
                yield tag, method.upper(), path, operation, list(item.get("parameters", []))

    def response(self, answer: Mapping[str, Any]) -> Mapping[str, Any]:
        ref = answer.get("$ref")
        if isinstance(ref, str):
            found: Mapping[str, Any] = self.document["components"]["responses"][
                ref.rsplit("/", 1)[1]
            ]
            return found
        return answer

    def operation(
        self, method: str, path: str, op: Mapping[str, Any], shared: list[Any]
    ) -> Iterator[str]:
        yield f"### `{method} {path}`"
        yield ""
        summary = " ".join(str(op.get("summary", "")).split())
        yield f"**{summary}.**" + (f" {_cell(op['description'])}" if op.get("description") else "")
        yield ""
        scope = op.get("x-scope")
        if scope == "write":
            yield "Key: a `write` key."
        elif scope == "read":
            yield "Key: a `read` or a `write` key."
        else:
            yield "Key: none; the shop signs the body instead (the headers below)."
        yield ""
        parameters = [*shared, *op.get("parameters", [])]
        if parameters:
            yield "Parameters:"
            yield ""
            yield "| name | in | type | required | constraints | description |"
            yield "|---|---|---|---|---|---|"
            for p in parameters:
                schema = p.get("schema", {})
                cells = [
                    f"`{p['name']}`",
                    p["in"],
                    self.type_of(schema, True),
                    "yes" if p.get("required") else "no",
                    self.constraints(schema),
                    p.get("description", ""),
                ]
                yield "| " + " | ".join(_cell(c) for c in cells) + " |"
            yield ""
        request = op.get("requestBody")
        if request:
            yield "Request body (JSON)" + (
                f": {request['description']}." if "description" in request else ":"
            )
            yield ""
            schema = request["content"]["application/json"]["schema"]
            yield from self.body(schema, request=True, where=f"{method} {path}")
        answers = sorted(op.get("responses", {}).items(), key=lambda kv: int(kv[0]))
        yield "Answers:"
        yield ""
        yield "| status | meaning |"
        yield "|---|---|"
        for status, answer in answers:
            yield f"| {status} | {_cell(self.response(answer).get('description', ''))} |"
        yield ""
        for status, answer in answers:
            content = self.response(answer).get("content", {})
            schema = content.get("application/json", {}).get("schema")
            if not status.startswith("2") or not schema or schema == {"type": "object"}:
                continue
            yield f"Answer body ({status}):"
            yield ""
            yield from self.body(schema, request=False, where=f"{method} {path} {status}")


def render(document: Mapping[str, Any]) -> str:
    """The Markdown reference of ``document`` (an OpenAPI 3.0 document as a dict)."""
    return _write(document)[0]


def examples(document: Mapping[str, Any]) -> list[Example]:
    """Every example the reference of ``document`` shows."""
    return _write(document)[1]


def _write(document: Mapping[str, Any]) -> tuple[str, list[Example]]:
    w = _Writer(document)
    ops = list(w.operations())
    tags = [t["name"] for t in document.get("tags", [])]
    tags += sorted({tag for tag, *_ in ops} - set(tags))
    about = {t["name"]: t.get("description", "") for t in document.get("tags", [])}
    out: list[str] = [
        "# API reference",
        "",
        f"<!-- Written from the OpenAPI document by `{COMMAND}`: edit the routes and "
        "schemas, not this page. -->",
        "",
        "Every call of the management API (`/api/v1`) and the checkout webhook: what it "
        "takes and what it answers, field by field, with an example of each body. The page "
        "is written from the OpenAPI document the service serves at `/api/v1/openapi.json`, "
        "so the two always agree. How to use the API (keys, errors, paging, retries) is in "
        "[api.md](api.md); what the figures mean is in [product.md](product.md).",
        "",
        "- **Money** is a decimal string in the currency given beside it or the campaign's "
        '(`"12.50"` for €12.50, `"1200"` for ¥1,200), never a JSON number.',
        "- **Times** are ISO 8601 with a UTC offset (`2026-10-03T12:00:00Z`); **days** are "
        "`YYYY-MM-DD`.",
        "- **Ids** are opaque strings with a type prefix (`inf_`, `cmp_`, …).",
        "- A request field marked **required** must be there; an optional one left out "
        "takes its default. A field the table does not list is refused (422), so a typo "
        "never goes unnoticed.",
        "",
        "## Contents",
        "",
    ]
    title = {tag: re.sub("[-_]", " ", tag).capitalize() for tag in tags}
    for tag in tags:
        out.append(f"- [{title[tag]}](#{slug(title[tag])})")
        for t, method, path, *_ in ops:
            if t == tag:
                out.append(f"  - [`{method} {path}`](#{slug(f'{method} {path}')})")
    out += ["- [Errors](#errors)", "- [Objects inside the bodies](#objects-inside-the-bodies)", ""]
    for tag in tags:
        out += [f"## {title[tag]}", ""]
        if about.get(tag):
            out += [_cell(about[tag]) + ".", ""]
        for t, method, path, op, shared in ops:
            if t == tag:
                out += list(w.operation(method, path, op, shared))
    out += [
        "## Errors",
        "",
        'Every error answer has one shape, `{"error": {...}}` with these fields; the '
        "codes and when each is given are in [api.md](api.md#errors).",
        "",
    ]
    out += list(w.fields_table({"$ref": "#/components/schemas/ErrorBody"}, request=False))
    error = w.example({"$ref": "#/components/schemas/Error"}, strict=False, where="Error")
    if error is not _MISSING:
        out += ["", "Example:", "", _json(error)]
    shown: dict[str, list[str]] = {}
    while pending := [n for n in w.nested if n not in shown and n not in ("Error", "ErrorBody")]:
        for name in pending:
            ref = {"$ref": f"#/components/schemas/{name}"}
            shown[name] = [f"### {name}", "", *w.body(ref, request=w.nested[name], where=name)]
    out += [
        "",
        "## Objects inside the bodies",
        "",
        "The objects the tables above link to, each with its fields and an example: first "
        "those a request sends (the commission rules among them, one shape per `type`), "
        "then those an answer holds.",
        "",
    ]
    for sent in (True, False):
        for name, lines in shown.items():
            if w.nested[name] is sent:
                out += lines
    text = "\n".join(out)
    return re.sub(r"\n{3,}", "\n\n", text).rstrip("\n") + "\n", w.shown


__all__ = ["COMMAND", "Example", "IncompleteExample", "examples", "render", "slug"]
