"""The management API keeps its own contract: schemathesis, with every check, against a
seeded app on PostgreSQL finds no request the document allows that the server refuses
for its shape, no answer the document does not list, and no server error.

Bounded and repeatable: a fixed seed, deterministic generation, a few examples per
operation. A refusal the document cannot state (a cross-field rule such as "ends_on not
before starts_on", or a reference to another object) answers 422 with the field named;
schemathesis.toml lists the operations where a body or query the schema allows may still
meet one, and only those may answer 422 to generated valid data.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask
from schemathesis import engine
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events
from werkzeug.serving import WSGIRequestHandler, make_server

from service.app import create_app
from tests.support.app import Api, _empty_tables, make_settings

pytestmark = pytest.mark.postgres

# The run's settings (seed, examples, the operations that may meet a rule no schema can
# state) are the repository's, shared with the CLI: schemathesis.toml.
CONFIG = Path(__file__).resolve().parents[2] / "schemathesis.toml"


@pytest.fixture(scope="module")
def contract_app(pg_url: str, redis_url: str) -> Iterator[tuple[Flask, Api]]:
    # Every source has a secret, so an unsigned delivery answers 401, not 503 source_disabled.
    secrets = {
        f"{name}_secret": f"test-{name}-secret" for name in ("shopify", "woocommerce", "stripe")
    }
    app = create_app(make_settings(pg_url, redis_url, **secrets), announce=False, TESTING=True)
    api = Api(app, app.test_client())
    anna = api.create_influencer("anna")
    spring = api.create_campaign("spring")
    api.add_partner(spring["id"], anna["id"])
    api.create_link(spring["id"], anna["id"])
    api.create_promo_code(spring["id"], anna["id"], "ANNA10")
    order = {
        "type": "order",
        "order_id": "1001",
        "occurred_at": "2026-09-15T08:00:00Z",
        "currency": "EUR",
        "subtotal": "120.00",
        "promo_codes": ["ANNA10"],
    }
    assert api.webhook(order).status_code == 200
    yield app, api
    _empty_tables(app)
    redis = app.extensions["afftrack"].redis
    for key in redis.scan_iter("afftrack:*"):
        if key != "afftrack:test-run-lock":
            redis.delete(key)
    app.extensions["afftrack"].db.dispose()


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        """Thousands of requests: not one line each."""


@contextmanager
def served(app: Flask) -> Iterator[str]:
    """The app on a loopback port, as a client reaches it (schemathesis's WSGI transport
    does not follow this werkzeug's test client)."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


@pytest.mark.filterwarnings("ignore:Generating overly large repr")
def test_the_api_answers_as_its_document_says(
    contract_app: tuple[Flask, Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, api = contract_app
    monkeypatch.setenv("AFFTRACK_API_KEY", api.write_key)
    with served(app) as base, warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Generating overly large repr")
        schema = schemathesis.openapi.from_url(
            f"{base}/api/v1/openapi.json", config=SchemathesisConfig.from_path(CONFIG)
        )
        schema.config.update(base_url=base)
        _run(schema)


def _run(schema: Any) -> None:
    operations = cases = checks = 0
    problems: list[str] = []
    for event in engine.from_schema(schema).execute():
        if isinstance(event, events.FatalError):
            raise event.exception
        if isinstance(event, events.NonFatalError):
            problems.append(f"error in {event.label}: {event.info.message}")
        elif isinstance(event, events.ScenarioFinished):
            cases += len(event.recorder.cases)
            for case_id, nodes in event.recorder.checks.items():
                checks += len(nodes)
                for check in nodes:
                    if check.failure_info is not None:
                        response = event.recorder.find_response(case_id=case_id)
                        status = response.status_code if response is not None else None
                        failure = check.failure_info.failure
                        problems.append(
                            f"{event.label}: {check.name} [{status}] {failure.title}: "
                            f"{failure.message[:300]}\n    {check.failure_info.code_sample}"
                        )
        elif isinstance(event, events.EngineStarted):
            operations = len(list(schema.get_all_operations()))
    unique = sorted(set(problems))
    assert not unique, f"{len(unique)} problems in {cases} cases:\n" + "\n".join(unique)
    print(f"schemathesis: {operations} operations, {cases} test cases, {checks} checks")
    assert operations >= 28 and cases > 10 * operations
