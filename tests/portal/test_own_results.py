"""An influencer's results in their portal: clicks per UTC day (people, unique, bots
apart, QR scans) from the roll-ups equal to counting their raw clicks, their orders per
day and one by one, and their posts with their engagement rate."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, timedelta
from typing import Any

import pytest

from service.errors import InvalidInput
from service.portal import own
from tests.portal.story import build, db
from tests.support.app import Api

pytestmark = pytest.mark.frozen_at("2026-09-01T09:00:00Z")


def _counted(clicks: list[dict[str, Any]]) -> dict[date, own.DayClicks]:
    """The truth, from the raw clicks themselves."""
    days: dict[date, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for click in clicks:
        c = days[click["occurred_at"].astimezone(UTC).date()]
        human = not click["is_bot"]
        c[0] += human
        c[1] += human and click["is_unique"]
        c[2] += click["is_bot"]
        c[3] += human and click["source"] == "qr"
    return {day: own.DayClicks(day, *c) for day, c in days.items()}


def test_clicks_per_day_are_those_of_their_own_links(api: Api, frozen: Any) -> None:
    story = build(api, frozen)
    start, end = date(2026, 9, 1), date(2026, 9, 10)
    with db(api).read_session() as s:
        anna = own.clicks_by_day(s, story.anna.id, start, end)
        ben = own.clicks_by_day(s, story.ben.id, start, end)
    for person, shown in ((story.anna, anna), (story.ben, ben)):
        truth = _counted(person.clicks)
        assert len(truth) >= 5  # the clicks span several days, bots and QR scans among them
        assert [d.day for d in shown] == [start + timedelta(days=n) for n in range(10)]
        assert shown == [truth.get(d.day, own.DayClicks(d.day)) for d in shown]
        assert sum(d.bot_clicks for d in shown) > 0 and sum(d.qr_scans for d in shown) > 0


def test_a_span_of_days_backwards_or_over_a_year_is_refused(api: Api, frozen: Any) -> None:
    story = build(api, frozen)
    with db(api).read_session() as s:
        for read in (own.clicks_by_day, own.conversions_by_day):
            with pytest.raises(InvalidInput):
                read(s, story.anna.id, date(2026, 9, 2), date(2026, 9, 1))
            with pytest.raises(InvalidInput):
                read(s, story.anna.id, date(2025, 9, 1), date(2026, 9, 2))  # 367 days
            read(s, story.anna.id, date(2025, 9, 2), date(2026, 9, 2))  # 366 days


def test_orders_per_day_and_one_by_one(api: Api, frozen: Any) -> None:
    story = build(api, frozen)
    with db(api).read_session() as s:
        days = own.conversions_by_day(s, story.anna.id, date(2026, 9, 1), date(2026, 10, 31))
        orders = own.orders_of(s, story.anna.id).items
        first = own.orders_of(s, story.anna.id, limit=2)
        second = own.orders_of(s, story.anna.id, cursor=first.next_cursor, limit=2)
    # The order refunded in full still counts, with nothing left of its revenue.
    assert days == [
        own.DayConversions(date(2026, 9, 5), "EUR", 1, 0),
        own.DayConversions(date(2026, 10, 10), "EUR", 1, 5000),
        own.DayConversions(date(2026, 10, 20), "EUR", 1, 3000),
    ]
    truth: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    for order in orders:
        if order.status != "cancelled":
            truth[order.occurred_at.date()][0] += 1
            truth[order.occurred_at.date()][1] += order.amount_minor - order.refunded_minor
    assert {d.day: [d.conversions, d.revenue_minor] for d in days} == truth
    assert [(o.order_ref, o.status, o.method) for o in orders] == [
        ("•••0003", "open", "promo_code"),
        ("•••0002", "open", "promo_code"),
        ("•••0001", "refunded", "promo_code"),
    ]
    assert [o.id for o in first.items + second.items] == [o.id for o in orders]
    assert second.next_cursor is None


def test_posts_carry_their_figures_and_engagement_rate(api: Api, frozen: Any) -> None:
    story = build(api, frozen)
    with db(api).read_session() as s:
        [anna] = own.posts_of(s, story.anna.id)
        ben = own.post(s, story.ben.id, story.ben.post_id)
    assert anna.metrics == {
        "impressions": 9000,
        "reach": 7000,
        "views": 0,
        "likes": 100,
        "comments": 50,
        "shares": 0,
        "saves": 0,
    }
    # (likes + comments) / followers on the platform: 150 / 5,000 and 150 / 20,000.
    assert (anna.followers, anna.engagement_rate) == (5000, "0.0300")
    assert (ben.followers, ben.engagement_rate) == (20000, "0.0075")
