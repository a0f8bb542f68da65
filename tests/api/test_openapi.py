"""The OpenAPI document is valid and covers the management API."""

from __future__ import annotations

import re

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
        templated = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", path)
        assert templated in documented, templated


def test_each_operation_names_its_scope_and_every_error_it_answers(sqlite_app):
    document = sqlite_app.test_client().get("/api/v1/openapi.json").json
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            responses = set(operation["responses"])
            if path.startswith("/webhooks/"):
                assert operation["security"] == [], (method, path)
                assert {"400", "401", "404", "413", "422", "503"} <= responses
                continue
            assert operation["security"] == [{"apiKey": []}], (method, path)
            assert operation["x-scope"] in ("read", "write"), (method, path)
            assert "401" in responses, (method, path)
            assert ("403" in responses) == (operation["x-scope"] == "write"), (method, path)
            if "requestBody" in operation:
                assert {"400", "413", "415", "422"} <= responses, (method, path)


def test_every_error_answer_has_the_one_error_shape(sqlite_app):
    document = sqlite_app.test_client().get("/api/v1/openapi.json").json
    error = document["components"]["schemas"]["Error"]
    body = document["components"]["schemas"]["ErrorBody"]
    assert error["required"] == ["error"]
    assert set(body["required"]) == {"code", "message", "fields"}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            assert "default" not in operation["responses"], (method, path)
            for status, answer in operation["responses"].items():
                if status.startswith("2"):
                    continue
                if "$ref" in answer:
                    name = answer["$ref"].rsplit("/", 1)[1]
                    answer = document["components"]["responses"][name]
                schema = answer["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, status)


def test_no_documentation_page_is_served(sqlite_app):
    client = sqlite_app.test_client()
    for path in ("/api/v1/swagger-ui", "/api/v1/redoc", "/api/v1/rapidoc"):
        assert client.get(path).status_code == 404, path


def test_a_sibling_route_is_not_taken_for_an_id(sqlite_app):
    """/commissions/adjustments is a route of its own, not the ledger line "adjustments":
    a method it does not have names only the methods it has."""
    response = sqlite_app.test_client().delete("/api/v1/commissions/adjustments")
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}
