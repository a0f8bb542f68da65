"""Caps: a line that would go past the monthly cap per influencer or the
campaign budget is cut to fit, and the cut shows on the line."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.commissions.rules import CapRoom, Rule, SaleLine, apply_caps
from tests.support.app import Api

FLAT = Rule("flat", amount_minor=1)


@given(
    amounts=st.lists(st.integers(-5_000, 50_000), max_size=12),
    month=st.one_of(st.none(), st.integers(-1_000, 100_000)),
    budget=st.one_of(st.none(), st.integers(-1_000, 100_000)),
)
def test_caps_are_never_exceeded(amounts: list[int], month: int | None, budget: int | None):
    lines = [SaleLine(i, FLAT, a, "EUR") for i, a in enumerate(amounts)]
    capped = apply_caps(lines, CapRoom(month, budget), "EUR")
    positive = sum(c.amount_minor for c in capped if c.amount_minor > 0)
    for c in capped:
        assert c.amount_minor + c.cut_minor == c.line.amount_minor
        assert c.cut_minor >= 0
        assert (c.cut_minor > 0) == (c.cap is not None)
        if c.line.amount_minor > 0:
            assert 0 <= c.amount_minor <= c.line.amount_minor
    for room in (month, budget):
        if room is not None:
            assert positive <= max(room, 0)


def test_other_currencies_are_not_capped():
    lines = [SaleLine(0, FLAT, 5_000, "USD")]
    assert apply_caps(lines, CapRoom(100, 100), "EUR")[0].amount_minor == 5_000


def order(n: int, when: str, code: str, subtotal: str = "100.00") -> dict[str, Any]:
    return {
        "type": "order",
        "order_id": f"C-{n}",
        "occurred_at": when,
        "currency": "EUR",
        "subtotal": subtotal,
        "promo_codes": [code],
    }


def lines(api: Api, influencer_id: str) -> list[tuple[str, str | None]]:
    items = api.get(f"/api/v1/commissions?influencer_id={influencer_id}&limit=100").json["items"]
    return [
        (x["amount"], x["rule"].get("cut")) for x in sorted(items, key=lambda x: x["occurred_at"])
    ]


pytestmark = pytest.mark.frozen_at("2026-12-01T09:00:00Z")  # where ``api`` is made


def test_the_monthly_cap_per_influencer_cuts_and_resets_next_month(api: Api, frozen: Any):
    anna = api.create_influencer("anna")
    campaign = api.create_campaign("capped", monthly_cap_per_influencer="15.00")
    api.add_partner(campaign["id"], anna["id"])
    api.create_promo_code(campaign["id"], anna["id"], "ANNA")
    for n, when in enumerate(["2026-10-03T12:00:00Z", "2026-10-04T12:00:00Z",
                              "2026-10-05T12:00:00Z", "2026-11-02T12:00:00Z"]):  # fmt: skip
        assert api.webhook(order(n, when, "ANNA")).json["status"] == "created"
    assert lines(api, anna["id"]) == [
        ("10.00", None),
        ("5.00", "5.00"),  # cut to the 15.00 cap
        ("0.00", "10.00"),  # nothing left this month: the whole line is cut
        ("10.00", None),  # November starts again
    ]
    cut = api.get(f"/api/v1/commissions?influencer_id={anna['id']}").json["items"]
    assert {x["rule"].get("cap") for x in cut} == {None, "monthly_cap"}


def test_the_campaign_budget_is_shared_by_every_influencer(api: Api, frozen: Any):
    campaign = api.create_campaign("budget", budget="25.00")
    people = {}
    for handle in ("anna", "ben"):
        person = api.create_influencer(handle)
        api.add_partner(campaign["id"], person["id"])
        api.create_promo_code(campaign["id"], person["id"], handle.upper())
        people[handle] = person
    sequence = [("anna", "2026-10-03"), ("ben", "2026-10-04"), ("anna", "2026-11-05")]
    for n, (handle, day) in enumerate(sequence):
        assert api.webhook(order(n, f"{day}T12:00:00Z", handle.upper())).json["status"] == "created"
    assert lines(api, people["anna"]["id"]) == [("10.00", None), ("5.00", "5.00")]
    assert lines(api, people["ben"]["id"]) == [("10.00", None)]
    # A refund of the capped order reverses its share of what was recorded, not more.
    refund = {
        "type": "refund",
        "order_id": "C-2",
        "refund_id": "r-1",
        "occurred_at": "2026-11-06T12:00:00Z",
        "amount": "100.00",
    }
    assert api.webhook(refund).json["status"] == "applied"
    items = api.get(f"/api/v1/commissions?influencer_id={people['anna']['id']}").json["items"]
    assert sorted(x["amount"] for x in items if x["kind"] == "reversal") == ["-5.00"]
