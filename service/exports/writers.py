"""Statement rows → bytes: CSV (RFC 4180, UTF-8, formula-inert), JSON, PayPal Payouts.

Deterministic: the same rows give the same bytes, with no generation timestamp.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Row

from service.exports.columns import DETAIL, DETAIL_COLUMNS, JSON_ORDER, json_text
from service.exports.columns import rule_text as rule_text  # the rule cell, as tests see it
from service.exports.statement import DetailLine, SummaryRow
from service.money import format_amount

SUMMARY_COLUMNS = (
    "period",
    "influencer_id",
    "handle",
    "name",
    "payout_email",
    "currency",
    "gross",
    "reversals",
    "adjustments",
    "net_payable",
    "orders",
    "lines",
)
_NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?\Z")
_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def inert(cell: str) -> str:
    """Make a cell that a spreadsheet would run as a formula inert; numbers stay numbers."""
    if cell.startswith(_DANGEROUS) and not _NUMBER.match(cell):
        return "'" + cell
    return cell


def _csv_lines(rows: Iterable[Sequence[str]], header: Sequence[str] | None) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if header is not None:
        writer.writerow(header)
    for row in rows:
        writer.writerow([inert(c) for c in row])
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def summary_cells(row: SummaryRow) -> list[str]:
    def money(minor: int) -> str:
        return format_amount(minor, row.currency)

    return [
        row.period,
        row.influencer_id,
        row.handle,
        row.name,
        row.payout_email,
        row.currency,
        money(row.gross),
        money(row.reversals),
        money(row.adjustments),
        money(row.net_payable),
        str(row.orders),
        str(row.lines),
    ]


def summary_csv(rows: Iterable[SummaryRow]) -> Iterator[bytes]:
    return _csv_lines((summary_cells(r) for r in rows), SUMMARY_COLUMNS)


def summary_json(period: str, rows: Iterable[SummaryRow]) -> Iterator[bytes]:
    items = []
    for r in rows:
        cells: dict[str, str | int] = dict(zip(SUMMARY_COLUMNS, summary_cells(r), strict=True))
        cells["orders"], cells["lines"] = r.orders, r.lines
        cells["carried_forward"] = format_amount(r.carried_forward, r.currency)
        items.append(cells)
    yield json.dumps(
        {"period": period, "rows": items}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def paypal_csv(period: str, rows: Iterable[SummaryRow]) -> Iterator[bytes]:
    """PayPal Payouts payment file (Payouts Web upload): no header; per row the
    recipient's email, the amount (decimal point), the currency, a Customer ID (at most
    30 characters, no spaces: the influencer id), a note to the recipient and the
    wallet. One currency per file, rows with a positive net only (the caller chooses)."""

    def cells() -> Iterator[list[str]]:
        for r in rows:
            yield [
                r.payout_email,
                format_amount(r.net_payable, r.currency),
                r.currency,
                r.influencer_id,
                f"Commission {period}",
                "PAYPAL",
            ]

    return _csv_lines(cells(), None)


def detail_cells(period: str, line: DetailLine | Row[Any]) -> list[str]:
    """The cells of a detail row (:data:`service.exports.columns.DETAIL`), free text
    made inert, absent cells empty."""
    cells = []
    for column in DETAIL:
        value = column.python(period, line)
        cells.append("" if value is None else inert(value) if column.outside else value)
    return cells


_QUOTED = re.compile('[",\r\n]')


def csv_cell(cell: str) -> str:
    """A cell as ``csv.writer`` (``QUOTE_MINIMAL``) writes it."""
    if _QUOTED.search(cell):
        return '"' + cell.replace('"', '""') + '"'
    return cell


def detail_row(period: str, line: DetailLine | Row[Any]) -> str:
    """One row of the detail CSV, CRLF included."""
    return ",".join([csv_cell(c) for c in detail_cells(period, line)]) + "\r\n"


def detail_csv(rows: Iterable[str]) -> Iterator[bytes]:
    """The detail CSV from its rows (:func:`detail_row`, or the same formatted by
    PostgreSQL), in chunks of about 64 KiB."""
    chunk = [",".join(DETAIL_COLUMNS) + "\r\n"]
    size = 0
    for row in rows:
        chunk.append(row)
        size += len(row)
        if size > 64 * 1024:
            yield "".join(chunk).encode("utf-8")
            chunk, size = [], 0
    yield "".join(chunk).encode("utf-8")


def detail_object(period: str, line: DetailLine | Row[Any]) -> str:
    """One line of the detail JSON: an object with sorted keys and no spaces between
    items, values as they are (JSON is not a spreadsheet: nothing is made inert); the
    rule an object as :func:`rule_text` prints it, absent cells null, amounts decimal
    strings. PostgreSQL writes the same (:func:`service.exports.columns.sql_object`)."""
    items = []
    for column in JSON_ORDER:
        value = column.python(period, line)
        text = "null" if value is None else value if column.json else json_text(value)
        items.append(f'"{column.name}":{text}')
    return "{" + ",".join(items) + "}"


def detail_json(period: str, objects: Iterable[str]) -> Iterator[bytes]:
    """The detail as JSON, typed: ``{"period": …, "lines": [...]}`` with one object per
    line (:func:`detail_object`), in chunks of about 64 KiB."""
    chunk = ['{"period":' + json_text(period) + ',"lines":[']
    size, first = 0, True
    for item in objects:
        chunk.append(item if first else "," + item)
        first = False
        size += len(item)
        if size > 64 * 1024:
            yield "".join(chunk).encode("utf-8")
            chunk, size = [], 0
    chunk.append("]}")
    yield "".join(chunk).encode("utf-8")
