"""Tiered brackets of orders stamped with the same second (docs/product.md §5): platforms
stamp whole seconds, so a flash sale brings many orders with one ``occurred_at``. They
take their brackets in arrival order, so the running sale lines already match the
bracket formula: the same lines as the same orders one second apart, ``ledger verify``
agrees, and the month's true-up is zero. Two webhooks of one influencer at once still
take distinct brackets, and a late-attributed order takes the bracket after those
already booked.

Expected amounts are worked out here with :class:`fractions.Fraction` and Python's own
half-even ``round``, independently of ``service.commissions.rules``.
"""

from __future__ import annotations

import csv
import io
import itertools
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from service.clicks.partitions import insert_clicks
from service.commissions import engine
from service.conversions.orders import attribute_late
from service.db import advisory_key
from service.models import metadata
from tests.support.app import Api
from tests.support.brackets import by_hand
from tests.support.clicks import stored_click

# 10 % up to 1,000.00, 20 % above: marginal brackets over the month's net sales.
TIERED = {
    "type": "tiered_percent",
    "tiers": [{"up_to": "1000.00", "rate": "10"}, {"up_to": None, "rate": "20"}],
}
BRACKETS = [(100_000, Fraction(10, 100)), (None, Fraction(20, 100))]
INSTANT = "2026-10-15T12:00:00Z"  # the one second a flash sale's orders share
_SEQ = itertools.count(1)


def formula(net_minor: int) -> Fraction:
    """The brackets over ``net_minor``, exact (not rounded)."""
    return by_hand(net_minor, BRACKETS)


def running_line(before: int, amount: int) -> int:
    """An order's sale line after ``before`` of sales: its brackets' share, rounded
    half-even (Python's round of a Fraction)."""
    return round(formula(before + amount) - formula(before))


def cents(text_amount: str) -> int:
    value = Decimal(text_amount) * 100
    assert value == value.to_integral_value(), text_amount
    return int(value)


def eur(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


class Partner:
    """An influencer in a tiered campaign of her own (no hold), with a promo code and a
    link."""

    def __init__(self, api: Api, **campaign: Any) -> None:
        self.api = api
        self.tag = next(_SEQ)
        self.code = f"FLASH{self.tag}"
        self.influencer = api.create_influencer(f"flash-{self.tag}")
        self.campaign = api.create_campaign(
            f"flash-{self.tag}", commission_rules=[TIERED], hold_days=0, **campaign
        )
        self.partnership = api.add_partner(self.campaign["id"], self.influencer["id"])
        api.create_promo_code(self.campaign["id"], self.influencer["id"], self.code)
        self.link = api.create_link(self.campaign["id"], self.influencer["id"])

    @property
    def id(self) -> str:
        return str(self.influencer["id"])

    def body(self, order_id: str, occurred_at: str, amount: int, **extra: Any) -> dict:
        return {
            "type": "order",
            "order_id": f"F{self.tag}-{order_id}",
            "occurred_at": occurred_at,
            "currency": "EUR",
            "subtotal": eur(amount),
            "promo_codes": [self.code],
            **extra,
        }

    def order(self, order_id: str, occurred_at: str, amount: int, **extra: Any) -> str:
        """Post the order through the signed generic webhook; its conversion id."""
        r = self.api.webhook(self.body(order_id, occurred_at, amount, **extra))
        assert r.status_code == 200 and r.json["status"] == "created", r.json
        return str(r.json["conversion_id"])

    def lines(self, *kinds: str) -> list[dict]:
        r = self.api.get(f"/api/v1/commissions?influencer_id={self.id}&limit=200")
        assert r.status_code == 200, r.json
        return [x for x in r.json["items"] if x["kind"] in kinds]

    def sales(self) -> dict[str, tuple[int, int]]:
        """Each order's sale line: conversion id → (amount, the sales before it)."""
        return {
            x["conversion_id"]: (cents(x["amount"]), cents(x["rule"]["before"]))
            for x in self.lines("sale")
        }


def fresh(api: Api) -> None:
    """Empty every table but the API keys: one hypothesis example must not see the
    ledger of another."""
    db = api.app.extensions["afftrack"].db
    tables = [t for t in metadata.sorted_tables if t.name != "api_keys"]
    with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t.name}"' for t in tables)))
        else:
            for table in reversed(tables):
                conn.execute(table.delete())


def verified(api: Api) -> None:
    result = api.app.test_cli_runner().invoke(args=["ledger", "verify"])
    assert result.exit_code == 0, result.output


def settle_october(api: Api, frozen: Any) -> None:
    """Write October's settlement now (``afftrack ledger settle``), as a close would."""
    frozen.set("2026-11-02T08:00:00Z")
    result = api.app.test_cli_runner().invoke(args=["ledger", "settle", "--month", "2026-10"])
    assert result.exit_code == 0, result.output


def test_three_orders_of_one_second_take_their_brackets_in_arrival_order(api, frozen):
    """600.00, 600.00 and 300.00 at one instant: 60.00, then 80.00 (400.00 at 10 %, 200.00
    at 20 %), then 60.00 — not 60, 60, 30 as if the others did not exist."""
    anna = Partner(api)
    frozen.set("2026-10-15T12:00:01Z")
    first = anna.order("1", INSTANT, 60_000)
    frozen.advance(timedelta(milliseconds=3))
    second = anna.order("2", INSTANT, 60_000)
    frozen.advance(timedelta(milliseconds=3))
    third = anna.order("3", INSTANT, 30_000)

    assert anna.sales() == {
        first: (6_000, 0),
        second: (8_000, 60_000),
        third: (6_000, 120_000),
    }
    verified(api)

    # The running lines already hold the formula over 1,500.00: closing October adds no
    # true-up and pays 200.00.
    frozen.set("2026-11-02T08:00:00Z")
    r = api.post("/api/v1/exports/commissions/2026-10/close")
    assert r.status_code == 200, r.json
    assert anna.lines("true_up") == []
    body = api.get("/api/v1/exports/commissions/2026-10").data.decode()
    (row,) = [x for x in csv.DictReader(io.StringIO(body)) if x["influencer_id"] == anna.id]
    assert row["net_payable"] == "200.00"
    verified(api)


# Amounts in whole euros (every line exact, so the running lines add up to the formula
# to the cent) or any number of cents (lines rounded one by one).
amounts = st.one_of(
    st.integers(1, 1_500).map(lambda n: n * 100),
    st.integers(1, 150_000),
)
# Orders in arrival order, grouped by the second they share (later groups, later seconds).
seconds = st.lists(st.lists(amounts, min_size=1, max_size=4), min_size=1, max_size=3)


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(groups=seconds)
@example(groups=[[60_000, 60_000, 30_000]])
@example(groups=[[90_000], [5_000, 10_001, 3], [99_999, 1]])
def test_orders_sharing_a_second_get_the_lines_of_orders_one_second_apart(
    api: Api, frozen: Any, groups: list[list[int]]
):
    """Any orders sharing seconds get the same sale lines as the same orders one second
    apart in the same arrival order; both are what the brackets give in that order,
    `ledger verify` agrees, and the month's true-up is the same for both: zero when
    every line is exact."""
    fresh(api)
    frozen.set("2026-10-01T09:00:00Z")
    shared, apart = Partner(api), Partner(api)
    base = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)
    # Every webhook arrives at the same frozen instant: arrival is the order they come in.
    frozen.set("2026-10-21T09:00:00Z")
    flat = [amount for group in groups for amount in group]
    shared_ids, apart_ids = [], []
    for second, group in enumerate(groups):
        for amount in group:
            n = len(shared_ids)
            shared_at = (base + timedelta(seconds=second)).isoformat()
            apart_at = (base + timedelta(seconds=n)).isoformat()
            shared_ids.append(shared.order(str(n), shared_at, amount))
            apart_ids.append(apart.order(str(n), apart_at, amount))

    shared_sales, apart_sales = shared.sales(), apart.sales()
    expected, before = [], 0
    for amount in flat:
        expected.append((running_line(before, amount), before))
        before += amount
    assert [shared_sales[c] for c in shared_ids] == expected
    assert [apart_sales[c] for c in apart_ids] == expected

    settle_october(api, frozen)
    true_ups = [sum(cents(x["amount"]) for x in p.lines("true_up")) for p in (shared, apart)]
    residue = round(formula(sum(flat))) - sum(line for line, _ in expected)
    assert true_ups == [residue, residue]
    if all(amount % 100 == 0 for amount in flat):
        assert residue == 0
    verified(api)


def test_concurrent_webhooks_of_one_influencer_in_one_second_take_distinct_brackets(api, frozen):
    """Six orders of one second posted at once, each from its own thread: each reads the
    month's sales with every order booked before it, so the lines chain and add up to
    the formula (no true-up)."""
    anna = Partner(api)
    frozen.set("2026-10-15T12:00:01Z")
    amounts = [60_000, 60_000, 30_000, 45_000, 15_000, 90_000]
    barrier = threading.Barrier(len(amounts))
    answers: list[tuple[int, Any]] = []
    errors: list[BaseException] = []

    def send(n: int) -> None:
        try:
            sender = Api.__new__(Api)
            sender.app, sender.client = api.app, api.app.test_client()
            body = anna.body(str(n), INSTANT, amounts[n])
            barrier.wait()
            r = sender.webhook(body)
            answers.append((r.status_code, r.json))
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(len(amounts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert sorted(code for code, _ in answers) == [200] * len(amounts), answers
    assert {answer["status"] for _, answer in answers} == {"created"}

    conversions = {
        c["id"]: cents(c["amount"])
        for c in api.get(f"/api/v1/conversions?influencer_id={anna.id}&limit=50").json["items"]
    }
    sales = sorted((before, line, conversions[c]) for c, (line, before) in anna.sales().items())
    assert len(sales) == len(amounts)
    booked = 0
    for before, line, amount in sales:
        assert before == booked, sales  # each bracket starts where the last one ended
        assert line == running_line(before, amount)
        booked += amount
    assert sum(line for _, line, _ in sales) == formula(sum(amounts))
    verified(api)
    settle_october(api, frozen)
    assert anna.lines("true_up") == []


def test_a_late_attributed_order_takes_the_bracket_after_the_orders_of_its_second_booked(
    api, frozen
):
    """An order whose click was still queued is booked when the worker writes the click,
    after two orders of the same second that came later but were attributed at once: it
    takes the bracket after theirs, so the second's lines still add up to the formula."""
    anna = Partner(api)
    frozen.set("2026-10-15T12:00:01Z")
    click_id = f"late{anna.tag}"
    landing = f"https://shop.example/p?aff_click={click_id}"
    late = anna.order("late", INSTANT, 60_000, promo_codes=[], landing_url=landing)
    frozen.advance(timedelta(milliseconds=3))
    second = anna.order("2", INSTANT, 60_000)
    frozen.advance(timedelta(milliseconds=3))
    third = anna.order("3", INSTANT, 30_000)
    assert anna.sales() == {second: (6_000, 0), third: (3_000, 60_000)}

    frozen.set("2026-10-15T12:05:00Z")
    services = api.app.extensions["afftrack"]
    with services.db.session() as session:
        clicked = datetime(2026, 10, 15, 11, 50, tzinfo=UTC)
        insert_clicks(session, [stored_click(click_id, anna.link["id"], clicked)])
    assert attribute_late(services.db, services.settings, [click_id]) == 1

    # 100.00 at 10 % up to 1,000.00, then 500.00 at 20 %.
    assert anna.sales() == {
        second: (6_000, 0),
        third: (3_000, 60_000),
        late: (11_000, 90_000),
    }
    assert sum(amount for amount, _ in anna.sales().values()) == formula(150_000)
    verified(api)
    settle_october(api, frozen)
    assert anna.lines("true_up") == []
    verified(api)


@pytest.mark.postgres
def test_only_tiered_orders_wait_for_the_influencers_lock_and_a_busy_one_answers_503(
    pg_api: Api, frozen: Any, pg_url: str, monkeypatch: Any
):
    """While another transaction books one of the influencer's tiered orders, her next
    one waits for it, and answers 503 (retry, nothing stored) if it stays busy; a
    partnership without a tiered rule takes no such lock. Retried, the order is booked
    in the bracket after what was booked meanwhile."""
    api = pg_api
    monkeypatch.setattr(engine, "TIERED_LOCK_WAIT_SECONDS", 0.3)
    anna = Partner(api)
    ben = api.create_influencer("ben-percent")
    campaign = api.create_campaign("percent-only", hold_days=0)  # 10 % of each order
    partnership = api.add_partner(campaign["id"], ben["id"])
    api.create_promo_code(campaign["id"], ben["id"], "BEN10")
    frozen.set("2026-10-15T12:00:01Z")
    first = anna.order("1", INSTANT, 60_000)

    # Another session holds both partnerships' tiered locks (as a booking in flight does).
    other = psycopg.connect(pg_url.replace("postgresql+psycopg://", "postgresql://"))
    try:
        for pid in (anna.partnership["id"], partnership["id"]):
            other.execute("SELECT pg_advisory_lock(%s)", (advisory_key(f"tiered:{pid}"),))
        busy = api.webhook(anna.body("2", INSTANT, 60_000))
        assert busy.status_code == 503, busy.json
        assert busy.json["error"]["code"] == "retry"
        percent = api.webhook({**anna.body("3", INSTANT, 50_000), "promo_codes": ["BEN10"]})
        assert percent.status_code == 200 and percent.json["status"] == "created", percent.json
    finally:
        other.close()
    assert set(anna.sales()) == {first}
    assert api.rows("conversions") == 2  # the busy order stored nothing
    second = anna.order("2", INSTANT, 60_000)  # the platform's retry
    assert anna.sales() == {first: (6_000, 0), second: (8_000, 60_000)}
    verified(api)


@pytest.mark.postgres
def test_a_busy_influencer_does_not_hold_up_the_late_attribution_of_the_others(
    pg_api: Api, frozen: Any, pg_url: str, monkeypatch: Any
):
    """The worker attributes the orders whose clicks it has just written one by one:
    while one influencer's tiered sales stay busy, her order is left for the next batch
    or sweep, and the other influencer's order, after hers, is attributed all the same."""
    api = pg_api
    monkeypatch.setattr(engine, "TIERED_LOCK_WAIT_SECONDS", 0.3)
    anna, ben = Partner(api), Partner(api)
    frozen.set("2026-10-15T12:00:01Z")
    clicks, orders = [], []
    for partner in (anna, ben):  # anna's order first: the worker comes to it first
        click_id = f"busy{partner.tag}"
        landing = f"https://shop.example/p?aff_click={click_id}"
        orders.append(partner.order("late", INSTANT, 60_000, promo_codes=[], landing_url=landing))
        clicks.append(
            stored_click(click_id, partner.link["id"], datetime(2026, 10, 15, 11, 50, tzinfo=UTC))
        )
        frozen.advance(timedelta(milliseconds=3))
    services = api.app.extensions["afftrack"]
    with services.db.session() as session:
        insert_clicks(session, clicks)
    click_ids = [c["id"] for c in clicks]

    other = psycopg.connect(pg_url.replace("postgresql+psycopg://", "postgresql://"))
    try:
        key = advisory_key(f"tiered:{anna.partnership['id']}")
        other.execute("SELECT pg_advisory_lock(%s)", (key,))
        assert attribute_late(services.db, services.settings, click_ids) == 1
        other.execute("SELECT pg_advisory_unlock(%s)", (key,))  # released before we go on
    finally:
        other.close()
    assert anna.sales() == {}
    assert ben.sales() == {orders[1]: (6_000, 0)}

    assert attribute_late(services.db, services.settings, click_ids) == 1  # her turn now
    assert anna.sales() == {orders[0]: (6_000, 0)}
    verified(api)
