"""docs/product.md §7: every bad request gets a clear 4xx JSON error and changes nothing.

Each test sends one bad request to a real app on PostgreSQL and checks three things:
the status, the error shape ``{"error": {"code", "message", "fields"}}`` (with the
offending field named where there is one), and that no table gained or lost a row.
Grouped by surface: request bodies, auth, then each management resource, the signed
generic webhook, body size, and a hypothesis property over arbitrary JSON.

Most tests share one ``world`` (see the fixture) so that ~600 cases run in well under a
minute; the few that store on purpose build their own (``fresh``, ``pg_api``).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service import clock
from service.app import create_app
from service.conversions.webhooks.signatures import sign_generic
from service.models import metadata
from tests.support.app import WEBHOOK_SECRET, Api, _empty_tables, make_settings

pytestmark = pytest.mark.postgres

TABLES = [table.name for table in metadata.sorted_tables]
MISSING = object()  # in a table of changes: "leave this field out"
ONE_MIB = 1024 * 1024
FROZEN_NOW = int(datetime(2026, 10, 1, 9, tzinfo=UTC).timestamp())  # conftest's `frozen`


# --- helpers -----------------------------------------------------------------------------
def counts(api: Api) -> dict[str, int]:
    return {table: api.rows(table) for table in TABLES}


@contextmanager
def stores_nothing(api: Api) -> Iterator[None]:
    """The block must leave every table's row count as it found it."""
    before = counts(api)
    yield
    after = counts(api)
    assert after == before, {t: (before[t], after[t]) for t in TABLES if before[t] != after[t]}


def field_names(fields: dict[str, Any], prefix: str = "") -> Iterator[str]:
    """Dotted names of every leaf in marshmallow's (possibly nested) error dict."""
    for key, value in fields.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            yield from field_names(value, name + ".")
        else:
            yield name


def assert_error(
    response: Any, status: int, code: str | None = None, field: str | None = None
) -> dict[str, Any]:
    """``response`` is the error shape with ``status``, ``code`` and ``field`` named."""
    text = response.get_data(as_text=True)[:600]
    assert response.status_code == status, (response.status_code, text)
    assert response.mimetype == "application/json", (response.mimetype, text)
    body = response.get_json()
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "fields"}, error
    assert isinstance(error["code"], str) and error["code"], error
    assert isinstance(error["message"], str) and error["message"], error
    assert isinstance(error["fields"], dict), error
    if code is not None:
        assert error["code"] == code, error
    if field is not None:
        names = list(field_names(error["fields"]))
        assert any(n == field or n.startswith(field + ".") for n in names), (field, error)
    return error


def changed(base: dict[str, Any], changes: dict[str, Any], world: World | None = None) -> dict:
    """``base`` with ``changes`` applied; ``MISSING`` drops a key, ``"@name"`` is the id
    of the world's object ``name``."""
    body = copy.deepcopy(base)
    for key, value in changes.items():
        if value is MISSING:
            body.pop(key, None)
        elif isinstance(value, str) and value.startswith("@") and world is not None:
            body[key] = world.ids[value[1:]]
        else:
            body[key] = copy.deepcopy(value)
    return body


def send(
    api: Api, method: str, path: str, data: bytes, content_type: str | None = "application/json"
) -> Any:
    """Raw bytes with the write key."""
    headers = {"Authorization": f"Bearer {api.write_key}"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    return api.client.open(path, method=method, data=data, headers=headers)


def influencer_body(handle: str = "zoe") -> dict[str, Any]:
    return {
        "handle": handle,
        "name": handle.title(),
        "email": f"{handle}@example.com",
        "platforms": [{"platform": "instagram", "handle": handle, "followers": 5000}],
    }


def campaign_body(slug: str = "autumn", **extra: Any) -> dict[str, Any]:
    return {
        "name": slug.title(),
        "slug": slug,
        "goal": "conversions",
        "kind": "affiliate",
        "currency": "EUR",
        "starts_on": "2026-09-01",
        "allowed_domains": ["shop.example"],
        "fallback_url": "https://shop.example/sale-over",
        "commission_rules": [{"type": "percent", "rate": "10"}],
        **extra,
    }


@dataclass
class World:
    """Anna partners the EUR campaign ``spring`` (on ``shop.example``, with her link
    ``anna-bio`` and one manual commission line) and the JPY campaign ``tokyo``; Ben
    exists but partners nothing."""

    api: Api
    ids: dict[str, str]
    snapshot: dict[str, int]  # row counts right after it was built

    def path(self, template: str) -> str:
        return template.format(**self.ids)

    def link(self) -> dict[str, Any]:
        return self.api.get(f"/api/v1/links/{self.ids['link']}").json


def build_world(api: Api) -> World:
    anna = api.create_influencer("anna")
    ben = api.create_influencer("ben")
    spring = api.create_campaign("spring")
    api.add_partner(spring["id"], anna["id"])
    tokyo = api.create_campaign(
        "tokyo", currency="JPY", commission_rules=[{"type": "flat", "amount": "500"}]
    )
    api.add_partner(tokyo["id"], anna["id"])
    link = api.create_link(spring["id"], anna["id"], slug="anna-bio")
    line = api.post(
        "/api/v1/commissions/adjustments",
        {
            "influencer_id": anna["id"],
            "campaign_id": spring["id"],
            "amount": "5.00",
            "currency": "EUR",
            "reason": "welcome bonus",
        },
    )
    assert line.status_code == 201, line.json
    ids = {
        "anna": anna["id"],
        "ben": ben["id"],
        "spring": spring["id"],
        "tokyo": tokyo["id"],
        "link": link["id"],
        "line": line.json["id"],
    }
    return World(api, ids, counts(api))


@pytest.fixture(scope="module")
def shared_app(pg_url: str, redis_url: str) -> Iterator[Flask]:
    app = create_app(make_settings(pg_url, redis_url), TESTING=True)
    yield app
    _empty_tables(app)  # the next module starts from empty tables, as with ``pg_app``
    app.extensions["afftrack"].db.dispose()


@pytest.fixture
def world(shared_app: Flask, frozen: Any) -> World:
    """The world on the run's PostgreSQL database, built once and reused while intact.

    Building it (and emptying tables after each test, as ``pg_api`` does) would cost
    ~0.3 s per test; almost every test here must store nothing anyway, which is what it
    asserts. So it is rebuilt only when its row counts moved: a test stored something
    (a bug, reported by that test) or a ``pg_api`` test emptied the tables in between.
    Tests that store on purpose use ``fresh`` instead.
    """
    cached: World | None = shared_app.extensions.get("bad_input_world")
    if cached is None or counts(cached.api) != cached.snapshot:
        _empty_tables(shared_app)
        cached = build_world(Api(shared_app, shared_app.test_client()))
        shared_app.extensions["bad_input_world"] = cached
    return cached


@pytest.fixture
def fresh(pg_app: Flask, frozen: Any) -> World:
    """A world of its own, for tests that store on purpose: built on emptied tables
    (the shared world may be there) and emptied after the test by ``pg_app``."""
    _empty_tables(pg_app)
    return build_world(Api(pg_app, pg_app.test_client()))


# --- request bodies: malformed JSON, not an object, not JSON -----------------------------
WRITE_ENDPOINTS = [
    pytest.param("POST", "/api/v1/influencers", id="influencers"),
    pytest.param("POST", "/api/v1/campaigns", id="campaigns"),
    pytest.param("POST", "/api/v1/campaigns/{spring}/partners", id="partners"),
    pytest.param("POST", "/api/v1/links", id="links"),
    pytest.param("PATCH", "/api/v1/links/{link}", id="patch-link"),
    pytest.param("POST", "/api/v1/promo-codes", id="promo-codes"),
    pytest.param("POST", "/api/v1/deliverables", id="deliverables"),
    pytest.param("POST", "/api/v1/commissions/adjustments", id="adjustments"),
    pytest.param("POST", "/api/v1/commissions/{line}/reject", id="reject"),
]

BAD_BODIES = [
    pytest.param(b'{"handle": "zoe", ', "application/json", 400, "malformed_json", id="cut-off"),
    pytest.param(b"{'handle': 'zoe'}", "application/json", 400, "malformed_json", id="quotes"),
    pytest.param(b'{"a": 1,}', "application/json", 400, "malformed_json", id="trailing-comma"),
    pytest.param(b"\xff\xfe{}", "application/json", 400, "malformed_json", id="not-utf8"),
    pytest.param(b"", "application/json", 400, "malformed_json", id="empty"),
    pytest.param(b"[]", "application/json", 422, "validation_failed", id="array"),
    pytest.param(b'"zoe"', "application/json", 422, "validation_failed", id="string"),
    pytest.param(b"42", "application/json", 422, "validation_failed", id="number"),
    pytest.param(b"null", "application/json", 422, "validation_failed", id="null"),
    pytest.param(b"{}", "text/plain", 415, "unsupported_media_type", id="text-plain"),
    pytest.param(
        b"a=b", "application/x-www-form-urlencoded", 415, "unsupported_media_type", id="form"
    ),
    pytest.param(b"{}", None, 415, "unsupported_media_type", id="no-content-type"),
]


@pytest.mark.parametrize(("method", "template"), WRITE_ENDPOINTS)
@pytest.mark.parametrize(("raw", "content_type", "status", "code"), BAD_BODIES)
def test_write_endpoints_refuse_bodies_that_are_not_a_json_object(
    world: World,
    method: str,
    template: str,
    raw: bytes,
    content_type: str | None,
    status: int,
    code: str | None,
) -> None:
    link_before = world.link()
    with stores_nothing(world.api):
        r = send(world.api, method, world.path(template), raw, content_type)
        assert_error(r, status, code)
    assert world.link() == link_before


@pytest.mark.parametrize(("method", "template"), WRITE_ENDPOINTS)
def test_write_endpoints_refuse_deeply_nested_json(
    world: World, method: str, template: str
) -> None:
    """Valid JSON nested 100,000 deep (200 kB) must not crash the parser into a 500."""
    raw = b"[" * 100_000 + b"]" * 100_000
    with stores_nothing(world.api):
        r = send(world.api, method, world.path(template), raw)
        assert 400 <= r.status_code < 500, (r.status_code, r.get_data(as_text=True)[:300])
        assert_error(r, r.status_code)


# --- auth ----------------------------------------------------------------------------------
VALID_WRITES = [
    pytest.param("POST", "/api/v1/influencers", lambda w: influencer_body(), id="influencers"),
    pytest.param("POST", "/api/v1/campaigns", lambda w: campaign_body(), id="campaigns"),
    pytest.param(
        "POST",
        "/api/v1/campaigns/{spring}/partners",
        lambda w: {"influencer_id": w.ids["ben"]},
        id="partners",
    ),
    pytest.param(
        "POST",
        "/api/v1/links",
        lambda w: {
            "campaign_id": w.ids["spring"],
            "influencer_id": w.ids["anna"],
            "destination": "https://shop.example/p/2",
            "platform": "tiktok",
        },
        id="links",
    ),
    pytest.param("PATCH", "/api/v1/links/{link}", lambda w: {"status": "paused"}, id="patch-link"),
    pytest.param(
        "POST",
        "/api/v1/promo-codes",
        lambda w: {"campaign_id": w.ids["spring"], "influencer_id": w.ids["anna"]},
        id="promo-codes",
    ),
    pytest.param(
        "POST",
        "/api/v1/deliverables",
        lambda w: {
            "campaign_id": w.ids["spring"],
            "influencer_id": w.ids["anna"],
            "platform": "instagram",
            "url": "https://instagram.com/p/abc",
            "posted_at": "2026-09-20T10:00:00Z",
        },
        id="deliverables",
    ),
    pytest.param(
        "POST",
        "/api/v1/commissions/adjustments",
        lambda w: {
            "influencer_id": w.ids["anna"],
            "campaign_id": w.ids["spring"],
            "amount": "-2.00",
            "currency": "EUR",
            "reason": "correction",
        },
        id="adjustments",
    ),
    pytest.param(
        "POST", "/api/v1/commissions/{line}/reject", lambda w: {"reason": "dup"}, id="reject"
    ),
    pytest.param("POST", "/api/v1/exports/commissions/2026-09/close", None, id="close-export"),
]

AUTH_CASES = [
    pytest.param(None, 401, id="no-header"),
    pytest.param("Bearer aft_" + "x" * 43, 401, id="unknown-key"),
    pytest.param("Bearer not-even-a-key", 401, id="junk-key"),
    pytest.param("Bearer ", 401, id="empty-bearer"),
    pytest.param("Basic dXNlcjpwYXNz", 401, id="basic-auth"),
    pytest.param("read", 403, id="read-scope"),
]


def authorization(api: Api, case: str | None) -> dict[str, str]:
    if case is None:
        return {}
    if case == "read":
        return {"Authorization": f"Bearer {api.read_key}"}
    if case == "write":
        return {"Authorization": f"Bearer {api.write_key}"}
    return {"Authorization": case}


def call(world: World, method: str, template: str, body: Any, auth: str | None) -> Any:
    payload = body(world) if body else None
    return world.api.client.open(
        world.path(template),
        method=method,
        json=payload,
        headers=authorization(world.api, auth),
    )


@pytest.mark.parametrize(("method", "template", "body"), VALID_WRITES)
@pytest.mark.parametrize(("auth", "status"), AUTH_CASES)
def test_writes_without_a_valid_write_key_are_refused(
    world: World, method: str, template: str, body: Any, auth: str | None, status: int
) -> None:
    link_before = world.link()
    line_before = world.api.get(f"/api/v1/commissions/{world.ids['line']}").json
    with stores_nothing(world.api):
        r = call(world, method, template, body, auth)
        assert_error(r, status, "unauthorized" if status == 401 else "forbidden")
    assert world.link() == link_before
    assert world.api.get(f"/api/v1/commissions/{world.ids['line']}").json == line_before


@pytest.mark.parametrize(("method", "template", "body"), VALID_WRITES)
def test_the_same_writes_succeed_with_a_write_key(
    fresh: World, method: str, template: str, body: Any
) -> None:
    """Control for the test above: the bodies are valid, so only the key was wrong."""
    r = call(fresh, method, template, body, "write")
    assert r.status_code in (200, 201), r.json


@pytest.mark.parametrize("auth", [None, "Bearer aft_" + "x" * 43])
@pytest.mark.parametrize(
    "path", ["/api/v1/influencers", "/api/v1/campaigns", "/api/v1/conversions"]
)
def test_reads_need_a_key(world: World, path: str, auth: str | None) -> None:
    assert_error(
        world.api.client.get(path, headers=authorization(world.api, auth)), 401, "unauthorized"
    )


# --- influencers ---------------------------------------------------------------------------
def platform(**changes: Any) -> list[dict[str, Any]]:
    return [changed({"platform": "instagram", "handle": "zoe", "followers": 5000}, changes)]


INFLUENCER_CASES = [
    pytest.param({"handle": 42}, "handle", id="handle-number"),
    pytest.param({"handle": "a" * 41}, "handle", id="handle-41-chars"),
    pytest.param({"handle": "a"}, "handle", id="handle-1-char"),
    pytest.param({"handle": "Zoe"}, "handle", id="handle-upper-case"),
    pytest.param({"handle": "zoe!"}, "handle", id="handle-bang"),
    pytest.param({"handle": "zo e"}, "handle", id="handle-space"),
    pytest.param({"handle": "zoé"}, "handle", id="handle-accent"),
    pytest.param({"handle": "zoe\n"}, "handle", id="handle-trailing-newline"),
    pytest.param({"handle": None}, "handle", id="handle-null"),
    pytest.param({"handle": MISSING}, "handle", id="handle-missing"),
    pytest.param({"name": "x" * 201}, "name", id="name-201-chars"),
    pytest.param({"name": ""}, "name", id="name-empty"),
    pytest.param({"name": 7}, "name", id="name-number"),
    pytest.param({"name": True}, "name", id="name-boolean"),
    pytest.param({"name": MISSING}, "name", id="name-missing"),
    pytest.param({"name": "Zo\x00e"}, "name", id="name-nul-char"),
    pytest.param({"email": "not-an-email"}, "email", id="email-invalid"),
    pytest.param({"email": ["zoe@example.com"]}, "email", id="email-list"),
    pytest.param({"email": MISSING}, "email", id="email-missing"),
    pytest.param({"payout_email": 5}, "payout_email", id="payout-email-number"),
    pytest.param({"platforms": "instagram"}, "platforms", id="platforms-string"),
    pytest.param({"platforms": ["instagram"]}, "platforms.0", id="platform-not-object"),
    pytest.param(
        {"platforms": platform(followers="5000")}, "platforms.0.followers", id="followers-string"
    ),
    pytest.param(
        {"platforms": platform(followers=5000.5)}, "platforms.0.followers", id="followers-float"
    ),
    pytest.param(
        {"platforms": platform(followers=5000.0)},
        "platforms.0.followers",
        id="followers-integral-float",
    ),
    pytest.param(
        {"platforms": platform(followers=True)}, "platforms.0.followers", id="followers-boolean"
    ),
    pytest.param(
        {"platforms": platform(followers=-1)}, "platforms.0.followers", id="followers-negative"
    ),
    pytest.param(
        {"platforms": platform(followers=None)}, "platforms.0.followers", id="followers-null"
    ),
    pytest.param(
        {"platforms": platform(followers=10**30)}, "platforms.0.followers", id="followers-huge"
    ),
    pytest.param(
        {"platforms": platform(platform="myspace")}, "platforms.0.platform", id="platform-unknown"
    ),
    pytest.param(
        {"platforms": platform(platform=MISSING)}, "platforms.0.platform", id="platform-missing"
    ),
    pytest.param(
        {"platforms": platform(handle="")}, "platforms.0.handle", id="platform-handle-empty"
    ),
    pytest.param(
        {"platforms": platform(url="https://x")}, "platforms.0.url", id="platform-unknown-field"
    ),
    pytest.param({"nickname": "z"}, "nickname", id="unknown-field"),
    pytest.param({"id": "inf_chosen"}, "id", id="client-chosen-id"),
    pytest.param({"tier": "mega"}, "tier", id="read-only-tier"),
]


@pytest.mark.parametrize(("changes", "field"), INFLUENCER_CASES)
def test_influencer_bad_fields(world: World, changes: dict, field: str) -> None:
    with stores_nothing(world.api):
        r = world.api.post("/api/v1/influencers", changed(influencer_body(), changes))
        assert_error(r, 422, "validation_failed", field)


def test_influencer_duplicate_handle(world: World) -> None:
    with stores_nothing(world.api):
        r = world.api.post("/api/v1/influencers", {**influencer_body("anna"), "name": "Other"})
        assert_error(r, 409, "duplicate")


# --- campaigns -----------------------------------------------------------------------------
JPY = {"currency": "JPY"}

CAMPAIGN_CASES = [
    pytest.param({"currency": "EUR1"}, "currency", id="currency-EUR1"),
    pytest.param({"currency": "XXX"}, "currency", id="currency-XXX"),
    pytest.param({"currency": "eur"}, "currency", id="currency-lower-case"),
    pytest.param({"currency": " EUR"}, "currency", id="currency-padded"),
    pytest.param({"currency": 978}, "currency", id="currency-number"),
    pytest.param({"currency": MISSING}, "currency", id="currency-missing"),
    pytest.param({"budget": "-100.00"}, "budget", id="budget-negative"),
    pytest.param({"budget": "0"}, "budget", id="budget-zero"),
    pytest.param({"budget": "10.001"}, "budget", id="budget-over-precise-eur"),
    pytest.param({**JPY, "budget": "1500.5"}, "budget", id="budget-over-precise-jpy"),
    pytest.param({"budget": 1500}, "budget", id="budget-json-number"),
    pytest.param({"budget": 1500.5}, "budget", id="budget-json-float"),
    pytest.param({"budget": "1,500.00"}, "budget", id="budget-thousands-separator"),
    pytest.param({"budget": "1e3"}, "budget", id="budget-exponent"),
    pytest.param(
        {"budget": "\u0661\u0665\u0660\u0660.\u0660\u0660"},
        "budget",
        id="budget-arabic-indic-digits",
    ),
    pytest.param({"budget": "9" * 19}, "budget", id="budget-too-large"),
    pytest.param(
        {"monthly_cap_per_influencer": "-1.00"}, "monthly_cap_per_influencer", id="cap-negative"
    ),
    pytest.param(
        {"commission_rules": [{"type": "flat", "amount": "-5.00"}]},
        "commission_rules.0",
        id="flat-negative",
    ),
    pytest.param(
        {"commission_rules": [{"type": "flat", "amount": "5.001"}]},
        "commission_rules.0",
        id="flat-over-precise-eur",
    ),
    pytest.param(
        {**JPY, "commission_rules": [{"type": "flat", "amount": "1500.5"}]},
        "commission_rules.0",
        id="flat-over-precise-jpy",
    ),
    pytest.param(
        {"commission_rules": [{"type": "flat", "amount": 5}]},
        "commission_rules.0",
        id="flat-json-number",
    ),
    pytest.param(
        {"commission_rules": [{"type": "percent", "rate": 10}]},
        "commission_rules.0",
        id="rate-json-number",
    ),
    pytest.param(
        {"commission_rules": [{"type": "percent", "rate": "101"}]},
        "commission_rules.0",
        id="rate-over-100",
    ),
    pytest.param(
        {"commission_rules": [{"type": "percent", "rate": "-1"}]},
        "commission_rules.0",
        id="rate-negative",
    ),
    pytest.param(
        {"commission_rules": [{"type": "bogus"}]}, "commission_rules.0.type", id="rule-unknown-type"
    ),
    pytest.param(
        {"commission_rules": [{"type": ["percent"], "rate": "10"}]},
        "commission_rules.0.type",
        id="rule-type-list",
    ),
    pytest.param(
        {"commission_rules": [{"type": "percent", "rate": "10", "cap": "1"}]},
        "commission_rules.0",
        id="rule-unknown-field",
    ),
    pytest.param({"commission_rules": ["percent"]}, "commission_rules", id="rule-not-object"),
    pytest.param(
        {"commission_rules": {"type": "percent"}}, "commission_rules", id="rules-not-list"
    ),
    pytest.param(
        {
            **JPY,
            "commission_rules": [
                {
                    "type": "tiered_percent",
                    "tiers": [{"up_to": "1000.5", "rate": "10"}, {"up_to": None, "rate": "15"}],
                }
            ],
        },
        "commission_rules.0",
        id="tier-over-precise-jpy",
    ),
    pytest.param(
        {
            "commission_rules": [
                {
                    "type": "tiered_percent",
                    "tiers": [
                        {"up_to": "100.00", "rate": "10"},
                        {"up_to": "50.00", "rate": "15"},
                        {"up_to": None, "rate": "20"},
                    ],
                }
            ]
        },
        "commission_rules.0",
        id="tiers-decreasing",
    ),
    pytest.param({"commission_rules": MISSING}, "commission_rules", id="rules-missing"),
    pytest.param({"starts_on": "1800-01-01"}, "starts_on", id="starts-1800"),
    pytest.param({"starts_on": "3000-01-01"}, "starts_on", id="starts-3000"),
    pytest.param({"starts_on": "2026-13-01"}, "starts_on", id="starts-month-13"),
    pytest.param({"starts_on": "2026-02-30"}, "starts_on", id="starts-feb-30"),
    pytest.param({"starts_on": "01/09/2026"}, "starts_on", id="starts-not-iso"),
    pytest.param({"starts_on": 20260901}, "starts_on", id="starts-number"),
    pytest.param({"starts_on": MISSING}, "starts_on", id="starts-missing"),
    pytest.param({"ends_on": "2026-08-31"}, "ends_on", id="ends-before-starts"),
    pytest.param({"ends_on": "3000-01-01"}, "ends_on", id="ends-3000"),
    pytest.param({"name": "x" * 201}, "name", id="name-201-chars"),
    pytest.param({"name": 5}, "name", id="name-number"),
    pytest.param({"name": "Aut\x00umn"}, "name", id="name-nul-char"),
    pytest.param({"slug": "Autumn"}, "slug", id="slug-upper-case"),
    pytest.param({"slug": "autumn sale"}, "slug", id="slug-space"),
    pytest.param({"slug": "a" * 65}, "slug", id="slug-65-chars"),
    pytest.param({"slug": "autumn\n"}, "slug", id="slug-trailing-newline"),
    pytest.param({"slug": MISSING}, "slug", id="slug-missing"),
    pytest.param({"goal": "sales"}, "goal", id="goal-unknown"),
    pytest.param({"kind": "viral"}, "kind", id="kind-unknown"),
    pytest.param({"hold_days": 14.5}, "hold_days", id="hold-days-float"),
    pytest.param({"hold_days": 14.0}, "hold_days", id="hold-days-integral-float"),
    pytest.param({"hold_days": "14"}, "hold_days", id="hold-days-string"),
    pytest.param({"hold_days": True}, "hold_days", id="hold-days-boolean"),
    pytest.param({"hold_days": -1}, "hold_days", id="hold-days-negative"),
    pytest.param({"hold_days": 366}, "hold_days", id="hold-days-366"),
    pytest.param({"attribution_window_days": 0}, "attribution_window_days", id="window-0"),
    pytest.param(
        {"attribution_window_days": False}, "attribution_window_days", id="window-boolean"
    ),
    pytest.param({"allowed_domains": []}, "allowed_domains", id="domains-empty"),
    pytest.param({"allowed_domains": "shop.example"}, "allowed_domains", id="domains-string"),
    pytest.param(
        {"allowed_domains": ["https://shop.example"]}, "allowed_domains", id="domains-url"
    ),
    pytest.param({"allowed_domains": ["shop.example/path"]}, "allowed_domains", id="domains-path"),
    pytest.param(
        {"allowed_domains": ["shop.example\n"]}, "allowed_domains", id="domains-trailing-newline"
    ),
    pytest.param({"allowed_domains": [42]}, "allowed_domains", id="domains-number"),
    pytest.param({"fallback_url": "javascript:alert(1)"}, "fallback_url", id="fallback-javascript"),
    pytest.param({"fallback_url": "ftp://shop.example/x"}, "fallback_url", id="fallback-ftp"),
    pytest.param(
        {"fallback_url": "https://shop.example/\r\nSet-Cookie: a=1"},
        "fallback_url",
        id="fallback-crlf",
    ),
    pytest.param({"utm_medium": "in fluencer"}, "utm_medium", id="utm-medium-space"),
    pytest.param({"owner": "marketing"}, "owner", id="unknown-field"),
]


@pytest.mark.parametrize(("changes", "field"), CAMPAIGN_CASES)
def test_campaign_bad_fields(world: World, changes: dict, field: str) -> None:
    with stores_nothing(world.api):
        r = world.api.post("/api/v1/campaigns", changed(campaign_body(), changes))
        assert_error(r, 422, "validation_failed", field)


def test_campaign_duplicate_slug(world: World) -> None:
    with stores_nothing(world.api):
        r = world.api.post("/api/v1/campaigns", campaign_body("spring", name="Other"))
        assert_error(r, 409, "duplicate")


# --- partnerships --------------------------------------------------------------------------
PARTNER_CASES = [
    pytest.param({"influencer_id": "inf_nope"}, "influencer_id", id="unknown-influencer"),
    pytest.param({"influencer_id": 42}, "influencer_id", id="influencer-number"),
    pytest.param({"influencer_id": ""}, "influencer_id", id="influencer-empty"),
    pytest.param({"influencer_id": "x" * 41}, "influencer_id", id="influencer-41-chars"),
    pytest.param({"influencer_id": MISSING}, "influencer_id", id="influencer-missing"),
    pytest.param({"commission_rules": "percent"}, "commission_rules", id="rules-string"),
    pytest.param(
        {"commission_rules": [{"type": "bogus"}]}, "commission_rules.0.type", id="rule-unknown-type"
    ),
    pytest.param(
        {"commission_rules": [{"type": "percent", "rate": "101"}]},
        "commission_rules.0",
        id="rate-over-100",
    ),
    pytest.param(
        {"commission_rules": [{"type": "flat", "amount": "5.001"}]},
        "commission_rules.0",
        id="flat-over-precise",
    ),
    pytest.param(
        {"commission_rules": [{"type": "flat", "amount": 5}]},
        "commission_rules.0",
        id="flat-json-number",
    ),
    pytest.param(
        {"commission_rules": [{"type": "flat", "amount": "-5.00"}]},
        "commission_rules.0",
        id="flat-negative",
    ),
    pytest.param({"role": "ambassador"}, "role", id="unknown-field"),
]


@pytest.mark.parametrize(("changes", "field"), PARTNER_CASES)
def test_partner_bad_fields(world: World, changes: dict, field: str) -> None:
    body = changed({"influencer_id": world.ids["ben"]}, changes)
    with stores_nothing(world.api):
        r = world.api.post(world.path("/api/v1/campaigns/{spring}/partners"), body)
        assert_error(r, 422, "validation_failed", field)


def test_partner_over_precise_flat_rule_in_a_jpy_campaign(world: World) -> None:
    tokyo = world.ids["tokyo"]
    body = {
        "influencer_id": world.ids["ben"],
        "commission_rules": [{"type": "flat", "amount": "1500.5"}],
    }
    with stores_nothing(world.api):
        r = world.api.post(f"/api/v1/campaigns/{tokyo}/partners", body)
        assert_error(r, 422, "validation_failed", "commission_rules")


def test_partner_of_an_unknown_campaign_is_404(world: World) -> None:
    with stores_nothing(world.api):
        body = {"influencer_id": world.ids["ben"]}
        r = world.api.post("/api/v1/campaigns/cmp_nope/partners", body)
        assert_error(r, 404, "not_found")


def test_partner_duplicate(world: World) -> None:
    with stores_nothing(world.api):
        r = world.api.post(
            world.path("/api/v1/campaigns/{spring}/partners"), {"influencer_id": world.ids["anna"]}
        )
        assert_error(r, 409, "duplicate")


# --- links: destinations (no open redirect) ------------------------------------------------
BAD_DESTINATIONS = [
    pytest.param("https://evil.example/", id="other-domain"),
    pytest.param("https://shop.example.evil.com/", id="allowed-as-prefix"),
    pytest.param("https://evilshop.example/", id="allowed-as-suffix"),
    pytest.param("https://SHOP.EXAMPLE.evil.com/", id="allowed-as-prefix-upper"),
    pytest.param("https://shop.example@evil.com/", id="allowed-as-username"),
    pytest.param("https://user:pass@shop.example/", id="credentials"),
    pytest.param("https://user@shop.example/", id="username-only"),
    pytest.param("javascript:alert(document.cookie)", id="javascript"),
    pytest.param("JavaScript://shop.example/%0Aalert(1)", id="javascript-with-host"),
    pytest.param("ftp://shop.example/file", id="ftp"),
    pytest.param("data:text/html,<script>alert(1)</script>", id="data"),
    pytest.param("//evil.example/", id="scheme-relative"),
    pytest.param("/relative/path", id="relative"),
    pytest.param("https://", id="no-host"),
    pytest.param("https://shop.example:99999/", id="bad-port"),
    pytest.param("https://[::1]/", id="ip-literal"),
    pytest.param("https://shop.example/\r\nSet-Cookie: a=1", id="crlf-injection"),
    pytest.param("https://shop.example/" + "p" * 2048, id="too-long"),
    pytest.param(42, id="number"),
    pytest.param(None, id="null"),
]


def link_body(world: World, **changes: Any) -> dict[str, Any]:
    base = {
        "campaign_id": world.ids["spring"],
        "influencer_id": world.ids["anna"],
        "destination": "https://shop.example/p/1",
        "platform": "instagram",
    }
    return changed(base, changes, world)


@pytest.mark.parametrize("destination", BAD_DESTINATIONS)
def test_link_destination_off_the_allowed_domains(world: World, destination: Any) -> None:
    with stores_nothing(world.api):
        r = world.api.post("/api/v1/links", link_body(world, destination=destination))
        assert_error(r, 422, "validation_failed", "destination")


@pytest.mark.parametrize("destination", BAD_DESTINATIONS)
def test_patch_link_destination_off_the_allowed_domains(world: World, destination: Any) -> None:
    before = world.link()
    with stores_nothing(world.api):
        r = world.api.patch(world.path("/api/v1/links/{link}"), {"destination": destination})
        assert_error(r, 422, "validation_failed", "destination")
    assert world.link() == before


LINK_CASES = [
    pytest.param({"campaign_id": "cmp_nope"}, "campaign_id", id="unknown-campaign"),
    pytest.param({"campaign_id": 5}, "campaign_id", id="campaign-number"),
    pytest.param({"campaign_id": MISSING}, "campaign_id", id="campaign-missing"),
    pytest.param({"influencer_id": "inf_nope"}, "influencer_id", id="unknown-influencer"),
    pytest.param({"influencer_id": "@ben"}, "influencer_id", id="influencer-not-a-partner"),
    pytest.param({"influencer_id": MISSING}, "influencer_id", id="influencer-missing"),
    pytest.param({"platform": "myspace"}, "platform", id="platform-unknown"),
    pytest.param({"platform": "Instagram"}, "platform", id="platform-upper-case"),
    pytest.param({"platform": MISSING}, "platform", id="platform-missing"),
    pytest.param({"destination": MISSING}, "destination", id="destination-missing"),
    pytest.param({"slug": "ab"}, "slug", id="slug-too-short"),
    pytest.param({"slug": "a" * 65}, "slug", id="slug-too-long"),
    pytest.param({"slug": "bad slug!"}, "slug", id="slug-bad-chars"),
    pytest.param({"slug": "-anna"}, "slug", id="slug-leading-dash"),
    pytest.param({"slug": "api"}, "slug", id="slug-reserved"),
    pytest.param({"slug": "anna-story\n"}, "slug", id="slug-trailing-newline"),
    pytest.param({"slug": 123456}, "slug", id="slug-number"),
    pytest.param({"code": "chosen"}, "code", id="unknown-field"),
    pytest.param({"status": "paused"}, "status", id="status-on-create"),
]


@pytest.mark.parametrize(("changes", "field"), LINK_CASES)
def test_link_bad_fields(world: World, changes: dict, field: str) -> None:
    with stores_nothing(world.api):
        r = world.api.post("/api/v1/links", link_body(world, **changes))
        assert_error(r, 422, "validation_failed", field)


def test_link_duplicate_vanity_slug(world: World) -> None:
    with stores_nothing(world.api):
        r = world.api.post("/api/v1/links", link_body(world, slug="anna-bio"))
        assert_error(r, 409, "duplicate")


PATCH_CASES = [
    pytest.param({"status": "deleted"}, "status", id="status-unknown"),
    pytest.param({"status": "PAUSED"}, "status", id="status-upper-case"),
    pytest.param({"status": 1}, "status", id="status-number"),
    pytest.param({"status": None}, "status", id="status-null"),
    pytest.param({"code": "new-code"}, "code", id="unknown-field-code"),
    pytest.param({"campaign_id": "@ben"}, "campaign_id", id="unknown-field-campaign"),
]


@pytest.mark.parametrize(("changes", "field"), PATCH_CASES)
def test_patch_link_bad_fields(world: World, changes: dict, field: str) -> None:
    before = world.link()
    with stores_nothing(world.api):
        r = world.api.patch(world.path("/api/v1/links/{link}"), changed({}, changes, world))
        assert_error(r, 422, "validation_failed", field)
    assert world.link() == before


def test_patch_unknown_link_is_404(world: World) -> None:
    with stores_nothing(world.api):
        assert_error(world.api.patch("/api/v1/links/lnk_nope", {"status": "paused"}), 404)


# --- promo codes ---------------------------------------------------------------------------
PROMO_CASES = [
    pytest.param({"code": "ab"}, "code", id="code-too-short"),
    pytest.param({"code": "A" * 33}, "code", id="code-33-chars"),
    pytest.param({"code": "SUMMER 10"}, "code", id="code-space-inside"),
    pytest.param({"code": "SUMMER%"}, "code", id="code-bad-char"),
    pytest.param({"code": ""}, "code", id="code-empty"),
    pytest.param({"code": 15}, "code", id="code-number"),
    pytest.param({"starts_at": "2026-10-01T00:00:00"}, "starts_at", id="starts-naive"),
    pytest.param({"starts_at": "1800-01-01T00:00:00Z"}, "starts_at", id="starts-1800"),
    pytest.param({"starts_at": "3000-01-01T00:00:00Z"}, "starts_at", id="starts-3000"),
    pytest.param({"starts_at": "soon"}, "starts_at", id="starts-junk"),
    pytest.param({"starts_at": 1790000000}, "starts_at", id="starts-epoch-number"),
    pytest.param(
        {"starts_at": "2026-10-10T00:00:00Z", "ends_at": "2026-10-01T00:00:00Z"},
        "ends_at",
        id="ends-before-starts",
    ),
    pytest.param({"ends_at": "3000-01-01T00:00:00Z"}, "ends_at", id="ends-3000"),
    pytest.param({"max_uses": 0}, "max_uses", id="max-uses-0"),
    pytest.param({"max_uses": "10"}, "max_uses", id="max-uses-string"),
    pytest.param({"max_uses": 1.5}, "max_uses", id="max-uses-float"),
    pytest.param({"max_uses": True}, "max_uses", id="max-uses-boolean"),
    pytest.param({"campaign_id": "cmp_nope"}, "campaign_id", id="unknown-campaign"),
    pytest.param({"influencer_id": "inf_nope"}, "influencer_id", id="unknown-influencer"),
    pytest.param({"influencer_id": "@ben"}, "influencer_id", id="influencer-not-a-partner"),
    pytest.param({"campaign_id": MISSING}, "campaign_id", id="campaign-missing"),
    pytest.param({"discount": "15%"}, "discount", id="unknown-field"),
]


@pytest.mark.parametrize(("changes", "field"), PROMO_CASES)
def test_promo_code_bad_fields(world: World, changes: dict, field: str) -> None:
    base = {"campaign_id": world.ids["spring"], "influencer_id": world.ids["anna"]}
    body = changed({**base, "code": "SUMMER10"}, changes, world)
    with stores_nothing(world.api):
        r = world.api.post("/api/v1/promo-codes", body)
        assert_error(r, 422, "validation_failed", field)


@pytest.mark.parametrize("again", ["ANNA15 ", "anna15", " Anna15", "ANNA15\t"])
def test_promo_code_duplicate_differing_only_in_case_or_whitespace(
    fresh: World, again: str
) -> None:
    api, ids = fresh.api, fresh.ids
    api.create_promo_code(ids["spring"], ids["anna"], "anna15")
    api.add_partner(ids["spring"], ids["ben"])
    for influencer in ("anna", "ben"):  # the same partnership or another one
        with stores_nothing(api):
            r = api.post(
                "/api/v1/promo-codes",
                {
                    "campaign_id": ids["spring"],
                    "influencer_id": ids[influencer],
                    "code": again,
                },
            )
            assert_error(r, 409, "duplicate")


# --- deliverables --------------------------------------------------------------------------
DELIVERABLE_CASES = [
    pytest.param({"posted_at": "1800-01-01T00:00:00Z"}, "posted_at", id="posted-1800"),
    pytest.param({"posted_at": "3000-01-01T00:00:00Z"}, "posted_at", id="posted-3000"),
    pytest.param({"posted_at": "2026-09-20T10:00:00"}, "posted_at", id="posted-naive"),
    pytest.param({"posted_at": "yesterday"}, "posted_at", id="posted-junk"),
    pytest.param({"posted_at": 1790000000}, "posted_at", id="posted-number"),
    pytest.param({"posted_at": MISSING}, "posted_at", id="posted-missing"),
    pytest.param({"url": "javascript:alert(1)"}, "url", id="url-javascript"),
    pytest.param({"url": "ftp://instagram.com/p/abc"}, "url", id="url-ftp"),
    pytest.param({"url": 5}, "url", id="url-number"),
    pytest.param({"platform": "myspace"}, "platform", id="platform-unknown"),
    pytest.param({"metrics": {"likes": -1}}, "metrics", id="metric-negative"),
    pytest.param({"metrics": {"likes": "10"}}, "metrics", id="metric-string"),
    pytest.param({"metrics": {"likes": 1.5}}, "metrics", id="metric-float"),
    pytest.param({"metrics": {"likes": True}}, "metrics", id="metric-boolean"),
    pytest.param({"metrics": {"hearts": 3}}, "metrics", id="metric-unknown"),
    pytest.param({"metrics": [1, 2]}, "metrics", id="metrics-list"),
    pytest.param({"campaign_id": "cmp_nope"}, "campaign_id", id="unknown-campaign"),
    pytest.param({"influencer_id": "inf_nope"}, "influencer_id", id="unknown-influencer"),
    pytest.param({"influencer_id": "@ben"}, "influencer_id", id="influencer-not-a-partner"),
    pytest.param({"fee": "150.00"}, "fee", id="unknown-field"),
]


@pytest.mark.parametrize(("changes", "field"), DELIVERABLE_CASES)
def test_deliverable_bad_fields(world: World, changes: dict, field: str) -> None:
    base = {
        "campaign_id": world.ids["spring"],
        "influencer_id": world.ids["anna"],
        "platform": "instagram",
        "url": "https://instagram.com/p/abc",
        "posted_at": "2026-09-20T10:00:00Z",
        "metrics": {"likes": 10},
    }
    with stores_nothing(world.api):
        r = world.api.post("/api/v1/deliverables", changed(base, changes, world))
        assert_error(r, 422, "validation_failed", field)


def test_approve_unknown_deliverable_is_404(world: World) -> None:
    with stores_nothing(world.api):
        assert_error(world.api.post("/api/v1/deliverables/dlv_nope/approve"), 404, "not_found")


# --- commissions: adjustments and rejections -----------------------------------------------
ADJUSTMENT_CASES = [
    pytest.param({"amount": 5}, "amount", id="amount-json-number"),
    pytest.param({"amount": 5.5}, "amount", id="amount-json-float"),
    pytest.param({"amount": "10.001"}, "amount", id="amount-over-precise-eur"),
    pytest.param({"currency": "JPY", "amount": "1500.5"}, "amount", id="amount-over-precise-jpy"),
    pytest.param({"amount": "0"}, "amount", id="amount-zero"),
    pytest.param({"amount": "ten"}, "amount", id="amount-junk"),
    pytest.param({"amount": ""}, "amount", id="amount-empty"),
    pytest.param({"amount": "9" * 19}, "amount", id="amount-too-large"),
    pytest.param({"amount": MISSING}, "amount", id="amount-missing"),
    pytest.param({"currency": "EUR1"}, "currency", id="currency-EUR1"),
    pytest.param({"currency": "XXX"}, "currency", id="currency-XXX"),
    pytest.param({"currency": "eur"}, "currency", id="currency-lower-case"),
    pytest.param({"currency": MISSING}, "currency", id="currency-missing"),
    pytest.param({"reason": ""}, "reason", id="reason-empty"),
    pytest.param({"reason": "x" * 1001}, "reason", id="reason-1001-chars"),
    pytest.param({"reason": MISSING}, "reason", id="reason-missing"),
    pytest.param({"influencer_id": "inf_nope"}, "influencer_id", id="unknown-influencer"),
    pytest.param({"influencer_id": "@ben"}, "influencer_id", id="influencer-not-a-partner"),
    pytest.param({"campaign_id": "cmp_nope"}, "campaign_id", id="unknown-campaign"),
    pytest.param({"kind": "sale"}, "kind", id="unknown-field"),
]


@pytest.mark.parametrize(("changes", "field"), ADJUSTMENT_CASES)
def test_adjustment_bad_fields(world: World, changes: dict, field: str) -> None:
    base = {
        "influencer_id": world.ids["anna"],
        "campaign_id": world.ids["spring"],
        "amount": "-5.00",
        "currency": "EUR",
        "reason": "correction",
    }
    with stores_nothing(world.api):
        r = world.api.post("/api/v1/commissions/adjustments", changed(base, changes, world))
        assert_error(r, 422, "validation_failed", field)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"reason": ""}, "reason", id="reason-empty"),
        pytest.param({}, "reason", id="reason-missing"),
        pytest.param({"reason": 5}, "reason", id="reason-number"),
        pytest.param({"reason": "dup", "status": "paid"}, "status", id="unknown-field"),
    ],
)
def test_reject_bad_fields(world: World, body: dict, field: str) -> None:
    path = world.path("/api/v1/commissions/{line}")
    before = world.api.get(path).json
    with stores_nothing(world.api):
        assert_error(world.api.post(path + "/reject", body), 422, "validation_failed", field)
    assert world.api.get(path).json == before


def test_reject_unknown_line_is_404(world: World) -> None:
    with stores_nothing(world.api):
        r = world.api.post("/api/v1/commissions/cml_nope/reject", {"reason": "x"})
        assert_error(r, 404, "not_found")


# --- reads: unknown ids and bad queries ----------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/influencers/inf_nope",
        "/api/v1/campaigns/cmp_nope",
        "/api/v1/campaigns/cmp_nope/partners",
        "/api/v1/links/lnk_nope",
        "/api/v1/promo-codes/pc_nope",
        "/api/v1/deliverables/dlv_nope",
        "/api/v1/conversions/cnv_nope",
        "/api/v1/commissions/cml_nope",
        "/api/v1/reports/campaigns/cmp_nope?from=2026-10-01&to=2026-10-31",
        "/api/v1/influencers/" + "x" * 300,
        "/api/v1/nothing-here",
    ],
)
def test_unknown_ids_are_404(world: World, path: str) -> None:
    assert_error(world.api.get(path), 404, "not_found")


def test_unknown_method_is_405(world: World) -> None:
    assert_error(world.api.client.delete("/api/v1/influencers"), 405, "method_not_allowed")


LISTS = [
    "/api/v1/influencers",
    "/api/v1/campaigns",
    "/api/v1/links",
    "/api/v1/promo-codes",
    "/api/v1/deliverables",
    "/api/v1/conversions",
    "/api/v1/commissions",
]


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize(
    ("query", "field"),
    [
        pytest.param("limit=0", "limit", id="limit-0"),
        pytest.param("limit=201", "limit", id="limit-201"),
        pytest.param("limit=ten", "limit", id="limit-junk"),
        pytest.param("cursor=%25%25%25", "cursor", id="cursor-junk"),
        pytest.param("sort=name", "sort", id="unknown-parameter"),
    ],
)
def test_list_bad_query(world: World, path: str, query: str, field: str) -> None:
    assert_error(world.api.get(f"{path}?{query}"), 422, "validation_failed", field)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/influencers", "handle"),
        ("/api/v1/campaigns", "slug"),
        ("/api/v1/links", "campaign_id"),
        ("/api/v1/promo-codes", "code"),
        ("/api/v1/deliverables", "influencer_id"),
        ("/api/v1/conversions", "order_id"),
        ("/api/v1/commissions", "campaign_id"),
    ],
)
def test_list_filter_with_nul_is_422(world: World, path: str, field: str) -> None:
    """PostgreSQL text cannot hold NUL: refused before any query (not a 500)."""
    assert_error(world.api.get(f"{path}?{field}=ab%00c"), 422, "validation_failed", field)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/influencers/inf%00x",
        "/api/v1/campaigns/cmp%00x/partners",
        "/api/v1/promo-codes/pc%00x",
        "/api/v1/commissions/cml%00x",
    ],
)
def test_id_with_nul_is_404(world: World, path: str) -> None:
    assert_error(world.api.get(path), 404, "not_found")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        pytest.param("to=2026-10-31", "from", id="from-missing"),
        pytest.param("from=2026-10-31&to=2026-10-01", "to", id="to-before-from"),
        pytest.param("from=2026-10-01&to=2026-10-31&group_by=week", "group_by", id="group-by"),
        pytest.param("from=2026-10-01&to=2026-10-32", "to", id="to-day-32"),
        pytest.param("from=9999-12-01&to=9999-12-31", None, id="year-9999"),
        pytest.param("from=2026-10-01&to=2026-10-31&currency=EUR", "currency", id="unknown"),
    ],
)
def test_report_bad_query(world: World, query: str, field: str | None) -> None:
    r = world.api.get(world.path("/api/v1/reports/campaigns/{spring}?") + query)
    assert_error(r, 422, "validation_failed", field)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        pytest.param("2026-13", "period", id="month-13"),
        pytest.param("1999-12", "period", id="year-1999"),
        pytest.param("26-10", "period", id="short-year"),
        pytest.param("2026-10?format=xml", "format", id="format-xml"),
        pytest.param("2026-10?detail=all", "detail", id="detail-all"),
        pytest.param("2026-10?zone=UTC", "zone", id="unknown-parameter"),
    ],
)
def test_export_bad_period_or_query(world: World, path: str, field: str) -> None:
    r = world.api.get(f"/api/v1/exports/commissions/{path}")
    assert_error(r, 422, "validation_failed", field)


@pytest.mark.parametrize(
    ("period", "status", "code"),
    [
        pytest.param("2026-13", 422, "validation_failed", id="month-13"),
        pytest.param("2026-10", 409, "period_open", id="current-month"),
        pytest.param("2031-01", 409, "period_open", id="future-month"),
    ],
)
def test_close_bad_period_stores_nothing(world: World, period: str, status: int, code: str) -> None:
    line = world.path("/api/v1/commissions/{line}")
    before = world.api.get(line).json
    with stores_nothing(world.api):
        r = world.api.post(f"/api/v1/exports/commissions/{period}/close")
        assert_error(r, status, code)
    assert world.api.get(line).json == before


# --- webhooks: signatures ------------------------------------------------------------------
ORDER = {
    "type": "order",
    "order_id": "1001",
    "occurred_at": "2026-10-01T08:00:00Z",
    "currency": "EUR",
    "subtotal": "120.00",
    "discount": "12.00",
    "promo_codes": ["ANNA15"],
}


def signed_headers(body: bytes, **overrides: str | None) -> dict[str, str]:
    now = int(clock.now_utc().timestamp())
    headers = {"Content-Type": "application/json", **sign_generic(body, WEBHOOK_SECRET, now)}
    for name, value in overrides.items():
        header = {"ts": "X-Afftrack-Timestamp", "sig": "X-Afftrack-Signature"}[name]
        if value is None:
            headers.pop(header)
        else:
            headers[header] = value
    return headers


def post_webhook(api: Api, body: bytes, headers: dict[str, str], source: str = "generic") -> Any:
    return api.client.post(f"/webhooks/{source}", data=body, headers=headers)


BODY = json.dumps(ORDER).encode()

SIGNATURE_CASES = [
    pytest.param({"sig": "sha256=" + "0" * 64}, id="wrong-signature"),
    pytest.param({"sig": None}, id="no-signature-header"),
    pytest.param({"ts": None}, id="no-timestamp-header"),
    pytest.param({"sig": None, "ts": None}, id="no-headers"),
    pytest.param({"sig": ""}, id="empty-signature"),
    pytest.param({"sig": "sha256="}, id="empty-digest"),
    pytest.param({"sig": "sha1=" + "0" * 40}, id="sha1-scheme"),
    pytest.param({"sig": "0" * 64}, id="no-scheme"),
    pytest.param({"sig": "sha256=zz"}, id="digest-not-hex"),
    pytest.param({"sig": "sha256=\xe9\xe9"}, id="digest-not-ascii"),
    pytest.param({"ts": "yesterday"}, id="timestamp-junk"),
    pytest.param({"ts": "-1"}, id="timestamp-negative"),
    pytest.param({"ts": "1" * 40}, id="timestamp-huge"),
    pytest.param({"ts": "\xb2"}, id="timestamp-superscript-digit"),
    pytest.param({"ts": str(FROZEN_NOW - 10)}, id="timestamp-not-the-signed-one"),
]


@pytest.mark.parametrize("overrides", SIGNATURE_CASES)
def test_webhook_bad_or_missing_signature(world: World, overrides: dict) -> None:
    with stores_nothing(world.api):
        r = post_webhook(world.api, BODY, signed_headers(BODY, **overrides))
        assert_error(r, 401, "bad_signature")


def test_webhook_signed_with_another_secret(world: World) -> None:
    with stores_nothing(world.api):
        assert_error(world.api.webhook(ORDER, secret="someone-elses-secret"), 401, "bad_signature")


def test_webhook_body_changed_after_signing(world: World) -> None:
    headers = signed_headers(BODY)
    tampered = json.dumps({**ORDER, "subtotal": "999.00"}).encode()
    with stores_nothing(world.api):
        assert_error(post_webhook(world.api, tampered, headers), 401, "bad_signature")


@pytest.mark.parametrize("skew", [-301, 301, -3600, 86_400, -(10**9)])
def test_webhook_replayed_or_future_timestamp(world: World, skew: int) -> None:
    """Signed correctly, but with a timestamp more than 5 minutes from now."""
    now = int(clock.now_utc().timestamp())
    with stores_nothing(world.api):
        r = world.api.webhook(ORDER, timestamp=now + skew)
        assert_error(r, 401, "stale_signature")


def test_webhook_replay_of_an_accepted_delivery_after_5_minutes(pg_api: Api, frozen: Any) -> None:
    """The very bytes and headers of an accepted delivery, sent again 6 minutes later."""
    headers = signed_headers(BODY)
    assert post_webhook(pg_api, BODY, headers).status_code == 200
    frozen.advance(timedelta(minutes=6))
    with stores_nothing(pg_api):
        assert_error(post_webhook(pg_api, BODY, headers), 401, "stale_signature")


def test_webhook_source_without_a_secret_is_503(world: World) -> None:
    body = json.dumps({"id": 820982911946154508}).encode()
    with stores_nothing(world.api):
        r = post_webhook(
            world.api,
            body,
            {"Content-Type": "application/json", "X-Shopify-Hmac-Sha256": "bm90LWEtc2lnbmF0dXJl"},
            source="shopify",
        )
        assert_error(r, 503, "source_disabled")


@pytest.mark.parametrize("source", ["paypal", "GENERIC", "generic.json", "..%2Fgeneric"])
def test_webhook_unknown_source_is_404(world: World, source: str) -> None:
    with stores_nothing(world.api):
        r = post_webhook(world.api, BODY, signed_headers(BODY), source=source)
        assert_error(r, 404, "not_found")


# --- webhooks: bodies (correctly signed) ---------------------------------------------------
REFUND = {
    "type": "refund",
    "order_id": "1001",
    "refund_id": "r-1",
    "occurred_at": "2026-10-01T08:30:00Z",
    "amount": "40.00",
}
CANCEL = {"type": "cancel", "order_id": "1001", "occurred_at": "2026-10-01T08:30:00Z"}

WEBHOOK_BODY_CASES = [
    pytest.param(ORDER, {"currency": "EUR1"}, "currency", id="currency-EUR1"),
    pytest.param(ORDER, {"currency": "XXX"}, "currency", id="currency-XXX"),
    pytest.param(ORDER, {"currency": "eur"}, "currency", id="currency-lower-case"),
    pytest.param(ORDER, {"currency": MISSING}, "currency", id="currency-missing"),
    pytest.param(
        ORDER,
        {"currency": "JPY", "subtotal": "1500.5", "discount": "0"},
        "subtotal",
        id="subtotal-over-precise-jpy",
    ),
    pytest.param(ORDER, {"subtotal": "120.001"}, "subtotal", id="subtotal-over-precise-eur"),
    pytest.param(ORDER, {"subtotal": "-120.00"}, "subtotal", id="subtotal-negative"),
    pytest.param(ORDER, {"subtotal": 120}, "subtotal", id="subtotal-json-number"),
    pytest.param(ORDER, {"subtotal": 120.5}, "subtotal", id="subtotal-json-float"),
    pytest.param(ORDER, {"subtotal": "9" * 19}, "subtotal", id="subtotal-too-large"),
    pytest.param(ORDER, {"subtotal": MISSING}, "subtotal", id="subtotal-missing"),
    pytest.param(ORDER, {"discount": "130.00"}, "discount", id="discount-over-subtotal"),
    pytest.param(ORDER, {"discount": "-12.00"}, "discount", id="discount-negative"),
    pytest.param(ORDER, {"tax": "-1.00"}, "tax", id="tax-negative"),
    pytest.param(ORDER, {"total": "1.001"}, "total", id="total-over-precise"),
    pytest.param(ORDER, {"occurred_at": "yesterday"}, "occurred_at", id="occurred-junk"),
    pytest.param(ORDER, {"occurred_at": "2026-10-01T08:00:00"}, "occurred_at", id="occurred-naive"),
    pytest.param(ORDER, {"occurred_at": "1800-01-01T00:00:00Z"}, "occurred_at", id="occurred-1800"),
    pytest.param(ORDER, {"occurred_at": "3000-01-01T00:00:00Z"}, "occurred_at", id="occurred-3000"),
    pytest.param(ORDER, {"occurred_at": 1790000000}, "occurred_at", id="occurred-number"),
    pytest.param(ORDER, {"occurred_at": MISSING}, "occurred_at", id="occurred-missing"),
    pytest.param(ORDER, {"type": "purchase"}, "type", id="type-unknown"),
    pytest.param(ORDER, {"type": MISSING}, "type", id="type-missing"),
    pytest.param(ORDER, {"type": ["order"]}, "type", id="type-list"),
    pytest.param(ORDER, {"order_id": 1001}, "order_id", id="order-id-number"),
    pytest.param(ORDER, {"order_id": ""}, "order_id", id="order-id-empty"),
    pytest.param(ORDER, {"order_id": "x" * 129}, "order_id", id="order-id-129-chars"),
    pytest.param(ORDER, {"order_id": "10\x0001"}, "order_id", id="order-id-nul-char"),
    pytest.param(ORDER, {"promo_codes": "ANNA15"}, "promo_codes", id="promo-codes-string"),
    pytest.param(ORDER, {"promo_codes": [15]}, "promo_codes", id="promo-code-number"),
    pytest.param(ORDER, {"promo_codes": ["ANNA\x0015"]}, "promo_codes", id="promo-code-nul-char"),
    pytest.param(
        ORDER,
        {"landing_url": "https://shop.example/?x=\x00"},
        "landing_url",
        id="landing-url-nul-char",
    ),
    pytest.param(ORDER, {"coupon": "ANNA15"}, "coupon", id="unknown-field"),
    pytest.param(REFUND, {"amount": "-40.00"}, "amount", id="refund-negative"),
    pytest.param(REFUND, {"amount": "0.00"}, "amount", id="refund-zero"),
    pytest.param(REFUND, {"amount": 40}, "amount", id="refund-json-number"),
    pytest.param(REFUND, {"refund_id": MISSING}, "refund_id", id="refund-id-missing"),
    pytest.param(REFUND, {"occurred_at": "1800-01-01T00:00:00Z"}, "occurred_at", id="refund-1800"),
    pytest.param(CANCEL, {"occurred_at": "3000-01-01T00:00:00Z"}, "occurred_at", id="cancel-3000"),
    pytest.param(CANCEL, {"reason": "fraud"}, "reason", id="cancel-unknown-field"),
]


@pytest.mark.parametrize(("base", "changes", "field"), WEBHOOK_BODY_CASES)
def test_webhook_invalid_bodies(world: World, base: dict, changes: dict, field: str) -> None:
    with stores_nothing(world.api):
        r = world.api.webhook(changed(base, changes))
        assert_error(r, 422, "validation_failed", field)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b'{"type": "order", ', id="cut-off"),
        pytest.param(b"\xff\xfe", id="not-utf8"),
        pytest.param(b"", id="empty"),
        pytest.param(b"[]", id="array"),
        pytest.param(b'"order"', id="string"),
        pytest.param(b"null", id="null"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="nested-100000-deep"),
    ],
)
def test_webhook_bodies_that_are_not_a_json_object(world: World, raw: bytes) -> None:
    with stores_nothing(world.api):
        r = world.api.webhook(None, raw=raw)
        assert_error(r, 400, "malformed_json")


def test_webhook_over_precise_refund_of_a_jpy_order(pg_api: Api) -> None:
    order = {**ORDER, "currency": "JPY", "subtotal": "12000", "discount": "0"}
    assert pg_api.webhook(order).status_code == 200
    conversion = pg_api.get("/api/v1/conversions").json["items"][0]
    with stores_nothing(pg_api):
        assert_error(
            pg_api.webhook({**REFUND, "amount": "1500.5"}), 422, "validation_failed", "amount"
        )
    assert pg_api.get(f"/api/v1/conversions/{conversion['id']}").json == conversion


# --- bodies over 1 MiB ---------------------------------------------------------------------
def test_webhook_body_over_1_mib_is_413_even_when_signed(world: World) -> None:
    raw = json.dumps({**ORDER, "landing_url": "https://shop.example/?" + "x" * ONE_MIB}).encode()
    assert len(raw) > ONE_MIB
    with stores_nothing(world.api):
        assert_error(world.api.webhook(None, raw=raw), 413, "body_too_large")


def test_webhook_to_a_source_without_a_secret_is_503_whatever_its_size(world: World) -> None:
    """A source with no secret configured says so before the body is read."""
    raw = json.dumps({**ORDER, "landing_url": "https://shop.example/?" + "x" * ONE_MIB}).encode()
    with stores_nothing(world.api):
        response = world.api.webhook(None, source="shopify", raw=raw)
        assert_error(response, 503, "source_disabled")


def test_webhook_body_of_exactly_1_mib_is_read(world: World) -> None:
    """The limit is 'over 1 MiB': a body of exactly 1 MiB gets past it (and then fails
    validation on its padding field, 422)."""
    head = json.dumps({**ORDER, "pad": ""}).encode()[:-2]
    raw = head + b"x" * (ONE_MIB - len(head) - 2) + b'"}'
    assert len(raw) == ONE_MIB
    with stores_nothing(world.api):
        assert_error(world.api.webhook(None, raw=raw), 422, "validation_failed", "pad")


@pytest.mark.parametrize(("method", "template"), WRITE_ENDPOINTS)
def test_management_body_over_1_mib_is_413(world: World, method: str, template: str) -> None:
    raw = json.dumps({"name": "x" * ONE_MIB}).encode()
    with stores_nothing(world.api):
        assert_error(send(world.api, method, world.path(template), raw), 413, "body_too_large")


# --- property: arbitrary JSON never gets a 5xx, and a refusal stores nothing ---------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=16,
)


def varied(base: dict[str, Any], names: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """``base`` with each of ``names`` left out or holding an arbitrary JSON value: objects
    that get past "unknown field" to the endpoint's own validation."""
    return st.fixed_dictionaries(
        {k: st.just(v) for k, v in base.items() if k not in names},
        optional={name: json_values for name in names},
    )


INFLUENCER_FIELDS = ["handle", "name", "email", "payout_email", "platforms"]
CAMPAIGN_FIELDS = [
    *campaign_body(),
    "ends_on",
    "budget",
    "monthly_cap_per_influencer",
    "attribution_window_days",
    "hold_days",
    "utm_medium",
]
ORDER_FIELDS = [*ORDER, "shipping", "tax", "total", "click_id", "customer_id", "landing_url"]
ORDER_FIELDS.remove("type")


def assert_refused_cleanly(api: Api, before: dict[str, int], r: Any) -> None:
    assert r.status_code < 500, (r.status_code, r.get_data(as_text=True)[:300])
    if not 200 <= r.status_code < 300:
        assert_error(r, r.status_code)
        assert counts(api) == before


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=json_values
    | varied({}, INFLUENCER_FIELDS)
    | varied(influencer_body(), ["handle", "platforms"])
)
def test_property_influencers_never_5xx(pg_api: Api, body: Any) -> None:
    before = counts(pg_api)
    raw = json.dumps(body).encode()
    assert_refused_cleanly(pg_api, before, send(pg_api, "POST", "/api/v1/influencers", raw))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=json_values
    | varied({}, CAMPAIGN_FIELDS)
    | varied(campaign_body(), ["currency", "budget", "ends_on", "commission_rules"])
)
def test_property_campaigns_never_5xx(pg_api: Api, body: Any) -> None:
    before = counts(pg_api)
    raw = json.dumps(body).encode()
    assert_refused_cleanly(pg_api, before, send(pg_api, "POST", "/api/v1/campaigns", raw))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=json_values
    | varied({"type": "order"}, ORDER_FIELDS)
    | varied(ORDER, ["currency", "subtotal", "discount", "occurred_at", "promo_codes"])
    | varied(REFUND, ["order_id", "amount", "occurred_at"])
)
def test_property_generic_webhook_never_5xx(pg_api: Api, body: Any) -> None:
    before = counts(pg_api)
    assert_refused_cleanly(pg_api, before, pg_api.webhook(None, raw=json.dumps(body).encode()))
