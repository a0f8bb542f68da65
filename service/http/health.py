"""Operations endpoints: /healthz, /readyz, /metrics."""

from __future__ import annotations

from contextlib import suppress

from flask import Blueprint, Response, jsonify
from redis.exceptions import RedisError
from sqlalchemy import text

from service import metrics
from service.clicks.ingest import stream_lag
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
            checks["click_stream_lag"] = stream_lag(svc.redis, svc.settings.click_stream)
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
            metrics.STREAM_LAG.set(stream_lag(svc.redis, svc.settings.click_stream))
    body, content_type = metrics.render()
    return Response(body, content_type=content_type)
