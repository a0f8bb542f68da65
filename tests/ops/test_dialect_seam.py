"""The dialect seam (service/db.py): a Database chooses its flavour once, when it builds
its engine, and hands it to every session and connection; a repository answers with
the variant of that flavour, and both variants of a repository give the same answers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import service
from service.clicks.ingest import ClickWorker
from service.clicks.models import Click
from service.clicks.partitions import CLICKS, insert_clicks
from service.conversions.orders import ORDERS
from service.db import FLAVOUR, Database, Flavour, flavour
from service.exports import statement
from service.exports.queries import EXPORTS
from service.reports.queries import REPORTS
from service.reports.service import campaign_report
from tests.support.app import Api
from tests.support.clicks import stored_click


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'seam.db'}"


@pytest.mark.parametrize("backend", ["pg", "sqlite"])
def test_a_database_hands_the_flavour_it_chose_to_its_sessions_and_connections(
    request: Any, backend: str
) -> None:
    url = request.getfixturevalue("pg_url" if backend == "pg" else "sqlite_url")
    expected = Flavour.POSTGRESQL if backend == "pg" else Flavour.SQLITE
    db = Database(url)
    try:
        assert db.flavour is expected
        with db.session() as session:
            assert session.info[FLAVOUR] is expected
            assert EXPORTS.of(session) is EXPORTS[expected]
            assert REPORTS.of(session) is REPORTS[expected]
            assert ORDERS.of(session) is ORDERS[expected]
        with db.read_session() as session:
            assert flavour(session) is expected
        with db.engine.connect() as conn:
            assert flavour(conn) is expected
            assert CLICKS.of(conn) is CLICKS[expected]
    finally:
        db.dispose()


def test_the_click_worker_takes_its_writes_from_the_flavour_chosen_at_start_up(
    pg_app: Any,
) -> None:
    svc = pg_app.extensions["afftrack"]
    worker = ClickWorker(svc.db, svc.redis, "afftrack:test-seam:clicks")
    try:
        assert worker.clicks is CLICKS[Flavour.POSTGRESQL]
    finally:
        svc.redis.delete("afftrack:test-seam:clicks")


def _month(api: Api, frozen: Any) -> dict[str, Any]:
    """A September with orders in two currencies, a refund and an adjustment."""
    frozen.set("2026-09-01T09:00:00Z")
    anna = api.create_influencer("anna")
    rules = [{"type": "percent", "rate": "10"}, {"type": "flat", "amount": "5.00"}]
    campaign = api.create_campaign("seam", hold_days=0, commission_rules=rules)
    api.add_partner(campaign["id"], anna["id"])
    api.create_promo_code(campaign["id"], anna["id"], "ANNA15")
    for n, (currency, subtotal) in enumerate((("EUR", "120.50"), ("JPY", "12000"))):
        frozen.set(f"2026-09-1{n}T12:00:00.{n * 1000:06d}Z")
        order = {
            "type": "order",
            "order_id": f'=S-{n}, "x"',
            "occurred_at": f"2026-09-1{n}T12:00:00Z",
            "currency": currency,
            "subtotal": subtotal,
            "promo_codes": ["ANNA15"],
        }
        assert api.webhook(order).status_code in (200, 201)
    refund = {
        "type": "refund",
        "order_id": '=S-1, "x"',
        "refund_id": "r-1",
        "occurred_at": "2026-09-20T12:00:00Z",
        "amount": "3000",
    }
    assert api.webhook(refund).json["status"] == "applied"
    frozen.set("2026-09-25T12:00:00Z")
    adjustment = {
        "influencer_id": anna["id"],
        "campaign_id": campaign["id"],
        "amount": "-2.50",
        "currency": "EUR",
        "reason": "+bonus\nline 2",
    }
    assert api.post("/api/v1/commissions/adjustments", adjustment).status_code == 201
    frozen.set("2026-10-01T08:00:00Z")
    return campaign


@pytest.fixture
def told_sqlite(pg_api: Api) -> Iterator[Session]:
    """A session on PostgreSQL whose Database (as it were) chose SQLite at start-up."""
    db = pg_api.app.extensions["afftrack"].db
    with Session(db.engine, info={FLAVOUR: Flavour.SQLITE}) as session:
        yield session
        session.rollback()


def test_the_start_up_choice_not_the_connection_picks_the_variant(
    pg_api: Api, told_sqlite: Session
) -> None:
    assert EXPORTS.of(told_sqlite) is EXPORTS[Flavour.SQLITE]
    assert REPORTS.of(told_sqlite) is REPORTS[Flavour.SQLITE]
    assert CLICKS.of(told_sqlite) is CLICKS[Flavour.SQLITE]
    assert ORDERS.of(told_sqlite) is ORDERS[Flavour.SQLITE]


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_both_export_variants_give_the_same_detail_rows(
    pg_api: Api, frozen: Any, told_sqlite: Session, fmt: str
) -> None:
    _month(pg_api, frozen)
    db = pg_api.app.extensions["afftrack"].db
    with db.sessions() as session:
        sel = statement.select_period(session, "2026-09", "UTC")
        by_postgresql = list(EXPORTS.of(session).detail_rows(session, sel, fmt))
        session.rollback()
    sel = statement.select_period(told_sqlite, "2026-09", "UTC")
    by_python = list(EXPORTS.of(told_sqlite).detail_rows(told_sqlite, sel, fmt))
    assert len(by_postgresql) >= 4
    assert by_python == by_postgresql


def test_both_report_variants_give_the_same_report(
    pg_api: Api, frozen: Any, told_sqlite: Session
) -> None:
    campaign = _month(pg_api, frozen)
    db = pg_api.app.extensions["afftrack"].db
    args = (campaign["id"], date(2026, 9, 1), date(2026, 9, 30), "influencer")
    with db.read_session() as session:
        chosen = campaign_report(session, *args)
    assert chosen["totals"]["conversions"] == 2
    assert campaign_report(told_sqlite, *args) == chosen


@pytest.mark.parametrize("backend", ["pg", "sqlite"])
def test_each_click_variant_stores_a_batch_seen_twice_once(
    request: Any, frozen: Any, backend: str
) -> None:
    """PostgreSQL's variant COPYs a batch (falling back to INSERT … ON CONFLICT for one
    seen before), SQLite's inserts ignoring conflicts: the same clicks either way."""
    api = request.getfixturevalue(f"{backend}_api")
    frozen.set("2026-09-01T09:00:00Z")
    campaign = api.create_campaign("clicks", hold_days=0)
    anna = api.create_influencer("anna")
    api.add_partner(campaign["id"], anna["id"])
    link = api.create_link(campaign["id"], anna["id"])
    at = datetime(2026, 9, 1, 10, 0, tzinfo=UTC)
    batch = [stored_click(f"c-{n}", link["id"], at + timedelta(minutes=n)) for n in range(5)]
    db = api.app.extensions["afftrack"].db
    with db.session() as session:
        insert_clicks(session, batch[:3])
    CLICKS[db.flavour].write_batch(db, batch)  # the worker's write, the batch again
    with db.session() as session:
        insert_clicks(session, batch[4:])
        stored = session.execute(select(Click.id).order_by(Click.id)).scalars().all()
    assert stored == [f"c-{n}" for n in range(5)]


def test_only_the_seam_reads_which_database_it_is_on() -> None:
    root = Path(service.__file__).parent
    asking = re.compile(r"dialect\.name|get_bind\(\)\.dialect|\.dialect ==")
    found = [
        str(path.relative_to(root))
        for path in sorted(root.rglob("*.py"))
        if path.name != "db.py" and asking.search(path.read_text())
    ]
    assert found == []
