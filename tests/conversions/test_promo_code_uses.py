"""A promo code's ``max_uses``: its last use goes to exactly one of several orders that
arrive at once and the others fall through to the next method (docs/product.md §4); a cancelled
order gives its use back, a fully refunded one keeps it (docs/adr/0003); a redelivered
order takes no second use."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import text

from tests.support.app import Api
from tests.support.platforms import in_parallel

CODE = "LIMITED"
# Names ben's partnership by UTM: where an order falls through when the code is used up.
BEN_UTM = "https://shop.example/p?utm_campaign=spring&utm_content=ben"


def setup_code(api: Api, max_uses: int) -> dict[str, str]:
    """anna owns the limited code; ben is reachable by UTM. Their influencer ids."""
    anna = api.create_influencer("anna")
    ben = api.create_influencer("ben")
    campaign = api.create_campaign("spring")
    api.add_partner(campaign["id"], anna["id"])
    api.add_partner(campaign["id"], ben["id"])
    body = {
        "campaign_id": campaign["id"],
        "influencer_id": anna["id"],
        "code": CODE,
        "max_uses": max_uses,
    }
    r = api.post("/api/v1/promo-codes", body)
    assert r.status_code == 201, r.json
    return {"anna": anna["id"], "ben": ben["id"]}


def order(order_id: str, landing_url: str | None = None) -> dict[str, Any]:
    body = {
        "type": "order",
        "order_id": order_id,
        "occurred_at": "2026-10-03T12:00:00Z",
        "currency": "EUR",
        "subtotal": "50.00",
        "promo_codes": [CODE.lower()],
    }
    if landing_url:
        body["landing_url"] = landing_url
    return body


def cancel(order_id: str) -> dict[str, Any]:
    return {"type": "cancel", "order_id": order_id, "occurred_at": "2026-10-03T12:00:30Z"}


def send(api: Api, body: dict[str, Any]) -> str:
    r = api.webhook(body)
    assert r.status_code == 200, r.json
    return str(r.json["status"])


def attributions(api: Api) -> dict[str, tuple[str, str] | None]:
    """Each order's (method, influencer id), or None when unattributed."""
    items = api.get("/api/v1/conversions?limit=200").json["items"]
    return {
        c["order_id"]: (c["attribution"]["method"], c["attribution"]["influencer_id"])
        if c["attribution"]
        else None
        for c in items
    }


WAITING = (
    "SELECT count(*) FROM pg_stat_activity "
    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


def race(api: Api, bodies: list[dict[str, Any]], held: int | None = None) -> Counter:
    """Post each body from a thread of its own (PostgreSQL), every order held back from
    writing by a SHARE lock on conversions until ``held`` of them (default: all) wait
    on a lock: each has read the code's uses before any writes, so the race is certain,
    not likely."""
    engine = api.app.extensions["afftrack"].db.engine
    done: dict[str, Counter] = {}
    copies = len(bodies)

    def post_all() -> None:
        done["outcomes"] = in_parallel(lambda s: s.webhook(bodies.pop()), api, copies)

    with engine.connect() as gate:
        gate.execute(text("LOCK TABLE conversions IN SHARE MODE"))
        runner = threading.Thread(target=post_all)
        runner.start()
        deadline = time.monotonic() + 30
        while True:
            with engine.connect() as probe:
                if probe.execute(text(WAITING)).scalar_one() >= (held or copies):
                    break
            assert time.monotonic() < deadline, "the orders never all waited"
            time.sleep(0.02)
        gate.commit()
    runner.join(timeout=60)
    return done["outcomes"]


pytestmark = pytest.mark.frozen_at("2026-10-03T12:01:00Z")  # where ``api`` is made


def test_last_use_goes_to_one_of_eight_orders_arriving_at_once(pg_api, frozen):
    frozen.set("2026-10-03T12:01:00Z")
    who = setup_code(pg_api, max_uses=3)
    assert [send(pg_api, order(f"early-{i}")) for i in range(2)] == ["created"] * 2
    # Odd orders also carry ben's UTM, even ones nothing else.
    bodies = [order(f"race-{i}", BEN_UTM if i % 2 else None) for i in range(8)]

    outcomes = race(pg_api, bodies)

    assert outcomes == Counter({(200, "created"): 8})
    raced = {k: v for k, v in attributions(pg_api).items() if k.startswith("race-")}
    winners = [k for k, v in raced.items() if v == ("promo_code", who["anna"])]
    assert len(winners) == 1, raced
    for order_id, found in raced.items():
        if order_id not in winners:
            odd = int(order_id.removeprefix("race-")) % 2
            assert found == (("utm", who["ben"]) if odd else None), (order_id, found)


def test_redeliveries_racing_the_last_use_take_none_of_it(pg_api, frozen):
    frozen.set("2026-10-03T12:01:00Z")
    who = setup_code(pg_api, max_uses=2)
    assert send(pg_api, order("first")) == "created"
    bodies = [order("first")] * 4 + [order(f"new-{i}", BEN_UTM) for i in range(4)]

    # Held: the four new orders and one copy of "first" (the other copies wait for that
    # order's own lock, which is tried with back-off rather than waited on).
    outcomes = race(pg_api, bodies, held=5)

    assert outcomes == Counter({(200, "created"): 4, (200, "duplicate"): 4})
    found = attributions(pg_api)
    assert found["first"] == ("promo_code", who["anna"])
    new = [found[f"new-{i}"] for i in range(4)]
    assert sorted(new) == [("promo_code", who["anna"])] + [("utm", who["ben"])] * 3


def test_cancelled_order_gives_its_use_back(api):
    who = setup_code(api, max_uses=1)
    assert send(api, order("A")) == "created"
    assert send(api, order("B", BEN_UTM)) == "created"
    assert send(api, cancel("A")) == "applied"
    assert send(api, order("A")) == "duplicate"  # a redelivery takes no use back
    assert send(api, order("C")) == "created"
    assert send(api, order("D", BEN_UTM)) == "created"

    assert attributions(api) == {
        "A": ("promo_code", who["anna"]),
        "B": ("utm", who["ben"]),
        "C": ("promo_code", who["anna"]),
        "D": ("utm", who["ben"]),
    }


def test_order_cancelled_before_it_arrives_uses_nothing(api):
    who = setup_code(api, max_uses=1)
    assert send(api, cancel("A")) == "pending_order"
    assert send(api, order("A")) == "created"
    assert send(api, order("B")) == "created"
    assert attributions(api)["B"] == ("promo_code", who["anna"])


def test_fully_refunded_order_still_counts_as_a_use(api):
    who = setup_code(api, max_uses=1)
    assert send(api, order("A")) == "created"
    refund = {
        "type": "refund",
        "order_id": "A",
        "refund_id": "r-1",
        "occurred_at": "2026-10-03T12:00:30Z",
        "amount": "50.00",
    }
    assert send(api, refund) == "applied"
    assert send(api, order("B", BEN_UTM)) == "created"
    items = {c["order_id"]: c for c in api.get("/api/v1/conversions").json["items"]}
    assert items["A"]["status"] == "refunded"
    assert attributions(api)["B"] == ("utm", who["ben"])


def test_a_limited_code_busy_too_long_answers_503_and_stores_nothing(
    pg_api, frozen, pg_url, monkeypatch
):
    """While another transaction holds the limited code (an order of it in flight), the
    next order waits at most a bounded time, then answers 503 retry and stores nothing;
    the platform's retry is then attributed by the code."""
    import psycopg

    from service.conversions import candidates

    monkeypatch.setattr(candidates, "PROMO_LOCK_WAIT_SECONDS", 0.3)
    ids = setup_code(pg_api, max_uses=2)
    with pg_api.app.extensions["afftrack"].db.engine.connect() as conn:
        code_id = conn.execute(text("SELECT id FROM promo_codes")).scalar_one()
    other = psycopg.connect(pg_url.replace("postgresql+psycopg://", "postgresql://"))
    try:
        other.execute("SELECT id FROM promo_codes WHERE id = %s FOR UPDATE", (code_id,))
        answered: list[Any] = []
        waiting = threading.Thread(target=lambda: answered.append(pg_api.webhook(order("A"))))
        waiting.start()
        waiting.join(timeout=10)
        assert answered, "the order waited for the busy code without bound"
        (busy,) = answered
        assert busy.status_code == 503, busy.json
        assert busy.json["error"]["code"] == "retry"
    finally:
        other.close()
    assert attributions(pg_api) == {}
    assert send(pg_api, order("A")) == "created"
    assert attributions(pg_api) == {"A": ("promo_code", ids["anna"])}
