"""A payout e-mail request decided by the brand while the influencer asks for another
address at the same moment (PostgreSQL, two transactions): the brand's decision is
never overwritten as "withdrawn"."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import text

from service.db import act_as
from service.portal import payout
from service.portal.access import portal_actor
from tests.portal.story import db
from tests.support.app import Api
from tests.support.waiting import wait_for


def _waiting_behind(api: Api, holder: int) -> bool:
    """Whether another transaction waits for the one of backend ``holder``: blocked on
    a lock, or trying in vain for the payout lock ``holder`` holds."""
    with db(api).engine.connect() as conn:
        me = conn.scalar(text("SELECT pg_backend_pid()"))
        others = conn.execute(
            text(
                "SELECT pid, wait_event_type, query FROM pg_stat_activity "
                "WHERE datname = current_database() AND xact_start IS NOT NULL "
                "AND pid NOT IN (:me, :holder)"
            ),
            {"me": me, "holder": holder},
        ).all()
        holds_advisory = conn.scalar(
            text("SELECT count(*) FROM pg_locks WHERE pid = :holder AND locktype = 'advisory'"),
            {"holder": holder},
        )
    return any(
        wait == "Lock" or (holds_advisory and "pg_try_advisory_xact_lock" in query)
        for _, wait, query in others
    )


@pytest.mark.parametrize("decision", ["confirm", "decline"])
def test_a_decision_is_never_overwritten_by_a_request_at_the_same_moment(
    pg_api: Api, decision: str
) -> None:
    api = pg_api
    anna = api.create_influencer("anna", payout_email="pay@anna.example")
    with db(api).session() as s:
        act_as(s, portal_actor(anna["id"]))
        first = payout.request_change(s, anna["id"], "new@anna.example", "portal").request.id

    brand = db(api).sessions()
    act_as(brand, "key_brand")
    holder = brand.scalar(text("SELECT pg_backend_pid()"))
    if decision == "confirm":
        payout.confirm(brand, first, "key_brand")
    else:
        payout.decline(brand, first, "not this address", "key_brand")

    outcome: dict[str, Any] = {}

    def ask_again() -> None:
        try:
            with db(api).session() as s:
                act_as(s, portal_actor(anna["id"]))
                made = payout.request_change(s, anna["id"], "other@anna.example", "portal")
                outcome["made"] = made.request.id
        except Exception as exc:  # reported below
            outcome["error"] = exc

    asking = threading.Thread(target=ask_again)
    asking.start()
    try:
        wait_for(lambda: _waiting_behind(api, holder), 10, "the request waiting for the brand")
        brand.commit()
    finally:
        brand.close()
        asking.join(30)
    assert "error" not in outcome, outcome
    with db(api).read_session() as s:
        statuses = {row.id: row.status for row in payout.history(s, anna["id"])}
    expected = "confirmed" if decision == "confirm" else "declined"
    assert statuses == {first: expected, outcome["made"]: "requested"}
