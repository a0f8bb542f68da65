"""The detail file's rows (CSV rows and JSON objects), formatted by PostgreSQL.

A month's detail holds about a million lines. Reading each as a row of Python values
and formatting it in Python costs tens of microseconds a line, which is most of a
large export; PostgreSQL formats a line in a few. So on PostgreSQL the statement
returns each CSV row (or JSON object) as one string, exactly as
:func:`service.exports.writers.detail_row` (:func:`~service.exports.writers.detail_object`)
writes it in Python (SQLite, and lines not written yet):

- amounts as :func:`service.money.format_amount` (the currency's exponent, a leading
  ``-``, no exponent notation);
- ``due_at`` as ``datetime.isoformat()`` of the UTC time (``+00:00``, microseconds
  only when not zero);
- the rule as PostgreSQL prints ``jsonb`` (:func:`service.exports.writers.rule_text`);
- ``order_id``, ``source`` and ``reason`` made inert (:func:`~service.exports.writers.inert`);
- a cell quoted when it holds ``,``, ``"``, CR or LF, its quotes doubled (Python's
  ``csv.QUOTE_MINIMAL``); absent cells empty; CRLF at the end.

``tests/exports/test_detail_sql.py`` checks both against each other on generated values.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, String, Text, and_, case, cast, func
from sqlalchemy import literal_column as raw
from sqlalchemy.dialects.postgresql import JSONB

from service.commissions.models import CommissionLine
from service.conversions.models import Conversion
from service.money import EXPONENTS

_BY_EXPONENT: dict[int, list[str]] = {}
for _code, _exp in sorted(EXPONENTS.items()):
    _BY_EXPONENT.setdefault(_exp, []).append(_code)


def _cat(*parts: Any) -> ColumnElement[str]:
    out = parts[0]
    for part in parts[1:]:
        out = out.op("||", return_type=Text)(part)
    return out  # type: ignore[no-any-return]


def _sql(text: str) -> ColumnElement[str]:
    """A constant SQL string literal (only ever our own constants)."""
    return raw("'" + text.replace("'", "''") + "'", String)


def money(minor: Any, currency: Any) -> ColumnElement[str]:
    """``format_amount(minor, currency)`` in SQL."""
    magnitude = func.abs(cast(minor, BigInteger))
    sign = case((minor < 0, _sql("-")), else_=_sql(""))
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
    frac = func.lpad(cast(magnitude.op("%", return_type=BigInteger)(unit), Text), exp, _sql("0"))
    return _cat(sign, whole, _sql("."), frac)


def isoformat(at: Any) -> ColumnElement[str]:
    """``at.isoformat()`` of an aware UTC datetime, in SQL."""
    utc = func.timezone(_sql("UTC"), at)
    return _cat(
        func.to_char(utc, _sql('YYYY-MM-DD"T"HH24:MI:SS')),
        case((func.date_trunc(_sql("second"), at) != at, func.to_char(utc, _sql(".US"))), else_=""),
        _sql("+00:00"),
    )


def inert(cell: Any) -> ColumnElement[str]:
    """``writers.inert`` in SQL: a leading ``=+-@``, tab or CR gets a ``'``, numbers
    excepted."""
    return case(
        (
            and_(
                cell.op("~", is_comparison=True)(_sql("^[-=+@\t\r]")),
                cell.op("!~", is_comparison=True)(_sql("^-?[0-9]+(\\.[0-9]+)?$")),
            ),
            _cat(_sql("'"), cell),
        ),
        else_=cell,
    )


def quoted(cell: Any) -> ColumnElement[str]:
    """A CSV cell as ``csv.QUOTE_MINIMAL`` writes it; NULL as an empty cell."""
    return func.coalesce(
        case(
            (
                cell.op("~", is_comparison=True)(_sql('[",\r\n]')),
                _cat(_sql('"'), func.replace(cell, _sql('"'), _sql('""')), _sql('"')),
            ),
            else_=cell,
        ),
        _sql(""),
    )


def _rule() -> ColumnElement[Any]:
    """The line's rule; a JSON ``null`` as SQL NULL (Python reads both back as None)."""
    return func.nullif(CommissionLine.rule, raw("'null'::jsonb", JSONB))


def detail_row(period: str, status: ColumnElement[str]) -> ColumnElement[str]:
    """One detail CSV row of the line (``commission_lines`` joined to its order in
    ``conversions``), CRLF included. ``period`` is a checked ``YYYY-MM``."""
    L, C = CommissionLine, Conversion
    basis_currency = func.coalesce(C.currency, L.currency)
    basis = case((L.basis_minor.is_(None), None), else_=money(L.basis_minor, basis_currency))
    cells = [
        L.id,
        _sql(period),
        L.influencer_id,
        L.campaign_id,
        func.coalesce(L.conversion_id, _sql("")),
        quoted(inert(C.order_id)),
        quoted(inert(C.source)),
        L.kind,
        quoted(cast(_rule(), Text)),
        func.coalesce(basis, _sql("")),
        case((L.basis_minor.is_(None), _sql("")), else_=basis_currency),
        money(L.amount_minor, L.currency),
        L.currency,
        isoformat(L.due_at),
        status,
        quoted(inert(L.reason)),
    ]
    parts: list[Any] = []
    for cell in cells:
        parts += [cell, _sql(",")]
    parts[-1] = raw("E'\\r\\n'", String)
    return _cat(*parts)


def _json(value: Any) -> ColumnElement[str]:
    """A value as a JSON text (a string escaped as ``json.dumps`` does), NULL as null."""
    return func.coalesce(cast(func.to_json(cast(value, Text)), Text), _sql("null"))


def detail_object(period: str, status: ColumnElement[str]) -> ColumnElement[str]:
    """One line of the detail JSON, as :func:`service.exports.writers.detail_object`
    writes it: sorted keys, no spaces between items, nothing made inert."""
    L, C = CommissionLine, Conversion
    basis_currency = func.coalesce(C.currency, L.currency)
    values: dict[str, Any] = {
        "amount": _json(money(L.amount_minor, L.currency)),
        "basis_amount": _json(
            case((L.basis_minor.is_(None), None), else_=money(L.basis_minor, basis_currency))
        ),
        "basis_currency": _json(case((L.basis_minor.is_(None), None), else_=basis_currency)),
        "campaign_id": _json(L.campaign_id),
        "conversion_id": _json(func.nullif(L.conversion_id, _sql(""))),
        "currency": _json(L.currency),
        "due_at": _json(isoformat(L.due_at)),
        "influencer_id": _json(L.influencer_id),
        "kind": _json(L.kind),
        "line_id": _json(L.id),
        "order_id": _json(func.nullif(C.order_id, _sql(""))),
        "period": _sql(json.dumps(period)),
        "reason": _json(func.nullif(L.reason, _sql(""))),
        "rule": func.coalesce(cast(_rule(), Text), _sql("null")),
        "source": _json(func.nullif(C.source, _sql(""))),
        "status": _json(status),
    }
    parts: list[Any] = []
    for key in sorted(values):
        parts += [_sql(("{" if not parts else ",") + f'"{key}":'), values[key]]
    return _cat(*parts, _sql("}"))
