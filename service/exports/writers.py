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
DETAIL_COLUMNS = (
    "line_id",
    "period",
    "influencer_id",
    "campaign_id",
    "conversion_id",
    "order_id",
    "source",
    "kind",
    "rule",
    "basis_amount",
    "basis_currency",
    "amount",
    "currency",
    "due_at",
    "status",
    "reason",
)
# Detail cells that are absent rather than empty: null in JSON.
_OPTIONAL = ("conversion_id", "order_id", "source", "basis_amount", "basis_currency", "reason")
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
    money = lambda minor: format_amount(minor, row.currency)  # noqa: E731
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
        cells = dict(zip(SUMMARY_COLUMNS, summary_cells(r), strict=True))
        cells["orders"], cells["lines"] = r.orders, r.lines  # type: ignore[assignment]
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


def detail_cells(period: str, detail: DetailLine, status: str) -> list[str]:
    line = detail.line
    rule: Any = line.rule
    # A sale or reversal's basis is the order's amount (or refund) in the order's
    # currency; a true-up's is the month's sales, in the line's.
    basis_currency = detail.order_currency or line.currency
    return [
        line.id,
        period,
        line.influencer_id,
        line.campaign_id,
        line.conversion_id or "",
        detail.order_id or "",
        detail.source or "",
        line.kind,
        json.dumps(rule, sort_keys=True) if rule else "",
        "" if line.basis_minor is None else format_amount(line.basis_minor, basis_currency),
        "" if line.basis_minor is None else basis_currency,
        format_amount(line.amount_minor, line.currency),
        line.currency,
        line.due_at.isoformat(),
        status,
        line.reason or "",
    ]


def detail_csv(period: str, lines: Iterable[tuple[DetailLine, str]]) -> Iterator[bytes]:
    return _csv_lines((detail_cells(period, d, st) for d, st in lines), DETAIL_COLUMNS)


def detail_json(period: str, lines: Iterable[tuple[DetailLine, str]]) -> Iterator[bytes]:
    """The detail as JSON, typed: the rule an object, absent cells null, amounts decimal
    strings (never floats) beside their currency."""
    yield b'{"period":' + json.dumps(period).encode() + b',"lines":['
    first = True
    for detail, status in lines:
        item: dict[str, Any] = dict(
            zip(DETAIL_COLUMNS, detail_cells(period, detail, status), strict=True)
        )
        item["rule"] = detail.line.rule
        for name in _OPTIONAL:
            item[name] = item[name] or None
        yield (b"" if first else b",") + json.dumps(
            item, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8")
        first = False
    yield b"]}"
