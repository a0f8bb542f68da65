"""The OpenAPI document is valid and covers the management API."""

from __future__ import annotations

import re

import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis.config import SchemathesisConfig

from service.commissions.rules import (
    MAX_RULES,
    MAX_TIERS,
    RULE_FIELDS,
    RULE_TYPES,
    TIER_FIELDS,
    RuleError,
    parse_rules,
)
from service.money import MoneyError
from service.vocabulary import POSITIVE_AMOUNT_PATTERN, RATE_PATTERN


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
        "/deliverables/{deliverable_id}",
        "/deliverables/{deliverable_id}/approve",
        "/deliverables/{deliverable_id}/reject",
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


def _rule_variants(document: dict) -> tuple[dict, dict[str, dict]]:
    """The campaign's rules list and each rule type's schema, by type."""
    schemas = document["components"]["schemas"]
    rules = schemas["CampaignIn"]["properties"]["commission_rules"]
    mapping = rules["items"]["discriminator"]["mapping"]
    return rules, {kind: schemas[ref.rsplit("/", 1)[1]] for kind, ref in mapping.items()}


def test_each_rule_type_has_its_own_shape_in_the_document(sqlite_app):
    document = sqlite_app.test_client().get("/api/v1/openapi.json").json
    rules, variants = _rule_variants(document)
    assert rules["maxItems"] == MAX_RULES
    assert rules["items"]["discriminator"]["propertyName"] == "type"
    assert {v["$ref"] for v in rules["items"]["oneOf"]} == set(
        rules["items"]["discriminator"]["mapping"].values()
    )
    assert tuple(variants) == RULE_TYPES
    for kind, variant in variants.items():
        names = {"type", *RULE_FIELDS[kind]}
        assert set(variant["properties"]) == names, kind
        assert set(variant["required"]) == names, kind
        assert variant["additionalProperties"] is False, kind
        assert variant["properties"]["type"]["enum"] == [kind]
    assert variants["percent"]["properties"]["rate"]["pattern"] == RATE_PATTERN
    for kind in ("flat", "cpc", "per_post"):
        assert variants[kind]["properties"]["amount"]["pattern"] == POSITIVE_AMOUNT_PATTERN
    tiers = variants["tiered_percent"]["properties"]["tiers"]
    assert (tiers["minItems"], tiers["maxItems"]) == (1, MAX_TIERS)
    tier = document["components"]["schemas"][tiers["items"]["$ref"].rsplit("/", 1)[1]]
    assert set(tier["properties"]) == set(TIER_FIELDS)
    assert tier["required"] == ["rate"]
    assert tier["additionalProperties"] is False
    assert tier["properties"]["rate"]["pattern"] == RATE_PATTERN
    assert tier["properties"]["up_to"]["pattern"] == POSITIVE_AMOUNT_PATTERN
    assert tier["properties"]["up_to"]["nullable"] is True
    # Partnerships and the answers name the same rules.
    schemas = document["components"]["schemas"]
    for schema, name in (
        ("PartnershipIn", "commission_rules"),
        ("PartnershipOut", "effective_rules"),
        ("CampaignOut", "commission_rules"),
    ):
        assert schemas[schema]["properties"][name]["items"] == rules["items"], (schema, name)


# What the server checks on a rule that no JSON Schema states (the rules list's
# description names them): the currency's decimals and size, and the order of the tiers.
SERVER_ONLY = re.compile(
    r"[A-Z]{3} has \d decimal places; .* has more|amount is too large|tier bounds must increase"
    r"|only the last tier may have no upper bound|the last tier must have up_to: null"
)


def test_a_rule_the_document_allows_is_refused_only_for_a_rule_it_describes(sqlite_app):
    document = sqlite_app.test_client().get("/api/v1/openapi.json").json
    description = document["components"]["schemas"]["CampaignIn"]["properties"]["commission_rules"][
        "description"
    ]
    for words in ("decimals", "minor units", "do not increase", "upper bound"):
        assert words in description, words
    operation = schemathesis.openapi.from_dict(document, config=SchemathesisConfig())[
        "/api/v1/campaigns"
    ]["POST"]
    seen = {"accepted": 0, "refused": 0}

    @settings(
        max_examples=200,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(operation.as_strategy())
    def check(case):
        body = case.body
        try:
            parse_rules(body["commission_rules"], body["currency"])
        except (RuleError, MoneyError) as exc:
            assert SERVER_ONLY.fullmatch(str(exc)), (body["commission_rules"], str(exc))
            seen["refused"] += 1
        else:
            seen["accepted"] += bool(body["commission_rules"])

    check()
    assert seen["accepted"] > 50


def test_a_campaign_budget_and_cap_are_more_than_zero_in_the_document(sqlite_app):
    document = sqlite_app.test_client().get("/api/v1/openapi.json").json
    campaign = document["components"]["schemas"]["CampaignIn"]["properties"]
    for name in ("budget", "monthly_cap_per_influencer"):
        assert campaign[name]["pattern"] == POSITIVE_AMOUNT_PATTERN, name
        assert campaign[name]["nullable"] is True, name
