"""Setting an objective and reading the objectives report through the API, for the
tests of objectives (tests/objectives, tests/dashboard)."""

from __future__ import annotations

from typing import Any

from tests.support.app import Api


def set_objective(api: Api, campaign: dict[str, Any], **body: Any) -> str:
    """A new objective's id (due 31 October unless ``deadline`` says otherwise)."""
    body.setdefault("deadline", "2026-10-31")
    r = api.post(f"/api/v1/campaigns/{campaign['id']}/objectives", body)
    assert r.status_code == 201, r.json
    return str(r.json["id"])


def progress(api: Api, campaign: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The objectives report's objectives by id."""
    r = api.get(f"/api/v1/reports/campaigns/{campaign['id']}/objectives")
    assert r.status_code == 200, r.json
    return {o["id"]: o for o in r.json["objectives"]}


def shown(o: dict[str, Any]) -> tuple[Any, ...]:
    """An objective's (or a partner's) actual, percent reached, pace, forecast, status."""
    return (o["actual"], o["percent_reached"], o["pace"], o["forecast"], o["status"])
