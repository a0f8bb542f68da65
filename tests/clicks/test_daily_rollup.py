"""The daily click roll-up: kept by the database as clicks are written, by
every path (COPY, a retried batch through ON CONFLICT, single inserts), exactly: it
always equals counting the clicks themselves, which is what the report used to do."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from service.clicks.partitions import copy_clicks, insert_clicks
from tests.support.app import Api
from tests.support.clicks import stored_click

START = datetime(2026, 10, 30, 22, 0, tzinfo=UTC)
_SEQ = itertools.count()  # batches cross midnight and the month


def db(api: Api) -> Any:
    return api.app.extensions["afftrack"].db


def links(api: Api, n: int = 2) -> list[str]:
    campaign = api.create_campaign(f"roll{next(_SEQ)}")
    out = []
    for _ in range(n):
        person = api.create_influencer(f"roll{next(_SEQ)}")
        api.add_partner(campaign["id"], person["id"])
        out.append(api.create_link(campaign["id"], person["id"])["id"])
    return out


def click(
    n: int, link_id: str, minutes: int, bot: bool, unique: bool, fallback: bool = False
) -> dict[str, Any]:
    return stored_click(
        f"clk_{n:026d}",
        link_id,
        START + timedelta(minutes=minutes),
        bot=bot,
        unique=unique,
        outcome="fallback" if fallback else "redirect",
    )


Counts = tuple[int, int, int, int]  # clicks, unique_clicks, bot_clicks, cpc_clicks


def from_clicks(api: Api) -> dict[tuple[str, str], Counts]:
    """The same counts worked out from the clicks themselves, in Python."""
    counts: dict[tuple[str, str], list[int]] = {}
    with db(api).engine.connect() as conn:
        for link_id, occurred_at, is_bot, is_unique, outcome in conn.execute(
            text("SELECT link_id, occurred_at, is_bot, is_unique, outcome FROM clicks")
        ):
            if isinstance(occurred_at, str):  # SQLite
                occurred_at = datetime.fromisoformat(occurred_at)
            day = occurred_at if occurred_at.tzinfo is None else occurred_at.astimezone(UTC)
            c = counts.setdefault((link_id, day.date().isoformat()), [0, 0, 0, 0])
            c[0] += not is_bot
            c[1] += (not is_bot) and bool(is_unique)
            c[2] += bool(is_bot)
            c[3] += (not is_bot) and bool(is_unique) and outcome == "redirect"
    return {k: (v[0], v[1], v[2], v[3]) for k, v in counts.items()}


def rolled_up(api: Api) -> dict[tuple[str, str], Counts]:
    with db(api).engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT link_id, day, clicks, unique_clicks, bot_clicks, cpc_clicks "
                "FROM click_daily"
            )
        ).all()
    return {(r[0], str(r[1])): (int(r[2]), int(r[3]), int(r[4]), int(r[5])) for r in rows}


def write(api: Api, rows: list[dict[str, Any]], how: str) -> None:
    if how == "copy" and api.app.extensions["afftrack"].db.engine.dialect.name == "postgresql":
        with db(api).engine.begin() as conn:
            copy_clicks(conn, rows)
    else:
        with db(api).session() as session:
            insert_clicks(session, rows)
            session.commit()


batches = st.lists(
    st.lists(
        st.tuples(
            st.integers(0, 59),  # which click (ids repeat across batches: retries)
            st.integers(0, 1),  # which link
            st.integers(0, 60 * 30),  # minutes after START: three days, two months
            st.booleans(),
            st.booleans(),
            st.booleans(),  # sent to the fallback (a paused link)
        ),
        min_size=1,
        max_size=15,
    ),
    min_size=1,
    max_size=5,
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=batches, how=st.sampled_from(["copy", "insert"]))
def test_the_roll_up_equals_counting_the_clicks(api: Api, batches: list, how: str) -> None:
    with db(api).engine.begin() as conn:  # each example starts from no clicks
        conn.execute(text("DELETE FROM click_daily"))
        conn.execute(text("DELETE FROM clicks"))
    ids = links(api)
    first: dict[int, dict[str, Any]] = {}
    for batch in batches:
        rows = []
        for n, link, minutes, bot, unique, fallback in batch:
            # A click id written again is the same click (a retried batch), never new.
            row = first.setdefault(n, click(n, ids[link], minutes, bot, unique, fallback))
            if row not in rows:
                rows.append(row)
        write(api, rows, how)
    assert rolled_up(api) == from_clicks(api)
    assert sum(v[0] + v[2] for v in rolled_up(api).values()) == len(first)


def test_a_retried_batch_adds_nothing_and_the_report_reads_the_roll_up(api: Api) -> None:
    a, b = links(api)
    rows = [
        click(i, a if i % 3 else b, i * 37, i % 5 == 0, i % 2 == 0, i % 7 == 0) for i in range(40)
    ]
    write(api, rows, "copy")
    before = rolled_up(api)
    write(api, rows[10:], "copy")  # the same batch again (the worker crashed before XACK)
    write(api, rows[:5], "insert")
    assert rolled_up(api) == before == from_clicks(api)

    campaign_id = api.get(f"/api/v1/links/{a}").json["campaign_id"]
    report = api.get(
        f"/api/v1/reports/campaigns/{campaign_id}?from=2026-10-30&to=2026-11-01&group_by=day"
    ).json
    by_day: dict[str, list[int]] = {}
    for (_link, day), (humans, unique, bots, _paid) in from_clicks(api).items():
        got = by_day.setdefault(day, [0, 0, 0])
        got[0], got[1], got[2] = got[0] + humans, got[1] + unique, got[2] + bots
    assert {
        r["key"]: [r["clicks"], r["unique_clicks"], r["bot_clicks"]] for r in report["rows"]
    } == by_day
    assert len(by_day) == 2  # 22:00 on 30 October plus 40 times 37 minutes: two days
