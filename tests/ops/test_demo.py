"""`afftrack demo` seeds a programme whose dashboard and reports show real figures, on
PostgreSQL + Redis and on the embedded SQLite default; a second run changes nothing."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from service.config import DEFAULT_PUBLIC_URL, SERVE_HOST, SERVE_PORT, Settings
from service.demo import serve_lines
from service.models import metadata

TODAY = "2026-12-07T15:30:00Z"


def run_demo(app: Flask, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=["demo", *args])
    assert result.exit_code == 0, (result.output, repr(result.exception))
    return result.output


def printed_key(output: str) -> str | None:
    lines = [line for line in output.splitlines() if "shown once" in line]
    assert len(lines) <= 1
    return lines[0].split()[-1] if lines else None


def campaign_ids(output: str) -> dict[str, str]:
    return dict(re.findall(r"\((demo-[a-z-]+)\), id (cmp_\w+)", output))


def row_counts(app: Flask) -> dict[str, int]:
    db = app.extensions["afftrack"].db
    with db.engine.connect() as conn:
        return {
            table.name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            for table in metadata.sorted_tables
        }


def get(client: FlaskClient, path: str, key: str) -> Any:
    response = client.get(path, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, (path, response.json)
    return response


def test_demo_seeds_clicks_orders_posts_and_a_closed_month(app: Flask, frozen: Any) -> None:
    frozen.set(TODAY)
    output = run_demo(app)
    key = printed_key(output)
    assert key is not None
    api = app.test_client()
    ids = campaign_ids(output)
    assert set(ids) == {"demo-winter", "demo-always-on"}
    assert len([w for w in output.split() if "/r/" in w]) == 8
    assert "http://127.0.0.1:8000/dashboard/" not in output  # the tests' public URL is its own
    assert "https://go.example.test/dashboard/" in output

    # Influencers of several tiers, with platform accounts and payout emails.
    influencers = get(api, "/api/v1/influencers?limit=50", key).json["items"]
    assert {i["tier"] for i in influencers} >= {"nano", "micro", "macro", "mega"}
    assert all(i["payout_email"] and i["platforms"] for i in influencers)

    # Six weeks of clicks ending today: bots and repeat visitors among them.
    report = get(
        api,
        f"/api/v1/reports/campaigns/{ids['demo-winter']}?from=2026-10-01&to=2026-12-31",
        key,
    ).json["totals"]
    assert 0 < report["unique_clicks"] < report["clicks"]
    assert report["bot_clicks"] > 0
    assert report["money"]["EUR"]["revenue"] != "0.00"
    assert report["money"]["EUR"]["commission"] != "0.00"
    assert report["deliverables"] == 3 and report["impressions"] > 0
    db = app.extensions["afftrack"].db
    with db.engine.connect() as conn:
        stored = dict(
            conn.exec_driver_sql(
                "SELECT c.is_bot, count(*) FROM clicks c JOIN links l ON l.id = c.link_id "
                f"WHERE l.campaign_id = '{ids['demo-winter']}' GROUP BY c.is_bot"
            ).all()
        )
        last = conn.exec_driver_sql("SELECT max(occurred_at) FROM clicks").scalar_one()
    # Bot clicks are not counted as clicks: the report's clicks are the people's.
    assert (report["clicks"], report["bot_clicks"]) == (stored[False], stored[True])
    assert str(last).startswith("2026-12-07")
    always_on = get(
        api,
        f"/api/v1/reports/campaigns/{ids['demo-always-on']}?from=2026-10-01&to=2026-12-31",
        key,
    ).json["totals"]
    assert always_on["clicks"] > 0 and always_on["conversions"] > 0

    # Objectives the goals suggest, due a month from now: some on track, some behind.
    shown = {}
    for slug in ("demo-winter", "demo-always-on"):
        r = get(api, f"/api/v1/reports/campaigns/{ids[slug]}/objectives", key)
        assert r.status_code == 200, r.json
        shown.update({(slug, o["kpi"]): o for o in r.json["objectives"]})
    assert set(shown) == {
        ("demo-winter", "revenue"),
        ("demo-winter", "conversions"),
        ("demo-winter", "reach"),
        ("demo-always-on", "clicks"),
        ("demo-always-on", "conversion_rate"),
    }
    assert all(o["actual"] is not None or o["partners"] for o in shown.values())
    assert {o["status"] for o in shown.values()} >= {"on_track", "behind"}
    assert len(shown[("demo-winter", "conversions")]["partners"]) == 4

    # Orders by promo code and by click id; one refunded, one cancelled.
    conversions = get(api, "/api/v1/conversions?limit=200", key).json["items"]
    statuses = [c["status"] for c in conversions]
    assert statuses.count("partially_refunded") == 1 and statuses.count("cancelled") == 1
    assert {c["attribution"]["method"] for c in conversions} >= {"promo_code", "click"}

    # Approved posts, each with its figures and its per-post fee line.
    posts = get(api, f"/api/v1/deliverables?campaign_id={ids['demo-winter']}", key).json["items"]
    assert len(posts) == 3
    assert all(p["status"] == "approved" and p["metrics"]["reach"] > 0 for p in posts)
    lines = get(api, f"/api/v1/commissions?campaign_id={ids['demo-winter']}&limit=200", key)
    fees = [line for line in lines.json["items"] if line["deliverable_id"]]
    assert sorted(line["deliverable_id"] for line in fees) == sorted(p["id"] for p in posts)
    assert {line["amount"] for line in fees} == {"150.00"}

    # The previous month closed through the exports service, its checksum verifying.
    summary = get(api, "/api/v1/exports/commissions/2026-11?format=csv", key)
    assert summary.headers["X-Checksum-SHA256"] == hashlib.sha256(summary.data).hexdigest()
    assert summary.data.count(b"\r\n") > 1
    verify = app.test_cli_runner().invoke(args=["ledger", "verify"])
    assert verify.exit_code == 0, verify.output

    # Again: nothing changes, the same URLs, and no key unless one is asked for.
    before = row_counts(app)
    frozen.set("2026-12-07T18:00:00Z")
    again = run_demo(app)
    assert row_counts(app) == before
    assert printed_key(again) is None and "--new-key" in again
    assert [w for w in again.split() if "/r/" in w] == [w for w in output.split() if "/r/" in w]


def test_demo_new_key_prints_another_working_write_key(app: Flask, frozen: Any) -> None:
    frozen.set(TODAY)
    first = printed_key(run_demo(app))
    second = printed_key(run_demo(app, "--new-key"))
    assert first and second and first != second
    client = app.test_client()
    made = client.post(
        "/api/v1/influencers",
        json={"handle": "new.one", "name": "New One", "email": "new@example.com"},
        headers={"Authorization": f"Bearer {second}"},
    )
    assert made.status_code == 201, made.json


@pytest.mark.parametrize(
    ("public_url", "dashboard"),
    [
        (DEFAULT_PUBLIC_URL, "then open http://127.0.0.1:8000/dashboard/"),
        ("https://go.example.com", "https://go.example.com/dashboard/"),
    ],
)
def test_demo_says_where_serve_listens_and_where_the_dashboard_is(
    public_url: str, dashboard: str
) -> None:
    shown = " ".join(serve_lines(Settings(public_url=public_url)))
    assert dashboard in shown
    assert f"serves on http://{SERVE_HOST}:{SERVE_PORT}" in shown
