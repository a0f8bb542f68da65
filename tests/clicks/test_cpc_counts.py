"""Counting the clicks a cpc rule pays for over any span (a month in the brand's time
zone starts and ends inside UTC days) from the daily roll-up and the edge days' clicks:
always what counting the clicks themselves gives, whatever the span's edges."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from service.clicks.counts import cpc_clicks
from service.clicks.partitions import insert_clicks
from service.clicks.recorder import demote_unique
from service.links.models import Link
from tests.support.app import Api
from tests.support.clicks import stored_click

START = datetime(2026, 10, 30, 0, 0, tzinfo=UTC)
MINUTES = 4 * 24 * 60  # four UTC days, across the end of October
_SEQ = itertools.count()


def _db(api: Api) -> Any:
    return api.app.extensions["afftrack"].db


def _links(api: Api) -> list[str]:
    campaign = api.create_campaign(f"cpcspan{next(_SEQ)}")
    out = []
    for _ in range(2):
        person = api.create_influencer(f"cpcspan{next(_SEQ)}")
        api.add_partner(campaign["id"], person["id"])
        out.append(api.create_link(campaign["id"], person["id"])["id"])
    return out


clicks_strategy = st.lists(
    st.tuples(
        st.integers(0, 1),  # which link
        st.integers(0, MINUTES - 1),  # minutes after START
        st.booleans(),  # a bot
        st.booleans(),  # unique
        st.booleans(),  # sent to the fallback
        st.booleans(),  # demoted afterwards (counted unique across an outage)
    ),
    max_size=40,
)
minute = st.integers(0, MINUTES)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(clicks=clicks_strategy, a=minute, b=minute)
def test_a_spans_cpc_clicks_equal_counting_its_clicks(
    api: Api, clicks: list[tuple[int, int, bool, bool, bool, bool]], a: int, b: int
) -> None:
    with _db(api).engine.begin() as conn:  # each example starts from no clicks
        for table in ("click_daily", "click_monthly", "clicks"):
            conn.execute(text(f"DELETE FROM {table}"))
    links = _links(api)
    rows, demoted = [], []
    for n, (link, at, bot, unique, fallback, demote) in enumerate(clicks):
        click_id = f"clk_span_{n:020d}"
        rows.append(
            stored_click(
                click_id,
                links[link],
                START + timedelta(minutes=at),
                bot=bot,
                unique=unique,
                outcome="fallback" if fallback else "redirect",
            )
        )
        if demote:
            demoted.append(click_id)
    with _db(api).session() as session:
        insert_clicks(session, rows)
        session.commit()
    demote_unique(_db(api), demoted)

    start, end = (START + timedelta(minutes=m) for m in sorted((a, b)))
    expected: dict[str, int] = {}
    for row in rows:
        paid = (
            row["is_unique"]
            and row["id"] not in demoted
            and not row["is_bot"]
            and row["outcome"] == "redirect"
        )
        if paid and start <= row["occurred_at"] < end:
            expected[row["link_id"]] = expected.get(row["link_id"], 0) + 1
    with _db(api).session() as session:
        assert cpc_clicks(session, start, end, Link.id) == expected


def test_a_month_in_a_zone_ahead_of_utc_reads_its_edge_hours_from_the_clicks(api: Api) -> None:
    """October in Europe/Stockholm is 30 September 22:00 to 31 October 23:00 UTC: a click
    at 22:30 UTC on 30 September is in it, one at 23:30 UTC on 31 October is not."""
    link, _other = _links(api)
    at = [
        datetime(2026, 9, 30, 21, 30, tzinfo=UTC),  # September in Stockholm
        datetime(2026, 9, 30, 22, 30, tzinfo=UTC),
        datetime(2026, 10, 15, 12, 0, tzinfo=UTC),
        datetime(2026, 10, 31, 22, 30, tzinfo=UTC),
        datetime(2026, 10, 31, 23, 30, tzinfo=UTC),  # November in Stockholm
    ]
    rows = [stored_click(f"clk_sto_{n:020d}", link, moment) for n, moment in enumerate(at)]
    with _db(api).session() as session:
        insert_clicks(session, rows)
        session.commit()
        start = datetime(2026, 9, 30, 22, 0, tzinfo=UTC)
        end = datetime(2026, 10, 31, 23, 0, tzinfo=UTC)
        assert cpc_clicks(session, start, end, Link.id) == {link: 3}
        whole_days = cpc_clicks(session, datetime(2026, 10, 1, tzinfo=UTC), end, Link.id)
        assert whole_days == {link: 2}
