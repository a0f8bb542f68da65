"""conversion_daily and commission_daily: the report's orders and ledger per
campaign, influencer, link and UTC day, kept by the database's triggers.

Generated histories go through the service's own paths (signed webhooks for orders,
refunds and cancels; a click arriving after its order and ``attribute_late``; the reject
endpoint), on PostgreSQL and SQLite. After each history the roll-ups must equal counting
the orders and lines themselves, and the campaign report, which reads only the roll-ups,
must equal the same figures worked out here from the raw rows.
"""

from __future__ import annotations

import contextlib
import itertools
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from service.app import create_app
from service.clicks.partitions import insert_clicks
from service.conversions.orders import attribute_late
from service.migrate import alembic_config, upgrade
from tests.support.app import Api, make_settings, migrated_database
from tests.support.clicks import clicks_before_0013, stored_click

START = datetime(2026, 10, 1, 21, 0, tzinfo=UTC)  # orders run across three midnights
_SEQ = itertools.count()


pytestmark = pytest.mark.frozen_at("2026-10-08T09:00:00Z")  # where ``api`` is made


def services(api: Api) -> Any:
    return api.app.extensions["afftrack"]


def raw(api: Api, sql: str) -> list[Any]:
    with services(api).db.engine.connect() as conn:
        return list(conn.execute(text(sql)))


def utc_day(value: Any) -> str:
    if isinstance(value, str):  # SQLite
        value = datetime.fromisoformat(value)
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.date().isoformat()


def counted_orders(api: Api) -> dict[tuple, tuple[int, int]]:
    out: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for cmp, at, inf, link, cur, amount, refunded, status in raw(
        api,
        "SELECT campaign_id, occurred_at, influencer_id, link_id, currency, amount_minor, "
        "refunded_minor, status FROM conversions",
    ):
        if cmp is None or status == "cancelled":
            continue
        row = out[(cmp, utc_day(at), inf or "", link or "", cur)]
        row[0] += 1
        row[1] += amount - refunded
    return {k: (v[0], v[1]) for k, v in out.items()}


def counted_lines(api: Api) -> dict[tuple, tuple[int, int]]:
    out: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for cmp, at, inf, link, cur, amount in raw(
        api,
        "SELECT l.campaign_id, l.occurred_at, l.influencer_id, c.link_id, l.currency, "
        "l.amount_minor FROM commission_lines l LEFT JOIN conversions c "
        "ON c.id = l.conversion_id WHERE l.status <> 'rejected'",
    ):
        row = out[(cmp, utc_day(at), inf, link or "", cur)]
        row[0] += 1
        row[1] += amount
    return {k: (v[0], v[1]) for k, v in out.items()}


METHOD_COUNTS = "click_conversions, promo_code_conversions, utm_conversions"


def counted_by_method(api: Api) -> dict[tuple, tuple[int, ...]]:
    """The orders ``counted_orders`` counts, per attribution method (click, promo code,
    UTM), from the orders themselves."""
    methods = ("click", "promo_code", "utm")
    out: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
    for cmp, at, inf, link, cur, method, status in raw(
        api,
        "SELECT campaign_id, occurred_at, influencer_id, link_id, currency, method, status "
        "FROM conversions",
    ):
        if cmp is None or status == "cancelled":
            continue
        out[(cmp, utc_day(at), inf or "", link or "", cur)][methods.index(method)] += 1
    return {k: tuple(v) for k, v in out.items()}


def rolled_by_method(api: Api, table: str) -> dict[tuple, tuple[int, ...]]:
    rows = raw(
        api,
        f"SELECT campaign_id, day, influencer_id, link_id, currency, {METHOD_COUNTS} FROM {table}",
    )
    return {
        (r[0], str(r[1]), r[2], r[3], r[4]): tuple(int(n) for n in r[5:])
        for r in rows
        if any(r[5:])
    }


def rolled(api: Api, table: str, counts: str) -> dict[tuple, tuple[int, int]]:
    rows = raw(
        api,
        f"SELECT campaign_id, day, influencer_id, link_id, currency, {counts} FROM {table}",
    )
    # A key whose orders were all cancelled (or lines all rejected) may stay as zeros.
    return {
        (r[0], str(r[1]), r[2], r[3], r[4]): (int(r[5]), int(r[6]))
        for r in rows
        if (int(r[5]), int(r[6])) != (0, 0)
    }


class History:
    """One campaign, two partners (a link and a promo code each), and what was done."""

    def __init__(self, api: Api) -> None:
        n = next(_SEQ)
        self.api = api
        self.campaign = api.create_campaign(f"rollup{n}", starts_on="2026-09-01")
        self.people, self.links, self.codes = [], [], []
        for k in range(2):
            person = api.create_influencer(f"rollup{n}p{k}")
            api.add_partner(self.campaign["id"], person["id"])
            self.people.append(person)
            platform = ("instagram", "tiktok")[k]
            self.links.append(api.create_link(self.campaign["id"], person["id"], platform=platform))
            code = f"RU{n}X{k}"
            api.create_promo_code(self.campaign["id"], person["id"], code)
            self.codes.append(code)
        self.orders: list[tuple[str, int]] = []  # (order id, amount minor)
        self.refunded: dict[str, int] = defaultdict(int)
        self.late: list[tuple[str, str, datetime]] = []  # (click id, link id, when)
        self.tag = n

    def click(self, click_id: str, link_id: str, when: datetime) -> None:
        with services(self.api).db.session() as session:
            # Every third click or so came through the link's QR code.
            source = "qr" if sum(map(ord, click_id)) % 3 == 0 else "link"
            insert_clicks(session, [stored_click(click_id, link_id, when, source=source)])

    def order(self, who: int, via: str, minutes: int, amount: int) -> None:
        order_id = f"RU{self.tag}-{len(self.orders)}"
        when = START + timedelta(minutes=minutes)
        body: dict[str, Any] = {
            "type": "order",
            "order_id": order_id,
            "occurred_at": when.isoformat(),
            "currency": "EUR",
            "subtotal": f"{amount / 100:.2f}",
            "total": f"{amount / 100:.2f}",
        }
        if via == "promo":
            body["promo_codes"] = [self.codes[who]]
        elif via in ("click", "late"):
            click_id = f"c{self.tag}x{len(self.orders)}"
            link_id = self.links[who]["id"]
            if via == "click":
                self.click(click_id, link_id, when - timedelta(minutes=10))
            else:
                self.late.append((click_id, link_id, when - timedelta(minutes=10)))
            body["landing_url"] = f"https://shop.example/p?aff_click={click_id}"
        r = self.api.webhook(body)
        assert r.status_code == 200, r.json
        self.orders.append((order_id, amount))

    def refund(self, index: int, share: float) -> None:
        if not self.orders:
            return
        order_id, amount = self.orders[index % len(self.orders)]
        left = amount - self.refunded[order_id]
        part = min(left, max(1, int(amount * share)))
        if part <= 0:
            return
        self.refunded[order_id] += part
        r = self.api.webhook(
            {
                "type": "refund",
                "order_id": order_id,
                "refund_id": f"{order_id}-r{self.refunded[order_id]}",
                "occurred_at": "2026-10-06T10:00:00Z",
                "amount": f"{part / 100:.2f}",
            }
        )
        assert r.status_code == 200, r.json

    def cancel(self, index: int) -> None:
        if not self.orders:
            return
        order_id, _ = self.orders[index % len(self.orders)]
        r = self.api.webhook(
            {"type": "cancel", "order_id": order_id, "occurred_at": "2026-10-06T11:00:00Z"}
        )
        assert r.status_code == 200, r.json

    def reject(self, index: int) -> None:
        ids = [
            row[0]
            for row in raw(
                self.api,
                "SELECT id FROM commission_lines WHERE campaign_id = "
                f"'{self.campaign['id']}' AND kind = 'sale' ORDER BY id",
            )
        ]
        if ids:
            line = ids[index % len(ids)]
            r = self.api.post(f"/api/v1/commissions/{line}/reject", {"reason": "test"})
            assert r.status_code in (200, 409), r.json

    def arrive(self, index: int) -> None:
        if not self.late:
            return
        click_id, link_id, when = self.late.pop(index % len(self.late))
        self.click(click_id, link_id, when)
        attribute_late(services(self.api).db, services(self.api).settings, [click_id])


ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("order"),
            st.integers(0, 1),
            st.sampled_from(["promo", "click", "late", "none"]),
            st.integers(0, 60 * 72),
            st.integers(100, 50_000),
        ),
        st.tuples(st.just("refund"), st.integers(0, 20), st.floats(0.05, 1.0)),
        st.tuples(st.just("cancel"), st.integers(0, 20)),
        st.tuples(st.just("reject"), st.integers(0, 20)),
        st.tuples(st.just("arrive"), st.integers(0, 20)),
    ),
    min_size=1,
    max_size=14,
)


def by_month(counted: dict[tuple, tuple[int, ...]], day_at: int = 1) -> dict[tuple, tuple]:
    """Counts keyed by day, summed per month (the day becomes the month's first)."""
    out: dict[tuple, list[int]] = defaultdict(lambda: [0] * len(next(iter(counted.values()))))
    for key, counts in counted.items():
        month = (*key[:day_at], key[day_at][:8] + "01", *key[day_at + 1 :])
        for i, n in enumerate(counts):
            out[month][i] += n
    return {k: tuple(v) for k, v in out.items()}


def counted_clicks(api: Api) -> dict[tuple, tuple[int, int, int, int]]:
    """(link, day) → non-bot, unique non-bot, bot clicks and non-bot QR scans, from the
    clicks themselves."""
    out: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for link, at, bot, unique, source in raw(
        api, "SELECT link_id, occurred_at, is_bot, is_unique, source FROM clicks"
    ):
        row = out[(link, utc_day(at))]
        row[0] += not bot
        row[1] += (not bot) and bool(unique)
        row[2] += bool(bot)
        row[3] += (not bot) and source == "qr"
    return {k: (v[0], v[1], v[2], v[3]) for k, v in out.items()}


def expected_report(
    api: Api, campaign_id: str, group_by: str, first: str, last: str
) -> dict[str, dict[str, Any]]:
    """clicks, conversions, revenue and commission per group in [first, last], from the
    raw rows."""
    links = {
        row[0]: row[1:]
        for row in raw(api, "SELECT id, platform, influencer_id, campaign_id FROM links")
    }

    def key(day: str, inf: str, link: str) -> str:
        platform = links[link][0] if link in links else ""
        return {"influencer": inf, "link": link, "platform": platform, "day": day}[group_by]

    out: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"clicks": 0, "qr_scans": 0, "conversions": 0, "revenue": 0, "commission": 0}
    )
    for (link, day), (n, _unique, _bots, scans) in counted_clicks(api).items():
        if links[link][2] == campaign_id and first <= day <= last:
            out[key(day, links[link][1], link)]["clicks"] += n
            out[key(day, links[link][1], link)]["qr_scans"] += scans
    for (cmp, day, inf, link, _cur), (n, revenue) in counted_orders(api).items():
        if cmp == campaign_id and first <= day <= last:
            out[key(day, inf, link)]["conversions"] += n
            out[key(day, inf, link)]["revenue"] += revenue
    for (cmp, day, inf, link, _cur), (_n, amount) in counted_lines(api).items():
        if cmp == campaign_id and first <= day <= last:
            out[key(day, inf, link)]["commission"] += amount
    return dict(out)


# Ranges whose spans differ: two whole months; partial days around a whole month; days
# inside one month only; days across a month boundary.
RANGES = (
    ("2026-09-01", "2026-10-31"),
    ("2026-09-30", "2026-11-30"),
    ("2026-10-02", "2026-10-03"),
    ("2026-09-20", "2026-10-02"),
)


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(history=ops)
def test_the_roll_ups_equal_counting_orders_and_lines(api: Api, history: list) -> None:
    h = History(api)
    for op, *args in history:
        getattr(h, op)(*args)
    orders, lines = counted_orders(api), counted_lines(api)
    assert rolled(api, "conversion_daily", "conversions, revenue_minor") == orders
    assert rolled(api, "commission_daily", "lines, amount_minor") == lines
    methods = counted_by_method(api)
    assert rolled_by_method(api, "conversion_daily") == {k: v for k, v in methods.items() if any(v)}
    if orders:
        assert rolled(api, "conversion_monthly", "conversions, revenue_minor") == by_month(orders)
        monthly = {k: v for k, v in by_month(methods).items() if any(v)}
        assert rolled_by_method(api, "conversion_monthly") == monthly
    if lines:
        assert rolled(api, "commission_monthly", "lines, amount_minor") == by_month(lines)
    clicks = counted_clicks(api)
    if clicks:
        counts = "clicks, unique_clicks, bot_clicks, qr_scans"
        daily = raw(api, f"SELECT link_id, day, {counts} FROM click_daily")
        assert {(r[0], str(r[1])): tuple(r[2:]) for r in daily} == clicks
        monthly = raw(api, f"SELECT link_id, day, {counts} FROM click_monthly")
        assert {(r[0], str(r[1])): tuple(r[2:]) for r in monthly} == by_month(clicks)

    cid = h.campaign["id"]
    for first, last in RANGES:
        for group_by in ("influencer", "link", "platform", "day"):
            r = api.get(
                f"/api/v1/reports/campaigns/{cid}?from={first}&to={last}&group_by={group_by}"
            )
            assert r.status_code == 200, r.json
            shown = {
                row["key"] or "": {
                    "clicks": row["clicks"],
                    "qr_scans": row["qr_scans"],
                    "conversions": row["conversions"],
                    "revenue": round(float(row["money"].get("EUR", {}).get("revenue", "0")) * 100),
                    "commission": round(
                        float(row["money"].get("EUR", {}).get("commission", "0")) * 100
                    ),
                }
                for row in r.json["rows"]
            }
            # Rows with nothing but zeros (a sale and its reversal) may or may not be shown.
            got = {k: v for k, v in shown.items() if any(v.values())}
            expected = {
                k: v
                for k, v in expected_report(api, cid, group_by, first, last).items()
                if any(v.values())
            }
            assert got == expected, (first, last, group_by)


def test_a_cancelled_order_and_a_rejected_line_leave_the_report(api: Api) -> None:
    h = History(api)
    h.order(0, "promo", 60, 10_000)
    h.order(1, "click", 60 * 30, 4_000)
    cid = h.campaign["id"]
    url = f"/api/v1/reports/campaigns/{cid}?from=2026-10-01&to=2026-10-31&group_by=day"
    days = {row["key"]: row for row in api.get(url).json["rows"]}
    assert days["2026-10-01"]["conversions"] == 1  # 21:00 + 1 h is still Oct 1st (UTC)
    assert days["2026-10-01"]["money"]["EUR"]["revenue"] == "100.00"
    assert days["2026-10-01"]["money"]["EUR"]["commission"] == "10.00"
    assert days["2026-10-03"]["money"]["EUR"]["commission"] == "4.00"
    h.cancel(0)  # the promo order goes; its line is reversed on the day of the cancel
    (line,) = raw(
        api,
        "SELECT l.id FROM commission_lines l JOIN conversions c ON c.id = l.conversion_id "
        f"WHERE c.order_id = '{h.orders[1][0]}' AND l.kind = 'sale'",
    )
    r = api.post(f"/api/v1/commissions/{line[0]}/reject", {"reason": "fraud"})
    assert r.status_code == 200, r.json  # ...and the click order's line is rejected
    days = {row["key"]: row for row in api.get(url).json["rows"]}
    assert "2026-10-01" not in days or days["2026-10-01"]["conversions"] == 0
    assert days["2026-10-03"]["conversions"] == 1
    totals = api.get(url).json["totals"]
    assert totals["conversions"] == 1
    assert totals["money"]["EUR"]["revenue"] == "40.00"
    # Cancelled order: sale 10.00 and its reversal -10.00; rejected line: nothing.
    assert totals["money"]["EUR"]["commission"] == "0.00"
    assert days["2026-10-06"]["money"]["EUR"]["commission"] == "-10.00"  # the reversal


@pytest.fixture(params=["pg", "sqlite"])
def scratch_app(request: Any, tmp_path: Any, redis_url: str, frozen: Any) -> Iterator[Api]:
    """An app on a database of its own (migrations are run down and up on it)."""
    frozen.set("2026-10-08T09:00:00Z")
    with contextlib.ExitStack() as stack:
        if request.param == "pg":
            url = stack.enter_context(migrated_database("afftrack_rollup"))
        else:
            url = f"sqlite:///{tmp_path / 'rollup.db'}"
            upgrade(url)
        app = create_app(make_settings(url), TESTING=True)
        stack.callback(app.extensions["afftrack"].db.dispose)
        yield Api(app, app.test_client())


def test_migration_0008_fills_the_roll_ups_from_stored_rows_and_round_trips(
    scratch_app: Api,
) -> None:
    api = scratch_app
    h = History(api)
    for step in (
        ("order", 0, "click", 30, 12_000),
        ("order", 1, "promo", 60 * 26, 5_000),
        ("order", 0, "late", 60 * 50, 7_500),
        ("order", 1, "none", 90, 3_000),
        ("refund", 0, 0.25),
        ("cancel", 1),
        ("arrive", 0),
        ("reject", 2),
    ):
        getattr(h, step[0])(*step[1:])
    url = str(services(api).db.engine.url.render_as_string(hide_password=False))
    orders, lines = counted_orders(api), counted_lines(api)
    clicks = raw(api, "SELECT link_id, day, clicks FROM click_daily ORDER BY 1, 2")
    assert orders and lines and clicks
    services(api).db.dispose()

    command.downgrade(alembic_config(url), "0007")  # the roll-ups and owners go...
    upgrade(url)  # ...and come back filled from the rows
    assert rolled(api, "conversion_daily", "conversions, revenue_minor") == orders
    assert rolled(api, "commission_daily", "lines, amount_minor") == lines
    owners = {
        row[0]: (row[1], row[2])
        for row in raw(api, "SELECT id, campaign_id, influencer_id FROM links")
    }
    for link_id, campaign_id, influencer_id in raw(
        api, "SELECT link_id, campaign_id, influencer_id FROM click_daily"
    ):
        assert owners[link_id] == (campaign_id, influencer_id)
    assert raw(api, "SELECT link_id, day, clicks FROM click_daily ORDER BY 1, 2") == clicks

    # Down again: revision 0007's click trigger works without the owner columns.
    services(api).db.dispose()
    command.downgrade(alembic_config(url), "0007")
    clicks_before_0013(
        services(api).db.engine, [stored_click("after-downgrade", h.links[0]["id"], START)]
    )
    assert (
        sum(r[0] for r in raw(api, "SELECT clicks FROM click_daily"))
        == sum(r[2] for r in clicks) + 1
    )
    services(api).db.dispose()
    upgrade(url)
