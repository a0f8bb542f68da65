from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from flask import Response, request
from marshmallow import Schema, fields

from service.errors import InvalidInput
from service.exports import service
from service.http.auth import require
from service.http.context import services, session, settings
from service.http.contract import Blueprint
from service.periods import parse_period
from service.vocabulary import PERIOD_PATTERN

bp = Blueprint("exports", __name__, url_prefix="/api/v1/exports")

PERIOD = {
    "in": "path",
    "name": "period",
    "required": True,
    "description": "a calendar month, YYYY-MM",
    "schema": {"type": "string", "pattern": PERIOD_PATTERN},
}
PART_DIGITS = 6


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"in": "query", "name": name, "description": description, "schema": schema}


TotalOut = Schema.from_dict(
    {
        "currency": fields.String(required=True, metadata={"example": "EUR"}),
        "net_payable": fields.String(
            required=True,
            metadata={
                "description": "what the month pays in that currency, a decimal string",
                "example": "1842.50",
            },
        ),
    },
    name="TotalOut",
)


class CloseOut(Schema):
    period = fields.String(required=True, metadata={"example": "2026-10"})
    checksum = fields.String(
        required=True,
        allow_none=True,
        metadata={
            "description": "SHA-256 of the month's summary CSV, as the export's "
            "X-Checksum-SHA256 header gives it",
            "example": "9f2c4e0b7a1d3f5e8c6b2a4d0e9f1c3b5a7d9e2f4c6b8a0d1e3f5a7c9b2d4e6f",
        },
    )
    closed_at = fields.String(
        required=True, metadata={"format": "date-time", "example": "2026-11-02T08:00:00+00:00"}
    )
    lines = fields.Integer(
        required=True, metadata={"description": "the ledger lines paid", "example": 214}
    )
    totals = fields.List(
        fields.Nested(TotalOut),
        required=True,
        metadata={"description": "one per currency"},
    )


@bp.route("/commissions/<period>", methods=["GET"], parameters=[PERIOD])
@require("read")
@bp.doc(
    description=(
        "Changes nothing. A month that is still open shows the tiered true-up, CPC and "
        "carry-forward lines closing would write, with the ids closing gives them; the "
        "month still running, as if it ended now, those lines with status `projected` in "
        "the detail (and counted in the summary). A month not started yet answers 409 "
        "period_not_started. `detail`, `currency` and `part` go with some formats only "
        "(422 otherwise)."
    ),
    parameters=[
        _query(
            "format",
            "csv (default), json, or paypal (a PayPal Payouts file)",
            {"type": "string", "enum": list(service.FORMATS)},
        ),
        _query("detail", "lines: one row per ledger line (not with paypal)", {"enum": ["lines"]}),
        _query(
            "currency",
            "format=paypal only: the file's one currency",
            {"type": "string", "pattern": "^[A-Z]{3}$"},
        ),
        _query(
            "part",
            "format=paypal only: the part to download when the file has more than 5,000 "
            "payments (Payouts Web's limit per file); 422 names the parts",
            {"type": "integer", "minimum": 1, "maximum": 10**PART_DIGITS - 1},
        ),
    ],
)
@bp.response(200)
@bp.doc(
    responses={
        "200": {
            "description": (
                "the export file, streamed: CSV (`text/csv; charset=utf-8`), or JSON with "
                "format=json; a closed month's summary CSV carries its stored checksum in "
                "X-Checksum-SHA256"
            ),
            "headers": {
                "Content-Disposition": {"schema": {"type": "string"}},
                "X-Checksum-SHA256": {"schema": {"type": "string"}},
            },
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "object"}},
            },
        }
    }
)
@bp.errors(_409="the month has not started yet (period_not_started)", _422="not valid")
def commissions(period: str) -> Response:
    """Monthly commission export (csv, json or paypal; detail=lines)"""
    return export_response(period, request.args)


def export_response(period: str, args: Mapping[str, str]) -> Response:
    """The export file of ``period`` as a streamed response, chosen by the query ``args``
    (format, detail, currency, part): the API's download, and the dashboard's."""
    parse_period(period)
    unknown = set(args) - {"format", "detail", "currency", "part"}
    if unknown:
        raise InvalidInput("unknown query parameter", fields={k: ["unknown"] for k in unknown})
    detail = args.get("detail")
    if detail not in (None, "lines"):
        raise InvalidInput("detail must be 'lines'", fields={"detail": ["must be 'lines'"]})
    fmt = args.get("format", "csv")
    currency = args.get("currency")
    part = _part(args.get("part"))
    service.check_options(fmt, detail == "lines", currency, part)  # before the body starts
    zone = settings().timezone
    # The body streams after this view returns, so it reads through a session of its
    # own that the stream closes when it ends (or when the client goes away).
    own = services().db.sessions()
    try:
        built = service.build(
            own,
            period,
            fmt=fmt,
            detail=detail == "lines",
            zone=zone,
            currency=currency,
            part=part,
        )
    except Exception:
        own.close()
        raise

    def stream() -> Iterator[bytes]:
        try:
            yield from built.chunks
        finally:
            own.close()

    headers = {
        "Content-Disposition": f'attachment; filename="{built.filename}"',
        "Cache-Control": "no-store",
    }
    if built.checksum:  # the file finance paid from, verifiable against its close
        headers["X-Checksum-SHA256"] = built.checksum
    return Response(stream(), content_type=built.content_type, headers=headers)


def _part(text: str | None) -> int | None:
    if text is None:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > PART_DIGITS:
        raise InvalidInput("part must be a number", fields={"part": ["a number from 1"]})
    return int(text)


@bp.route("/commissions/<period>/close", methods=["POST"], parameters=[PERIOD])
@require("write")
@bp.response(200, CloseOut)
@bp.errors(
    _409="the month is open still, or closed already (period_open, already_closed)",
    _422="the period is not valid",
)
def close(period: str) -> dict[str, Any]:
    """Close a month: write its settlement (tiered true-up, CPC), mark its lines paid and
    store the checksum"""
    parse_period(period)
    export = service.close(session(), period, settings().timezone)
    session().commit()
    return service.close_summary(export)
