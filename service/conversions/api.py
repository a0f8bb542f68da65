from __future__ import annotations

import contextlib
import logging
from datetime import datetime
from typing import Any

from flask import Response, jsonify, request
from marshmallow import Schema, fields
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError

from service import clock, metrics
from service.conversions import service
from service.conversions.intake import receive_delivery, verifier
from service.conversions.models import Conversion
from service.conversions.schemas import ConversionOut, ConversionQuery
from service.conversions.spooled import (
    QUEUED_BEHIND_OTHERS,
    QUEUED_DATABASE_DOWN,
    database_unreachable,
    spool_delivery,
)
from service.conversions.webhooks import SOURCES, Source
from service.conversions.webhooks.generic import BODIES as GENERIC_BODIES
from service.errors import AfftrackError, NotFound, Unavailable
from service.http.auth import require
from service.http.context import services, session, settings
from service.http.contract import QUERY, Blueprint, page_of
from service.paging import Page
from service.schemas import EXAMPLE_ID
from service.spool import SpoolError
from service.vocabulary import WEBHOOK_SOURCES

log = logging.getLogger(__name__)
QUEUED = "queued"

webhooks = Blueprint(
    "webhooks",
    __name__,
    description="Checkout webhooks: signed by the shop with its shared secret, not a key",
)
bp = Blueprint("conversions", __name__, url_prefix="/api/v1/conversions")


class EventOut(Schema):
    status = fields.String(
        required=True,
        metadata={
            "description": "what afftrack did with it: `created` (a new order), `duplicate` "
            "(seen before: nothing changed), `applied` (a refund or cancellation), "
            "`not_applied` (see `detail`), `pending_order` (a refund or cancellation kept "
            "until its order arrives), `ignored` (not an order event), `ping`; with 202, "
            "`queued`",
            "example": "created",
        },
    )
    conversion_id = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "the order's conversion, if any", "example": EXAMPLE_ID["cnv"]},
    )
    detail = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "why, for a person (null when nothing to add)", "example": None},
    )


class WebhookOut(EventOut):
    events = fields.List(
        fields.Nested(EventOut),
        metadata={
            "description": "one per event, when the delivery carried several (the fields "
            "above are the first's)",
            "example": [
                {"status": "created", "conversion_id": EXAMPLE_ID["cnv"], "detail": None},
                {"status": "applied", "conversion_id": EXAMPLE_ID["cnv"], "detail": None},
            ],
        },
    )


class QueuedOut(EventOut):
    status = fields.String(required=True, metadata={"example": QUEUED})
    conversion_id = fields.String(required=True, allow_none=True, metadata={"example": None})
    detail = fields.String(
        required=True, allow_none=True, metadata={"example": QUEUED_DATABASE_DOWN}
    )
    delivery_id = fields.String(
        required=True,
        metadata={
            "description": "the stored delivery, applied once the database is back "
            "(`afftrack conversions spool` lists it)",
            "example": EXAMPLE_ID["whd"],
        },
    )


def _body() -> dict[str, Any]:
    """The request body: the generic format's bodies, one per ``type`` (the schemas that
    read them), or a platform's own body, of which afftrack reads the fields listed."""
    generic = {
        "oneOf": list(GENERIC_BODIES.values()),
        "discriminator": {
            "propertyName": "type",
            "mapping": {
                kind: f"#/components/schemas/{schema.__name__}"
                for kind, schema in GENERIC_BODIES.items()
            },
        },
    }
    platform = {
        "type": "object",
        "title": "PlatformBody",
        "description": "shopify, woocommerce, stripe: the platform's own JSON body, as it "
        "sends it; afftrack reads the fields listed in `x-fields-read` and keeps the rest "
        "with the delivery",
        "x-fields-read": {
            name: [{"field": field, "use": use} for field, use in spec.fields_read]
            for name, spec in SOURCES.items()
            if spec.fields_read
        },
    }
    return {
        "required": True,
        "description": "generic: an order, a refund or a cancellation, by `type`, money as "
        "decimal strings in the order's currency; the other sources: the platform's own body",
        "content": {"application/json": {"schema": {"anyOf": [generic, platform]}}},
    }


def _signature_header(name: str, description: str) -> dict[str, Any]:
    return {"in": "header", "name": name, "schema": {"type": "string"}, "description": description}


@webhooks.route(
    "/webhooks/<source>",
    methods=["POST"],
    parameters=[
        {
            "in": "path",
            "name": "source",
            "required": True,
            "schema": {"type": "string", "enum": list(WEBHOOK_SOURCES)},
        }
    ],
)
@webhooks.doc(
    description=(
        "A shop's checkout event, signed with the source's shared secret (the header "
        "each platform uses, below); no API key. The body is the platform's own JSON "
        "object, read and verified as sent. Any body and signature the document allows "
        "may still be refused: only the shop can sign."
    ),
    security=[],
    parameters=[
        _signature_header("X-Shopify-Hmac-Sha256", "shopify: base64 HMAC-SHA256 of the body"),
        _signature_header("X-WC-Webhook-Signature", "woocommerce: base64 HMAC-SHA256"),
        _signature_header("Stripe-Signature", "stripe: `t=<unix time>,v1=<hex HMAC>`"),
        _signature_header("X-Afftrack-Signature", "generic: `sha256=<hex HMAC>`"),
        _signature_header("X-Afftrack-Timestamp", "generic: unix time, within 5 minutes"),
    ],
    requestBody=_body(),
)
@webhooks.response(200, WebhookOut, description="applied (or a duplicate, ignored, a ping)")
@webhooks.alt_response(
    202, schema=QueuedOut, description="kept while the database is away", success=True
)
@webhooks.errors(
    413,
    _400="the body is not a JSON object (malformed_json)",
    _401="the signature is missing, wrong or too old",
    _404="unknown source",
    _422="the event is not valid",
    _503="the source has no secret configured (source_disabled), or busy: retry later",
)
def receive(source: str) -> tuple[Response, int]:
    """Receive a checkout webhook"""
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
    check = verifier(settings(), spec)  # 503 source_disabled, before the body is read
    body = request.get_data(cache=True)  # 413 above MAX_CONTENT_LENGTH
    if check.is_ping(body, request.headers):
        metrics.WEBHOOKS.labels(source, "ping").inc()
        return jsonify({"status": "ping"}), 200
    received_at = clock.now_utc()
    verified = check.verified(body, request.headers, received_at)
    if _spool_waiting():
        # Deliveries kept while the database was down still wait: this one goes after
        # them, so no delivery of an order overtakes an earlier one. Bad input is still
        # refused now (parsing changes nothing).
        spec.parse(verified.payload, request.headers, settings().click_param)
        return _queued(spec, body, verified.topic, received_at, QUEUED_BEHIND_OTHERS)
    s = session()
    try:
        outcomes = receive_delivery(s, settings(), spec, body, request.headers, verified)
        s.commit()
    except (OperationalError, InterfaceError) as exc:
        with contextlib.suppress(SQLAlchemyError):
            s.rollback()
        if database_unreachable(exc):
            log.warning(
                "webhook transaction failed: the database is unavailable; keeping the delivery",
                extra={"source": source, "error_type": type(exc.orig).__name__},
            )
            return _queued(spec, body, verified.topic, received_at, QUEUED_DATABASE_DOWN)
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
                "topic": verified.topic,
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


def _spool_waiting() -> bool:
    """Whether spooled deliveries still wait; a spool that cannot even be listed keeps
    nothing, so the delivery is tried live (and answered 503 if that fails too)."""
    try:
        return services().webhook_spool.waiting()
    except OSError:
        return False


def _queued(
    spec: Source, body: bytes, topic: str, received_at: datetime, detail: str
) -> tuple[Response, int]:
    """Keep a verified delivery in the webhook spool and answer 202; it is applied once
    the database takes it (service/conversions/spooled.py). 503 if it cannot be kept."""
    svc = services()
    try:
        delivery_id = spool_delivery(
            svc.webhook_spool, spec, body, request.headers, topic, received_at
        )
    except SpoolError as exc:
        log.error(
            "webhook lost to the sender's retry: the database is unavailable and the spool "
            "cannot keep it",
            extra={"source": spec.name, "error": str(exc)[:200]},
        )
        raise Unavailable("busy; retry later", code="retry") from None
    svc.mover.wake()
    metrics.WEBHOOKS.labels(spec.name, "queued").inc()
    metrics.WEBHOOKS_SPOOLED.labels(spec.name).inc()
    log.info(
        "webhook",
        extra={
            "source": spec.name,
            "topic": topic,
            "outcome": "queued",
            "delivery_id": delivery_id,
            "detail": detail,
        },
    )
    answer = {"status": QUEUED, "conversion_id": None, "detail": detail}
    return jsonify({**answer, "delivery_id": delivery_id}), 202


@bp.route("", methods=["GET"])
@require("read")
@bp.arguments(ConversionQuery, location="query")
@bp.response(200, page_of(ConversionOut))
@bp.errors(QUERY)
def index(query: dict[str, Any]) -> Page[Conversion]:
    """List conversions"""
    return service.list_conversions(session(), query)


@bp.route("/<conversion_id>", methods=["GET"])
@require("read")
@bp.response(200, ConversionOut)
@bp.errors(404)
def show(conversion_id: str) -> Conversion:
    """Show a conversion"""
    return service.get_conversion(session(), conversion_id)
