"""The OpenAPI document at /api/v1/openapi.json, generated from the marshmallow schemas."""

from __future__ import annotations

from functools import cache
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Response, jsonify
from marshmallow import Schema

from service import __version__
from service.campaigns.schemas import (
    CampaignIn,
    CampaignOut,
    CampaignQuery,
    PartnershipIn,
    PartnershipOut,
    PartnershipQuery,
)
from service.commissions.schemas import AdjustmentIn, CommissionOut, CommissionQuery, RejectIn
from service.conversions.schemas import ConversionOut, ConversionQuery
from service.deliverables.schemas import DeliverableIn, DeliverableOut, DeliverableQuery
from service.influencers.schemas import InfluencerIn, InfluencerOut, InfluencerQuery
from service.links.schemas import LinkIn, LinkOut, LinkPatch, LinkQuery
from service.promo_codes.schemas import PromoCodeIn, PromoCodeOut, PromoCodeQuery
from service.reports.schemas import ReportQuery

bp = Blueprint("openapi", __name__)

# (path, method, summary, scope, body, answer, query, status, is_list)
Op = tuple[
    str, str, str, str, type[Schema] | None, type[Schema] | None, type[Schema] | None, int, bool
]

_RESOURCES: list[tuple[str, str, type[Schema], type[Schema], type[Schema]]] = [
    ("influencers", "influencer_id", InfluencerIn, InfluencerOut, InfluencerQuery),
    ("campaigns", "campaign_id", CampaignIn, CampaignOut, CampaignQuery),
    ("links", "link_id", LinkIn, LinkOut, LinkQuery),
    ("promo-codes", "promo_id", PromoCodeIn, PromoCodeOut, PromoCodeQuery),
    ("deliverables", "deliverable_id", DeliverableIn, DeliverableOut, DeliverableQuery),
]


def _operations() -> list[Op]:
    ops: list[Op] = []
    for name, id_name, body, out, query in _RESOURCES:
        ops += [
            (f"/{name}", "post", f"Create one of {name}", "write", body, out, None, 201, False),
            (f"/{name}", "get", f"List {name}", "read", None, out, query, 200, True),
            (
                f"/{name}/{{{id_name}}}",
                "get",
                f"Show one of {name}",
                "read",
                None,
                out,
                None,
                200,
                False,
            ),
        ]
    ops += [
        (
            "/links/{link_id}",
            "patch",
            "Pause, resume or re-point a link",
            "write",
            LinkPatch,
            LinkOut,
            None,
            200,
            False,
        ),
        (
            "/campaigns/{campaign_id}/partners",
            "post",
            "Enrol an influencer",
            "write",
            PartnershipIn,
            PartnershipOut,
            None,
            201,
            False,
        ),
        (
            "/campaigns/{campaign_id}/partners",
            "get",
            "List a campaign's partners",
            "read",
            None,
            PartnershipOut,
            PartnershipQuery,
            200,
            True,
        ),
        (
            "/deliverables/{deliverable_id}/approve",
            "post",
            "Approve a post (per-post fee)",
            "write",
            None,
            DeliverableOut,
            None,
            200,
            False,
        ),
        (
            "/conversions",
            "get",
            "List conversions",
            "read",
            None,
            ConversionOut,
            ConversionQuery,
            200,
            True,
        ),
        (
            "/conversions/{conversion_id}",
            "get",
            "Show a conversion",
            "read",
            None,
            ConversionOut,
            None,
            200,
            False,
        ),
        (
            "/commissions",
            "get",
            "List ledger lines",
            "read",
            None,
            CommissionOut,
            CommissionQuery,
            200,
            True,
        ),
        (
            "/commissions/{line_id}",
            "get",
            "Show a ledger line",
            "read",
            None,
            CommissionOut,
            None,
            200,
            False,
        ),
        (
            "/commissions/adjustments",
            "post",
            "Add a manual adjustment",
            "write",
            AdjustmentIn,
            CommissionOut,
            None,
            201,
            False,
        ),
        (
            "/commissions/{line_id}/reject",
            "post",
            "Reject an unpaid line",
            "write",
            RejectIn,
            CommissionOut,
            None,
            200,
            False,
        ),
        (
            "/reports/campaigns/{campaign_id}",
            "get",
            "Campaign report",
            "read",
            None,
            None,
            ReportQuery,
            200,
            False,
        ),
    ]
    return ops


def _path_params(path: str) -> list[dict[str, Any]]:
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    return [
        {"in": "path", "name": n, "required": True, "schema": {"type": "string"}} for n in names
    ]


@cache
def document() -> dict[str, Any]:
    spec = APISpec(
        title="afftrack management API",
        version=__version__,
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        servers=[{"url": "/api/v1"}],
    )
    spec.components.security_scheme("apiKey", {"type": "http", "scheme": "bearer"})
    spec.components.schema(
        "Error",
        {
            "type": "object",
            "properties": {
                "error": {
                    "type": "object",
                    "properties": {
                        "code": {"type": "string"},
                        "message": {"type": "string"},
                        "fields": {"type": "object"},
                    },
                }
            },
        },
    )
    error = {
        "description": "error",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    paths: dict[str, dict[str, Any]] = {}
    for path, method, summary, scope, body, out, query, status, is_list in _operations():
        op: dict[str, Any] = {
            "summary": summary,
            "security": [{"apiKey": []}],
            "description": f"Needs an API key with the `{scope}` scope.",
            "parameters": _path_params(path),
            "responses": {"401": error, "403": error, "404": error, "422": error},
        }
        if query is not None:
            op["parameters"].append({"in": "query", "schema": query})
        if body is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": body}},
            }
        if out is None:
            answer: dict[str, Any] = {"type": "object"}
        elif is_list:
            answer = {
                "type": "object",
                "properties": {
                    "items": {"type": "array", "items": out},
                    "next_cursor": {"type": "string", "nullable": True},
                },
            }
        else:
            answer = out  # type: ignore[assignment]
        op["responses"][str(status)] = {
            "description": "ok",
            "content": {"application/json": {"schema": answer}},
        }
        paths.setdefault(path, {})[method] = op
    paths["/exports/commissions/{period}"] = {
        "get": {
            "summary": "Monthly commission export (csv, json or paypal; detail=lines)",
            "description": (
                "Changes nothing. A month that is still open shows the tiered true-up, "
                "CPC and carry-forward lines closing would write, with the ids closing "
                "gives them; the month still running, as if it ended now, those lines "
                "with status `projected` in the detail (and counted in the summary). A "
                "month not started yet answers 409 period_not_started."
            ),
            "security": [{"apiKey": []}],
            "parameters": [
                *_path_params("/{period}"),
                {
                    "in": "query",
                    "name": "format",
                    "schema": {"type": "string", "enum": ["csv", "json", "paypal"]},
                },
                {"in": "query", "name": "detail", "schema": {"type": "string", "enum": ["lines"]}},
                {
                    "in": "query",
                    "name": "currency",
                    "description": "format=paypal: the file's one currency",
                    "schema": {"type": "string", "pattern": "^[A-Z]{3}$"},
                },
                {
                    "in": "query",
                    "name": "part",
                    "description": (
                        "format=paypal: the part to download when the file has more than "
                        "5,000 payments (Payouts Web's limit per file); 422 names the parts"
                    ),
                    "schema": {"type": "integer", "minimum": 1},
                },
            ],
            "responses": {
                "200": {
                    "description": "the export body (a closed month's summary CSV: with "
                    "its stored checksum in X-Checksum-SHA256)",
                    "content": {"text/csv": {}, "application/json": {}},
                },
                "409": error,
                "422": error,
            },
        }
    }
    paths["/exports/commissions/{period}/close"] = {
        "post": {
            "summary": (
                "Close a month: write its settlement (tiered true-up, CPC), mark its "
                "lines paid and store the checksum"
            ),
            "security": [{"apiKey": []}],
            "parameters": _path_params("/{period}"),
            "responses": {
                "200": {
                    "description": "closed",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "409": error,
            },
        }
    }
    for path in sorted(paths):
        spec.path(path=path, operations=paths[path])
    return spec.to_dict()


@bp.get("/api/v1/openapi.json")
def openapi_json() -> Response:
    return jsonify(document())
