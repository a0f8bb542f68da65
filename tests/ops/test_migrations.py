"""The models and the Alembic migrations agree (autogenerate finds no difference)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.clicks.partitions import insert_clicks
from service.clicks.recorder import demote_unique
from service.db import Database
from service.migrate import alembic_config, include_object, upgrade
from service.models import metadata
from tests.support.app import PG_ADMIN_URL
from tests.support.clicks import clicks_before_0013, stored_click


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def _differences(url: str) -> list:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_object": include_object}
            )
            return compare_metadata(context, metadata)
    finally:
        engine.dispose()


def test_models_match_migrations_on_postgres(pg_url):
    # pg_url was created by running every migration (conftest).
    assert _differences(pg_url) == []


def test_models_match_migrations_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    assert _differences(url) == []


def test_upgrade_is_repeatable(pg_url):
    upgrade(pg_url)  # already at head: a no-op, not an error
    assert _differences(pg_url) == []


CLICK = (
    "INSERT INTO clicks (id, link_id, occurred_at, ip_hash, user_agent, is_bot, is_unique, "
    "outcome) VALUES (:id, 'lnk_m', :at, 'h', 'ua', false, true, 'redirect')"
)
LINK_ROWS = [
    "INSERT INTO influencers (id, handle, name, email, created_at, updated_at) "
    "VALUES ('inf_m', 'm', 'M', 'm@example.com', now(), now())",
    "INSERT INTO campaigns (id, name, slug, goal, kind, currency, starts_on, allowed_domains, "
    "fallback_url, attribution_window_days, hold_days, utm_medium, commission_rules, "
    "created_at, updated_at) VALUES ('cmp_m', 'M', 'm', 'sales', 'affiliate', 'EUR', "
    "'2026-01-01', '[\"shop.example\"]', 'https://shop.example/', 30, 30, 'influencer', "
    "'[]', now(), now())",
    "INSERT INTO partnerships (id, campaign_id, influencer_id, created_at) "
    "VALUES ('prt_m', 'cmp_m', 'inf_m', now())",
    "INSERT INTO links (id, code, partnership_id, campaign_id, influencer_id, destination, "
    "platform, status, created_at, updated_at) VALUES ('lnk_m', 'mmmmmm', 'prt_m', 'cmp_m', "
    "'inf_m', 'https://shop.example/p', 'instagram', 'active', now(), now())",
]


@pytest.fixture
def scratch_pg() -> Iterator[str]:
    name = f"afftrack_mig_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    yield f"{base}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_partitioning_migration_keeps_existing_clicks_and_round_trips(scratch_pg):
    upgrade(scratch_pg, "0001")
    engine = create_engine(scratch_pg)
    try:
        with engine.begin() as conn:
            for statement in LINK_ROWS:
                conn.execute(text(statement))
            conn.execute(text(CLICK), {"id": "c-old", "at": "2025-03-31 23:59:59+00"})
            conn.execute(text(CLICK), {"id": "c-new", "at": "2026-11-02 10:00:00+00"})

        upgrade(scratch_pg)
        with engine.connect() as conn:
            names = set(
                conn.scalars(
                    text(
                        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                        "WHERE i.inhparent = 'clicks'::regclass"
                    )
                )
            )
            stored = conn.execute(
                text("SELECT tableoid::regclass::text, id FROM clicks ORDER BY id")
            ).all()
        assert {"clicks_2025_03", "clicks_2026_11"} <= names
        assert stored == [("clicks_2026_11", "c-new"), ("clicks_2025_03", "c-old")]
        assert _differences(scratch_pg) == []

        downgrade(scratch_pg, "0001")
        with engine.connect() as conn:
            assert sorted(conn.scalars(text("SELECT id FROM clicks"))) == ["c-new", "c-old"]
            partitioned = conn.scalar(text("SELECT count(*) FROM pg_partitioned_table"))
        assert partitioned == 0
    finally:
        engine.dispose()


@pytest.fixture(params=["pg", "sqlite"])
def scratch_url(request: Any, tmp_path: Any) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'm.db'}"
    return str(request.getfixturevalue("scratch_pg"))


def _unique_clicks(url: str) -> dict[str, list[tuple[str, int]]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                grain: [
                    (str(day), int(n))
                    for day, n in conn.execute(
                        text(f"SELECT day, unique_clicks FROM click_{grain} ORDER BY day")
                    )
                ]
                for grain in ("daily", "monthly")
            }
    finally:
        engine.dispose()


def _set_unique(url: str, click_id: str, value: bool) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE clicks SET is_unique = :v WHERE id = :id"),
                {"v": value, "id": click_id},
            )
    finally:
        engine.dispose()


def test_migration_0009_moves_unique_clicks_with_is_unique_and_round_trips(scratch_url):
    upgrade(scratch_url, "0008")
    engine = create_engine(scratch_url)
    try:
        with engine.begin() as conn:
            for statement in LINK_ROWS:
                conn.execute(text(statement.replace("now()", "CURRENT_TIMESTAMP")))
        nov, dec = (
            datetime(2026, 11, 30, 23, 0, tzinfo=UTC),
            datetime(2026, 12, 1, 1, 0, tzinfo=UTC),
        )
        clicks_before_0013(
            engine,
            [
                stored_click("c-1", "lnk_m", nov),
                stored_click("c-2", "lnk_m", nov),
                stored_click("c-bot", "lnk_m", nov, bot=True),
                stored_click("c-3", "lnk_m", dec),
            ],
        )
    finally:
        engine.dispose()
    counted = {
        "daily": [("2026-11-30", 2), ("2026-12-01", 1)],
        "monthly": [("2026-11-01", 2), ("2026-12-01", 1)],
    }
    assert _unique_clicks(scratch_url) == counted

    upgrade(scratch_url)
    db = Database(scratch_url)
    try:
        # A bot never counted: its flag changes nothing; a demotion twice is one.
        assert sorted(demote_unique(db, ["c-1", "c-bot", "c-3", "c-1"])) == ["c-1", "c-3", "c-bot"]
        assert demote_unique(db, ["c-1", "c-3"]) == []
    finally:
        db.dispose()
    assert _unique_clicks(scratch_url) == {
        "daily": [("2026-11-30", 1), ("2026-12-01", 0)],
        "monthly": [("2026-11-01", 1), ("2026-12-01", 0)],
    }
    _set_unique(scratch_url, "c-3", True)  # and back: counted again
    assert _unique_clicks(scratch_url)["daily"] == [("2026-11-30", 1), ("2026-12-01", 1)]

    downgrade(scratch_url, "0008")  # the trigger goes: the roll-ups no longer follow
    _set_unique(scratch_url, "c-2", False)
    assert _unique_clicks(scratch_url)["daily"] == [("2026-11-30", 1), ("2026-12-01", 1)]
    _set_unique(scratch_url, "c-2", True)
    upgrade(scratch_url)
    _set_unique(scratch_url, "c-2", False)
    assert _unique_clicks(scratch_url)["monthly"] == [("2026-11-01", 0), ("2026-12-01", 1)]
    assert _differences(scratch_url) == []


EVENT = (
    "INSERT INTO conversion_events (id, source, order_id, kind, external_id, occurred_at, "
    "received_at, applied_at, raw, note) VALUES (:id, 'generic', 'o-1', 'refund', :id, "
    "'2026-11-02 10:00:00+00', '2026-11-02 10:00:00+00', :applied_at, '{}', :note)"
)


def _outcomes(url: str) -> list[tuple[str, str | None, str | None]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, outcome, note FROM conversion_events ORDER BY id"))
            return [tuple(row) for row in rows]
    finally:
        engine.dispose()


def test_migration_0011_tells_events_not_applied_by_their_outcome_and_round_trips(scratch_url):
    """Events applied before 0011 get their outcome from their note's wording (kept as it
    was); one still waiting for its order gets none."""
    upgrade(scratch_url, "0010")
    at = "2026-11-02 11:00:00+00"
    notes = {
        "e-1": (at, None),
        "e-2": (at, "capped at what was left of the order (100 minor units)"),
        "e-3": (at, "not applied: the refund is in USD, the order in EUR"),
        "e-4": (at, "nothing left to reverse"),
        "e-5": (None, None),  # waiting for its order
    }
    engine = create_engine(scratch_url)
    try:
        with engine.begin() as conn:
            for event_id, (applied_at, note) in notes.items():
                conn.execute(text(EVENT), {"id": event_id, "applied_at": applied_at, "note": note})
    finally:
        engine.dispose()

    upgrade(scratch_url)
    assert _outcomes(scratch_url) == [
        ("e-1", "applied", None),
        ("e-2", "applied", notes["e-2"][1]),
        ("e-3", "not_applied", notes["e-3"][1]),
        ("e-4", "applied", "nothing left to reverse"),
        ("e-5", None, None),
    ]
    assert _differences(scratch_url) == []

    downgrade(scratch_url, "0010")
    engine = create_engine(scratch_url)
    try:
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT count(*) FROM conversion_events")) == 5
    finally:
        engine.dispose()
    upgrade(scratch_url)
    assert [row[1] for row in _outcomes(scratch_url)] == [
        "applied",
        "applied",
        "not_applied",
        "applied",
        None,
    ]


def _click_rollups(url: str) -> dict[str, list[tuple[str, int, int]]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                grain: [
                    (str(day), int(clicks), int(scans))
                    for day, clicks, scans in conn.execute(
                        text(f"SELECT day, clicks, qr_scans FROM click_{grain} ORDER BY day")
                    )
                ]
                for grain in ("daily", "monthly")
            }
    finally:
        engine.dispose()


def test_migration_0013_stored_clicks_are_plain_and_scans_count_after_it(scratch_url):
    upgrade(scratch_url, "0012")
    nov = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    engine = create_engine(scratch_url)
    try:
        with engine.begin() as conn:
            for statement in LINK_ROWS:
                conn.execute(text(statement.replace("now()", "CURRENT_TIMESTAMP")))
        clicks_before_0013(
            engine,
            [stored_click("c-old", "lnk_m", nov), stored_click("c-bot", "lnk_m", nov, bot=True)],
        )
        upgrade(scratch_url)
        assert _differences(scratch_url) == []
        with engine.connect() as conn:
            assert conn.execute(text("SELECT id, source FROM clicks ORDER BY id")).all() == [
                ("c-bot", "link"),
                ("c-old", "link"),
            ]
        assert _click_rollups(scratch_url)["daily"] == [("2026-11-30", 1, 0)]

        with Session(engine) as session:
            insert_clicks(
                session,
                [
                    stored_click("c-qr", "lnk_m", nov, source="qr"),
                    stored_click("c-qr-bot", "lnk_m", nov, bot=True, source="qr"),
                    stored_click("c-link", "lnk_m", nov),
                ],
            )
            session.commit()
        # A scan is a click (clicks counts it) and a QR scan; a bot's scan is neither.
        assert _click_rollups(scratch_url) == {
            "daily": [("2026-11-30", 3, 1)],
            "monthly": [("2026-11-01", 3, 1)],
        }
        with pytest.raises(IntegrityError), Session(engine) as session:
            insert_clicks(session, [stored_click("c-bad", "lnk_m", nov, source="sms")])
            session.commit()

        downgrade(scratch_url, "0012")
        clicks_before_0013(engine, [stored_click("c-after", "lnk_m", nov)])
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT clicks FROM click_daily")) == 4
        upgrade(scratch_url)
        assert _click_rollups(scratch_url)["daily"] == [("2026-11-30", 4, 0)]
        assert _differences(scratch_url) == []
    finally:
        engine.dispose()


def _cpc_clicks(url: str) -> dict[str, list[tuple[str, int]]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                grain: [
                    (str(day), int(n))
                    for day, n in conn.execute(
                        text(f"SELECT day, cpc_clicks FROM click_{grain} ORDER BY day")
                    )
                ]
                for grain in ("daily", "monthly")
            }
    finally:
        engine.dispose()


def test_migration_0020_counts_the_stored_clicks_cpc_pays_for_and_round_trips(scratch_url):
    upgrade(scratch_url, "0019")
    nov, dec = (
        datetime(2026, 11, 30, 23, 0, tzinfo=UTC),
        datetime(2026, 12, 1, 1, 0, tzinfo=UTC),
    )
    engine = create_engine(scratch_url)
    try:
        with engine.begin() as conn:
            for statement in LINK_ROWS:
                conn.execute(text(statement.replace("now()", "CURRENT_TIMESTAMP")))
        with Session(engine) as session:
            insert_clicks(
                session,
                [
                    stored_click("c-paid", "lnk_m", nov),
                    stored_click("c-paid-2", "lnk_m", nov),
                    stored_click("c-repeat", "lnk_m", nov, unique=False),
                    stored_click("c-bot", "lnk_m", nov, bot=True),
                    stored_click("c-fallback", "lnk_m", nov, outcome="fallback"),
                    stored_click("c-dec", "lnk_m", dec),
                ],
            )
            session.commit()
        upgrade(scratch_url)
        assert _differences(scratch_url) == []
        # Only unique, non-bot, redirected clicks; the stored ones counted by the upgrade.
        assert _cpc_clicks(scratch_url) == {
            "daily": [("2026-11-30", 2), ("2026-12-01", 1)],
            "monthly": [("2026-11-01", 2), ("2026-12-01", 1)],
        }
        with Session(engine) as session:
            insert_clicks(
                session,
                [
                    stored_click("c-after", "lnk_m", dec),
                    stored_click("c-after-fallback", "lnk_m", dec, outcome="fallback"),
                ],
            )
            session.commit()
        db = Database(scratch_url)
        try:  # a demoted click leaves the count (a demoted fallback was never in it)
            demote_unique(db, ["c-paid", "c-fallback"])
        finally:
            db.dispose()
        assert _cpc_clicks(scratch_url) == {
            "daily": [("2026-11-30", 1), ("2026-12-01", 2)],
            "monthly": [("2026-11-01", 1), ("2026-12-01", 2)],
        }

        downgrade(scratch_url, "0019")  # the triggers as they were: clicks still counted
        with Session(engine) as session:
            insert_clicks(session, [stored_click("c-between", "lnk_m", dec)])
            session.commit()
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT sum(unique_clicks) FROM click_daily")) == 5
        upgrade(scratch_url)
        assert _cpc_clicks(scratch_url)["daily"] == [("2026-11-30", 1), ("2026-12-01", 3)]
        assert _differences(scratch_url) == []
    finally:
        engine.dispose()


ORDER = (
    "INSERT INTO conversions (id, source, order_id, occurred_at, received_at, currency, "
    "amount_minor, refunded_minor, status, promo_codes, raw, method, partnership_id, "
    "campaign_id, influencer_id, link_id) VALUES (:id, 'generic', :id, :at, :at, 'EUR', "
    "1000, 0, :status, '[]', '{}', :method, :prt, :cmp, :inf, :link)"
)


def _order(conn: Any, order_id: str, at: str, method: str | None, status: str = "open") -> None:
    attributed = method is not None
    conn.execute(
        text(ORDER),
        {
            "id": order_id,
            "at": at,
            "status": status,
            "method": method,
            "prt": "prt_m" if attributed else None,
            "cmp": "cmp_m" if attributed else None,
            "inf": "inf_m" if attributed else None,
            "link": "lnk_m" if method == "click" else None,
        },
    )


def _by_method(url: str) -> dict[str, list[tuple[str, str, int, int, int, int]]]:
    """Per grain: (day, link, conversions, click, promo code, UTM) of each roll-up row."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                grain: [
                    (str(day), link, *(int(n) for n in counts))
                    for day, link, *counts in conn.execute(
                        text(
                            "SELECT day, link_id, conversions, click_conversions, "
                            "promo_code_conversions, utm_conversions "
                            f"FROM conversion_{grain} ORDER BY day, link_id"
                        )
                    )
                ]
                for grain in ("daily", "monthly")
            }
    finally:
        engine.dispose()


def test_migration_0021_counts_the_stored_orders_per_method_and_round_trips(scratch_url):
    upgrade(scratch_url, "0020")
    nov, dec = "2026-11-30 23:00:00+00:00", "2026-12-01 01:00:00+00:00"
    engine = create_engine(scratch_url)
    try:
        with engine.begin() as conn:
            for statement in LINK_ROWS:
                conn.execute(text(statement.replace("now()", "CURRENT_TIMESTAMP")))
            _order(conn, "o-click", nov, "click")
            _order(conn, "o-code", nov, "promo_code")
            _order(conn, "o-code-2", nov, "promo_code")
            _order(conn, "o-utm", dec, "utm")
            _order(conn, "o-cancelled", dec, "click", status="cancelled")
            _order(conn, "o-nobody", dec, None)  # unattributed: in no roll-up
        upgrade(scratch_url)
        assert _differences(scratch_url) == []
        # The stored orders counted by the upgrade; a cancelled one counts nowhere.
        assert _by_method(scratch_url) == {
            "daily": [
                ("2026-11-30", "", 2, 0, 2, 0),
                ("2026-11-30", "lnk_m", 1, 1, 0, 0),
                ("2026-12-01", "", 1, 0, 0, 1),
            ],
            "monthly": [
                ("2026-11-01", "", 2, 0, 2, 0),
                ("2026-11-01", "lnk_m", 1, 1, 0, 0),
                ("2026-12-01", "", 1, 0, 0, 1),
            ],
        }
        with engine.begin() as conn:  # the triggers keep them: a new order, a cancel
            _order(conn, "o-click-2", dec, "click")
            conn.execute(text("UPDATE conversions SET status = 'cancelled' WHERE id = 'o-code'"))
        assert _by_method(scratch_url)["daily"] == [
            ("2026-11-30", "", 1, 0, 1, 0),
            ("2026-11-30", "lnk_m", 1, 1, 0, 0),
            ("2026-12-01", "", 1, 0, 0, 1),
            ("2026-12-01", "lnk_m", 1, 1, 0, 0),
        ]

        downgrade(scratch_url, "0020")  # the triggers as they were: orders still counted
        with engine.begin() as conn:
            _order(conn, "o-between", dec, "utm")
            assert conn.scalar(text("SELECT sum(conversions) FROM conversion_daily")) == 5
        upgrade(scratch_url)
        assert _by_method(scratch_url)["monthly"] == [
            ("2026-11-01", "", 1, 0, 1, 0),
            ("2026-11-01", "lnk_m", 1, 1, 0, 0),
            ("2026-12-01", "", 2, 0, 0, 2),
            ("2026-12-01", "lnk_m", 1, 1, 0, 0),
        ]
        assert _differences(scratch_url) == []
    finally:
        engine.dispose()


def test_migration_0022_adds_media_value_rates_and_a_posts_link_and_round_trips(scratch_url):
    upgrade(scratch_url, "0021")
    engine = create_engine(scratch_url)
    try:
        with engine.begin() as conn:
            for statement in LINK_ROWS:
                conn.execute(text(statement.replace("now()", "CURRENT_TIMESTAMP")))
        upgrade(scratch_url)
        assert _differences(scratch_url) == []
        with engine.begin() as conn:
            # A campaign made before 0022 has no rates of its own: the defaults apply.
            assert conn.scalar(text("SELECT media_value_rates FROM campaigns")) is None
            conn.execute(
                text(
                    "INSERT INTO deliverables (id, partnership_id, campaign_id, influencer_id, "
                    "platform, url, posted_at, metrics, status, link_id, created_at) VALUES "
                    "('dlv_m', 'prt_m', 'cmp_m', 'inf_m', 'instagram', 'https://i.example/p', "
                    "CURRENT_TIMESTAMP, '{}', 'submitted', 'lnk_m', CURRENT_TIMESTAMP)"
                )
            )
        downgrade(scratch_url, "0021")
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT count(*) FROM deliverables")) == 1
        upgrade(scratch_url)
        assert _differences(scratch_url) == []
    finally:
        engine.dispose()


def test_migration_0029_keeps_one_row_per_key_and_token_and_round_trips(scratch_url):
    upgrade(scratch_url, "0028")
    engine = create_engine(scratch_url)
    claim = (
        "INSERT INTO form_submissions (key_id, token, kind, made_id, created_at) "
        "VALUES (:key, :token, 'influencers', NULL, CURRENT_TIMESTAMP)"
    )
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO api_keys (id, name, scope, prefix, key_hash, created_at) "
                    "VALUES (:id, 'k', 'write', 'p', :id, CURRENT_TIMESTAMP)"
                ),
                [{"id": "key_a"}, {"id": "key_b"}],
            )
        upgrade(scratch_url)
        assert _differences(scratch_url) == []
        with engine.begin() as conn:  # the same token under two keys: two claims
            conn.execute(text(claim), [{"key": k, "token": "t" * 22} for k in ("key_a", "key_b")])
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(text(claim), {"key": "key_a", "token": "t" * 22})

        downgrade(scratch_url, "0028")
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT count(*) FROM api_keys")) == 2
        upgrade(scratch_url)
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT count(*) FROM form_submissions")) == 0
        assert _differences(scratch_url) == []
    finally:
        engine.dispose()
