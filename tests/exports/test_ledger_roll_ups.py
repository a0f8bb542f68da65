"""The ledger's roll-ups (statement_daily, statement_orders, tiered_sales_daily) hold
exactly what the lines and orders say, after every kind of write: orders with several
sale lines, refunds, a cancel, a rejection, an adjustment, a month's close and its
carried-forward balance, on both databases; and an open month's export and its tiered
true-up read from them agree with the lines in a time zone whose months do not start
at UTC midnight."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

from service.app import create_app
from service.migrate import upgrade
from tests.support.app import Api, _empty_tables, make_settings
from tests.support.settlement import TIERED, Parts, close, order, refund

pytestmark = pytest.mark.frozen_at("2026-09-01T00:00:00Z")

FLAT = {"type": "flat", "amount": "2.00"}


def _rows(api: Api, sql: str) -> list[Any]:
    db = api.app.extensions["afftrack"].db
    with db.engine.connect() as conn:
        return list(conn.execute(text(sql)))


def _day(value: Any) -> date:
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        return value.date()
    return value


def _moment(value: Any) -> str:
    """A stored time, comparable on both databases (SQLite stores text)."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    return str(value)


def statement_truth(api: Api) -> tuple[dict, dict]:
    """From the lines: the statement roll-up's sums per (export key, influencer,
    currency, UTC due day), and each order's first due day per statement group."""
    sums: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0, 0])
    first: dict[tuple, date] = {}
    lines = _rows(
        api,
        "SELECT kind, purpose, status, export_id, influencer_id, currency, conversion_id, "
        "amount_minor, due_at FROM commission_lines",
    )
    for kind, purpose, status, export_id, inf, cur, conv, amount, due_at in lines:
        if export_id is None and status != "pending":
            continue
        group = (export_id or "", inf, cur)
        day = _day(due_at)
        s = sums[(*group, day)]
        s[0] += amount if kind in ("sale", "cpc", "per_post", "true_up") else 0
        s[1] += amount if kind == "reversal" else 0
        s[2] += amount if kind == "adjustment" else 0
        s[3] += amount if purpose == "carry_out" else 0
        s[4] += 1
        if kind == "sale" and conv is not None:
            key = (conv, *group)
            first[key] = min(first.get(key, day), day)
    for (_conv, *group), day in first.items():
        sums[(*group, day)][5] += 1
    return {k: v for k, v in sums.items() if any(v)}, first


def statement_rolled(api: Api) -> tuple[dict, dict]:
    sums = {
        (key, inf, cur, _day(day)): [gross, rev, adj, carried, lines, orders]
        for key, inf, cur, day, gross, rev, adj, carried, lines, orders in _rows(
            api,
            "SELECT export_key, influencer_id, currency, day, gross_minor, reversals_minor, "
            "adjustments_minor, carried_minor, lines, orders FROM statement_daily",
        )
    }
    first = {
        (conv, key, inf, cur): _day(day)
        for conv, key, inf, cur, day in _rows(
            api,
            "SELECT conversion_id, export_key, influencer_id, currency, day FROM statement_orders",
        )
    }
    return {k: v for k, v in sums.items() if any(v)}, first


def tiered_truth(api: Api) -> dict:
    """From the lines and orders: per (partnership, rule, UTC day of the order) the net
    sales, amount, cut, latest due and recorded times the true-up counts."""
    sums: dict[tuple, list[Any]] = {}
    for row in _rows(
        api,
        "SELECT l.partnership_id, l.rule_index, c.occurred_at, l.kind, c.status, "
        "c.amount_minor, c.refunded_minor, l.amount_minor, l.cut_minor, l.due_at, "
        "l.recorded_at, l.status, l.currency, k.currency, l.rule "
        "FROM commission_lines l JOIN conversions c ON c.id = l.conversion_id "
        "JOIN campaigns k ON k.id = l.campaign_id",
    ):
        pid, idx, occurred, kind, c_status, c_amount, refunded = row[:7]
        amount, cut, due_at, recorded_at, status, currency, campaign_currency, rule = row[7:]
        if kind not in ("sale", "reversal") or status == "rejected" or rule is None:
            continue
        rule_type = (rule if isinstance(rule, dict) else json.loads(rule))["type"]
        if rule_type != "tiered_percent" or currency != campaign_currency:
            continue
        s = sums.setdefault((pid, idx, _day(occurred)), [0, 0, 0, "", ""])
        s[0] += c_amount - refunded if kind == "sale" and c_status != "cancelled" else 0
        s[1] += amount
        s[2] += cut or 0
        s[3] = max(s[3], _moment(due_at))
        s[4] = max(s[4], _moment(recorded_at))
    return sums


def tiered_rolled(api: Api) -> dict:
    return {
        (pid, idx, _day(day)): [sales, amount, cut, _moment(due_max), _moment(changed_max)]
        for pid, idx, day, sales, amount, cut, due_max, changed_max in _rows(
            api,
            "SELECT partnership_id, rule_index, day, sales_minor, amount_minor, cut_minor, "
            "due_max, changed_max FROM tiered_sales_daily",
        )
    }


def assert_rolled_up(api: Api) -> None:
    assert statement_rolled(api) == statement_truth(api)
    assert tiered_rolled(api) == tiered_truth(api)


def _lines_of(api: Api, influencer_id: str) -> list[dict]:
    r = api.get(f"/api/v1/commissions?influencer_id={influencer_id}&limit=200")
    assert r.status_code == 200, r.json
    return r.json["items"]


def test_every_write_keeps_the_ledger_roll_ups_exact(api: Api, frozen: Any) -> None:
    anna = Parts(api, [TIERED, FLAT], hold_days=3)  # two sale lines per order
    ben = Parts(api, [TIERED], hold_days=0)
    # Orders near UTC midnight, so their due days and order days differ.
    order(api, frozen, anna, "1", "2026-09-03T23:59:00Z", "120.00")
    order(api, frozen, anna, "2", "2026-09-04T00:01:00Z", "80.00")
    order(api, frozen, anna, "3", "2026-09-20T10:00:00Z", "300.00")
    order(api, frozen, ben, "1", "2026-09-05T12:00:00Z", "50.00")
    order(api, frozen, ben, "2", "2026-09-06T12:00:00Z", "40.00", currency="USD")
    assert_rolled_up(api)

    refund(api, frozen, anna, "1", "r1", "2026-09-10T08:00:00Z", "20.00")
    frozen.set("2026-09-11T08:00:00Z")
    cancel = {"type": "cancel", "order_id": f"{ben.tag}-1", "occurred_at": "2026-09-11T08:00:00Z"}
    assert api.webhook(cancel).status_code == 200
    assert_rolled_up(api)

    # A rejected sale line of a two-line order: the order still counts once, by its
    # other line; the tiered day is worked out again without it.
    sale = next(
        line
        for line in _lines_of(api, anna.influencer_id)
        if line["kind"] == "sale" and line["rule"]["type"] == "tiered_percent"
    )
    r = api.post(f"/api/v1/commissions/{sale['id']}/reject", {"reason": "test order"})
    assert r.status_code == 200, r.json
    adjustment = {
        "influencer_id": ben.influencer_id,
        "campaign_id": ben.campaign_id,
        "amount": "-30.00",
        "currency": "EUR",
        "reason": "returned goods",
    }
    assert api.post("/api/v1/commissions/adjustments", adjustment).status_code == 201
    assert_rolled_up(api)

    # The close moves September's lines to its export in one UPDATE, carries ben's
    # negative balance forward, and writes the tiered true-ups.
    frozen.set("2026-10-01T08:00:00Z")
    close(api, "2026-09")
    assert _rows(api, "SELECT count(*) FROM statement_daily WHERE export_key <> ''")[0][0] > 0
    assert_rolled_up(api)

    order(api, frozen, anna, "4", "2026-10-02T10:00:00Z", "60.00")
    refund(api, frozen, anna, "3", "r3", "2026-10-03T10:00:00Z", "300.00")  # paid: reversed
    assert_rolled_up(api)


@pytest.fixture(params=["pg", "sqlite"])
def zoned_api(
    request: pytest.FixtureRequest, pg_url: str, redis_url: str, tmp_path: Path, frozen: Any
) -> Iterator[Api]:
    """An app whose brand keeps its books in New York time (months start at 04:00 or
    05:00 UTC)."""
    if request.param == "pg":
        app: Flask = create_app(
            make_settings(pg_url, redis_url, timezone="America/New_York"), TESTING=True
        )
    else:
        url = f"sqlite:///{tmp_path / 'zoned.db'}"
        upgrade(url)
        app = create_app(make_settings(url, timezone="America/New_York"), TESTING=True)
    yield Api(app, app.test_client())
    if request.param == "pg":
        _empty_tables(app)
    app.extensions["afftrack"].db.dispose()


def _summary(api: Api, period: str) -> list[dict]:
    r = api.get(f"/api/v1/exports/commissions/{period}?format=json")
    assert r.status_code == 200, r.json
    return r.json["rows"]


def _true_ups(api: Api, period: str) -> list[str]:
    """The amounts of the true-up lines in ``period``'s detail export."""
    r = api.get(f"/api/v1/exports/commissions/{period}?detail=lines&format=json")
    assert r.status_code == 200, r.json
    return sorted(line["amount"] for line in r.json["lines"] if line["kind"] == "true_up")


def test_a_zoned_months_export_reads_its_edge_days_from_the_lines(
    zoned_api: Api, frozen: Any
) -> None:
    """Orders on both sides of the month's edges in New York time: the open month's
    summary and projected true-up (roll-up days plus the edges' lines) equal what the
    close then writes from the same ledger."""
    api = zoned_api
    anna = Parts(api, [TIERED], hold_days=0)
    # 2026-09-01 00:00 New York is 04:00 UTC; 2026-10-01 00:00 is 04:00 UTC.
    order(api, frozen, anna, "early", "2026-09-01T03:30:00Z", "500.00")  # still August
    order(api, frozen, anna, "first", "2026-09-01T04:30:00Z", "90.00")
    order(api, frozen, anna, "mid", "2026-09-15T12:00:00Z", "100.00")
    order(api, frozen, anna, "last", "2026-10-01T03:30:00Z", "80.00")  # still September
    order(api, frozen, anna, "after", "2026-10-01T04:30:00Z", "700.00")  # October
    # A refund of the month's first order (on an edge day) lowers its net sales: its
    # orders' lines were worked out at brackets it no longer reaches.
    refund(api, frozen, anna, "first", "r-first", "2026-10-01T04:40:00Z", "60.00")
    refund(api, frozen, anna, "mid", "r-mid", "2026-10-01T04:41:00Z", "100.00")
    assert_rolled_up(api)
    frozen.set("2026-10-01T05:00:00Z")
    close(api, "2026-08")
    projected, planned = _summary(api, "2026-09"), _true_ups(api, "2026-09")
    close(api, "2026-09")
    # September's orders net 30 + 0 + 80 = 110.00 of sales after the refunds; the
    # true-up brings its lines to the bracket formula's, as closing writes it.
    assert planned == _true_ups(api, "2026-09") != []
    assert _summary(api, "2026-09") == projected
    assert_rolled_up(api)


def test_ledger_verify_names_a_roll_up_that_no_longer_matches_its_lines(
    api: Api, frozen: Any
) -> None:
    anna = Parts(api, [TIERED], hold_days=0)
    order(api, frozen, anna, "1", "2026-09-03T12:00:00Z", "120.00")
    runner = api.app.test_cli_runner()
    assert runner.invoke(args=["ledger", "verify"]).exit_code == 0
    db = api.app.extensions["afftrack"].db
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE statement_daily SET gross_minor = gross_minor + 1"))
        conn.execute(text("UPDATE tiered_sales_daily SET sales_minor = sales_minor - 1"))
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code != 0
    assert f"roll-up statement_daily /{anna.influencer_id}/EUR/2026-09-03" in result.output
    assert "roll-up tiered_sales_daily" in result.output and "12000" in result.output
