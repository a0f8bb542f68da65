"""The whole product flow, through HTTP and the CLI only; run on PostgreSQL + Redis and
on the embedded SQLite default by the two end-to-end tests."""

from __future__ import annotations

import csv
import io
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.app import Api

HUMAN_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 Instagram 309.0.0.40.113"
)


def run_flow(api: Api, frozen: Any, *, with_redis: bool) -> None:
    # 1. Set-up through the management API -------------------------------------------------
    frozen.set("2026-10-01T09:00:00Z")
    anna = api.create_influencer("anna", followers=48_200)
    ben = api.create_influencer("ben", followers=212_000)
    assert anna["tier"] == "micro" and ben["tier"] == "macro"
    campaign = api.create_campaign("spring-26", hold_days=14)
    api.add_partner(campaign["id"], anna["id"])  # campaign rules: percent 10
    api.add_partner(campaign["id"], ben["id"], rules=[{"type": "flat", "amount": "5.00"}])
    anna_link = api.create_link(campaign["id"], anna["id"])
    ben_link = api.create_link(
        campaign["id"],
        ben["id"],
        platform="tiktok",
        destination="https://shop.example/p/1?utm_source=old&color=red",
    )
    promo = api.create_promo_code(campaign["id"], anna["id"], "ANNA15")
    assert promo["code"] == "ANNA15"
    assert anna_link["short_url"] == f"https://go.example.test/r/{anna_link['code']}"
    assert len(anna_link["code"]) >= 6

    listed = api.get(f"/api/v1/links?campaign_id={campaign['id']}").json
    assert {item["id"] for item in listed["items"]} == {anna_link["id"], ben_link["id"]}

    # 2. Redirects: 302 with UTM merged and a click id; the click is recorded ----------------
    frozen.set("2026-10-02T18:30:00Z")
    r = api.client.get(f"/r/{ben_link['code']}", headers={"User-Agent": HUMAN_UA})
    assert r.status_code == 302
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["Referrer-Policy"] == "no-referrer-when-downgrade"
    location = urlsplit(r.headers["Location"])
    params = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert location.netloc == "shop.example" and location.path == "/p/1"
    assert params["utm_source"] == "tiktok"  # ours win over the destination's utm_source=old
    assert params["color"] == "red"  # theirs kept
    assert params["utm_medium"] == "influencer"
    assert params["utm_campaign"] == "spring-26"
    assert params["utm_content"] == "ben"
    click_id = params["aff_click"]
    # Same visitor again (not unique), and a link-preview crawler (bot).
    assert (
        api.client.get(f"/r/{ben_link['code']}", headers={"User-Agent": HUMAN_UA}).status_code
        == 302
    )
    bot = api.client.get(
        f"/r/{ben_link['code']}", headers={"User-Agent": "facebookexternalhit/1.1"}
    )
    assert bot.status_code == 302

    if with_redis:
        drained = api.app.test_cli_runner().invoke(args=["worker", "--drain"])
        assert drained.exit_code == 0, drained.output
        assert "3 clicks written" in drained.output

    report = api.get(
        f"/api/v1/reports/campaigns/{campaign['id']}"
        f"?from=2026-10-01&to=2026-10-31&group_by=influencer"
    ).json
    assert report["totals"]["clicks"] == 2
    assert report["totals"]["unique_clicks"] == 1
    assert report["totals"]["bot_clicks"] == 1

    # 3. Orders: by promo code (percent) and by click id (flat) ------------------------------
    frozen.set("2026-10-03T12:00:00Z")
    order = {
        "type": "order",
        "order_id": "1001",
        "occurred_at": "2026-10-03T12:00:00Z",
        "currency": "EUR",
        "subtotal": "120.00",
        "discount": "12.00",
        "shipping": "5.00",
        "tax": "20.52",
        "total": "133.52",
        "promo_codes": [" anna15 "],
        "customer_id": "c-77",
    }
    r = api.webhook(order)
    assert r.status_code == 200, r.json
    assert r.json["status"] == "created"
    assert api.webhook(order).json["status"] == "duplicate"

    order2 = {
        "type": "order",
        "order_id": "1002",
        "occurred_at": "2026-10-03T12:00:00Z",
        "currency": "EUR",
        "subtotal": "50.00",
        "total": "50.00",
        "landing_url": f"https://shop.example/p/1?aff_click={click_id}",
    }
    assert api.webhook(order2).json["status"] == "created"

    conversions = {c["order_id"]: c for c in api.get("/api/v1/conversions").json["items"]}
    assert conversions["1001"]["amount"] == "108.00"
    assert conversions["1001"]["attribution"]["method"] == "promo_code"
    assert conversions["1001"]["attribution"]["influencer_id"] == anna["id"]
    assert conversions["1001"]["attribution"]["promo_code"] == "ANNA15"
    assert conversions["1002"]["attribution"]["method"] == "click"
    assert conversions["1002"]["attribution"]["click_id"] == click_id
    assert conversions["1002"]["attribution"]["link_id"] == ben_link["id"]

    lines = api.get(f"/api/v1/commissions?influencer_id={anna['id']}").json["items"]
    assert [(line["kind"], line["amount"], line["currency"]) for line in lines] == [
        ("sale", "10.80", "EUR")  # 10% of 108.00
    ]
    assert lines[0]["status"] == "pending"
    assert lines[0]["due_at"].startswith("2026-10-17T12:00:00")
    ben_lines = api.get(f"/api/v1/commissions?influencer_id={ben['id']}").json["items"]
    assert [(line["kind"], line["amount"]) for line in ben_lines] == [("sale", "5.00")]

    # Refund 40.00 of anna's order reverses 4.00; cancelling ben's order reverses 5.00.
    frozen.set("2026-10-10T08:00:00Z")
    refund = {
        "type": "refund",
        "order_id": "1001",
        "refund_id": "r-1",
        "occurred_at": "2026-10-10T08:00:00Z",
        "amount": "40.00",
    }
    assert api.webhook(refund).json["status"] == "applied"
    assert api.webhook(refund).json["status"] == "duplicate"
    cancel = {"type": "cancel", "order_id": "1002", "occurred_at": "2026-10-10T08:00:00Z"}
    assert api.webhook(cancel).json["status"] == "applied"

    lines = api.get(f"/api/v1/commissions?influencer_id={anna['id']}").json["items"]
    assert sorted((line["kind"], line["amount"]) for line in lines) == [
        ("reversal", "-4.00"),
        ("sale", "10.80"),
    ]
    ben_lines = api.get(f"/api/v1/commissions?influencer_id={ben['id']}").json["items"]
    assert sorted((line["kind"], line["amount"]) for line in ben_lines) == [
        ("reversal", "-5.00"),
        ("sale", "5.00"),
    ]

    verify = api.app.test_cli_runner().invoke(args=["ledger", "verify"])
    assert verify.exit_code == 0, verify.output

    # 4. The monthly export, over HTTP and the CLI, then close --------------------------------
    frozen.set("2026-11-02T10:00:00Z")
    r = api.get("/api/v1/exports/commissions/2026-10?format=csv")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/csv")
    body = r.data
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
    by_handle = {row["handle"]: row for row in rows}
    assert by_handle["anna"]["gross"] == "10.80"
    assert by_handle["anna"]["reversals"] == "-4.00"
    assert by_handle["anna"]["net_payable"] == "6.80"
    assert by_handle["anna"]["orders"] == "1" and by_handle["anna"]["lines"] == "2"
    assert by_handle["anna"]["payout_email"] == "anna@example.com"
    assert by_handle["ben"]["net_payable"] == "0.00"
    assert list(rows[0]) == [
        "period",
        "influencer_id",
        "handle",
        "name",
        "payout_email",
        "currency",
        "gross",
        "reversals",
        "adjustments",
        "net_payable",
        "orders",
        "lines",
    ]
    assert body.endswith(b"\r\n")

    cli = api.app.test_cli_runner().invoke(args=["export", "commissions", "--month", "2026-10"])
    assert cli.exit_code == 0, (cli.output, repr(cli.exception))
    assert cli.stdout_bytes == body
    assert api.get("/api/v1/exports/commissions/2026-10?format=csv").data == body  # same bytes

    closed = api.post("/api/v1/exports/commissions/2026-10/close")
    assert closed.status_code == 200, closed.json
    assert closed.json["period"] == "2026-10" and len(closed.json["checksum"]) == 64
    assert closed.json["totals"] == [{"currency": "EUR", "net_payable": "6.80"}]
    again = api.post("/api/v1/exports/commissions/2026-10/close")
    assert again.status_code == 409
    assert again.json["error"]["code"] == "already_closed"

    paid = api.get(f"/api/v1/commissions?status=paid&influencer_id={anna['id']}").json["items"]
    assert len(paid) == 2 and all(line["export_id"] for line in paid)
    # The closed month rebuilds to the same bytes, whose sha256 is the stored checksum.
    import hashlib

    rebuilt = api.get("/api/v1/exports/commissions/2026-10?format=csv").data
    assert rebuilt == body
    assert hashlib.sha256(rebuilt).hexdigest() == closed.json["checksum"]
    verify = api.app.test_cli_runner().invoke(args=["ledger", "verify"])
    assert verify.exit_code == 0, verify.output
