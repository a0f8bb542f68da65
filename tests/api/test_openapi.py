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
        assert path in paths, path
    create = paths["/influencers"]["post"]
    schema_ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    name = schema_ref.rsplit("/", 1)[1]
    assert "handle" in document["components"]["schemas"][name]["properties"]


def test_every_api_route_is_documented(sqlite_app):
    documented = set(sqlite_app.test_client().get("/api/v1/openapi.json").json["paths"])
    for rule in sqlite_app.url_map.iter_rules():
        path = str(rule)
        if not path.startswith("/api/v1/") or path.endswith("openapi.json"):
            continue
        templated = path[len("/api/v1") :].replace("<", "{").replace(">", "}")
        assert templated in documented, templated
