"""An influencer's commissions, balance and statements in their portal: each line's
status as shown (pending with its due date, approved, paid, rejected with its reason),
the balance per currency with a negative month carried forward, and each closed
month's statement equal to that month's export for them."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import pytest

from service.errors import InvalidInput
from service.portal import own
from tests.portal.story import REJECT_REASON, build, db
from tests.support.app import Api

pytestmark = pytest.mark.frozen_at("2026-09-01T09:00:00Z")


def test_each_line_shows_its_status_due_date_and_reason(api: Api, frozen: Any) -> None:
    story = build(api, frozen)
    with db(api).read_session() as s:
        lines = own.commissions(s, story.anna.id, limit=200).items
        by_status = {
            status: own.commissions(s, story.anna.id, status=status).items
            for status in ("pending", "approved", "paid", "rejected")
        }
    shown = sorted((line.kind, line.amount_minor, line.status, line.paid_in) for line in lines)
    assert shown == [
        ("adjustment", -1000, "approved", None),  # October's negative balance, brought in
        ("adjustment", 1000, "paid", "2026-10"),  # ... taken out of October's statement
        ("reversal", -1000, "paid", "2026-10"),  # the September order refunded in October
        ("sale", 300, "pending", None),
        ("sale", 500, "rejected", None),
        ("sale", 1000, "paid", "2026-09"),
    ]
    [pending] = by_status["pending"]
    assert pending.due_at == datetime(2026, 11, 3, 10, 0, tzinfo=UTC)  # 20 Oct + 14 days
    [rejected] = by_status["rejected"]
    assert (rejected.id, rejected.reason) == (story.rejected_line_id, REJECT_REASON)
    assert rejected.order_ref == "•••0002"
    [carried] = by_status["approved"]
    assert carried.reason == "negative balance carried forward from 2026-10"
    assert sorted(line.amount_minor for line in by_status["paid"]) == [-1000, 1000, 1000]
    assert sum(len(found) for found in by_status.values()) == len(lines)


def test_lines_come_newest_first_a_page_at_a_time(api: Api, frozen: Any) -> None:
    story = build(api, frozen)
    with db(api).read_session() as s:
        everything = [line.id for line in own.commissions(s, story.anna.id, limit=200).items]
        paged, cursor = [], None
        while True:
            page = own.commissions(s, story.anna.id, cursor=cursor, limit=4)
            paged += [line.id for line in page.items]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert paged == everything == sorted(everything, reverse=True)
        for bad in ({"limit": 0}, {"limit": 201}, {"status": "due"}, {"cursor": "not a cursor!"}):
            with pytest.raises(InvalidInput):
                own.commissions(s, story.anna.id, **bad)


def test_the_balance_carries_a_negative_month_forward(api: Api, frozen: Any) -> None:
    """anna was paid 10.00 for September; the order came back in October, which netted
    -10.00 and paid nothing: that -10.00 is carried into November, where a 3.00 sale is
    still pending. ben was paid for both months and is owed nothing."""
    story = build(api, frozen)
    with db(api).read_session() as s:
        anna = own.balances(s, story.anna.id)
        ben = own.balances(s, story.ben.id)
        months = own.statements(s, story.anna.id)
    assert anna == [
        own.Balance(
            currency="EUR",
            pending_minor=300,
            approved_minor=-1000,
            paid_minor=1000,
            carried_forward_minor=-1000,
            balance_minor=-700,
        )
    ]
    assert ben == [own.Balance("EUR", 0, 0, 2800, 0, 0)]
    # What the closed months paid her adds up to what the balance says was paid.
    assert [(m.period, m.totals) for m in months] == [
        ("2026-10", [own.StatementTotal("EUR", 0)]),
        ("2026-09", [own.StatementTotal("EUR", 1000)]),
    ]
    summary = api.get("/api/v1/exports/commissions/2026-10?format=json").json["rows"]
    [hers] = [row for row in summary if row["influencer_id"] == story.anna.id]
    assert (hers["net_payable"], hers["carried_forward"]) == ("0.00", "10.00")


def _own_rows(body: str, influencer_id: str) -> str:
    """The detail CSV's header and the rows of ``influencer_id``, exactly as written."""
    head, *rows = body.split("\r\n")[:-1]
    column = next(csv.reader([head])).index("influencer_id")
    theirs = [row for row in rows if next(csv.reader([row]))[column] == influencer_id]
    return "".join(f"{line}\r\n" for line in (head, *theirs))


def test_a_statement_is_the_closed_exports_lines_for_them(api: Api, frozen: Any) -> None:
    story = build(api, frozen)
    for period in ("2026-09", "2026-10"):
        detail = api.get(f"/api/v1/exports/commissions/{period}?detail=lines")
        assert detail.status_code == 200
        body = detail.data.decode()
        with db(api).read_session() as s:
            for person in (story.anna, story.ben):
                mine = own.statement_csv(s, person.id, period)
                assert mine.decode() == _own_rows(body, person.id)
                page = own.statement(s, person.id, period)
                rows = list(csv.DictReader(io.StringIO(mine.decode())))
                assert [line.id for line in page.lines] == [r["line_id"] for r in rows]
                assert {row.influencer_id for row in page.rows} == {person.id}
    with db(api).read_session() as s:
        october = own.statement(s, story.anna.id, "2026-10")
    [row] = october.rows
    assert (row.gross, row.reversals, row.adjustments, row.net_payable) == (0, -1000, 1000, 0)
    assert row.carried_forward == 1000
    assert sorted(line.order_ref or "" for line in october.lines) == ["", "•••0001"]


def test_a_statements_lines_come_a_page_at_a_time(api: Api, frozen: Any) -> None:
    """A month holds a line per order: its page shows them a page at a time, in the
    CSV's order, and a place in the list that is not a line of theirs in that month is
    refused."""
    story = build(api, frozen)
    with db(api).read_session() as s:
        whole = own.statement(s, story.anna.id, "2026-10", limit=200)
        assert whole.next_cursor is None and len(whole.lines) == 2
        first = own.statement(s, story.anna.id, "2026-10", limit=1)
        second = own.statement(s, story.anna.id, "2026-10", cursor=first.next_cursor, limit=1)
        assert first.next_cursor == first.lines[0].id and second.next_cursor is None
        assert [line.id for line in first.lines + second.lines] == [line.id for line in whole.lines]
        assert first.rows == second.rows == whole.rows  # the summary on every page
        september = own.statement(s, story.anna.id, "2026-09", limit=200).lines[0].id
        ben = own.statement(s, story.ben.id, "2026-10", limit=200).lines[0].id
        for elsewhere in (september, ben, "cml_unknown", "not a cursor!"):
            with pytest.raises(InvalidInput):
                own.statement(s, story.anna.id, "2026-10", cursor=elsewhere, limit=1)
