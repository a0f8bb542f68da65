"""The detail file: each line with its order's id and source and its basis in the
basis's own currency; JSON typed (the rule an object, absent cells null)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import pty
import select
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from service.clicks.partitions import insert_clicks
from service.exports.service import build
from tests.support.app import AFFTRACK, Api
from tests.support.clicks import stored_click

pytestmark = pytest.mark.frozen_at("2026-09-01T09:00:00Z")  # where ``api`` is made


def test_detail_lines_carry_order_source_and_basis(api: Api, frozen: Any) -> None:
    anna = api.create_influencer("anna")
    rules = [{"type": "percent", "rate": "10"}, {"type": "flat", "amount": "5.00"}]
    campaign = api.create_campaign("autumn", hold_days=0, commission_rules=rules)
    api.add_partner(campaign["id"], anna["id"])
    api.create_promo_code(campaign["id"], anna["id"], "ANNA15")
    frozen.set("2026-09-10T12:00:00Z")
    order = {
        "type": "order",
        "order_id": "JP-7",
        "occurred_at": "2026-09-10T12:00:00Z",
        "currency": "JPY",
        "subtotal": "12000",
        "promo_codes": ["ANNA15"],
    }
    assert api.webhook(order).status_code in (200, 201)
    frozen.set("2026-09-12T12:00:00Z")
    refund = {
        "type": "refund",
        "order_id": "JP-7",
        "refund_id": "r-1",
        "occurred_at": "2026-09-12T12:00:00Z",
        "amount": "3000",
    }
    assert api.webhook(refund).json["status"] == "applied"
    api.create_influencer("ben")  # no lines: not in the file
    frozen.set("2026-10-01T08:00:00Z")

    body = api.get("/api/v1/exports/commissions/2026-09?detail=lines").data.decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    got = sorted(
        (
            r["kind"],
            r["order_id"],
            r["source"],
            r["basis_amount"],
            r["basis_currency"],
            r["amount"],
            r["currency"],
        )
        for r in rows
    )
    assert got == [
        # the refund's share: 3,000 of 12,000 JPY
        ("reversal", "JP-7", "generic", "3000", "JPY", "-1.25", "EUR"),
        ("reversal", "JP-7", "generic", "3000", "JPY", "-300", "JPY"),
        # flat in the campaign's currency, on a JPY order
        ("sale", "JP-7", "generic", "12000", "JPY", "1200", "JPY"),
        ("sale", "JP-7", "generic", "12000", "JPY", "5.00", "EUR"),
    ]

    data = json.loads(api.get("/api/v1/exports/commissions/2026-09?detail=lines&format=json").data)
    assert [line["order_id"] for line in data["lines"]] == ["JP-7"] * 4
    assert all(isinstance(line["rule"], dict) for line in data["lines"])
    assert all(line["reason"] is None for line in data["lines"])
    flat = next(x for x in data["lines"] if x["kind"] == "sale" and x["currency"] == "EUR")
    assert (flat["basis_amount"], flat["basis_currency"], flat["amount"]) == (
        "12000",
        "JPY",
        "5.00",
    )


def _two_currencies(api: Api, frozen: Any) -> None:
    """anna earns in EUR, ben in USD (a USD campaign), both in September."""
    for handle, slug, currency, code in (
        ("anna", "eu", "EUR", "ANNA1"),
        ("ben", "us", "USD", "BEN1"),
    ):
        person = api.create_influencer(handle)
        campaign = api.create_campaign(slug, hold_days=0, currency=currency)
        api.add_partner(campaign["id"], person["id"])
        api.create_promo_code(campaign["id"], person["id"], code)
        frozen.set("2026-09-10T12:00:00Z")
        order = {
            "type": "order",
            "order_id": f"{code}-1",
            "occurred_at": "2026-09-10T12:00:00Z",
            "currency": currency,
            "subtotal": "80.00",
            "promo_codes": [code],
        }
        assert api.webhook(order).status_code in (200, 201)
    frozen.set("2026-10-01T08:00:00Z")


def test_paypal_file_is_one_currency_with_a_valid_customer_id(api: Api, frozen: Any) -> None:
    _two_currencies(api, frozen)
    mixed = api.get("/api/v1/exports/commissions/2026-09?format=paypal")
    assert mixed.status_code == 422
    assert mixed.json["error"]["fields"]["currency"] == ["one of EUR, USD"]

    r = api.get("/api/v1/exports/commissions/2026-09?format=paypal&currency=USD")
    assert r.status_code == 200
    assert "paypal-USD.csv" in r.headers["Content-Disposition"]
    [row] = list(csv.reader(io.StringIO(r.data.decode())))
    email, amount, currency, customer_id, note, wallet = row
    assert (email, amount, currency, note, wallet) == (
        "ben@example.com",
        "8.00",
        "USD",
        "Commission 2026-09",
        "PAYPAL",
    )
    assert customer_id.startswith("inf_") and len(customer_id) <= 30 and " " not in customer_id


@pytest.mark.parametrize(
    "query",
    ["?format=paypal&currency=usd", "?format=paypal&currency=XXX", "?currency=EUR"],
)
def test_a_bad_currency_for_the_paypal_file_is_refused(api: Api, frozen: Any, query: str) -> None:
    _two_currencies(api, frozen)
    before = api.rows("commission_lines")
    r = api.get(f"/api/v1/exports/commissions/2026-09{query}")
    assert r.status_code == 422
    assert "currency" in r.json["error"]["fields"]
    assert api.rows("commission_lines") == before


def _five_payees(api: Api, frozen: Any) -> None:
    campaign = api.create_campaign("eu", hold_days=0)
    for n in range(5):
        person = api.create_influencer(f"p{n}")
        api.add_partner(campaign["id"], person["id"])
        api.create_promo_code(campaign["id"], person["id"], f"P{n}CODE")
        frozen.set(f"2026-09-1{n}T12:00:00Z")
        order = {
            "type": "order",
            "order_id": f"P{n}-1",
            "occurred_at": f"2026-09-1{n}T12:00:00Z",
            "currency": "EUR",
            "subtotal": f"{10 * (n + 1)}.00",
            "promo_codes": [f"P{n}CODE"],
        }
        assert api.webhook(order).status_code in (200, 201)
    frozen.set("2026-10-01T08:00:00Z")


def test_a_paypal_file_over_the_upload_limit_comes_in_parts(
    api: Api, frozen: Any, monkeypatch: Any
) -> None:
    """Payouts Web takes 5,000 payments per file; the limit is 2 here, for 5 payees."""
    from service.exports import service as exports

    monkeypatch.setattr(exports, "PAYPAL_ROWS", 2)
    _five_payees(api, frozen)
    url = "/api/v1/exports/commissions/2026-09?format=paypal"
    whole = api.get(url)  # no silent first 5,000 of a larger month
    assert whole.status_code == 422
    assert whole.json["error"]["fields"]["part"] == ["one of 1..3"]

    summary = list(csv.DictReader(io.StringIO(api.get(url[: url.index("?")]).data.decode())))
    expected = [(r["payout_email"], r["net_payable"]) for r in summary]
    got = []
    for part, size in ((1, 2), (2, 2), (3, 1)):
        r = api.get(f"{url}&part={part}")
        assert r.status_code == 200, r.json
        assert f"paypal-EUR-part{part}of3.csv" in r.headers["Content-Disposition"]
        rows = list(csv.reader(io.StringIO(r.data.decode())))
        assert len(rows) == size
        got += [(row[0], row[1]) for row in rows]
    assert got == expected  # every payee once, in the summary's order

    cli = api.app.test_cli_runner()
    args = ["export", "commissions", "--month", "2026-09", "--format", "paypal"]
    by_cli = cli.invoke(args=[*args, "--part", "2"])
    assert by_cli.exit_code == 0, by_cli.output
    assert by_cli.stdout_bytes == api.get(f"{url}&part=2").data
    refused = cli.invoke(args=args)
    assert refused.exit_code != 0 and "in 3 parts" in refused.output
    assert refused.stdout_bytes == b""  # nothing written but the error

    for query, status in (("&part=4", 422), ("&part=0", 422), ("&part=x", 422)):
        r = api.get(url + query)
        assert r.status_code == status and "part" in r.json["error"]["fields"], query
    assert api.get(f"{url[: url.index('?')]}?part=1").status_code == 422  # csv has no parts
    monkeypatch.setattr(exports, "PAYPAL_ROWS", 5)
    single = api.get(url)  # within the limit: one file, no part needed, part=1 the same
    assert single.status_code == 200
    assert "part" not in single.headers["Content-Disposition"]
    assert api.get(url + "&part=1").data == single.data


def _export(env: dict[str, str], out: Path, stderr: Any) -> subprocess.CompletedProcess:
    args = ["export", "commissions", "--month", "2026-09", "--detail", "--out", str(out)]
    return subprocess.run(
        [AFFTRACK, *args], env=env, stderr=stderr, stdout=subprocess.PIPE, timeout=120
    )


def test_cli_export_shows_a_progress_bar_on_a_terminal_and_is_quiet_piped(
    sqlite_api: Api, frozen: Any, tmp_path: Path
) -> None:
    _two_currencies(sqlite_api, frozen)  # September has ended by the real clock too
    url = sqlite_api.app.extensions["afftrack"].settings.database_url
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL"))}
    env["DATABASE_URL"] = url

    piped = _export(env, tmp_path / "piped.csv", subprocess.PIPE)
    assert piped.returncode == 0, piped.stderr
    assert b"rows" not in piped.stderr and b"%" not in piped.stderr

    master, slave = pty.openpty()
    try:
        shown = _export(env, tmp_path / "shown.csv", slave)
        os.close(slave)
        seen = b""
        while select.select([master], [], [], 0.5)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(master)
    assert shown.returncode == 0
    assert b"rows" in seen and b"100%" in seen
    assert (tmp_path / "shown.csv").read_bytes() == (tmp_path / "piped.csv").read_bytes()


def test_a_closed_months_summary_carries_its_stored_checksum(api: Api, frozen: Any) -> None:
    _two_currencies(api, frozen)
    open_month = api.get("/api/v1/exports/commissions/2026-09")
    assert "X-Checksum-SHA256" not in open_month.headers  # not closed: nothing stored yet
    closed = api.post("/api/v1/exports/commissions/2026-09/close").json
    r = api.get("/api/v1/exports/commissions/2026-09")
    assert r.headers["X-Checksum-SHA256"] == closed["checksum"]
    assert hashlib.sha256(r.data).hexdigest() == closed["checksum"]
    detail = api.get("/api/v1/exports/commissions/2026-09?detail=lines")
    assert "X-Checksum-SHA256" not in detail.headers  # the checksum is the summary's


def test_the_details_first_rows_are_where_the_whole_detail_begins(api: Api, frozen: Any) -> None:
    """A page's glimpse of an open month's detail (``head``) is the whole detail's first
    rows, the settlement lines closing will write (cpc here) merged in at their place."""
    rules = [{"type": "percent", "rate": "10"}, {"type": "cpc", "amount": "0.05"}]
    campaign = api.create_campaign("glimpse", hold_days=0, commission_rules=rules)
    db = api.app.extensions["afftrack"].db
    frozen.set("2026-09-10T12:00:00Z")
    clicks = []
    for n, handle in enumerate(("cleo", "anna", "ben")):
        person = api.create_influencer(handle)
        api.add_partner(campaign["id"], person["id"])
        link = api.create_link(campaign["id"], person["id"])
        api.create_promo_code(campaign["id"], person["id"], f"{handle.upper()}1")
        clicks += [
            stored_click(f"clk_glimpse_{n}_{i}", link["id"], datetime(2026, 9, 11, i, tzinfo=UTC))
            for i in range(n + 1)
        ]
        for i in range(2):
            order = {
                "type": "order",
                "order_id": f"{handle}-{i}",
                "occurred_at": "2026-09-10T12:00:00Z",
                "currency": "EUR",
                "subtotal": f"{40 + i}.00",
                "promo_codes": [f"{handle.upper()}1"],
            }
            assert api.webhook(order).status_code in (200, 201)
    with db.session() as session:
        insert_clicks(session, clicks)
        session.commit()
    frozen.set("2026-10-01T08:00:00Z")

    with db.session() as session:
        whole = b"".join(build(session, "2026-09", detail=True).chunks).decode()
        assert sum(row["kind"] == "cpc" for row in csv.DictReader(io.StringIO(whole))) == 3
        lines = whole.splitlines(keepends=True)
        for head in (1, 2, 5, 8, 9, 20):
            glimpse = b"".join(build(session, "2026-09", detail=True, head=head).chunks)
            assert glimpse.decode() == "".join(lines[: head + 1])  # the header, then rows
