from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy.exc import OperationalError

from service import clock, metrics
from service.conversions import service
from service.conversions.deliveries import receive_delivery
from service.conversions.schemas import ConversionOut, ConversionQuery
from service.conversions.webhooks import SOURCES, is_woocommerce_ping
from service.errors import AfftrackError, NotFound, Unavailable
from service.http.auth import require
from service.http.context import session, settings
from service.http.request import load_query, parse_json_object
from service.http.views import one, page

log = logging.getLogger(__name__)

webhooks = Blueprint("webhooks", __name__)
bp = Blueprint("conversions", __name__, url_prefix="/api/v1/conversions")


@webhooks.post("/webhooks/<source>")
def receive(source: str) -> tuple[Response, int]:
    spec = SOURCES.get(source)
    if spec is None:
        raise NotFound(f"unknown webhook source {source!r}")
    try:
        return _receive(source)
    except AfftrackError as exc:
        metrics.WEBHOOKS.labels(source, exc.code).inc()
        raise


def _receive(source: str) -> tuple[Response, int]:
    spec = SOURCES[source]
    secret = settings().webhook_secret_for(source)
    if not secret:
        raise Unavailable(f"the {source} webhook is not configured", code="source_disabled")
    body = request.get_data(cache=True)  # 413 above MAX_CONTENT_LENGTH
    if source == "woocommerce" and is_woocommerce_ping(body, request.headers):
        metrics.WEBHOOKS.labels(source, "ping").inc()
        return jsonify({"status": "ping"}), 200
    spec.verify(body, request.headers, secret, int(clock.now_utc().timestamp()))
    if not body.lstrip().startswith(b"{"):
        # A platform's event is always an object; anything else is a broken delivery.
        raise AfftrackError("the body must be a JSON object", code="malformed_json")
    payload = parse_json_object(body, numbers_as_text=spec.numbers_as_text)
    topic = spec.topic(payload, request.headers)
    s = session()
    try:
        outcomes = receive_delivery(s, settings(), spec, body, request.headers, payload, topic)
        s.commit()
    except OperationalError as exc:
        s.rollback()
        log.warning(
            "webhook transaction failed; asking the sender to retry",
            extra={"source": source, "error_type": type(exc.orig).__name__},
        )
        raise Unavailable("busy; retry later", code="retry") from None
    except Exception:
        s.rollback()
        raise
    for outcome in outcomes:
        metrics.WEBHOOKS.labels(source, outcome.status).inc()
        log.info(
            "webhook",
            extra={
                "source": source,
                "topic": topic,
                "outcome": outcome.status,
                "conversion_id": outcome.conversion_id,
                "detail": outcome.detail,
            },
        )
    first = outcomes[0]
    answer: dict[str, Any] = {
        "status": first.status,
        "conversion_id": first.conversion_id,
        "detail": first.detail,
    }
    if len(outcomes) > 1:
        answer["events"] = [
            {"status": o.status, "conversion_id": o.conversion_id, "detail": o.detail}
            for o in outcomes
        ]
    return jsonify(answer), 200


@bp.get("")
@require("read")
def index() -> Response:
    return page(ConversionOut(), service.list_conversions(session(), load_query(ConversionQuery())))


@bp.get("/<conversion_id>")
@require("read")
def show(conversion_id: str) -> tuple[Response, int]:
    return one(ConversionOut(), service.get_conversion(session(), conversion_id))
