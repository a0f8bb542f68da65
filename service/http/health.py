"""Operations endpoints: /healthz, /readyz, /metrics."""

from __future__ import annotations

from contextlib import suppress

from flask import Blueprint, Response, jsonify
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import text

from service import clock, metrics
from service.clicks.ingest import stream_status
from service.http.context import services

bp = Blueprint("health", __name__)


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
    return jsonify({"status": "ok" if ok else "unavailable", "checks": checks}), (
        200 if ok else 503
    )


@bp.get("/metrics")
def metrics_view() -> Response:
    svc = services()
    if svc.redis is not None:
        # The lag is best effort on a scrape: a dead Redis shows in /readyz instead.
        with suppress(RedisError):
            _stream(svc.redis, svc.settings.click_stream)
    body, content_type = metrics.render()
    return Response(body, content_type=content_type)


def _stream(redis: Redis, stream: str) -> dict[str, int | float]:
    status = stream_status(redis, stream, int(clock.now_utc().timestamp() * 1000))
    metrics.STREAM_LAG.set(status["lag"])
    metrics.STREAM_PENDING.set(status["pending"])
    metrics.STREAM_OLDEST_AGE.set(status["oldest_age_seconds"])
    return status
