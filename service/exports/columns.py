"""The detail file's columns, each declared once: its name, its value in Python and the
same value in SQL.

A value is text, or absent (None in Python, NULL in SQL). The writers turn the values
into a CSV row (absent: an empty cell; free text made inert; a cell quoted when it
must be) or a JSON object (sorted keys; absent: null; the rule as the JSON it is):
in Python for lines read as rows (:mod:`service.exports.writers`: SQLite, lines not
written yet), in SQL for lines PostgreSQL formats itself (:func:`sql_row`,
:func:`sql_object`, built from the same declarations). ``tests/exports/test_detail_sql.py``
checks that both give the same characters.

Python values read a :class:`~service.exports.statement.DetailLine` (or a row with the
same fields); SQL values read ``commission_lines`` joined to the line's order in
``conversions``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, String, case, func, literal_column

from service.commissions.ledger import shown_rule
from service.commissions.models import CommissionLine as L
from service.conversions.models import Conversion as C
from service.db import jsonb_key_order
from service.exports import detail_sql as sql
from service.money import format_amount


@dataclass(frozen=True)
class DetailColumn:
    name: str
    python: Callable[[str, Any], str | None]  # (period, line) → the value
    sql: Callable[[ColumnElement[str], ColumnElement[str]], Any]  # (period, status) → value
    # Text from outside (a shop, an operator): made inert in the CSV, where it may also
    # need quoting. Every other cell is an id of ours, a fixed word, a number or a date,
    # which a spreadsheet never runs and which never needs quoting.
    outside: bool = False
    json: bool = False  # the value is JSON text already (the rule)


def rule_text(rule: Any) -> str:
    """A rule as PostgreSQL prints ``jsonb``: an object's keys shortest first, then
    bytewise; ``", "`` and ``": "`` between items. Stored rules hold strings, integers,
    booleans, null, lists and objects (amounts and rates are decimal strings); a float
    would print differently from ``jsonb``."""
    if isinstance(rule, dict):
        keys = sorted(rule, key=jsonb_key_order)
        return "{" + ", ".join(f"{json_text(k)}: {rule_text(rule[k])}" for k in keys) + "}"
    if isinstance(rule, list):
        return "[" + ", ".join(rule_text(item) for item in rule) + "]"
    return json_text(rule)


def json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _basis_currency(line: Any) -> str:
    """A sale's basis is in its order's currency (other lines': the line's)."""
    return str(line.basis_currency or line.currency)


_BASIS_CURRENCY = func.coalesce(C.currency, L.currency)
_NO_BASIS = L.basis_minor.is_(None)

DETAIL: tuple[DetailColumn, ...] = (
    DetailColumn("line_id", lambda _p, line: line.id, lambda _p, _s: L.id),
    DetailColumn("period", lambda period, _l: period, lambda period, _s: period),
    DetailColumn(
        "influencer_id", lambda _p, line: line.influencer_id, lambda _p, _s: L.influencer_id
    ),
    DetailColumn("campaign_id", lambda _p, line: line.campaign_id, lambda _p, _s: L.campaign_id),
    DetailColumn(
        "conversion_id",
        lambda _p, line: line.conversion_id or None,
        lambda _p, _s: func.nullif(L.conversion_id, sql.constant("")),
    ),
    DetailColumn(
        "order_id",
        lambda _p, line: line.order_id or None,
        lambda _p, _s: func.nullif(C.order_id, sql.constant("")),
        outside=True,
    ),
    DetailColumn(
        "source",
        lambda _p, line: line.source or None,
        lambda _p, _s: func.nullif(C.source, sql.constant("")),
        outside=True,
    ),
    DetailColumn("kind", lambda _p, line: line.kind, lambda _p, _s: L.kind),
    DetailColumn(
        "rule",
        lambda _p, line: None if line.rule is None else rule_text(shown_rule(line)),
        lambda _p, _s: sql.rule(),
        json=True,
    ),
    DetailColumn(
        "basis_amount",
        lambda _p, line: (
            None
            if line.basis_minor is None
            else format_amount(line.basis_minor, _basis_currency(line))
        ),
        lambda _p, _s: case((_NO_BASIS, None), else_=sql.money(L.basis_minor, _BASIS_CURRENCY)),
    ),
    DetailColumn(
        "basis_currency",
        lambda _p, line: None if line.basis_minor is None else _basis_currency(line),
        lambda _p, _s: case((_NO_BASIS, None), else_=_BASIS_CURRENCY),
    ),
    DetailColumn(
        "amount",
        lambda _p, line: format_amount(line.amount_minor, line.currency),
        lambda _p, _s: sql.money(L.amount_minor, L.currency),
    ),
    DetailColumn("currency", lambda _p, line: line.currency, lambda _p, _s: L.currency),
    DetailColumn(
        "due_at", lambda _p, line: line.due_at.isoformat(), lambda _p, _s: sql.isoformat(L.due_at)
    ),
    DetailColumn("status", lambda _p, line: line.status, lambda _p, status: status),
    DetailColumn(
        "reason",
        lambda _p, line: line.reason or None,
        lambda _p, _s: func.nullif(L.reason, sql.constant("")),
        outside=True,
    ),
)
DETAIL_COLUMNS = tuple(column.name for column in DETAIL)
# The detail JSON object's columns, in the (sorted) order of its keys.
JSON_ORDER = tuple(sorted(DETAIL, key=lambda column: column.name))


def sql_row(period: ColumnElement[str], status: ColumnElement[str]) -> ColumnElement[str]:
    """One detail CSV row of the line, CRLF included, as PostgreSQL formats it.
    ``period``: the statement's ``YYYY-MM``; ``status``: the line's shown status."""
    parts: list[Any] = []
    for column in DETAIL:
        value = column.sql(period, status)
        if column.outside:
            value = sql.quoted(sql.inert(value))
        elif column.json:
            value = sql.quoted(value)
        else:
            value = func.coalesce(value, sql.constant(""))
        parts += [value, sql.constant(",")]
    parts[-1] = literal_column("E'\\r\\n'", String)
    return sql.concat(*parts)


def sql_object(period: ColumnElement[str], status: ColumnElement[str]) -> ColumnElement[str]:
    """One line of the detail JSON as PostgreSQL formats it: sorted keys, no spaces
    between items, nothing made inert."""
    parts: list[Any] = []
    for column in JSON_ORDER:
        value = column.sql(period, status)
        null = sql.constant("null")
        value = func.coalesce(value, null) if column.json else sql.json_text(value)
        parts += [sql.constant(("{" if not parts else ",") + f'"{column.name}":'), value]
    return sql.concat(*parts, sql.constant("}"))
