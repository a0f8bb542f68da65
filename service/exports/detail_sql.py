"""The SQL pieces PostgreSQL formats the detail file's cells with.

A month's detail holds about a million lines. Reading each as a row of Python values
and formatting it in Python costs tens of microseconds a line, which is most of a
large export; PostgreSQL formats a line in a few. So on PostgreSQL the statement
returns each CSV row (or JSON object) as one string, exactly as Python writes it
(SQLite, and lines not written yet). Each column says how it is formatted, in Python
and in SQL, once, in :mod:`service.exports.columns`; these are the SQL pieces:

- amounts as :func:`service.money.format_amount` (the currency's exponent, a leading
  ``-``, no exponent notation);
- ``due_at`` as ``datetime.isoformat()`` of the UTC time (``+00:00``, microseconds
  only when not zero);
- the rule as PostgreSQL prints ``jsonb`` (:func:`service.exports.columns.rule_text`);
- free text made inert (:func:`~service.exports.writers.inert`);
- a cell quoted when it holds ``,``, ``"``, CR or LF, its quotes doubled (Python's
  ``csv.QUOTE_MINIMAL``); absent cells empty.

``tests/exports/test_detail_sql.py`` checks both against each other on generated values.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, ColumnElement, String, Text, and_, case, cast, func
from sqlalchemy import literal_column as raw
from sqlalchemy.dialects.postgresql import JSONB

from service.commissions.models import WORKING, CommissionLine
from service.commissions.rules import RULE_FIELDS
from service.db import jsonb_key_order
from service.money import EXPONENTS

_BY_EXPONENT: dict[int, list[str]] = {}
for _code, _exp in sorted(EXPONENTS.items()):
    _BY_EXPONENT.setdefault(_exp, []).append(_code)


def concat(*parts: Any) -> ColumnElement[str]:
    out: ColumnElement[str] = parts[0]
    for part in parts[1:]:
        out = out.op("||", return_type=Text)(part)
    return out


def constant(text: str) -> ColumnElement[str]:
    """A constant SQL string literal (only ever our own constants)."""
    return raw("'" + text.replace("'", "''") + "'", String)


def money(minor: Any, currency: Any) -> ColumnElement[str]:
    """``format_amount(minor, currency)`` in SQL."""
    magnitude = func.abs(cast(minor, BigInteger))
    sign = case((minor < 0, constant("-")), else_=constant(""))
    whens = []
    for exp, codes in sorted(_BY_EXPONENT.items()):
        if exp == 2:
            continue
        whens.append((currency.in_(codes), _decimal(minor, magnitude, sign, exp)))
    return case(*whens, else_=_decimal(minor, magnitude, sign, 2))


def _decimal(minor: Any, magnitude: Any, sign: Any, exp: int) -> ColumnElement[str]:
    if exp == 0:
        return cast(minor, Text)
    unit = raw(str(10**exp), BigInteger)
    whole = cast(magnitude.op("/", return_type=BigInteger)(unit), Text)
    frac = func.lpad(
        cast(magnitude.op("%", return_type=BigInteger)(unit), Text), exp, constant("0")
    )
    return concat(sign, whole, constant("."), frac)


def isoformat(at: Any) -> ColumnElement[str]:
    """``at.isoformat()`` of an aware UTC datetime, in SQL."""
    utc = func.timezone(constant("UTC"), at)
    return concat(
        func.to_char(utc, constant('YYYY-MM-DD"T"HH24:MI:SS')),
        case(
            (func.date_trunc(constant("second"), at) != at, func.to_char(utc, constant(".US"))),
            else_="",
        ),
        constant("+00:00"),
    )


def inert(cell: Any) -> ColumnElement[str]:
    """``writers.inert`` in SQL: a leading ``=+-@``, tab or CR gets a ``'``, numbers
    excepted."""
    return case(
        (
            and_(
                cell.op("~", is_comparison=True)(constant("^[-=+@\t\r]")),
                cell.op("!~", is_comparison=True)(constant("^-?[0-9]+(\\.[0-9]+)?$")),
            ),
            concat(constant("'"), cell),
        ),
        else_=cell,
    )


def quoted(cell: Any) -> ColumnElement[str]:
    """A CSV cell as ``csv.QUOTE_MINIMAL`` writes it; NULL as an empty cell."""
    return func.coalesce(
        case(
            (
                cell.op("~", is_comparison=True)(constant('[",\r\n]')),
                concat(
                    constant('"'), func.replace(cell, constant('"'), constant('""')), constant('"')
                ),
            ),
            else_=cell,
        ),
        constant(""),
    )


# Every key a stored rule may hold (its type and each type's fields).
_RULE_KEYS = ("type", *dict.fromkeys(k for names in RULE_FIELDS.values() for k in names))


def rule(L: Any = CommissionLine) -> ColumnElement[str]:
    """The line's rule as shown (:func:`service.commissions.ledger.shown_rule`: the rule
    and how its amount was worked out) as PostgreSQL prints ``jsonb``; SQL NULL for a
    line without a rule. ``L``: the ledger's columns (or any with the same names).

    Written as text, key by key in ``jsonb``'s order, rather than by merging two
    ``jsonb`` objects per line, which added about five times as much to each line's cost
    (docs/BENCHMARKS.md#exports-after-the-working-facts-moved-to-typed-columns-2026-12-07).
    A stored rule holds only the keys of ``RULE_FIELDS`` (``Rule.to_json``; migration
    0012 refuses any other)."""
    stored = L.rule
    facts = {fact.key: fact for fact in WORKING}
    items = []
    for key in sorted((*facts, *_RULE_KEYS), key=jsonb_key_order):
        name = constant(f'"{key}": ')
        fact = facts.get(key)
        if fact is None:
            value = cast(stored.op("->", return_type=JSONB)(constant(key)), Text)
            items.append(case((stored.op("?")(constant(key)), concat(name, value))))
            continue
        column = getattr(L, fact.column)
        if fact.amount:
            text = concat(constant('"'), money(column, L.currency), constant('"'))
        elif isinstance(column.type, String):
            text = func.coalesce(cast(func.to_json(column), Text), constant("null"))
        else:
            text = cast(column, Text)
        shown = getattr(L, fact.beside or fact.column).is_not(None)
        items.append(case((shown, concat(name, text))))
    body = func.concat_ws(constant(", "), *items)
    is_object = func.jsonb_typeof(stored) == constant("object")
    return case((is_object, concat(constant("{"), body, constant("}"))))


def json_text(value: Any) -> ColumnElement[str]:
    """A value as a JSON text (a string escaped as ``json.dumps`` does), NULL as null."""
    return func.coalesce(cast(func.to_json(cast(value, Text)), Text), constant("null"))
