"""Month-end settlement (docs/product.md §5, §6 and §10): the tiered ``true_up`` and the
``cpc`` lines.

Building an export (GET) changes nothing: for a month that is still open it shows the
settlement lines closing would write, with the same ids, amounts and due dates (for the
month still running, as if it ended now, each marked ``projected`` in the detail).
Closing writes them into the ledger, then pays the month's lines. A close settles every
month since the last close and, for tiered rules, earlier months whose orders changed
since; ``afftrack ledger settle --month`` writes one month's settlement at once.

Expected amounts are computed here, independently of ``service.commissions.rules``: the
brackets with :class:`fractions.Fraction` and Python's own half-even ``round``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import threading
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from service.commissions.settlement import Settled, settle
from service.models import metadata
from tests.support.app import Api
from tests.support.brackets import by_hand
from tests.support.settlement import (
    CPC,
    TIERED,
    HeldClick,
    Parts,
    cents,
    click,
    close,
    is_pg,
    lines,
    of_kind,
    order,
    refund,
    total,
)

BOT_UA = "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"
OCTOBER_LAST = "2026-10-31T23:59:59.999999+00:00"  # October's last instant, as exported

# 10% up to 100.00, 12.5% up to 250.00, 15% above (EUR, minor units below).
BRACKETS = [(10_000, Fraction(10, 100)), (25_000, Fraction(125, 1000)), (None, Fraction(15, 100))]
# Nothing on the first 100.00 of a month, 10% above it.
BONUS = {
    "type": "tiered_percent",
    "tiers": [{"up_to": "100.00", "rate": "0"}, {"up_to": None, "rate": "10"}],
}


# --- independent arithmetic ------------------------------------------------------------


def formula(net_minor: int, brackets: list[tuple[int | None, Fraction]] = BRACKETS) -> int:
    """Marginal brackets over ``net_minor``, rounded half-even once (Python's round)."""
    return round(by_hand(net_minor, brackets))  # Fraction.__round__ rounds half to even


def eur(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d}"


def test_the_independent_formula_itself():
    assert formula(0) == 0
    assert formula(10_000) == 1_000
    assert formula(25_000) == 1_000 + 1_875
    assert formula(30_000) == 1_000 + 1_875 + 750
    assert formula(5) == 0  # 0.5 minor: half to even
    assert formula(15) == 2  # 1.5 minor: half to even
    assert formula(10_004) == 1_000  # 1000 + 0.5 → 1000
    assert formula(10_012) == 1_002  # 1000 + 1.5 → 1002


# --- fixtures and helpers --------------------------------------------------------------


def fresh(api: Api) -> None:
    """Empty every table but the API keys (one hypothesis example must not see the
    exports an earlier one closed)."""
    db = api.app.extensions["afftrack"].db
    tables = [t for t in metadata.sorted_tables if t.name != "api_keys"]
    with db.engine.begin() as conn:
        if is_pg(api):
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t.name}"' for t in tables)))
        else:
            for table in reversed(tables):
                conn.execute(table.delete())


def cancel(api: Api, frozen: Any, parts: Parts, order_id: str, when: str) -> None:
    frozen.set(when)
    body = {"type": "cancel", "order_id": f"{parts.tag}-{order_id}", "occurred_at": when}
    r = api.webhook(body)
    assert r.status_code == 200 and r.json["status"] == "applied", r.json


def month_lines(api: Api, items: list[dict], month: str, *kinds: str) -> list[dict]:
    """The lines that belong to ``month``: a settlement line by its rule's month, a sale
    or reversal by the month of its order (a refund's line may come months later)."""
    r = api.get("/api/v1/conversions?limit=200")
    order_month = {c["id"]: c["occurred_at"][:7] for c in r.json["items"]}
    return [
        x
        for x in of_kind(items, *kinds)
        if (x["rule"] or {}).get("month") == month
        or (x["conversion_id"] and order_month[x["conversion_id"]] == month)
    ]


def export(api: Api, period: str, query: str = "") -> bytes:
    r = api.get(f"/api/v1/exports/commissions/{period}{query}")
    assert r.status_code == 200, r.data
    return r.data


def summary(api: Api, period: str) -> dict[str, dict]:
    body = export(api, period).decode()
    return {row["handle"]: row for row in csv.DictReader(io.StringIO(body))}


def detail(api: Api, period: str) -> list[dict]:
    body = export(api, period, "?detail=lines").decode()
    return list(csv.DictReader(io.StringIO(body)))


def rows_of(rows: list[dict], *kinds: str) -> list[dict]:
    return [r for r in rows if r["kind"] in kinds]


def ledger_state(api: Api) -> list[tuple]:
    """Every line as stored (and every export): what 'changes nothing' compares."""
    db = api.app.extensions["afftrack"].db
    with db.engine.connect() as conn:
        lines_now = conn.execute(
            text(
                "SELECT id, idempotency_key, kind, amount_minor, status, export_id, due_at "
                "FROM commission_lines ORDER BY id"
            )
        ).all()
        exports = conn.execute(text("SELECT period, checksum FROM exports ORDER BY period")).all()
    return [tuple(row) for row in lines_now] + [tuple(row) for row in exports]


def settlement_keys(api: Api) -> list[str]:
    db = api.app.extensions["afftrack"].db
    with db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT idempotency_key FROM commission_lines "
                "WHERE kind IN ('true_up', 'cpc') ORDER BY idempotency_key"
            )
        )
        return [row[0] for row in rows]


def without_status(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "status"} for r in rows]


def same_but_paid(preview: list[dict], closed: list[dict]) -> None:
    """The closed detail is the preview with every line's status approved → paid."""
    assert preview, "an empty statement proves nothing"
    assert {r["status"] for r in preview} == {"approved"}
    assert {r["status"] for r in closed} == {"paid"}
    assert without_status(closed) == without_status(preview)


def verified(api: Api) -> str:
    result = api.app.test_cli_runner().invoke(args=["ledger", "verify"])
    assert result.exit_code == 0, result.output
    return result.output


def settle_cli(api: Api, month: str) -> Any:
    return api.app.test_cli_runner().invoke(args=["ledger", "settle", "--month", month])


def out_of_order_pair(api: Api, frozen: Any, parts: Parts) -> None:
    """Two 100.00 orders delivered latest-first: each is booked in the first bracket
    (10.00 + 10.00) while the month's 200.00 earns 22.50, so the true-up is +2.50."""
    order(api, frozen, parts, "B", "2026-10-05T12:00:00Z", "100.00", now="2026-10-05T12:00:00Z")
    order(api, frozen, parts, "A", "2026-10-03T12:00:00Z", "100.00", now="2026-10-06T12:00:00Z")


def pending_october(api: Api, frozen: Any, rules: list[dict] | None = None, **campaign: Any):
    """The out-of-order pair (+2.50 to true up) and one unique click (cpc 0.05)."""
    parts = Parts(api, rules or [TIERED, CPC], **campaign)
    link = api.create_link(parts.campaign_id, parts.influencer_id)
    out_of_order_pair(api, frozen, parts)
    frozen.set("2026-10-10T10:00:00Z")
    click(api, link["code"], "198.51.100.1")
    return parts, link


# --- 1. the tiered month total equals the formula (hypothesis) -----------------------------

# Amounts around the brackets (100.00, 250.00) so that a few orders cross them, on days
# that make deliveries arrive out of order; refunds by percent of what is left (100: all).
order_amounts = st.one_of(st.integers(5_000, 15_000), st.integers(1, 20_000))
events = st.lists(
    st.one_of(
        st.tuples(st.just("order"), order_amounts, st.integers(2, 28)),
        st.tuples(st.just("order"), order_amounts, st.integers(2, 28)),
        st.tuples(st.just("refund"), st.integers(0, 50), st.sampled_from([100, 1, 33, 50, 99])),
        st.tuples(st.just("cancel"), st.integers(0, 50), st.just(0)),
    ),
    min_size=2,
    max_size=8,
)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=events, later=st.lists(st.tuples(st.integers(0, 50), st.integers(1, 100)), max_size=2))
# Always tried: orders delivered latest-first across the first bracket with a partial
# refund (a positive true-up), then a full refund after the close (a negative one); a
# cancel after a bracket crossing; and a full refund after the close of an order whose
# line is 0.00 (no reversal line is written, the month must be settled again anyway).
@example(
    ops=[("order", 10_000, 20), ("order", 10_000, 5), ("refund", 0, 50), ("order", 9_999, 3)],
    later=[(1, 100)],
)
@example(ops=[("order", 20_001, 2), ("order", 15_003, 9), ("cancel", 0, 0)], later=[])
@example(ops=[("order", 5, 3), ("order", 10_000, 4)], later=[(0, 100)])
def test_tiered_month_total_equals_the_formula(api: Api, frozen: Any, ops: list, later: list):
    """Orders (delivered in any order of their times), partial and full refunds and
    cancellations: the export of the ended month previews a true-up that brings the
    month's sale + reversal + true-up lines to the bracket formula over the net sales,
    rounded once, without writing it; closing writes exactly that. Refunds after the
    close are trued up when November is closed, and November's export pays it all."""
    fresh(api)
    frozen.set("2026-10-01T09:00:00Z")
    parts = Parts(api, [TIERED])
    amounts: list[int] = []
    refunded: list[int] = []
    cancelled: list[bool] = []
    refunds = itertools.count(1)

    def apply_refund(pick: int, percent: int, when: str) -> None:
        if not amounts:
            return
        i = pick % len(amounts)
        left = amounts[i] - refunded[i]
        if left <= 0 or cancelled[i]:
            return
        amount = left if percent == 100 else max(1, left * percent // 100)
        refund(api, frozen, parts, str(i), f"r-{next(refunds)}", when, eur(amount))
        refunded[i] += amount

    for n, (kind, a, b) in enumerate(ops):
        wall = f"2026-10-29T12:{n:02d}:00Z"
        if kind == "order":
            when = f"2026-10-{b:02d}T12:00:{n:02d}Z"
            order(api, frozen, parts, str(len(amounts)), when, eur(a), now=wall)
            amounts.append(a)
            refunded.append(0)
            cancelled.append(False)
        elif kind == "refund":
            apply_refund(a, b, wall)
        elif amounts and not cancelled[a % len(amounts)]:
            cancel(api, frozen, parts, str(a % len(amounts)), wall)
            cancelled[a % len(amounts)] = True

    def net() -> int:
        return sum(0 if c else m - r for m, r, c in zip(amounts, refunded, cancelled, strict=True))

    tiered = ("sale", "reversal", "true_up")
    frozen.set("2026-11-02T08:00:00Z")
    state = ledger_state(api)
    preview = detail(api, "2026-10")
    preview_summary = export(api, "2026-10")
    assert ledger_state(api) == state  # building the export wrote nothing
    expected = formula(net())
    # hold_days 0: every line is due in October, so the export holds all of them.
    assert sum(cents(r["amount"]) for r in rows_of(preview, *tiered)) == expected
    assert len(rows_of(preview, "true_up")) <= 1
    row = {r["handle"]: r for r in csv.DictReader(io.StringIO(preview_summary.decode()))}
    if preview:
        assert row[parts.handle]["net_payable"] == eur(expected)

    close(api, "2026-10")
    items = lines(api, parts.campaign_id)
    assert total(items, *tiered) == expected
    assert [x["id"] for x in of_kind(items, "true_up")] == [
        r["line_id"] for r in rows_of(preview, "true_up")
    ]
    if preview:
        same_but_paid(preview, detail(api, "2026-10"))
    assert export(api, "2026-10") == preview_summary

    # Refunds after the close: November's close trues October up again.
    for n, (pick, percent) in enumerate(later):
        apply_refund(pick, percent, f"2026-11-02T09:{n:02d}:00Z")
    frozen.set("2026-12-01T08:00:00Z")
    state = ledger_state(api)
    november = detail(api, "2026-11")
    assert ledger_state(api) == state
    close(api, "2026-11")
    items = lines(api, parts.campaign_id)
    assert total(month_lines(api, items, "2026-10", *tiered)) == formula(net())
    assert len(of_kind(items, "true_up")) <= 2
    # Every line is paid by October's or November's export (a negative November is
    # carried forward to December by a line of its own, outside the month's sums).
    carried = [x for x in items if x["kind"] == "adjustment" and x["export_id"] is None]
    assert len(carried) <= 1 and all(cents(x["amount"]) < 0 for x in carried)
    assert all(x["status"] == "paid" for x in items if x not in carried)
    # The closed detail is the preview, a carry-forward line included.
    closed_rows = detail(api, "2026-11")
    if november:
        same_but_paid(november, closed_rows)
    verified(api)


# --- 2. the preview: GET writes nothing, shows what closing writes -------------------------------


PREVIEWS = ("", "?format=json", "?format=paypal", "?detail=lines", "?detail=lines&format=json")


def october_built_writing_nothing(api: Api) -> tuple[dict[str, bytes], list[tuple]]:
    """October's export in every preview form, checked to write nothing: the ledger
    holds the two sale lines of ``pending_october`` and nothing more, unchanged (its
    state is returned, for the caller's later checks)."""
    count, state = api.rows("commission_lines"), ledger_state(api)
    built = {q: export(api, "2026-10", q) for q in PREVIEWS}
    assert api.rows("commission_lines") == count == 2  # the two sale lines, nothing more
    assert ledger_state(api) == state
    return built, state


def test_the_export_of_an_ended_month_previews_its_settlement_and_writes_nothing(
    api: Api, frozen: Any
):
    parts, _link = pending_october(api, frozen)
    frozen.set("2026-11-02T08:00:00Z")
    first, state = october_built_writing_nothing(api)
    assert not of_kind(lines(api, parts.campaign_id), "true_up", "cpc")

    rows = detail(api, "2026-10")
    [true_up] = rows_of(rows, "true_up")
    [cpc] = rows_of(rows, "cpc")
    assert (true_up["amount"], cpc["amount"]) == ("2.50", "0.05")
    assert true_up["due_at"] == cpc["due_at"] == OCTOBER_LAST
    assert true_up["status"] == cpc["status"] == "approved"
    assert true_up["conversion_id"] == cpc["conversion_id"] == ""
    true_up_rule, cpc_rule = json.loads(true_up["rule"]), json.loads(cpc["rule"])
    assert (true_up_rule["month"], true_up_rule["sales"], true_up_rule["recorded"]) == (
        "2026-10",
        "200.00",
        "20.00",
    )
    assert (cpc_rule["month"], cpc_rule["clicks"]) == ("2026-10", 1)
    assert summary(api, "2026-10")[parts.handle]["net_payable"] == "22.55"
    assert summary(api, "2026-10")[parts.handle]["lines"] == "4"
    as_json = json.loads(first["?detail=lines&format=json"])
    assert sorted(x["kind"] for x in as_json["lines"]) == ["cpc", "sale", "sale", "true_up"]
    assert first["?format=paypal"].decode().split(",")[1] == "22.55"

    frozen.set("2026-11-20T08:00:00Z")  # later, same month: nothing has changed
    for query, body in first.items():
        assert export(api, "2026-10", query) == body, query
    cli = api.app.test_cli_runner().invoke(args=["export", "commissions", "--month", "2026-10"])
    assert cli.exit_code == 0, cli.output
    assert cli.stdout_bytes == first[""]
    assert ledger_state(api) == state
    verified(api)


def test_closing_writes_exactly_the_previewed_lines(api: Api, frozen: Any):
    parts, _link = pending_october(api, frozen)
    frozen.set("2026-11-02T08:00:00Z")
    preview = detail(api, "2026-10")
    preview_json = json.loads(export(api, "2026-10", "?detail=lines&format=json"))
    preview_summary = export(api, "2026-10")

    frozen.set("2026-11-03T10:00:00Z")  # closed a day later: the same lines
    closed = close(api, "2026-10")
    assert closed["checksum"] == hashlib.sha256(preview_summary).hexdigest()
    assert closed["totals"] == [{"currency": "EUR", "net_payable": "22.55"}]
    assert export(api, "2026-10") == preview_summary
    same_but_paid(preview, detail(api, "2026-10"))
    closed_json = json.loads(export(api, "2026-10", "?detail=lines&format=json"))
    assert [x.pop("status") for x in closed_json["lines"]] == ["paid"] * 4
    assert [x.pop("status") for x in preview_json["lines"]] == ["approved"] * 4
    assert closed_json == preview_json

    # The ledger now holds them: same ids, amounts and due dates, paid by this export.
    items = lines(api, parts.campaign_id)
    written = {x["id"]: x for x in of_kind(items, "true_up", "cpc")}
    planned = {r["line_id"]: r for r in rows_of(preview, "true_up", "cpc")}
    assert sorted(written) == sorted(planned)
    for line_id, line in written.items():
        assert line["amount"] == planned[line_id]["amount"]
        assert line["due_at"] == planned[line_id]["due_at"]
        assert line["status"] == "paid" and line["export_id"] is not None
        assert line["occurred_at"] == OCTOBER_LAST
    pid = parts.partner["id"]
    assert settlement_keys(api) == [f"cpc:{pid}:1:2026-10:0", f"true_up:{pid}:0:2026-10:0"]
    # Closed: the export is rebuilt from what it paid and previews nothing more.
    frozen.set("2026-12-05T08:00:00Z")
    assert export(api, "2026-10") == preview_summary
    verified(api)


def test_a_preview_of_several_influencers_merges_planned_lines_in_order(api: Api, frozen: Any):
    """Planned (true-up, CPC) lines of several influencers merged among the written ones
    by (influencer, currency, line id), CSV and JSON alike, as the closed file has them."""
    for _ in range(4):
        pending_october(api, frozen)
    frozen.set("2026-11-02T08:00:00Z")
    preview = detail(api, "2026-10")
    preview_json = json.loads(export(api, "2026-10", "?detail=lines&format=json"))["lines"]
    keys = [(r["influencer_id"], r["currency"], r["line_id"]) for r in preview]
    assert len(rows_of(preview, "true_up", "cpc")) == 8 and len(keys) == 16
    assert keys == sorted(keys)
    assert [(x["influencer_id"], x["currency"], x["line_id"]) for x in preview_json] == keys

    close(api, "2026-10")
    same_but_paid(preview, detail(api, "2026-10"))
    closed_json = json.loads(export(api, "2026-10", "?detail=lines&format=json"))["lines"]
    assert [x.pop("status") for x in closed_json] == ["paid"] * 16
    assert [x.pop("status") for x in preview_json] == ["approved"] * 16
    assert closed_json == preview_json


def test_an_influencer_with_only_projected_cpc_lines_is_in_the_preview_summary(
    api: Api, frozen: Any
):
    """Their only lines exist in no table yet: the preview summary must add their row
    (in handle order among the rows read from the ledger), and closing must pay it."""
    seller = Parts(api, [{"type": "percent", "rate": "10"}], prefix="m")
    first = Parts(api, [CPC], prefix="a")  # sorts before the seller
    last = Parts(api, [CPC], prefix="z")  # and after
    order(api, frozen, seller, "A", "2026-10-03T12:00:00Z", "100.00")
    for n, parts in enumerate((first, last, first)):
        link = api.create_link(parts.campaign_id, parts.influencer_id)
        frozen.set(f"2026-10-1{n}T10:00:00Z")
        click(api, link["code"], f"198.51.100.{n + 1}")
        click(api, link["code"], f"198.51.100.{n + 11}")

    frozen.set("2026-11-02T08:00:00Z")
    state = ledger_state(api)
    body = export(api, "2026-10")
    assert ledger_state(api) == state
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert [r["handle"] for r in rows] == [first.handle, seller.handle, last.handle]
    cells = ("gross", "reversals", "adjustments", "net_payable", "orders", "lines")
    by_handle = {r["handle"]: tuple(r[c] for c in cells) for r in rows}
    assert by_handle == {
        first.handle: ("0.20", "0.00", "0.00", "0.20", "0", "1"),  # 4 clicks, 2 links
        seller.handle: ("10.00", "0.00", "0.00", "10.00", "1", "1"),
        last.handle: ("0.10", "0.00", "0.00", "0.10", "0", "1"),
    }
    assert {r["influencer_id"] for r in rows} == {p.influencer_id for p in (first, seller, last)}
    assert rows[0]["payout_email"] == f"{first.handle}@example.com"
    summary_json = json.loads(export(api, "2026-10", "?format=json"))
    assert [r["handle"] for r in summary_json["rows"]] == [r["handle"] for r in rows]
    paypal = export(api, "2026-10", "?format=paypal").decode().splitlines()
    assert [line.split(",")[1] for line in paypal] == ["0.20", "10.00", "0.10"]

    closed = close(api, "2026-10")
    assert closed["checksum"] == hashlib.sha256(body).hexdigest()
    assert export(api, "2026-10") == body
    assert [x["amount"] for x in of_kind(lines(api, first.campaign_id), "cpc")] == ["0.20"]
    verified(api)


def test_a_month_cannot_be_closed_twice(api: Api, frozen: Any):
    parts, _link = pending_october(api, frozen)
    frozen.set("2026-11-02T08:00:00Z")
    first = close(api, "2026-10")
    body = export(api, "2026-10")
    assert len(settlement_keys(api)) == 2

    # Something new for October (a refund of one of its orders): a second close still
    # changes nothing, neither the ledger nor the closed statement.
    refund(api, frozen, parts, "A", "r-1", "2026-11-04T08:00:00Z", "50.00")
    state = ledger_state(api)
    for _ in range(2):
        again = api.post("/api/v1/exports/commissions/2026-10/close")
        assert again.status_code == 409, again.json
        assert again.json["error"]["code"] == "already_closed"
        assert ledger_state(api) == state
    assert export(api, "2026-10") == body
    cli = api.app.test_cli_runner().invoke(
        args=["export", "commissions", "--month", "2026-10", "--close"]
    )
    assert cli.exit_code != 0 and "already closed" in cli.output
    assert ledger_state(api) == state
    assert api.rows("exports") == 1
    assert first["checksum"] == hashlib.sha256(body).hexdigest()
    verified(api)


# --- 3. changes after a close: settled again by the next close ------------------------------


def test_a_refund_after_close_is_trued_up_when_the_next_month_is_closed(api: Api, frozen: Any):
    parts = Parts(api, [TIERED])
    out_of_order_pair(api, frozen, parts)  # 10.00 + 10.00, true-up +2.50
    frozen.set("2026-11-02T08:00:00Z")
    closed = close(api, "2026-10")
    assert closed["totals"] == [{"currency": "EUR", "net_payable": "22.50"}]
    october = export(api, "2026-10")

    # 60.00 of order A refunded in November: its line (10.00) loses 6.00 (a clawback,
    # due now); October's net is 140.00, whose formula is 15.00 → a -1.50 true-up.
    refund(api, frozen, parts, "A", "r-1", "2026-11-05T12:00:00Z", "60.00")
    order(api, frozen, parts, "C", "2026-11-10T12:00:00Z", "200.00")  # 22.50, November's own
    assert "changed since it was settled" in verified(api)  # a note until the next close
    frozen.set("2026-12-01T08:00:00Z")
    state = ledger_state(api)
    preview = detail(api, "2026-11")
    november = summary(api, "2026-11")[parts.handle]
    assert ledger_state(api) == state  # shown, not written
    assert [x["amount"] for x in of_kind(lines(api, parts.campaign_id), "true_up")] == ["2.50"]
    assert {r["kind"]: r["amount"] for r in preview} == {
        "sale": "22.50",
        "reversal": "-6.00",
        "true_up": "-1.50",
    }
    [planned] = rows_of(preview, "true_up")
    planned_rule = json.loads(planned["rule"])
    assert (planned_rule["month"], planned_rule["sales"]) == ("2026-10", "140.00")
    assert planned["due_at"] == "2026-11-05T12:00:00+00:00"  # with the clawback it corrects
    assert november["net_payable"] == "15.00"  # 22.50 - 6.00 - 1.50
    assert export(api, "2026-10") == october  # the closed month does not change

    close(api, "2026-11")
    same_but_paid(preview, detail(api, "2026-11"))
    items = lines(api, parts.campaign_id)
    october_true_ups = sorted(
        (x["amount"], x["status"]) for x in month_lines(api, items, "2026-10", "true_up")
    )
    assert october_true_ups == [("-1.50", "paid"), ("2.50", "paid")]
    tiered = month_lines(api, items, "2026-10", "sale", "reversal", "true_up")
    assert total(tiered) == formula(14_000)
    assert not month_lines(api, items, "2026-11", "true_up")  # November's one order is exact
    written = next(x for x in of_kind(items, "true_up") if x["amount"] == "-1.50")
    assert (written["id"], written["occurred_at"]) == (planned["line_id"], OCTOBER_LAST)
    assert f"true_up:{parts.partner['id']}:0:2026-10:1" in settlement_keys(api)
    assert export(api, "2026-10") == october

    # December's close finds nothing changed: nothing more for October.
    count = api.rows("commission_lines")
    frozen.set("2027-01-02T08:00:00Z")
    assert close(api, "2026-12")["totals"] == []
    assert api.rows("commission_lines") == count
    verified(api)


def test_a_late_order_for_a_closed_month_is_trued_up_and_paid_at_the_next_close(
    api: Api, frozen: Any
):
    parts = Parts(api, [TIERED])
    order(api, frozen, parts, "A", "2026-10-05T12:00:00Z", "100.00")  # 10.00, exact
    frozen.set("2026-11-02T08:00:00Z")
    assert close(api, "2026-10")["totals"] == [{"currency": "EUR", "net_payable": "10.00"}]
    assert not settlement_keys(api)
    # An October order delivered in November, dated before A: booked in the first
    # bracket (10.00) while October's 200.00 earns 22.50.
    order(api, frozen, parts, "B", "2026-10-02T12:00:00Z", "100.00", now="2026-11-06T12:00:00Z")

    frozen.set("2026-12-01T08:00:00Z")
    state = ledger_state(api)
    preview = detail(api, "2026-11")
    assert ledger_state(api) == state
    assert sorted((r["kind"], r["amount"], r["due_at"]) for r in preview) == [
        ("sale", "10.00", "2026-10-02T12:00:00+00:00"),
        ("true_up", "2.50", OCTOBER_LAST),  # due in October: November's export pays it
    ]
    assert summary(api, "2026-11")[parts.handle]["net_payable"] == "12.50"
    close(api, "2026-11")
    same_but_paid(preview, detail(api, "2026-11"))
    items = lines(api, parts.campaign_id)
    assert total(month_lines(api, items, "2026-10")) == formula(20_000)
    assert {x["status"] for x in items} == {"paid"}
    verified(api)


def zero_line_refunded_after_close(api: Api, frozen: Any) -> Parts:
    """October: A's tiered line is 0.00, B's 10.00; closed; then A is refunded in full
    (no reversal line: there is nothing to reverse), so October must total 0.00."""
    parts = Parts(api, [BONUS])
    order(api, frozen, parts, "A", "2026-10-03T12:00:00Z", "100.00")  # 0.00
    order(api, frozen, parts, "B", "2026-10-05T12:00:00Z", "100.00")  # 10.00
    frozen.set("2026-11-02T08:00:00Z")
    close(api, "2026-10")
    refund(api, frozen, parts, "A", "r-1", "2026-11-05T12:00:00Z", "100.00")
    return parts


def test_a_refund_after_close_of_a_zero_line_is_trued_up_too(api: Api, frozen: Any):
    """The refunded order's tiered line is 0.00, so the refund writes no reversal line;
    the month still changed and the next close must settle it."""
    parts = zero_line_refunded_after_close(api, frozen)
    closed = api.get("/api/v1/commissions?status=paid").json["items"]
    assert sorted(x["amount"] for x in closed) == ["0.00", "10.00"]  # October's close
    assert not of_kind(lines(api, parts.campaign_id), "reversal", "true_up")

    frozen.set("2026-12-01T08:00:00Z")
    state = ledger_state(api)
    preview = detail(api, "2026-11")
    assert ledger_state(api) == state
    # November holds only the -10.00 true-up: a negative balance, carried forward.
    assert sorted((r["kind"], r["amount"]) for r in preview) == [
        ("adjustment", "10.00"),
        ("true_up", "-10.00"),
    ]
    assert json.loads(rows_of(preview, "true_up")[0]["rule"])["month"] == "2026-10"
    close(api, "2026-11")
    items = lines(api, parts.campaign_id)
    # October's net is now 100.00, all in the 0% bracket: October must total 0.00.
    assert total(month_lines(api, items, "2026-10")) == 0
    assert [(x["amount"], x["status"]) for x in of_kind(items, "true_up")] == [("-10.00", "paid")]
    assert [x["id"] for x in of_kind(items, "true_up")] == [
        r["line_id"] for r in rows_of(preview, "true_up")
    ]
    verified(api)


def test_verify_notes_a_zero_line_refund_after_close_until_the_next_close(api: Api, frozen: Any):
    zero_line_refunded_after_close(api, frozen)
    assert "changed since it was settled" in verified(api)


def test_a_negative_months_closed_detail_equals_its_preview(api: Api, frozen: Any):
    """November holds only October's -10.00 true-up: a negative balance, carried
    forward. Closing must give the statement the preview showed, detail included."""
    parts = zero_line_refunded_after_close(api, frozen)
    frozen.set("2026-12-01T08:00:00Z")
    preview_summary = export(api, "2026-11")
    [row] = csv.DictReader(io.StringIO(preview_summary.decode()))
    assert row["handle"] == parts.handle
    cells = ("gross", "reversals", "adjustments", "net_payable", "lines")
    assert tuple(row[c] for c in cells) == ("-10.00", "0.00", "10.00", "0.00", "2")
    preview = detail(api, "2026-11")
    closed = close(api, "2026-11")
    assert closed["checksum"] == hashlib.sha256(preview_summary).hexdigest()
    assert export(api, "2026-11") == preview_summary
    closed_rows = detail(api, "2026-11")
    assert sum(cents(r["amount"]) for r in closed_rows) == 0  # what the summary nets
    assert sum(cents(r["amount"]) for r in preview) == 0  # the preview must say the same
    same_but_paid(preview, closed_rows)
    verified(api)


def test_a_close_settles_every_month_since_the_last_close(api: Api, frozen: Any):
    """The first close settles every month since the campaign started (September's
    true-up and clicks are paid by October's export); a later close settles every month
    since the last close, here November (never closed) along with December."""
    parts = Parts(api, [TIERED, CPC])  # the campaign starts on 2026-09-01
    link = api.create_link(parts.campaign_id, parts.influencer_id)
    order(api, frozen, parts, "B", "2026-09-05T12:00:00Z", "100.00")
    order(api, frozen, parts, "A", "2026-09-03T12:00:00Z", "100.00", now="2026-09-06T12:00:00Z")
    for n, day in enumerate(("2026-09-10", "2026-10-10", "2026-10-11", "2026-11-10")):
        frozen.set(f"{day}T10:00:00Z")
        click(api, link["code"], f"198.51.100.{n + 1}")

    frozen.set("2026-11-02T08:00:00Z")
    state = ledger_state(api)
    preview = detail(api, "2026-10")
    assert ledger_state(api) == state
    september_last = "2026-09-30T23:59:59.999999+00:00"
    settled = [
        (r["kind"], json.loads(r["rule"])["month"], r["amount"], r["due_at"])
        for r in rows_of(preview, "true_up", "cpc")
    ]
    assert sorted(settled) == [
        ("cpc", "2026-09", "0.05", september_last),
        ("cpc", "2026-10", "0.10", OCTOBER_LAST),
        ("true_up", "2026-09", "2.50", september_last),
    ]
    assert summary(api, "2026-10")[parts.handle]["net_payable"] == "22.65"
    close(api, "2026-10")
    same_but_paid(preview, detail(api, "2026-10"))

    frozen.set("2027-01-02T08:00:00Z")  # November was never closed
    state = ledger_state(api)
    preview = detail(api, "2026-12")
    assert ledger_state(api) == state
    assert [(r["kind"], json.loads(r["rule"])["month"], r["amount"]) for r in preview] == [
        ("cpc", "2026-11", "0.05")
    ]
    close(api, "2026-12")
    pid = parts.partner["id"]
    assert settlement_keys(api) == [
        f"cpc:{pid}:1:2026-09:0",
        f"cpc:{pid}:1:2026-10:0",
        f"cpc:{pid}:1:2026-11:0",
        f"true_up:{pid}:0:2026-09:0",
    ]
    assert {x["status"] for x in lines(api, parts.campaign_id)} == {"paid"}
    verified(api)


# --- 4. CPC: unique, non-bot, redirected clicks ------------------------------------------------


def test_cpc_counts_only_unique_non_bot_redirected_clicks(api: Api, frozen: Any):
    parts = Parts(api, [CPC])
    bio = api.create_link(parts.campaign_id, parts.influencer_id)
    story = api.create_link(parts.campaign_id, parts.influencer_id, platform="tiktok")
    frozen.set("2026-10-10T10:00:00Z")
    click(api, bio["code"], "198.51.100.1")  # counts
    click(api, bio["code"], "198.51.100.1")  # the same visitor again: not unique
    click(api, bio["code"], "198.51.100.2", BOT_UA)  # a link-preview crawler
    click(api, story["code"], "198.51.100.3")  # counts
    paused = api.patch(f"/api/v1/links/{story['id']}", {"status": "paused"})
    assert paused.status_code == 200 and paused.json["status"] == "paused"
    fallback = click(api, story["code"], "198.51.100.4")  # sent to the fallback
    assert fallback.startswith(parts.campaign["fallback_url"])
    frozen.set("2026-11-01T00:30:00Z")
    click(api, bio["code"], "198.51.100.5")  # November's

    frozen.set("2026-11-02T08:00:00Z")
    state = ledger_state(api)
    [planned] = detail(api, "2026-10")
    assert ledger_state(api) == state
    assert (planned["kind"], planned["amount"], planned["currency"]) == ("cpc", "0.10", "EUR")
    assert json.loads(planned["rule"])["clicks"] == 2
    assert summary(api, "2026-10")[parts.handle]["gross"] == "0.10"
    close(api, "2026-10")
    [cpc] = of_kind(lines(api, parts.campaign_id), "cpc")
    assert (cpc["amount"], cpc["rule"]["clicks"], cpc["currency"]) == ("0.10", 2, "EUR")
    assert (cpc["id"], cpc["status"]) == (planned["line_id"], "paid")
    verified(api)


def test_a_late_click_before_the_close_changes_the_preview_not_the_ledger(api: Api, frozen: Any):
    parts = Parts(api, [CPC])
    link = api.create_link(parts.campaign_id, parts.influencer_id)
    frozen.set("2026-10-10T10:00:00Z")
    click(api, link["code"], "198.51.100.1")
    frozen.set("2026-10-31T23:59:00Z")
    late = HeldClick(api, link["code"], "198.51.100.2")  # queued, not yet written

    frozen.set("2026-11-02T08:00:00Z")
    state = ledger_state(api)
    [first] = detail(api, "2026-10")
    assert (first["amount"], json.loads(first["rule"])["clicks"]) == ("0.05", 1)
    late.land()
    [second] = detail(api, "2026-10")
    assert (second["amount"], json.loads(second["rule"])["clicks"]) == ("0.10", 2)
    assert second["line_id"] == first["line_id"]  # one planned line, not one more
    assert ledger_state(api) == state
    close(api, "2026-10")
    cpc = of_kind(lines(api, parts.campaign_id), "cpc")
    assert [(x["amount"], x["rule"]["clicks"], x["id"]) for x in cpc] == [
        ("0.10", 2, first["line_id"])
    ]
    verified(api)


def test_a_late_click_for_a_closed_month_is_settled_by_ledger_settle(api: Api, frozen: Any):
    parts = Parts(api, [CPC])
    link = api.create_link(parts.campaign_id, parts.influencer_id)
    frozen.set("2026-10-10T10:00:00Z")
    click(api, link["code"], "198.51.100.1")
    frozen.set("2026-10-31T23:59:00Z")
    late = HeldClick(api, link["code"], "198.51.100.2")
    frozen.set("2026-11-02T08:00:00Z")
    close(api, "2026-10")
    october = export(api, "2026-10")
    late.land()
    assert "changed since it was settled" in verified(api)  # a note, not a difference

    frozen.set("2026-11-03T08:00:00Z")
    done = settle_cli(api, "2026-10")
    assert done.exit_code == 0, done.output
    assert done.output.strip() == "settled 2026-10: 0 true-up line(s), 1 cpc line(s)"
    cpc = of_kind(lines(api, parts.campaign_id), "cpc")
    assert sorted((x["amount"], x["rule"]["clicks"], x["status"]) for x in cpc) == [
        ("0.05", 1, "paid"),
        ("0.05", 2, "approved"),
    ]
    new = next(x for x in cpc if x["status"] == "approved")
    assert (new["due_at"], new["export_id"]) == (OCTOBER_LAST, None)
    assert f"cpc:{parts.partner['id']}:0:2026-10:1" in settlement_keys(api)
    state = ledger_state(api)
    again = settle_cli(api, "2026-10")
    assert again.exit_code == 0, again.output
    assert again.output.strip() == "settled 2026-10: 0 true-up line(s), 0 cpc line(s)"
    assert ledger_state(api) == state
    assert export(api, "2026-10") == october  # the closed month does not change

    frozen.set("2026-12-01T08:00:00Z")  # November's export pays it
    preview = detail(api, "2026-11")
    assert [(r["line_id"], r["amount"]) for r in preview] == [(new["id"], "0.05")]
    assert ledger_state(api) == state
    close(api, "2026-11")
    assert len(settlement_keys(api)) == 2
    assert {x["status"] for x in of_kind(lines(api, parts.campaign_id), "cpc")} == {"paid"}
    verified(api)


# --- 5. the running month (a projection), what does not settle, what writes nothing ---


def statuses(rows: list[dict]) -> list[tuple[str, str, str]]:
    """(kind, amount, status) of each detail row (CSV row or JSON object), sorted."""
    return sorted((r["kind"], r["amount"], r["status"]) for r in rows)


def by_kind(rows: list[dict], *kinds: str) -> dict[str, dict]:
    """The one row of each of ``kinds``."""
    found = {r["kind"]: r for r in rows_of(rows, *kinds)}
    assert len(found) == len(rows_of(rows, *kinds)), rows
    return found


def test_the_running_months_export_projects_its_settlement_marked_projected(api: Api, frozen: Any):
    """On 20 October the export shows October's true-up and CPC line as closing would
    write them if the month ended now, marked projected in the detail (CSV and JSON)
    and counted in the summary; building it writes nothing and gives the same bytes."""
    parts, _link = pending_october(api, frozen)
    frozen.set("2026-10-20T08:00:00Z")
    first, state = october_built_writing_nothing(api)

    rows = detail(api, "2026-10")
    expected = [
        ("cpc", "0.05", "projected"),
        ("sale", "10.00", "approved"),
        ("sale", "10.00", "approved"),
        ("true_up", "2.50", "projected"),
    ]
    assert statuses(rows) == expected
    assert {r["due_at"] for r in rows_of(rows, "true_up", "cpc")} == {OCTOBER_LAST}
    assert json.loads(by_kind(rows, "true_up")["true_up"]["rule"])["sales"] == "200.00"
    assert json.loads(by_kind(rows, "cpc")["cpc"]["rule"])["clicks"] == 1
    as_json = json.loads(first["?detail=lines&format=json"])["lines"]
    assert statuses(as_json) == expected
    # The summary counts what the detail shows, projected lines included.
    net = eur(sum(cents(r["amount"]) for r in rows))
    row = summary(api, "2026-10")[parts.handle]
    assert net == "22.55"
    assert (row["gross"], row["net_payable"], row["lines"]) == (net, net, "4")
    [as_json_row] = json.loads(first["?format=json"])["rows"]
    assert as_json_row["net_payable"] == net
    assert first["?format=paypal"].decode().split(",")[1] == net

    for query, body in first.items():  # the same state and clock: the same bytes
        assert export(api, "2026-10", query) == body, query
    args = ["export", "commissions", "--month", "2026-10", "--detail"]
    cli = api.app.test_cli_runner().invoke(args=args)
    assert cli.exit_code == 0, cli.output
    assert cli.stdout_bytes == first["?detail=lines"]
    assert ledger_state(api) == state


def test_the_running_months_projection_is_what_closing_writes_once_it_has_ended(
    api: Api, frozen: Any
):
    """The projection follows the month so far (a later order, later clicks) under the
    same line ids; once October has ended the same lines show unmarked, and closing
    writes exactly them."""
    parts, link = pending_october(api, frozen)
    frozen.set("2026-10-20T08:00:00Z")
    early = by_kind(detail(api, "2026-10"), "true_up", "cpc")
    assert (early["true_up"]["amount"], early["cpc"]["amount"]) == ("2.50", "0.05")

    # An order dated before the other two, delivered last (booked in the first bracket).
    order(api, frozen, parts, "C", "2026-10-02T12:00:00Z", "50.00", now="2026-10-21T12:00:00Z")
    frozen.set("2026-10-21T13:00:00Z")
    click(api, link["code"], "198.51.100.2")  # counts
    click(api, link["code"], "198.51.100.2")  # the same visitor again: not unique
    click(api, link["code"], "198.51.100.3", BOT_UA)  # a bot
    frozen.set("2026-10-22T08:00:00Z")
    state = ledger_state(api)
    projected = detail(api, "2026-10")
    projected_json = json.loads(export(api, "2026-10", "?detail=lines&format=json"))["lines"]
    assert ledger_state(api) == state
    booked = sum(cents(r["amount"]) for r in rows_of(projected, "sale"))
    settled = by_kind(projected, "true_up", "cpc")
    assert settled["true_up"]["amount"] == eur(formula(20_000 + 5_000) - booked) == "3.75"
    assert settled["cpc"]["amount"] == "0.10"
    assert json.loads(settled["cpc"]["rule"])["clicks"] == 2
    for kind in ("true_up", "cpc"):  # one planned line each, not one more
        assert settled[kind]["line_id"] == early[kind]["line_id"]
        assert settled[kind]["status"] == "projected"

    frozen.set("2026-11-02T08:00:00Z")  # October has ended, nothing else changed
    ended = detail(api, "2026-10")
    ended_json = json.loads(export(api, "2026-10", "?detail=lines&format=json"))["lines"]
    assert {r["status"] for r in ended} == {"approved"}
    assert without_status(ended) == without_status(projected)
    assert [x.pop("status") for x in ended_json] == ["approved"] * 5
    assert [x.pop("status") for x in projected_json] == [
        "projected" if x["kind"] in ("true_up", "cpc") else "approved" for x in projected_json
    ]
    assert ended_json == projected_json
    assert ledger_state(api) == state

    close(api, "2026-10")
    same_but_paid(ended, detail(api, "2026-10"))
    written = {x["id"]: x for x in of_kind(lines(api, parts.campaign_id), "true_up", "cpc")}
    assert sorted((x["id"], x["amount"], x["due_at"]) for x in written.values()) == sorted(
        (r["line_id"], r["amount"], r["due_at"]) for r in settled.values()
    )
    verified(api)


def test_the_running_month_cannot_be_closed_or_settled(api: Api, frozen: Any):
    parts, _link = pending_october(api, frozen)
    state = ledger_state(api)
    message = (
        "2026-10 has not ended yet: it can be closed from 2026-11-01T00:00:00+00:00; "
        "until then its export is a projection"
    )
    for moment in ("2026-10-20T08:00:00Z", "2026-10-31T23:59:59.999999Z"):
        frozen.set(moment)
        settled = rows_of(detail(api, "2026-10"), "true_up", "cpc")
        assert [r["status"] for r in settled] == ["projected"] * 2, moment
        r = api.post("/api/v1/exports/commissions/2026-10/close")
        assert r.status_code == 409, r.json
        assert (r.json["error"]["code"], r.json["error"]["message"]) == ("period_open", message)
        args = ["export", "commissions", "--month", "2026-10", "--close"]
        cli = api.app.test_cli_runner().invoke(args=args)
        assert cli.exit_code != 0 and message in cli.output, cli.output
        cli = settle_cli(api, "2026-10")
        assert cli.exit_code == 0, cli.output
        assert "2026-10 has not ended" in cli.output
        assert ledger_state(api) == state
        assert api.rows("exports") == 0
    frozen.set("2026-11-01T00:00:00Z")  # the month's end: unmarked, and closing writes it
    kinds = ["cpc", "sale", "sale", "true_up"]
    assert statuses(detail(api, "2026-10")) == [
        ("cpc", "0.05", "approved"),
        ("sale", "10.00", "approved"),
        ("sale", "10.00", "approved"),
        ("true_up", "2.50", "approved"),
    ]
    assert ledger_state(api) == state
    close(api, "2026-10")
    assert sorted(x["kind"] for x in lines(api, parts.campaign_id)) == kinds
    verified(api)


def test_a_month_not_started_has_no_export(api: Api, frozen: Any):
    pending_october(api, frozen)
    frozen.set("2026-10-20T08:00:00Z")
    state = ledger_state(api)
    for query in PREVIEWS:
        r = api.get(f"/api/v1/exports/commissions/2026-11{query}")
        assert r.status_code == 409, (query, r.data)
        assert r.json["error"] == {
            "code": "period_not_started",
            "message": "2026-11 has not started yet: its export exists from "
            "2026-11-01T00:00:00+00:00",
            "fields": {},
        }
    cli = api.app.test_cli_runner().invoke(args=["export", "commissions", "--month", "2026-11"])
    assert cli.exit_code != 0 and "2026-11 has not started yet" in cli.output
    r = api.post("/api/v1/exports/commissions/2026-11/close")
    assert r.status_code == 409 and r.json["error"]["code"] == "period_open", r.json
    assert r.json["error"]["message"] == (
        "2026-11 has not ended yet: it can be closed from 2026-12-01T00:00:00+00:00; "
        "until then its export does not exist yet"
    )
    assert ledger_state(api) == state


def test_settling_the_running_month_writes_nothing_not_even_an_ended_month(api: Api, frozen: Any):
    """``settle`` of a month still running writes nothing, though the month before it
    (ended, never closed) has clicks to settle: only a close settles that."""
    parts = Parts(api, [CPC])
    link = api.create_link(parts.campaign_id, parts.influencer_id)
    frozen.set("2026-09-30T10:00:00Z")
    click(api, link["code"], "198.51.100.1")
    frozen.set("2026-10-20T08:00:00Z")
    [september] = detail(api, "2026-10")  # shown, not written: only a close writes it
    assert (september["kind"], json.loads(september["rule"])["month"]) == ("cpc", "2026-09")
    state = ledger_state(api)
    with api.app.extensions["afftrack"].db.session() as session:
        assert settle(session, "2026-10") == Settled()
        session.commit()
    assert ledger_state(api) == state


def test_a_running_months_negative_balance_is_carried_forward_as_projected(api: Api, frozen: Any):
    """A negative October so far: the line that would carry it forward is projected
    too, and unmarked once October has ended."""
    parts = Parts(api, [{"type": "percent", "rate": "10"}])
    frozen.set("2026-10-12T10:00:00Z")
    body = {
        "influencer_id": parts.influencer_id,
        "campaign_id": parts.campaign_id,
        "amount": "-5.00",
        "currency": "EUR",
        "reason": "sample returned",
    }
    assert api.post("/api/v1/commissions/adjustments", body).status_code == 201
    frozen.set("2026-10-20T08:00:00Z")
    state = ledger_state(api)
    running = detail(api, "2026-10")
    assert statuses(running) == [
        ("adjustment", "-5.00", "approved"),
        ("adjustment", "5.00", "projected"),
    ]
    row = summary(api, "2026-10")[parts.handle]
    assert (row["adjustments"], row["net_payable"], row["lines"]) == ("0.00", "0.00", "2")
    assert ledger_state(api) == state
    frozen.set("2026-11-02T08:00:00Z")
    ended = detail(api, "2026-10")
    assert {r["status"] for r in ended} == {"approved"}
    assert without_status(ended) == without_status(running)
    close(api, "2026-10")
    same_but_paid(ended, detail(api, "2026-10"))
    verified(api)


BAD_QUERIES = ("?format=xml", "?format=paypal&detail=lines", "?detail=yes", "?colour=red")


def test_a_bad_export_or_close_request_writes_nothing(api: Api, frozen: Any):
    parts, _link = pending_october(api, frozen)
    frozen.set("2026-11-02T08:00:00Z")
    state = ledger_state(api)
    for query in BAD_QUERIES:
        r = api.get(f"/api/v1/exports/commissions/2026-10{query}")
        assert r.status_code == 422, (query, r.data)
        assert r.json["error"]["code"] == "validation_failed"
        assert ledger_state(api) == state, query
    for period in ("2026-13", "2026-1", "1999-12"):
        r = api.post(f"/api/v1/exports/commissions/{period}/close")
        assert r.status_code == 422, (period, r.json)
        assert ledger_state(api) == state, period
    r = api.post("/api/v1/exports/commissions/2026-10/close", key="read")
    assert r.status_code == 403, r.json
    assert ledger_state(api) == state
    assert len(rows_of(detail(api, "2026-10"), "true_up", "cpc")) == 2  # asked properly
    assert ledger_state(api) == state
    assert not of_kind(lines(api, parts.campaign_id), "true_up", "cpc")
    verified(api)


# --- 6. caps, rejection, foreign currency ---------------------------------------------------


def test_the_monthly_cap_cuts_a_positive_true_up_and_cpc_line(api: Api, frozen: Any):
    parts = Parts(
        api, [TIERED, {"type": "cpc", "amount": "1.00"}], monthly_cap_per_influencer="21.00"
    )
    link = api.create_link(parts.campaign_id, parts.influencer_id)
    out_of_order_pair(api, frozen, parts)  # 20.00 recorded; the true-up wants +2.50
    frozen.set("2026-10-10T10:00:00Z")
    click(api, link["code"], "198.51.100.1")
    click(api, link["code"], "198.51.100.2")
    frozen.set("2026-11-02T08:00:00Z")
    state = ledger_state(api)
    preview = detail(api, "2026-10")
    assert ledger_state(api) == state
    [true_up] = rows_of(preview, "true_up")
    [cpc] = rows_of(preview, "cpc")
    for row, amount, cut in ((true_up, "1.00", "1.50"), (cpc, "0.00", "2.00")):
        rule = json.loads(row["rule"])
        assert (row["amount"], rule["cut"], rule["cap"]) == (amount, cut, "monthly_cap")
    assert summary(api, "2026-10")[parts.handle]["net_payable"] == "21.00"

    assert close(api, "2026-10")["totals"] == [{"currency": "EUR", "net_payable": "21.00"}]
    same_but_paid(preview, detail(api, "2026-10"))
    items = lines(api, parts.campaign_id)
    assert [(x["amount"], x["rule"]["cut"]) for x in of_kind(items, "true_up")] == [
        ("1.00", "1.50")
    ]
    assert [(x["amount"], x["rule"]["cut"]) for x in of_kind(items, "cpc")] == [("0.00", "2.00")]
    # The cut counts as settled: settling again writes nothing.
    done = settle_cli(api, "2026-10")
    assert done.output.strip() == "settled 2026-10: 0 true-up line(s), 0 cpc line(s)"
    assert len(lines(api, parts.campaign_id)) == len(items)
    verified(api)


def test_the_campaign_budget_cuts_a_cpc_line(api: Api, frozen: Any):
    parts = Parts(api, [{"type": "cpc", "amount": "1.00"}], budget="3.00")
    link = api.create_link(parts.campaign_id, parts.influencer_id)
    frozen.set("2026-10-10T10:00:00Z")
    for n in range(4):
        click(api, link["code"], f"198.51.100.{n + 1}")
    frozen.set("2026-11-02T08:00:00Z")
    state = ledger_state(api)
    [planned] = detail(api, "2026-10")
    assert ledger_state(api) == state
    rule = json.loads(planned["rule"])
    assert (planned["amount"], rule["clicks"], rule["cut"], rule["cap"]) == (
        "3.00",
        4,
        "1.00",
        "budget",
    )
    close(api, "2026-10")
    [cpc] = of_kind(lines(api, parts.campaign_id), "cpc")
    assert (cpc["id"], cpc["amount"], cpc["rule"]["cut"]) == (planned["line_id"], "3.00", "1.00")
    frozen.set("2026-12-01T08:00:00Z")
    close(api, "2026-11")
    assert len(of_kind(lines(api, parts.campaign_id), "cpc")) == 1
    verified(api)


@pytest.mark.parametrize(
    ("event", "left", "true_up"),
    [
        ("refund-all", 0, None),
        ("cancel", 0, None),
        # 40.00 of 100.00 refunded: the line holds 3.00 (3.00 still cut); the month's
        # 60.00 earns 6.00, and the 2.00 the refund freed under the 5.00 cap is paid:
        # the caps now withhold 1.00, 2.00 less than before (the line's cut: -2.00).
        ("refund-part", 500, ("2.00", "-2.00")),
    ],
)
def test_a_refunded_capped_order_settles_to_the_formula_within_the_cap(
    api: Api, frozen: Any, event: str, left: int, true_up: tuple[str, str] | None
):
    """The order's 10.00 line is capped to 5.00 (5.00 cut); a refund reverses its share
    of the line and of the cut, so a full refund leaves nothing to true up, and a
    partial one is trued up to the formula over the month's net sales as far as the
    cap allows."""
    parts = Parts(api, [TIERED], monthly_cap_per_influencer="5.00")
    order(api, frozen, parts, "A", "2026-10-02T12:00:00Z", "100.00")  # 10.00, cut to 5.00
    if event == "cancel":
        cancel(api, frozen, parts, "A", "2026-10-03T12:00:00Z")
    else:
        amount = "100.00" if event == "refund-all" else "40.00"
        refund(api, frozen, parts, "A", "r-1", "2026-10-03T12:00:00Z", amount)
    [reversal] = of_kind(lines(api, parts.campaign_id), "reversal")
    share = "-2.00" if event == "refund-part" else "-5.00"
    assert (reversal["amount"], reversal["rule"]["cut"]) == (share, share)
    frozen.set("2026-11-02T08:00:00Z")
    state = ledger_state(api)
    preview = detail(api, "2026-10")
    assert ledger_state(api) == state
    planned = [(r["amount"], json.loads(r["rule"]).get("cut")) for r in rows_of(preview, "true_up")]
    assert planned == ([true_up] if true_up else [])
    assert sum(cents(r["amount"]) for r in preview) == left
    close(api, "2026-10")
    items = lines(api, parts.campaign_id)
    assert total(items, "sale", "reversal", "true_up") == left
    written = of_kind(items, "true_up")
    assert [(x["amount"], x["rule"].get("cut")) for x in written] == ([true_up] if true_up else [])
    assert [x["rule"]["withheld"] for x in written] == (["1.00"] if true_up else [])
    verified(api)


def test_a_rejected_true_up_line_stands(api: Api, frozen: Any):
    # hold_days 30: October's lines (and so its true-up) are due in November, unpaid
    # when October is closed, so the true-up that close writes can still be rejected.
    parts = Parts(api, [TIERED], hold_days=30)
    out_of_order_pair(api, frozen, parts)
    frozen.set("2026-11-02T08:00:00Z")
    assert close(api, "2026-10")["totals"] == []
    [true_up] = of_kind(lines(api, parts.campaign_id), "true_up")
    assert (true_up["amount"], true_up["status"]) == ("2.50", "pending")
    assert true_up["due_at"].startswith("2026-11-04T12:00:00")  # with B's line, the latest
    frozen.set("2026-11-03T08:00:00Z")
    r = api.post(f"/api/v1/commissions/{true_up['id']}/reject", {"reason": "not agreed"})
    assert r.status_code == 200, r.json
    assert r.json["status"] == "rejected"

    frozen.set("2026-12-01T08:00:00Z")
    state = ledger_state(api)
    preview = detail(api, "2026-11")
    assert ledger_state(api) == state
    assert sorted((r["kind"], r["amount"]) for r in preview) == [
        ("sale", "10.00"),
        ("sale", "10.00"),
    ]
    assert summary(api, "2026-11")[parts.handle]["net_payable"] == "20.00"
    closed = close(api, "2026-11")
    assert closed["totals"] == [{"currency": "EUR", "net_payable": "20.00"}]
    done = settle_cli(api, "2026-10")
    assert done.output.strip() == "settled 2026-10: 0 true-up line(s), 0 cpc line(s)"
    items = lines(api, parts.campaign_id)
    assert [(x["amount"], x["status"]) for x in of_kind(items, "true_up")] == [("2.50", "rejected")]
    verified(api)


def test_a_rejected_sale_line_leaves_the_months_net(api: Api, frozen: Any):
    parts = Parts(api, [TIERED])
    order(api, frozen, parts, "A", "2026-10-03T12:00:00Z", "100.00")  # 10.00
    order(api, frozen, parts, "B", "2026-10-05T12:00:00Z", "100.00")  # 12.50 (second bracket)
    first = next(x for x in lines(api, parts.campaign_id) if x["rule"]["before"] == "0.00")
    r = api.post(f"/api/v1/commissions/{first['id']}/reject", {"reason": "fraud"})
    assert r.status_code == 200, r.json
    frozen.set("2026-11-02T08:00:00Z")
    preview = detail(api, "2026-10")
    assert sorted((r["kind"], r["amount"]) for r in preview) == [
        ("sale", "12.50"),
        ("true_up", "-2.50"),
    ]
    close(api, "2026-10")
    items = lines(api, parts.campaign_id)
    assert [x["amount"] for x in of_kind(items, "true_up")] == ["-2.50"]
    assert total(items, "sale", "reversal", "true_up") == formula(10_000)
    verified(api)


def test_a_sale_line_rejected_after_close_is_trued_up_at_the_next_close(api: Api, frozen: Any):
    parts = Parts(api, [TIERED], hold_days=30)  # October's lines unpaid by October's close
    order(api, frozen, parts, "A", "2026-10-03T12:00:00Z", "100.00")  # 10.00, due Nov 2
    order(api, frozen, parts, "B", "2026-10-05T12:00:00Z", "100.00")  # 12.50, due Nov 4
    frozen.set("2026-11-02T08:00:00Z")
    close(api, "2026-10")  # exact: nothing to true up, nothing due yet
    assert not settlement_keys(api)
    frozen.set("2026-11-03T08:00:00Z")
    first = next(x for x in lines(api, parts.campaign_id) if x["rule"]["before"] == "0.00")
    r = api.post(f"/api/v1/commissions/{first['id']}/reject", {"reason": "fraud"})
    assert r.status_code == 200, r.json

    frozen.set("2026-12-01T08:00:00Z")
    state = ledger_state(api)
    preview = detail(api, "2026-11")
    assert ledger_state(api) == state
    assert sorted((r["kind"], r["amount"], r["due_at"]) for r in preview) == [
        ("sale", "12.50", "2026-11-04T12:00:00+00:00"),
        ("true_up", "-2.50", "2026-11-04T12:00:00+00:00"),
    ]
    close(api, "2026-11")
    same_but_paid(preview, detail(api, "2026-11"))
    items = lines(api, parts.campaign_id)
    assert total(items, "sale", "reversal", "true_up") == formula(10_000)
    verified(api)


def test_a_foreign_currency_order_gets_no_true_up(api: Api, frozen: Any):
    parts = Parts(api, [TIERED])
    out_of_order_pair(api, frozen, parts)  # EUR: 10.00 + 10.00 → +2.50
    order(api, frozen, parts, "U", "2026-10-04T12:00:00Z", "150.00", currency="USD")
    frozen.set("2026-11-02T08:00:00Z")
    preview = detail(api, "2026-10")
    expected = [
        ("sale", "10.00", "EUR"),
        ("sale", "10.00", "EUR"),
        ("sale", "15.00", "USD"),  # the first bracket's rate, never trued up
        ("true_up", "2.50", "EUR"),
    ]
    assert sorted((r["kind"], r["amount"], r["currency"]) for r in preview) == expected
    assert [json.loads(r["rule"])["sales"] for r in rows_of(preview, "true_up")] == ["200.00"]
    close(api, "2026-10")
    items = lines(api, parts.campaign_id)
    assert sorted((x["kind"], x["amount"], x["currency"]) for x in items) == expected
    verified(api)


# --- 7. the CLI ------------------------------------------------------------------------------


def test_cli_ledger_settle_writes_one_month_now_and_is_idempotent(api: Api, frozen: Any):
    parts, _link = pending_october(api, frozen)
    frozen.set("2026-11-02T08:00:00Z")
    before = {q: export(api, "2026-10", q) for q in ("", "?detail=lines")}
    planned = sorted(r["line_id"] for r in rows_of(detail(api, "2026-10"), "true_up", "cpc"))
    count = api.rows("commission_lines")

    done = settle_cli(api, "2026-10")
    assert done.exit_code == 0, done.output
    assert done.output.strip() == "settled 2026-10: 1 true-up line(s), 1 cpc line(s)"
    assert api.rows("commission_lines") == count + 2
    items = lines(api, parts.campaign_id)
    assert sorted(x["id"] for x in of_kind(items, "true_up", "cpc")) == planned
    # Written now, the lines are what the export previewed: the same bytes.
    state = ledger_state(api)
    for query, body in before.items():
        assert export(api, "2026-10", query) == body, query
    again = settle_cli(api, "2026-10")
    assert again.exit_code == 0, again.output
    assert again.output.strip() == "settled 2026-10: 0 true-up line(s), 0 cpc line(s)"
    assert ledger_state(api) == state
    close(api, "2026-10")  # finds October settled: writes nothing more, pays it
    assert len(settlement_keys(api)) == 2
    assert {x["status"] for x in lines(api, parts.campaign_id)} == {"paid"}

    # A refund for the closed month: settled at once by hand, paid in November.
    refund(api, frozen, parts, "A", "r-1", "2026-11-05T12:00:00Z", "50.00")
    done = settle_cli(api, "2026-10")
    assert done.output.strip() == "settled 2026-10: 1 true-up line(s), 0 cpc line(s)"
    [late] = [
        x for x in of_kind(lines(api, parts.campaign_id), "true_up") if x["export_id"] is None
    ]
    assert late["amount"] == "-1.25"  # October's 150.00 earns 16.25; 17.50 held
    again = settle_cli(api, "2026-10")
    assert again.output.strip() == "settled 2026-10: 0 true-up line(s), 0 cpc line(s)"
    frozen.set("2026-12-01T08:00:00Z")
    count = api.rows("commission_lines")
    preview = detail(api, "2026-11")
    # -6.25 in November: carried forward to December by an adjustment of +6.25.
    assert sorted((r["kind"], r["amount"]) for r in preview) == [
        ("adjustment", "6.25"),
        ("reversal", "-5.00"),
        ("true_up", "-1.25"),
    ]
    assert rows_of(preview, "true_up")[0]["line_id"] == late["id"]
    bad = settle_cli(api, "2026-13")
    assert bad.exit_code != 0
    assert "YYYY-MM" in bad.output
    assert api.rows("commission_lines") == count
    verified(api)


# --- 8. PostgreSQL: two settlers at once ------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize("how", ["close", "settle"])
def test_two_concurrent_settlers_write_each_line_once(pg_api: Api, frozen: Any, how: str):
    api = pg_api
    frozen.set("2026-10-01T09:00:00Z")
    parts, _link = pending_october(api, frozen)
    frozen.set("2026-11-02T08:00:00Z")

    barrier = threading.Barrier(2)
    results: list[Any] = []
    errors: list[BaseException] = []

    def by_close() -> None:
        client = api.app.test_client()
        barrier.wait()
        r = client.post(
            "/api/v1/exports/commissions/2026-10/close", headers=api.headers(api.write_key)
        )
        results.append((r.status_code, r.json))

    def by_session() -> None:
        from service.commissions.settlement import settle

        db = api.app.extensions["afftrack"].db
        with db.session() as session:
            barrier.wait()
            done = settle(session, "2026-10")
            session.commit()
            results.append((done.true_ups, done.cpc))

    def run(target: Any) -> None:
        try:
            target()
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    target = by_close if how == "close" else by_session
    threads = [threading.Thread(target=run, args=(target,)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert len(results) == 2
    items = lines(api, parts.campaign_id)
    if how == "close":
        (ok, summary_json), (conflict, error) = sorted(results, key=lambda r: r[0])
        assert (ok, conflict) == (200, 409), results
        assert error["error"]["code"] == "already_closed"
        assert summary_json["totals"] == [{"currency": "EUR", "net_payable": "22.55"}]
        assert api.rows("exports") == 1
        assert {x["status"] for x in items} == {"paid"}
    else:
        assert sorted(results) == [(0, 0), (1, 1)]
    assert [x["amount"] for x in of_kind(items, "true_up")] == ["2.50"]
    assert [x["amount"] for x in of_kind(items, "cpc")] == ["0.05"]
    assert len(settlement_keys(api)) == 2
    verified(api)


def test_a_campaign_budget_is_used_month_by_month_in_every_projection(api: Api, frozen: Any):
    """Budget 23.00. October (ended, not closed) earned three 1.00 clicks; November
    (running) booked 20.00 of sales, one order arriving after a later one, so its
    projected true-up is 2.50. 3.00 of budget is left: October, the earlier month, takes
    it whole, in October's own export, in November's projection and when October closes;
    November's true-up is the one the budget cuts."""
    parts = Parts(api, [TIERED, {"type": "cpc", "amount": "1.00"}], budget="23.00")
    link = api.create_link(parts.campaign_id, parts.influencer_id)
    frozen.set("2026-10-10T10:00:00Z")
    for n in range(3):
        click(api, link["code"], f"198.51.100.{n + 1}")
    order(api, frozen, parts, "A", "2026-11-10T12:00:00Z", "100.00", now="2026-11-10T12:00:01Z")
    order(api, frozen, parts, "B", "2026-11-05T12:00:00Z", "100.00", now="2026-11-10T12:00:02Z")
    frozen.set("2026-11-20T08:00:00Z")

    def october_cpc(period: str) -> tuple[str, str]:
        [line] = [r for r in rows_of(detail(api, period), "cpc") if "2026-10" in r["rule"]]
        return line["line_id"], line["amount"]

    in_october = october_cpc("2026-10")
    assert in_october[1] == "3.00"
    assert october_cpc("2026-11") == in_october
    [true_up] = rows_of(detail(api, "2026-11"), "true_up")
    assert (true_up["amount"], true_up["status"]) == ("0.00", "projected")
    close(api, "2026-10")
    written = of_kind(lines(api, parts.campaign_id), "cpc")
    assert [(x["id"], x["amount"]) for x in written] == [in_october]
