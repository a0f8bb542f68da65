"""`afftrack ledger verify` (docs/product.md §2 CLI, §5, §10): recompute the ledger from stored
events, exit 1 and name each difference, exit 0 on an untouched ledger ("note:" lines
are worth knowing and keep exit 0).

One ledger holds every kind of line: percent, flat and tiered sale lines, partial
refunds' reversals (one of a capped line, with its share of the cut), a per-post fee, a
month's true-up and CPC lines, a line cut by a monthly cap, a manual adjustment, a
rejection, and carry-forwards out of closed months after a clawback. November is closed
on 1 December: building its export (GET) writes nothing (docs/product.md §10), closing it writes
its true-up and CPC lines. Each test then tampers with one thing, the way only someone
who switches PostgreSQL's append-only trigger off could, and checks that verify names
it. The ledger is built once per database (PostgreSQL in a database of this module's
own, and SQLite) and put back line for line after each test. Tests that add events (a
late refund, a late click) or need a month not yet settled build their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.exc import DBAPIError

from service import clock
from service.app import create_app
from service.campaigns.models import Campaign, Partnership
from service.commissions.models import CommissionLine
from service.conversions.models import Conversion
from service.migrate import upgrade
from tests.support.app import Api, make_settings, migrated_database

LINES = CommissionLine.__table__
C = Campaign.__table__
P = Partnership.__table__
SEPT_1 = "2026-09-01T09:00:00Z"
DEC_1 = "2026-12-01T08:00:00Z"  # November has ended and has been closed
DEC_1_LATER = "2026-12-01T09:00:00Z"  # an order of December, unpaid
TRIGGER = "commission_lines_append_only"  # migrations/versions/*_0004_ledger_append_only.py
HUMAN_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 Instagram 309.0.0.40.113"
)
TIERED = {
    "type": "tiered_percent",
    "tiers": [{"up_to": "100.00", "rate": "10"}, {"up_to": None, "rate": "20"}],
}


pytestmark = pytest.mark.frozen_at(SEPT_1)  # where ``api`` is made


# helpers ---------------------------------------------------------------------------------


def db_of(api: Api) -> Any:
    return api.app.extensions["afftrack"].db


def verify(api: Api) -> tuple[int, str]:
    """Run `afftrack ledger verify`; a crash is never taken for a found difference."""
    result = api.app.test_cli_runner().invoke(args=["ledger", "verify"])
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        result.output,
        repr(result.exception),
    )
    if result.exit_code == 0:
        assert "no differences" in result.output, result.output
    else:
        assert result.exit_code == 1 and "difference(s)" in result.output, result.output
    return result.exit_code, result.output


def differences(output: str) -> list[str]:
    """The lines of verify's output that report a difference."""
    return [
        line for line in output.splitlines() if line and not line.startswith(("note: ", "checked "))
    ]


def notes(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("note: ")]


def send(api: Api, frozen: Any, payload: dict[str, Any], status: str) -> None:
    frozen.set(payload["occurred_at"])
    r = api.webhook(payload)
    assert r.status_code == 200 and r.json["status"] == status, r.json


def order(order_id: str, when: str, code: str, subtotal: str) -> dict[str, Any]:
    return {
        "type": "order",
        "order_id": order_id,
        "occurred_at": when,
        "currency": "EUR",
        "subtotal": subtotal,
        "promo_codes": [code],
    }


def refund(order_id: str, refund_id: str, when: str, amount: str) -> dict[str, Any]:
    return {
        "type": "refund",
        "order_id": order_id,
        "refund_id": refund_id,
        "occurred_at": when,
        "amount": amount,
    }


def click(api: Api, code: str, ip: str) -> None:
    r = api.client.get(
        f"/r/{code}", headers={"User-Agent": HUMAN_UA}, environ_base={"REMOTE_ADDR": ip}
    )
    assert r.status_code == 302


def drain(api: Api) -> None:
    """Write queued clicks (with Redis, clicks reach the database through the worker)."""
    if api.app.extensions["afftrack"].redis is not None:
        result = api.app.test_cli_runner().invoke(args=["worker", "--drain"])
        assert result.exit_code == 0, result.output


def detail(api: Api, period: str) -> list[dict[str, Any]]:
    """GET a month's export, line by line (it writes nothing, docs/product.md §10)."""
    r = api.get(f"/api/v1/exports/commissions/{period}?format=json&detail=lines")
    assert r.status_code == 200, r.data
    return r.json["lines"]


def close(api: Api, period: str) -> None:
    """Close an ended month: it writes the month's true-up and CPC lines first."""
    r = api.post(f"/api/v1/exports/commissions/{period}/close")
    assert r.status_code == 200, r.json


def tamper(api: Api, *statements: Any) -> None:
    """Change the ledger behind the service's back. On PostgreSQL the append-only trigger
    refuses that, so it is switched off for the change and on again in the same
    transaction (a failure rolls both back)."""
    db = db_of(api)
    pg = db.dialect == "postgresql"
    with db.engine.begin() as conn:
        if pg:
            conn.execute(text(f"ALTER TABLE commission_lines DISABLE TRIGGER {TRIGGER}"))
        for statement in statements:
            result = conn.execute(statement)
            assert statement.is_insert or result.rowcount == 1, statement
        if pg:
            conn.execute(text(f"ALTER TABLE commission_lines ENABLE TRIGGER {TRIGGER}"))
    if pg:
        with db.engine.connect() as conn:
            enabled = conn.execute(
                text("SELECT tgenabled FROM pg_trigger WHERE tgname = :name"), {"name": TRIGGER}
            ).scalar_one()
        assert enabled == "O"  # the trigger guards the ledger again


def set_line(line: dict[str, Any], **values: Any) -> Any:
    return update(LINES).where(LINES.c.id == line["id"]).values(**values)


def set_rule(line: dict[str, Any], **changes: Any) -> Any:
    rule = {**line["rule"], **changes}
    return set_line(line, rule={k: v for k, v in rule.items() if v is not None})


def all_lines(api: Api) -> list[dict[str, Any]]:
    with db_of(api).engine.connect() as conn:
        rows = conn.execute(select(LINES).order_by(LINES.c.id)).mappings().all()
    return [dict(row) for row in rows]


# the ledger ------------------------------------------------------------------------------


@dataclass
class Ledger:
    api: Api
    people: dict[str, str]  # handle → influencer id
    campaigns: dict[str, str]  # slug → campaign id
    partnerships: dict[str, str]  # handle → partnership id
    links: dict[str, str]  # handle → link code
    conversions: dict[str, str] = field(default_factory=dict)  # order id → conversion id
    lines: dict[str, dict[str, Any]] = field(default_factory=dict)  # name → line
    deliverable: str = ""
    snapshot: list[dict[str, Any]] = field(default_factory=list)  # every line, as built
    rules: dict[tuple[str, str], Any] = field(default_factory=dict)  # rules, as built
    # 1 December, November ended but not closed yet:
    before_get: list[dict[str, Any]] = field(default_factory=list)  # every line
    after_get: list[dict[str, Any]] = field(default_factory=list)  # … after the GET
    shown: list[dict[str, Any]] = field(default_factory=list)  # the GET's detail lines
    verified_open: tuple[int, str] = (0, "")  # verify's answer then

    def refresh(self) -> None:
        with db_of(self.api).engine.connect() as conn:
            self.conversions = dict(conn.execute(select(Conversion.order_id, Conversion.id)).all())
        rows = all_lines(self.api)
        by_key = {row["idempotency_key"]: row for row in rows}

        def only(rows: list[dict[str, Any]]) -> dict[str, Any]:
            assert len(rows) == 1, rows
            return rows[0]

        def sale(order_id: str, index: int) -> dict[str, Any]:
            return by_key[f"sale:{self.conversions[order_id]}:{index}"]

        def reversal_of(line: dict[str, Any]) -> dict[str, Any]:
            return only([r for r in rows if r["reverses_line_id"] == line["id"]])

        def prefixed(prefix: str) -> dict[str, Any]:
            return only([r for r in rows if r["idempotency_key"].startswith(prefix)])

        def kind(name: str) -> dict[str, Any]:
            return only([r for r in rows if r["kind"] == name])

        self.lines = {
            "sale percent": sale("A-1", 0),
            "sale flat": sale("A-1", 1),
            "sale tiered": sale("B-2", 0),
            "sale uncapped": sale("D-1", 0),
            "sale capped": sale("D-2", 0),
            "sale rejected": sale("A-2", 0),
            "sale flat 2": sale("A-2", 1),
            "reversal": reversal_of(sale("A-1", 0)),
            "reversal capped": reversal_of(sale("D-2", 0)),
            "clawback": reversal_of(sale("E-1", 0)),
            "per_post": kind("per_post"),
            "adjustment": prefixed("adjustment:"),
            "rejection": prefixed("rejection:"),
            "carry": prefixed("carry:2026-10:"),
            "carried": prefixed("carried:2026-10:"),
            "true_up": kind("true_up"),
            "cpc": kind("cpc"),
            # eve's balance is still -10.00 at November's close: carried on to December
            "carry 2": prefixed("carry:2026-11:"),
            "carried 2": prefixed("carried:2026-11:"),
            "sale open": sale("A-3", 0),
        }


def build_ledger(api: Api, frozen: Any, *, late_click: bool = False) -> Ledger:
    """September: eve's sale, paid when September closes. October: eve's order is refunded
    in full, a clawback; closing October carries her negative balance forward. November:
    every other kind of line; on 1 December its export is built (which writes nothing)
    and then November is closed (which writes its true-up and CPC lines)."""
    frozen.set(SEPT_1)
    main = api.create_campaign("main", hold_days=0)  # campaign rules: percent 10
    capped = api.create_campaign("capped", hold_days=0, monthly_cap_per_influencer="15.00")
    people = {h: api.create_influencer(h)["id"] for h in ("anna", "ben", "cara", "dan", "eve")}
    rules = {
        "anna": [{"type": "percent", "rate": "10"}, {"type": "flat", "amount": "2.00"}],
        "ben": [TIERED],
        "cara": [{"type": "cpc", "amount": "0.50"}, {"type": "per_post", "amount": "150.00"}],
        "eve": None,
    }
    partnerships = {
        handle: api.add_partner(main["id"], people[handle], rules=rule)["id"]
        for handle, rule in rules.items()
    }
    partnerships["dan"] = api.add_partner(capped["id"], people["dan"])["id"]
    for handle in ("anna", "ben", "eve"):
        api.create_promo_code(main["id"], people[handle], handle.upper())
    api.create_promo_code(capped["id"], people["dan"], "DAN")
    links = {"cara": api.create_link(main["id"], people["cara"])["code"]}
    ledger = Ledger(api, people, {"main": main["id"], "capped": capped["id"]}, partnerships, links)

    # September, closed: eve's 10.00 is paid.
    send(api, frozen, order("E-1", "2026-09-10T12:00:00Z", "EVE", "100.00"), "created")
    frozen.set("2026-10-01T08:00:00Z")
    close(api, "2026-09")
    # October, closed: her order is refunded in full, -10.00 clawed back, carried forward.
    send(api, frozen, refund("E-1", "r-e", "2026-10-05T08:00:00Z", "100.00"), "applied")
    frozen.set("2026-11-01T08:00:00Z")
    close(api, "2026-10")

    # November.
    frozen.set("2026-11-02T10:00:00Z")
    for n in range(3):
        click(api, links["cara"], f"198.51.100.{n + 1}")
    drain(api)
    send(api, frozen, order("A-1", "2026-11-03T12:00:00Z", "ANNA", "200.00"), "created")
    send(api, frozen, refund("A-1", "r-a", "2026-11-04T12:00:00Z", "50.00"), "applied")
    send(api, frozen, order("B-1", "2026-11-05T12:00:00Z", "BEN", "80.00"), "created")
    send(api, frozen, order("B-2", "2026-11-06T12:00:00Z", "BEN", "50.00"), "created")
    send(api, frozen, refund("B-1", "r-b", "2026-11-07T12:00:00Z", "30.00"), "applied")
    frozen.set("2026-11-08T12:00:00Z")
    post = api.post(
        "/api/v1/deliverables",
        {
            "campaign_id": main["id"],
            "influencer_id": people["cara"],
            "platform": "instagram",
            "url": "https://instagram.com/p/abc123",
            "posted_at": "2026-11-08T10:00:00Z",
            "metrics": {"views": 12000, "likes": 800},
        },
    )
    assert post.status_code == 201, post.json
    approved = api.post(f"/api/v1/deliverables/{post.json['id']}/approve")
    assert approved.status_code == 200, approved.json
    ledger.deliverable = post.json["id"]
    send(api, frozen, order("D-1", "2026-11-09T12:00:00Z", "DAN", "100.00"), "created")
    send(api, frozen, order("D-2", "2026-11-09T13:00:00Z", "DAN", "100.00"), "created")
    send(api, frozen, refund("D-2", "r-d", "2026-11-09T14:00:00Z", "50.00"), "applied")
    frozen.set("2026-11-10T12:00:00Z")
    adjusted = api.post(
        "/api/v1/commissions/adjustments",
        {
            "influencer_id": people["anna"],
            "campaign_id": main["id"],
            "amount": "3.00",
            "currency": "EUR",
            "reason": "bonus for the unboxing video",
        },
    )
    assert adjusted.status_code == 201, adjusted.json
    send(api, frozen, order("A-2", "2026-11-11T12:00:00Z", "ANNA", "50.00"), "created")
    sale_a2 = f"sale:{api_conversion(api, 'A-2')}:0"
    rejected = api.post(
        f"/api/v1/commissions/{line_id(api, sale_a2)}/reject", {"reason": "duplicate order"}
    )
    assert rejected.status_code == 200, rejected.json
    if late_click:  # redirected on the last evening, written after November is closed
        frozen.set("2026-11-30T22:00:00Z")
        click(api, links["cara"], "198.51.100.99")

    # 1 December: November's export is built (it writes nothing), then November is closed.
    frozen.set(DEC_1)
    ledger.before_get = all_lines(api)
    ledger.shown = detail(api, "2026-11")
    ledger.after_get = all_lines(api)
    ledger.verified_open = verify(api)
    close(api, "2026-11")
    # December, open: anna's order, not paid yet.
    send(api, frozen, order("A-3", DEC_1_LATER, "ANNA", "30.00"), "created")
    ledger.refresh()
    return ledger


def api_conversion(api: Api, order_id: str) -> str:
    with db_of(api).engine.connect() as conn:
        return conn.execute(
            select(Conversion.id).where(Conversion.order_id == order_id)
        ).scalar_one()


def line_id(api: Api, key: str) -> str:
    with db_of(api).engine.connect() as conn:
        return conn.execute(select(LINES.c.id).where(LINES.c.idempotency_key == key)).scalar_one()


# the shared ledger: built once per database, restored after each test -------------------


class Clock:
    """The frozen clock, for a fixture that outlives the per-test ``frozen``."""

    def set(self, moment: str) -> None:
        clock.set_frozen(datetime.fromisoformat(moment.replace("Z", "+00:00")))


@pytest.fixture(scope="module")
def module_pg_url() -> Iterator[str]:
    """A database of this module's own: the shared ledger must outlive the per-test
    fixtures, which empty the run's database after each test."""
    with migrated_database("afftrack_verify") as url:
        yield url


@pytest.fixture(scope="module", params=["pg", "sqlite"])
def shared(request: Any, tmp_path_factory: Any) -> Iterator[Ledger]:
    Clock().set(SEPT_1)
    if request.param == "pg":
        settings = make_settings(
            request.getfixturevalue("module_pg_url"), request.getfixturevalue("redis_url")
        )
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('verify') / 'afftrack.db'}"
        upgrade(url)
        settings = make_settings(url)
    app = create_app(settings, TESTING=True)
    try:
        ledger = build_ledger(Api(app, app.test_client()), Clock())
        ledger.snapshot = all_lines(ledger.api)
        ledger.rules = all_rules(ledger.api)
        yield ledger
    finally:
        clock.set_frozen(None)
        redis = app.extensions["afftrack"].redis
        if redis is not None:  # as the per-test fixture does: no cached link outlives us
            for key in redis.scan_iter("afftrack:*"):
                if key != "afftrack:test-run-lock":
                    redis.delete(key)
        app.extensions["afftrack"].db.dispose()


@pytest.fixture
def ledger(shared: Ledger, frozen: Any) -> Iterator[Ledger]:
    """The shared ledger on 1 December, after November's close; whatever a test changed
    is put back after it."""
    frozen.set(DEC_1_LATER)
    yield shared
    restore(shared)


def all_rules(api: Api) -> dict[tuple[str, str], Any]:
    with db_of(api).engine.connect() as conn:
        rows = [
            *((("campaign", i), r) for i, r in conn.execute(select(C.c.id, C.c.commission_rules))),
            *((("partner", i), r) for i, r in conn.execute(select(P.c.id, P.c.commission_rules))),
        ]
    return dict(rows)


def edit_rules(api: Api, table: Any, row_id: str, rules: Any) -> None:
    """Rules edited after sales (the API has no PATCH for campaigns or partnerships)."""
    with db_of(api).engine.begin() as conn:
        result = conn.execute(
            update(table).where(table.c.id == row_id).values(commission_rules=rules)
        )
        assert result.rowcount == 1


def restore(ledger: Ledger) -> None:
    """Put the shared ledger back as it was built (lines and rules)."""
    api = ledger.api
    current = {row["id"]: row for row in all_lines(api)}
    statements = []
    for row in ledger.snapshot:
        now = current.pop(row["id"], None)
        if now is None:
            statements.append(insert(LINES).values(**row))
        elif now != row:
            statements.append(update(LINES).where(LINES.c.id == row["id"]).values(**row))
    statements += [delete(LINES).where(LINES.c.id == extra) for extra in current]
    if statements:
        tamper(api, *statements)
    for (what, row_id), rules in ledger.rules.items():
        edit_rules(api, C if what == "campaign" else P, row_id, rules)
    assert all_lines(api) == ledger.snapshot
    assert all_rules(api) == ledger.rules


def amounts(ledger: Ledger) -> dict[str, int]:
    return {name: line["amount_minor"] for name, line in ledger.lines.items()}


def assert_reported(output: str, *fragments: str) -> None:
    """Each fragment is in one reported difference (not merely in a note)."""
    found = differences(output)
    for fragment in fragments:
        assert any(fragment in line for line in found), (fragment, output)


# the untouched ledger --------------------------------------------------------------------


def test_an_untouched_ledger_with_every_kind_of_line_verifies(ledger):
    assert amounts(ledger) == {
        "sale percent": 2000,  # 10% of 200.00
        "sale flat": 200,
        "sale tiered": 800,  # 50.00 after 80.00: 20.00 at 10%, 30.00 at 20%
        "sale uncapped": 1000,
        "sale capped": 500,  # cut to the 15.00 monthly cap
        "sale rejected": 500,
        "sale flat 2": 200,
        "reversal": -500,  # 50.00 of 200.00 refunded
        "reversal capped": -250,  # half of the capped line (and of its cut)
        "clawback": -1000,  # eve's paid 10.00, refunded in full
        "per_post": 15000,
        "adjustment": 300,
        "rejection": 0,
        "carry": 1000,  # out of October (paid in its export) …
        "carried": -1000,  # … and into November
        "true_up": -300,  # net 100.00 → 10.00; the lines hold 8 + 8 - 3 = 13.00
        "cpc": 150,  # 3 unique clicks at 0.50
        "carry 2": 1000,  # eve is still at -10.00 in November: out of it …
        "carried 2": -1000,  # … and into December
        "sale open": 300,  # 10% of 30.00, in December
    }
    lines = ledger.lines
    assert (lines["sale capped"]["cut_minor"], lines["sale capped"]["cap"]) == (500, "monthly_cap")
    assert lines["reversal capped"]["cut_minor"] == -250
    assert lines["sale tiered"]["before_minor"] == 8000
    assert lines["sale rejected"]["status"] == lines["rejection"]["status"] == "rejected"
    assert lines["true_up"]["month"] == lines["cpc"]["month"] == "2026-11"
    unpaid = {name for name, line in lines.items() if line["status"] != "paid"}
    assert unpaid == {"sale rejected", "rejection", "carried 2", "sale open"}
    code, output = verify(ledger.api)
    assert code == 0, output
    assert not notes(output), output
    assert f"checked {len(ledger.snapshot)} lines: no differences" in output
    db = db_of(ledger.api)
    if db.dialect == "postgresql":  # tampering needs the trigger off
        with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
            conn.execute(set_line(lines["sale percent"], amount_minor=1))


def test_an_ended_months_export_writes_nothing_and_closing_writes_what_it_showed(ledger):
    """docs/product.md §10: building the export of an ended, open month shows its true-up and CPC as
    they would be; closing writes exactly those lines. Until the close, November is not
    due for settlement, so verify passes without them."""
    assert ledger.after_get == ledger.before_get
    assert not [line for line in ledger.before_get if line["kind"] in ("true_up", "cpc")]
    shown = {
        (line["kind"], line["line_id"], line["amount"], line["due_at"])
        for line in ledger.shown
        if line["kind"] in ("true_up", "cpc")
    }
    written = {
        (kind, line["id"], f"{line['amount_minor'] / 100:.2f}", line["due_at"].isoformat())
        for kind in ("true_up", "cpc")
        for line in [ledger.lines[kind]]
    }
    assert shown == written
    assert {amount for _, _, amount, _ in shown} == {"-3.00", "1.50"}
    assert ledger.verified_open == (0, f"checked {len(ledger.before_get)} lines: no differences\n")


# one tampering per test ------------------------------------------------------------------

Case = Any  # (ledger) -> (statements, fragments that must be reported)


def wrong_amount(name: str, amount: int, expected: int) -> Case:
    def case(ledger: Ledger) -> tuple[list[Any], list[str]]:
        line = ledger.lines[name]
        return [set_line(line, amount_minor=amount)], [
            f"line {line['id']} ({line['idempotency_key']}): {amount} EUR, expected {expected} EUR"
        ]

    return case


def wrong_settlement(kind: str, handle: str, amount: int, holds: int, expected: int) -> Case:
    def case(ledger: Ledger) -> tuple[list[Any], list[str]]:
        where = f"{kind} {ledger.partnerships[handle]} rule 0 2026-11"
        return [set_line(ledger.lines[kind], amount_minor=amount)], [
            f"{where}: the month's lines hold {holds}, expected {expected}",
            CHECKSUM,  # and it was paid in November's export
        ]

    return case


def wrong_rule(name: str, message: str, **changes: Any) -> Case:
    """``message`` follows "line <id>" in the report; KEY stands for the line's key."""

    def case(ledger: Ledger) -> tuple[list[Any], list[str]]:
        line = ledger.lines[name]
        message_ = message.replace("KEY", line["idempotency_key"])
        return [set_rule(line, **changes)], [f"line {line['id']}{message_}"]

    return case


def wrong_field(name: str, message: str, **values: Any) -> Case:
    """``message`` follows "line <id>" in the report; KEY stands for the line's key."""

    def case(ledger: Ledger) -> tuple[list[Any], list[str]]:
        line = ledger.lines[name]
        message_ = message.replace("KEY", line["idempotency_key"])
        return [set_line(line, **values)], [f"line {line['id']}{message_}"]

    return case


def over_the_cap(ledger: Ledger) -> tuple[list[Any], list[str]]:
    """The capped line takes 3.00 more and says the cap cut 3.00 less: the line adds up
    on its own, the month does not (10.00 + 8.00 - 2.50 > 15.00)."""
    line = ledger.lines["sale capped"]
    campaign, dan = ledger.campaigns["capped"], ledger.people["dan"]
    return [set_line(line, amount_minor=800, cut_minor=200)], [
        f"campaign {campaign}: {dan} holds 1550 in 2026-11, cap 1500"
    ]


def unrejected(ledger: Ledger) -> tuple[list[Any], list[str]]:
    """The rejected line is pending again (the fraud is paid after all): its rejection
    record now records nothing."""
    return [set_line(ledger.lines["sale rejected"], status="pending")], [
        f"line {ledger.lines['rejection']['id']}: a rejection record of no rejected line"
    ]


def missing(name: str, fragment: Any) -> Case:
    def case(ledger: Ledger) -> tuple[list[Any], list[str]]:
        line = ledger.lines[name]
        return [delete(LINES).where(LINES.c.id == line["id"])], [fragment(ledger, line)]

    return case


def missing_sale(order_id: str, index: int, amount: int) -> Any:
    def fragment(ledger: Ledger, line: dict[str, Any]) -> str:
        key = f"sale:{ledger.conversions[order_id]}:{index}"
        return f"missing line {key}: order generic/{order_id} should be {amount} EUR"

    return fragment


def invented(kind: str, handle: str, holds: int) -> Case:
    """A settlement line of December, a month nobody settled, made by copying
    November's: verify checks any month that holds a settlement line."""

    def case(ledger: Ledger) -> tuple[list[Any], list[str]]:
        line = ledger.lines[kind]
        pid = ledger.partnerships[handle]
        last = datetime.fromisoformat("2026-12-31T23:59:59.999999+00:00")
        copy = {
            **line,
            "id": f"cml_invented_{kind}",
            "idempotency_key": f"{kind}:{pid}:0:2026-12:0",
            "month": "2026-12",
            "occurred_at": last,
            "due_at": last,
            "status": "pending",
            "export_id": None,
        }
        return [insert(LINES).values(**copy)], [
            f"{kind} {pid} rule 0 2026-12: the month's lines hold {holds}, expected 0"
        ]

    return case


CHECKSUM = "export 2026-11 no longer matches its checksum"
UNREADABLE = ": its rule cannot be read"
NO_REASON = ": an adjustment without a reason or key"

TAMPERING = [
    # the amount of each kind of line
    pytest.param(wrong_amount("sale percent", 2001, 2000), id="sale-percent-amount"),
    pytest.param(wrong_amount("sale flat", 199, 200), id="sale-flat-amount"),
    pytest.param(wrong_amount("sale tiered", 801, 800), id="sale-tiered-amount"),
    pytest.param(wrong_amount("reversal", -499, -500), id="reversal-amount"),
    pytest.param(wrong_amount("per_post", 15100, 15000), id="per-post-amount"),
    pytest.param(wrong_settlement("true_up", "ben", -299, 1001, 1000), id="true-up-amount"),
    pytest.param(wrong_settlement("cpc", "cara", 200, 200, 150), id="cpc-amount"),
    pytest.param(wrong_amount("sale capped", 501, 500), id="capped-sale-amount"),
    pytest.param(wrong_amount("reversal capped", -200, -250), id="capped-reversal-amount"),
    pytest.param(wrong_amount("clawback", -900, -1000), id="paid-clawback-amount"),
    pytest.param(wrong_amount("sale open", 301, 300), id="unpaid-sale-amount"),
    # what a line records of how it was worked out
    pytest.param(
        # 50.00 from 0.00 earns 5.00, not 8.00
        wrong_field("sale tiered", " (KEY): 800 EUR, expected 500 EUR", before_minor=0),
        id="tiered-before-changed",
    ),
    pytest.param(
        wrong_field(
            "sale tiered",
            f"{UNREADABLE} (a tiered line without the month's sales before it)",
            before_minor=None,
        ),
        id="tiered-before-removed",
    ),
    pytest.param(
        wrong_field("sale capped", ": cut 2000 is more than 1000", cut_minor=2000),
        id="oversized-cut",
    ),
    pytest.param(
        # the reversal gives back half of what the cap cut off, 2.50, not 1.00
        wrong_field("reversal capped", " (KEY): cut -1.00, expected -250 EUR", cut_minor=-100),
        id="reversal-cut-share-changed",
    ),
    pytest.param(
        wrong_field("reversal capped", " (KEY): cut None, expected -250 EUR", cut_minor=None),
        id="reversal-cut-share-removed",
    ),
    pytest.param(
        # the line's own rule, not its amount
        wrong_rule("sale percent", " (KEY): 2000 EUR, expected 2400 EUR", rate="12"),
        id="rule-rate-changed",
    ),
    # a line cut by no cap: the campaign has none
    pytest.param(
        lambda ledger: (
            [set_line(ledger.lines["sale flat 2"], amount_minor=100, cut_minor=100, cap="budget")],
            [f"line {ledger.lines['sale flat 2']['id']}: cut 100 by a campaign without caps"],
        ),
        id="cut-on-an-uncapped-campaign",
    ),
    pytest.param(over_the_cap, id="pushed-over-the-monthly-cap"),
    # settlement lines that belong to no month, or to a month nobody settled
    pytest.param(
        lambda ledger: (
            [set_line(ledger.lines["cpc"], month="2026-10")],
            [
                f"line {ledger.lines['cpc']['id']}: a cpc line for no month",
                f"cpc {ledger.partnerships['cara']} rule 0 2026-11: the month's lines hold 0, "
                "expected 150",
            ],
        ),
        id="cpc-line-of-another-month",
    ),
    pytest.param(invented("cpc", "cara", 150), id="cpc-line-for-an-unsettled-month"),
    pytest.param(invented("true_up", "ben", -300), id="true-up-line-for-an-unsettled-month"),
    # adjustments, rejections, carry-forwards
    pytest.param(wrong_field("adjustment", NO_REASON, reason=""), id="adjustment-reason-blank"),
    pytest.param(
        wrong_field("adjustment", NO_REASON, reason="  \n"), id="adjustment-reason-whitespace"
    ),
    pytest.param(wrong_field("adjustment", NO_REASON, reason=None), id="adjustment-reason-null"),
    pytest.param(
        wrong_field("adjustment", NO_REASON, created_by_key_id=None), id="adjustment-key-removed"
    ),
    pytest.param(wrong_field("rejection", NO_REASON, reason=""), id="rejection-reason-blank"),
    pytest.param(
        wrong_field("rejection", NO_REASON, created_by_key_id=None), id="rejection-key-removed"
    ),
    pytest.param(unrejected, id="rejected-line-restored"),
    pytest.param(
        wrong_field("carried", ": a carry-forward without its counterpart", amount_minor=-900),
        id="carried-balance-changed",
    ),
    pytest.param(
        wrong_field("carried 2", ": a carry-forward without its counterpart", amount_minor=-900),
        id="unpaid-carried-balance-changed",
    ),
    # payment
    pytest.param(
        wrong_field("sale open", " is paid but belongs to no export", status="paid"),
        id="paid-outside-an-export",
    ),
    pytest.param(
        lambda ledger: (
            [set_line(ledger.lines["per_post"], export_id=None)],
            [f"line {ledger.lines['per_post']['id']} is paid but belongs to no export", CHECKSUM],
        ),
        id="paid-line-taken-out-of-its-export",
    ),
    pytest.param(
        # it still recomputes (its amount and rule are kept), but the closed month no
        # longer rebuilds to what finance paid from
        lambda ledger: (
            [set_line(ledger.lines["per_post"], influencer_id=ledger.people["anna"])],
            [CHECKSUM],
        ),
        id="paid-line-moved-to-another-influencer",
    ),
    pytest.param(
        lambda ledger: (
            [set_line(ledger.lines["sale open"], influencer_id=ledger.people["ben"])],
            [f"line {ledger.lines['sale open']['id']}"],
        ),
        id="unpaid-line-moved-to-another-influencer",
    ),
    pytest.param(
        lambda ledger: (
            [set_line(ledger.lines["sale open"], status="rejected")],
            [f"line {ledger.lines['sale open']['id']}"],
        ),
        id="line-rejected-without-a-rejection-record",
    ),
    # A line of an unknown kind: the database refuses it (tests/test_ledger_vocabulary.py).
    # deleted lines
    pytest.param(missing("sale uncapped", missing_sale("D-1", 0, 1000)), id="missing-sale-line"),
    pytest.param(missing("sale flat 2", missing_sale("A-2", 1, 200)), id="missing-flat-line"),
    pytest.param(missing("sale open", missing_sale("A-3", 0, 300)), id="missing-unpaid-sale-line"),
    pytest.param(
        missing(
            "reversal",
            lambda ledger, line: f"missing line {line['idempotency_key']}: refund r-a of order A-1",
        ),
        id="missing-reversal",
    ),
    pytest.param(
        missing(
            "sale tiered",
            lambda ledger, line: (
                f"missing line {line['idempotency_key']}: tiered line of order generic/B-2"
            ),
        ),
        id="missing-tiered-line",
    ),
    pytest.param(
        missing(
            "per_post",
            lambda ledger, line: (
                f"missing line per_post:{ledger.deliverable}:1: the fee of deliverable "
                f"{ledger.deliverable}"
            ),
        ),
        id="missing-per-post-line",
    ),
    pytest.param(
        missing(
            "true_up",
            lambda ledger, line: (
                f"true_up {ledger.partnerships['ben']} rule 0 2026-11: the month's lines hold "
                "1300, expected 1000"
            ),
        ),
        id="missing-true-up-line",
    ),
    pytest.param(
        missing(
            "cpc",
            lambda ledger, line: (
                f"cpc {ledger.partnerships['cara']} rule 0 2026-11: the month's lines hold 0, "
                "expected 150"
            ),
        ),
        id="missing-cpc-line",
    ),
]


@pytest.mark.parametrize("case", TAMPERING)
def test_verify_names_a_tampered_line(ledger, case):
    statements, fragments = case(ledger)
    tamper(ledger.api, *statements)
    code, output = verify(ledger.api)
    assert code == 1, output
    assert_reported(output, *fragments)


# rules edited in the database ------------------------------------------------------------
# The API cannot change a campaign's or a partnership's rules (no PATCH), so an edit is
# made behind the service's back. Each line records the rule it was written under and
# is recomputed from that copy (docs/money.md, "Commission rules"); but verify expects a
# sale line for each rule the partnership has now, and settles a month with the rules
# in force, so an edit that adds a rule or changes a tiered or cpc rule is flagged.

PERCENT_10 = {"type": "percent", "rate": "10"}
FLAT_2 = {"type": "flat", "amount": "2.00"}
PER_POST = {"type": "per_post", "amount": "150.00"}


@pytest.mark.parametrize(
    ("table", "owner", "rules"),
    [
        pytest.param("campaign", "main", [{"type": "percent", "rate": "15"}], id="campaign-rate"),
        pytest.param(
            "partner",
            "anna",
            [{"type": "percent", "rate": "12"}, {"type": "flat", "amount": "3.00"}],
            id="rates",
        ),
        pytest.param("partner", "anna", [FLAT_2, PERCENT_10], id="reordered"),
        pytest.param("partner", "anna", None, id="own-rules-dropped"),
        pytest.param("partner", "ben", [PERCENT_10], id="tiered-replaced"),
        pytest.param(
            "partner",
            "cara",
            [{"type": "cpc", "amount": "0.50"}, {"type": "per_post", "amount": "200.00"}],
            id="per-post-fee",
        ),
    ],
)
def test_old_lines_are_checked_against_the_rule_they_record(ledger, table, owner, rules):
    api = ledger.api
    if table == "campaign":
        edit_rules(api, C, ledger.campaigns[owner], rules)
    else:
        edit_rules(api, P, ledger.partnerships[owner], rules)
    code, output = verify(api)
    assert code == 0, output
    assert not notes(output), output


def rule_added(ledger: Ledger) -> list[str]:
    """A flat 1.00 added to anna's rules: each of her orders (the one whose percent line
    was rejected too) lacks a line for it."""
    return [
        f"missing line sale:{ledger.conversions[order_id]}:2: order generic/{order_id} "
        "should be 100 EUR"
        for order_id in ("A-1", "A-2", "A-3")
    ]


@pytest.mark.parametrize(
    ("owner", "rules", "expected"),
    [
        pytest.param(
            "anna",
            [PERCENT_10, FLAT_2, {"type": "flat", "amount": "1.00"}],
            rule_added,
            id="rule-added",
        ),
        pytest.param(
            "ben",
            [
                {
                    "type": "tiered_percent",
                    "tiers": [{"up_to": "100.00", "rate": "12"}, {"up_to": None, "rate": "20"}],
                }
            ],
            # November's net 100.00 at 12% is 12.00; its lines hold 10.00
            lambda ledger: [
                f"true_up {ledger.partnerships['ben']} rule 0 2026-11: the month's lines "
                "hold 1000, expected 1200"
            ],
            id="tiers",
        ),
        pytest.param(
            "cara",
            [{"type": "cpc", "amount": "0.75"}, PER_POST],
            # 3 clicks at 0.75; the line paid them at 0.50
            lambda ledger: [
                f"cpc {ledger.partnerships['cara']} rule 0 2026-11: the month's lines "
                "hold 150, expected 225"
            ],
            id="cpc-rate",
        ),
    ],
)
def test_verify_flags_a_rule_edited_behind_its_back(ledger, owner, rules, expected):
    edit_rules(ledger.api, P, ledger.partnerships[owner], rules)
    code, output = verify(ledger.api)
    assert code == 1, output
    assert_reported(output, *expected(ledger))


# changes after a month was closed --------------------------------------------------------


def late_order(api: Api, frozen: Any) -> None:
    """B-3 (40.00, 4 November) reaches the shop's webhook only on 3 December."""
    frozen.set("2026-12-03T12:00:00Z")
    r = api.webhook(order("B-3", "2026-11-04T12:00:00Z", "BEN", "40.00"))
    assert r.status_code == 200 and r.json["status"] == "created", r.json


LATE_CHANGES = {
    # November's net for ben was 100.00 (10.00), its lines 10.00 after the true-up of -3.00.
    # 20.00 of B-2 refunded: net 80.00 → 8.00; the lines hold 10.00 - 3.20.
    "refund": (
        lambda api, frozen: send(
            api, frozen, refund("B-2", "r-late", "2026-12-03T12:00:00Z", "20.00"), "applied"
        ),
        120,
    ),
    # B-2 cancelled: net 50.00 → 5.00; the lines hold 10.00 - 8.00.
    "cancel": (
        lambda api, frozen: send(
            api,
            frozen,
            {"type": "cancel", "order_id": "B-2", "occurred_at": "2026-12-03T12:00:00Z"},
            "applied",
        ),
        300,
    ),
    # B-3, 40.00 on 4 November, before B-1: net 140.00 → 18.00; the lines hold 10.00 plus
    # B-3's 4.00 (it came first in the month).
    "late-order": (late_order, 400),
}


@pytest.mark.parametrize("change", list(LATE_CHANGES))
def test_a_change_after_the_close_is_a_note_until_the_next_close(api, frozen, change):
    """docs/product.md §10: closing writes the true-up. A refund, cancel or late order of a closed
    month after its close leaves the month's lines short: a note, not a difference, until
    the next close settles it."""
    happen, true_up = LATE_CHANGES[change]
    ledger = build_ledger(api, frozen)
    ben = ledger.partnerships["ben"]
    happen(api, frozen)
    code, output = verify(api)
    assert code == 0, output
    assert notes(output) == [
        f"note: true_up {ben} rule 0 2026-11: changed since it was settled (settle again)"
    ]
    # Building December's export shows November's new true-up and writes nothing …
    frozen.set("2027-01-01T08:00:00Z")
    before = all_lines(api)
    shown = [line for line in detail(api, "2026-12") if line["kind"] == "true_up"]
    assert [(line["rule"]["month"], line["amount"]) for line in shown] == [
        ("2026-11", f"{true_up / 100:.2f}")
    ]
    assert all_lines(api) == before
    assert verify(api)[0] == 0
    # … closing December writes it.
    close(api, "2026-12")
    true_ups = [line for line in all_lines(api) if line["kind"] == "true_up"]
    assert sorted(line["amount_minor"] for line in true_ups) == sorted([-300, true_up])
    code, output = verify(api)
    assert code == 0, output
    assert not notes(output), output


def test_a_true_up_tampered_after_a_late_refund_is_caught_by_the_export_checksum(api, frozen):
    """By design (verify.py, `_settlements`) a month changed since its close reports any
    true-up difference as a note until the next close, a tampered true-up line included.
    The line was paid in November's export, so the export's checksum still names it; and
    the next close writes the difference, so the tampered amount is trued up, not hidden."""
    ledger = build_ledger(api, frozen)
    ben = ledger.partnerships["ben"]
    send(api, frozen, refund("B-2", "r-late", "2026-12-03T12:00:00Z", "20.00"), "applied")
    tamper(api, set_line(ledger.lines["true_up"], amount_minor=-100))  # 2.00 more for ben
    code, output = verify(api)
    assert code == 1, output
    assert differences(output) == [CHECKSUM]
    assert notes(output) == [
        f"note: true_up {ben} rule 0 2026-11: changed since it was settled (settle again)"
    ]
    # December's close trues November up from what the lines hold: 8.00 - (10.00 + 2.00
    # tampered - 3.20 refunded) = -0.80 instead of +1.20.
    frozen.set("2027-01-01T08:00:00Z")
    close(api, "2026-12")
    true_ups = [line["amount_minor"] for line in all_lines(api) if line["kind"] == "true_up"]
    assert sorted(true_ups) == [-100, -80]
    code, output = verify(api)
    assert code == 1 and differences(output) == [CHECKSUM], output
    assert not notes(output), output


@pytest.fixture
def late_click(pg_api: Api, frozen: Any) -> Ledger:
    """A click redirected on 30 November reaches the database (through Redis and the
    worker) only after November's close settled its CPC on 3 clicks."""
    frozen.set(SEPT_1)
    ledger = build_ledger(pg_api, frozen, late_click=True)
    assert ledger.lines["cpc"]["clicks"] == 3
    drain(pg_api)
    return ledger


def test_a_late_click_after_the_close_is_a_note_until_the_month_is_settled(late_click):
    ledger = late_click
    api = ledger.api
    code, output = verify(api)
    assert code == 0, output
    assert notes(output) == [
        f"note: cpc {ledger.partnerships['cara']} rule 0 2026-11: "
        "changed since it was settled (settle again)"
    ]
    settled = api.app.test_cli_runner().invoke(args=["ledger", "settle", "--month", "2026-11"])
    assert settled.exit_code == 0, settled.output
    assert "settled 2026-11: 0 true-up line(s), 1 cpc line(s)" in settled.output
    cpc = [line for line in all_lines(api) if line["kind"] == "cpc"]
    assert sorted((line["amount_minor"], line["clicks"]) for line in cpc) == [
        (50, 4),
        (150, 3),
    ]
    code, output = verify(api)
    assert code == 0 and not notes(output), output


@pytest.mark.parametrize(
    ("changes", "holds"),
    [
        pytest.param({"amount_minor": 175}, 175, id="amount"),
        # the line says it paid 4 clicks: clicks did not grow since, so no excuse
        pytest.param({"clicks": 4}, 150, id="clicks-claimed"),
    ],
)
def test_a_tampered_cpc_line_is_a_difference_even_after_a_late_click(late_click, changes, holds):
    ledger = late_click
    line = ledger.lines["cpc"]
    tamper(ledger.api, set_line(line, **changes))
    code, output = verify(ledger.api)
    assert code == 1, output
    assert_reported(
        output,
        f"cpc {ledger.partnerships['cara']} rule 0 2026-11: the month's lines hold {holds}, "
        "expected 200",
    )


# a month not settled yet -----------------------------------------------------------------


def unsettled_tiered(api: Api, frozen: Any) -> dict[str, Any]:
    """Two tiered sales in September, held 30 days, on 7 September: no true-up can exist
    yet, nothing is due."""
    ben = api.create_influencer("ben")
    campaign = api.create_campaign("tiers", hold_days=30, commission_rules=[TIERED])
    api.add_partner(campaign["id"], ben["id"])
    api.create_promo_code(campaign["id"], ben["id"], "BEN")
    send(api, frozen, order("T-1", "2026-09-05T12:00:00Z", "BEN", "80.00"), "created")
    send(api, frozen, order("T-2", "2026-09-06T12:00:00Z", "BEN", "50.00"), "created")
    frozen.set("2026-09-07T12:00:00Z")
    first, second = sorted(all_lines(api), key=lambda line: line["occurred_at"])
    assert (first["amount_minor"], second["amount_minor"]) == (800, 800)
    assert second["before_minor"] == 8000
    assert second["due_at"].isoformat().startswith("2026-10-06T12:00:00")
    assert verify(api)[0] == 0
    return {"first": first, "second": second}


@pytest.mark.parametrize(
    "how",
    [
        pytest.param("amount", id="amount"),
        pytest.param("amount-without-before", id="amount-without-before"),
        pytest.param("deleted", id="deleted"),
        pytest.param(
            "due-earlier",
            id="due-earlier",
        ),
    ],
)
def test_an_unpaid_tiered_line_is_checked_before_its_month_is_settled(api, frozen, how):
    line = unsettled_tiered(api, frozen)["second"]
    fragment = line["id"]
    if how == "deleted":
        change = delete(LINES).where(LINES.c.id == line["id"])
        fragment = f"missing line {line['idempotency_key']}: tiered line of order generic/T-2"
    elif how == "amount":
        change = set_line(line, amount_minor=1300)
        fragment = f"line {line['id']} ({line['idempotency_key']}): 1300 EUR, expected 800 EUR"
    elif how == "amount-without-before":
        change = set_line(line, amount_minor=1300, before_minor=None)
        fragment = f"line {line['id']}: its rule cannot be read (a tiered line without"
    else:
        change = set_line(line, due_at=line["occurred_at"])
    tamper(api, change)
    code, output = verify(api)
    assert code == 1, output
    assert_reported(output, fragment)
