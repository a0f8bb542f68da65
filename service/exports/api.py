from __future__ import annotations

from collections.abc import Iterator

from flask import Blueprint, Response, jsonify, request

from service.errors import InvalidInput
from service.exports import service
from service.http.auth import require
from service.http.context import services, session, settings
from service.periods import parse_period

bp = Blueprint("exports", __name__, url_prefix="/api/v1/exports")


@bp.get("/commissions/<period>")
@require("read")
def commissions(period: str) -> Response:
    parse_period(period)
    unknown = set(request.args) - {"format", "detail", "currency", "part"}
    if unknown:
        raise InvalidInput("unknown query parameter", fields={k: ["unknown"] for k in unknown})
    detail = request.args.get("detail")
    if detail not in (None, "lines"):
        raise InvalidInput("detail must be 'lines'", fields={"detail": ["must be 'lines'"]})
    fmt = request.args.get("format", "csv")
    currency = request.args.get("currency")
    part = _part(request.args.get("part"))
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
    if not text.isascii() or not text.isdigit() or len(text) > 6:
        raise InvalidInput("part must be a number", fields={"part": ["a number from 1"]})
    return int(text)


@bp.post("/commissions/<period>/close")
@require("write")
def close(period: str) -> tuple[Response, int]:
    parse_period(period)
    export = service.close(session(), period, settings().timezone)
    session().commit()
    return jsonify(service.close_summary(export)), 200
