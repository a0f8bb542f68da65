"""Operations endpoints: /healthz, /readyz, /metrics."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from typing import TYPE_CHECKING

from flask import Blueprint, Flask, Response, current_app, jsonify
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import text

from service import clock, metrics
from service.http.context import services
from service.spool import SpoolError, check_directory

if TYPE_CHECKING:
    from service.app import Services

bp = Blueprint("health", __name__)

# ``stream_status(redis, stream, now_ms)``: the click stream's lag, pending count and
# oldest age (``service.clicks.ingest``), handed over by the app.
StreamStatus = Callable[[Redis, str, int], dict[str, int | float]]


def init_app(app: Flask, *, stream_status: StreamStatus) -> None:
    app.extensions["afftrack.stream_status"] = stream_status
    app.register_blueprint(bp)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    svc = services()
    checks: dict[str, object] = {}
    ok = True
    try:
        with svc.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
        ok = False
    if svc.redis is not None:
        try:
            svc.redis.ping()
            checks["redis"] = "ok"
            checks["click_stream"] = _stream(svc.redis, svc.settings.click_stream)
        except Exception as exc:
            checks["redis"] = f"error: {type(exc).__name__}"
            ok = False
    else:
        checks["redis"] = "not configured"
    spool, writable = _spool(svc, probe=True)
    checks["spool"] = spool
    # Ready while a redirect can still keep its click: with the database or Redis down
    # the process answers from what it has and spools (degraded, still 200).
    if ok:
        status = "ok"
    elif writable:
        status = "degraded"
    else:
        status = "unavailable"
    return jsonify({"status": status, "checks": checks}), (503 if status == "unavailable" else 200)


@bp.get("/metrics")
def metrics_view() -> Response:
    svc = services()
    if svc.redis is not None:
        # The lag is best effort on a scrape: a dead Redis shows in /readyz instead.
        with suppress(RedisError):
            _stream(svc.redis, svc.settings.click_stream)
    _spool(svc, probe=False)
    body, content_type = metrics.render()
    return Response(body, content_type=content_type)


def _stream(redis: Redis, stream: str) -> dict[str, int | float]:
    stream_status: StreamStatus = current_app.extensions["afftrack.stream_status"]
    status = stream_status(redis, stream, int(clock.now_utc().timestamp() * 1000))
    metrics.STREAM_LAG.set(status["lag"])
    metrics.STREAM_PENDING.set(status["pending"])
    metrics.STREAM_OLDEST_AGE.set(status["oldest_age_seconds"])
    return status


def _spool(svc: Services, *, probe: bool) -> tuple[dict[str, object], bool]:
    """What waits in the local spool, per kind, and whether it can take more: its last
    append did not fail and (``probe``) a file can be made in its directory."""
    out: dict[str, object] = {}
    for kind, spool in (
        ("clicks", svc.click_spool),
        ("seen", svc.redirector.clicks.seen),
        ("webhooks", svc.webhook_spool),
    ):
        status = spool.status()
        metrics.SPOOL_RECORDS.labels(kind).set(status.records)
        metrics.SPOOL_OLDEST_AGE.labels(kind).set(status.oldest_age_seconds)
        out[kind] = status.as_dict()
    writable = not (svc.click_spool.failing or svc.webhook_spool.failing)
    if not writable:
        out["error"] = "the last append to the spool failed (is the disk full?)"
    elif probe:
        try:
            check_directory(svc.click_spool.directory)
        except SpoolError as exc:
            out["error"] = str(exc)
            writable = False
    out["writable"] = writable
    return out, writable
