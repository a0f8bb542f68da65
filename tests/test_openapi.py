"""The OpenAPI document is valid and covers the management API."""

from __future__ import annotations

from openapi_spec_validator import validate


def test_openapi_document_is_valid(sqlite_app):
    response = sqlite_app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json
    validate(document)
    paths = document["paths"]
    for path in (
        "/webhooks/{source}",
        "/influencers",
        "/campaigns",
        "/campaigns/{campaign_id}/partners",
        "/links",
        "/links/{link_id}",
        "/promo-codes",
        "/deliverables",
        "/deliverables/{deliverable_id}/approve",
        "/conversions",
        "/commissions",
        "/commissions/adjustments",
        "/commissions/{line_id}/reject",
        "/exports/commissions/{period}",
        "/exports/commissions/{period}/close",
        "/reports/campaigns/{campaign_id}",
    ):
        full = path if path.startswith("/webhooks/") else "/api/v1" + path
        assert full in paths, full
    create = paths["/api/v1/influencers"]["post"]
    schema_ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    name = schema_ref.rsplit("/", 1)[1]
    assert "handle" in document["components"]["schemas"][name]["properties"]


def test_every_api_route_is_documented(sqlite_app):
    documented = set(sqlite_app.test_client().get("/api/v1/openapi.json").json["paths"])
    for rule in sqlite_app.url_map.iter_rules():
        path = str(rule)
        if not path.startswith(("/api/v1/", "/webhooks/")) or path.endswith("openapi.json"):
            continue
        templated = path.replace("<", "{").replace(">", "}")
        assert templated in documented, templated
