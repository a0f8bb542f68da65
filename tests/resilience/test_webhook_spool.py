"""While PostgreSQL is down, a verified webhook delivery is kept in the local spool and
answered 202 queued; when the database is back it is applied exactly once, in order,
as it would have been on arrival (docs/adr/0007-webhooks-while-the-database-is-down.md).

The database that goes down is a throwaway PostgreSQL cluster of this module's own
(tests/support/servers.py), stopped and started inside each test; the oracle is the same
deliveries posted live to the run's healthy database.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from werkzeug.test import TestResponse

from service.app import create_app
from service.conversions.spooled import (
    QUEUED_BEHIND_OTHERS,
    QUEUED_DATABASE_DOWN,
    apply_record,
    drain_deliveries,
    spool_delivery,
)
from service.conversions.webhooks import SOURCES
from service.migrate import upgrade
from service.spool import Spool
from tests.support.app import AFFTRACK, Api, make_settings
from tests.support.outages import svc
from tests.support.platforms import (
    SECRETS,
    body_of,
    load,
    post_shopify,
    post_stripe,
    post_woocommerce,
    setup_partners,
    shopify_headers,
    woocommerce_headers,
)
from tests.support.servers import PostgresCluster
from tests.support.waiting import wait_for

ORDER_AT = "2026-10-03T12:05:00Z"
REFUND_AT = "2026-10-04T09:00:05Z"
BACK_AT = "2026-10-04T10:30:00Z"  # when the database is back and the spool is applied

SHOP_ORDER = "6201000000101"


# --- the database that goes down ------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresCluster]:
    with PostgresCluster() as started:
        yield started


@pytest.fixture
def down_db(cluster: PostgresCluster) -> str:
    """A migrated database of this test's own on the cluster (started again if a failed
    test left it stopped)."""
    cluster.start()
    url = cluster.create_database(f"afftrack_{uuid.uuid4().hex[:10]}")
    upgrade(url)
    return url


@contextlib.contextmanager
def shop_app(database_url: str, **extra: Any) -> Iterator[Api]:
    """An app with the three platform secrets and a spool of its own; its spool mover is
    stopped and its connections closed after."""
    app = create_app(make_settings(database_url, None, **{**SECRETS, **extra}), TESTING=True)
    try:
        yield Api(app, app.test_client())
    finally:
        svc(app).mover.stop()
        svc(app).db.dispose()


# --- what is posted ----------------------------------------------------------------------


Post = Callable[[Api], TestResponse]

ORDERS: dict[str, Post] = {
    "woocommerce": lambda api: post_woocommerce(
        api, load("woocommerce", "order_created_processing"), "order.created"
    ),
    "shopify": lambda api: post_shopify(
        api, load("shopify", "orders_create_eur_promo"), "orders/create"
    ),
    # The click id in it is not ours: attributed to ben by its UTM parameters.
    "stripe": lambda api: post_stripe(api, load("stripe", "checkout_session_completed_eur")),
}
REFUNDS: dict[str, Post] = {
    "woocommerce": lambda api: post_woocommerce(
        api, load("woocommerce", "order_updated_partial_refund"), "order.updated"
    ),
    "shopify": lambda api: post_shopify(
        api, load("shopify", "refunds_create_line_items"), "refunds/create"
    ),
    "stripe": lambda api: post_stripe(api, load("stripe", "refund_created")),
}


def queued(response: TestResponse) -> str:
    """The delivery id of a 202 queued answer."""
    assert response.status_code == 202, (response.status_code, response.get_data(as_text=True))
    body = response.json
    assert body["status"] == "queued", body
    assert body["detail"] in (QUEUED_DATABASE_DOWN, QUEUED_BEHIND_OTHERS), body
    assert body["delivery_id"].startswith("whd_"), body
    return body["delivery_id"]


def post_all(api: Api, frozen: Any) -> list[TestResponse]:
    """Each platform's order, then each one's refund a day later."""
    frozen.set(ORDER_AT)
    answers = [post(api) for post in ORDERS.values()]
    frozen.set(REFUND_AT)
    return answers + [post(api) for post in REFUNDS.values()]


def counted(source: str, outcome: str = "queued") -> float:
    return (
        REGISTRY.get_sample_value("afftrack_webhooks_total", {"source": source, "outcome": outcome})
        or 0.0
    )


# --- reading back ------------------------------------------------------------------------


def rows(app: Flask, sql: str) -> list[tuple[Any, ...]]:
    with svc(app).db.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(sql))]


def state(app: Flask) -> dict[str, list[tuple[Any, ...]]]:
    """Everything a delivery writes, without ids and without the moments it was applied
    and recorded (compared on their own)."""
    return {
        "conversions": rows(
            app,
            "SELECT c.source, c.order_id, c.order_ref, c.amount_minor, c.refunded_minor,"
            " c.tax_minor, c.status, c.occurred_at, c.received_at, c.method, i.handle,"
            " c.attributed_promo_code, c.currency FROM conversions c"
            " LEFT JOIN influencers i ON i.id = c.influencer_id ORDER BY 1, 2",
        ),
        "events": rows(
            app,
            "SELECT source, order_id, kind, external_id, basis, amount_text, amount_minor,"
            " occurred_at, received_at, note, applied_at IS NOT NULL FROM conversion_events"
            " ORDER BY 1, 2, 3, 4",
        ),
        "lines": rows(
            app,
            "SELECT c.source, c.order_id, l.kind, l.amount_minor, l.basis_minor, l.currency,"
            " l.occurred_at, l.due_at, l.status, i.handle, CAST(l.rule AS text)"
            " FROM commission_lines l JOIN conversions c ON c.id = l.conversion_id"
            " JOIN influencers i ON i.id = l.influencer_id ORDER BY 1, 2, 3, 4",
        ),
        "deliveries": rows(
            app,
            # (header values differ: each post has a webhook id of its own)
            "SELECT source, body_sha256, topic, received_at, body,"
            " (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(headers) AS k)"
            " FROM webhook_deliveries ORDER BY 1, 2",
        ),
    }


def count(app: Flask, table: str) -> int:
    return rows(app, f"SELECT count(*) FROM {table}")[0][0]


def moment(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


# --- the tests ---------------------------------------------------------------------------


def test_orders_and_refunds_posted_while_postgres_is_down_are_applied_once_when_it_is_back(
    down_db: str, cluster: PostgresCluster, pg: Api, frozen: Any
) -> None:
    """WooCommerce, Shopify and Stripe: an order each, then its refund, all answered 202
    while PostgreSQL is down; once it is back the app's own spool mover applies them, and
    the database holds exactly what the same deliveries posted live make."""
    setup_partners(pg)
    live = post_all(pg, frozen)
    assert [r.status_code for r in live] == [200] * 6, [r.json for r in live]

    with shop_app(down_db) as api:
        frozen.set("2026-10-01T09:00:00Z")
        setup_partners(api)
        before = {source: counted(source) for source in ORDERS}
        cluster.stop("immediate")
        answers = post_all(api, frozen)
        ids = [queued(r) for r in answers]
        assert answers[0].json["detail"] == QUEUED_DATABASE_DOWN
        assert len(set(ids)) == 6
        spool = svc(api.app).webhook_spool
        assert spool.status().records == 6
        assert {source: counted(source) - before[source] for source in ORDERS} == dict.fromkeys(
            ORDERS, 2.0
        )

        frozen.set(BACK_AT)
        cluster.start()
        # Nobody asks: the mover the first 202 woke applies them once the database answers.
        wait_for(lambda: not spool.waiting(), 30, "the spool mover to apply the spooled deliveries")

        assert state(api.app) == state(pg.app)
        assert count(api.app, "conversions") == 3
        assert count(api.app, "conversion_events") == 3
        assert sorted(r[0] for r in rows(api.app, "SELECT id FROM webhook_deliveries")) == sorted(
            ids
        )
        # Received when they came; applied and written to the ledger when the database
        # could take them.
        received = rows(api.app, "SELECT source, received_at FROM conversions ORDER BY 1")
        assert {at for _, at in received} == {moment(ORDER_AT)}
        assert {r[0] for r in rows(api.app, "SELECT applied_at FROM conversion_events")} == {
            moment(BACK_AT)
        }
        assert {r[0] for r in rows(api.app, "SELECT recorded_at FROM commission_lines")} == {
            moment(BACK_AT)
        }

        # Every stored delivery verifies again, the Stripe ones against the time they
        # were received (more than 5 minutes ago now).
        runner = api.app.test_cli_runner()
        for delivery_id in ids:
            replayed = runner.invoke(args=["conversions", "replay", "--id", delivery_id])
            assert replayed.exit_code == 0, replayed.output
            assert "created" not in replayed.output and "applied:" not in replayed.output
        assert state(api.app) == state(pg.app)


def test_a_delivery_posted_twice_while_down_is_applied_once_by_the_cli_drain(
    down_db: str, cluster: PostgresCluster, frozen: Any
) -> None:
    with shop_app(down_db) as api:
        partners = setup_partners(api)
        svc(api.app).mover.stop()  # left to the command below
        cluster.stop("fast")
        frozen.set(ORDER_AT)
        order = load("shopify", "orders_create_eur_promo")
        first = queued(post_shopify(api, order, "orders/create"))
        second = queued(post_shopify(api, order, "orders/create"))  # sent again
        frozen.set(REFUND_AT)
        refund = load("shopify", "refunds_create_line_items")
        queued(post_shopify(api, refund, "refunds/create"))
        queued(post_shopify(api, refund, "refunds/create"))

        runner = api.app.test_cli_runner()
        listed = runner.invoke(args=["conversions", "spool"])
        assert listed.exit_code == 0, listed.output
        assert "4 webhook deliveries waiting" in listed.output
        assert "  shopify: 4" in listed.output
        refused = runner.invoke(args=["conversions", "spool", "--drain"])
        assert refused.exit_code == 1, refused.output
        assert "cannot apply the waiting deliveries now" in refused.output
        assert "4 webhook deliveries waiting" in refused.output

        frozen.set(BACK_AT)
        cluster.start()
        drained = runner.invoke(args=["conversions", "spool", "--drain"])
        assert drained.exit_code == 0, drained.output
        assert "applied 4 webhook deliveries" in drained.output
        assert "no webhook deliveries waiting" in drained.output
        assert runner.invoke(args=["conversions", "spool", "--drain"]).output.startswith(
            "applied 0 webhook deliveries"
        )

        assert rows(api.app, "SELECT order_id, refunded_minor, status FROM conversions") == [
            (SHOP_ORDER, 2700, "partially_refunded")
        ]
        assert count(api.app, "conversion_events") == 1
        # An identical body is stored once, under the first one's id.
        assert count(api.app, "webhook_deliveries") == 2
        stored = [r[0] for r in rows(api.app, "SELECT id FROM webhook_deliveries")]
        assert first in stored and second not in stored
        lines = api.get(f"/api/v1/commissions?influencer_id={partners['anna']['id']}").json
        assert sorted((x["kind"], x["amount"]) for x in lines["items"]) == [
            ("reversal", "-2.70"),
            ("sale", "10.80"),
        ]


def test_a_drain_stopped_half_way_by_the_database_going_down_again_applies_each_once(
    down_db: str, cluster: PostgresCluster, frozen: Any
) -> None:
    with shop_app(down_db) as api:
        setup_partners(api)
        app = api.app
        svc(app).mover.stop()
        cluster.stop("immediate")
        frozen.set(ORDER_AT)
        ids = [queued(post(api)) for post in ORDERS.values()]
        frozen.set(REFUND_AT)
        ids += [queued(post(api)) for post in REFUNDS.values()]
        spool: Spool = svc(app).webhook_spool

        frozen.set(BACK_AT)
        cluster.start()
        applied: list[str] = []

        def crash_after_the_first(records: list[dict[str, Any]]) -> None:
            for record in records:
                apply_record(svc(app).db, svc(app).settings, record)
                applied.append(record["id"])
                cluster.stop("immediate")  # down again, between two deliveries

        with pytest.raises(OperationalError):
            spool.drain(crash_after_the_first)
        assert applied == ids[:1]  # the WooCommerce order, received first
        assert spool.status().records == 6  # its batch is not marked done

        cluster.start()
        assert count(app, "conversions") == 1
        assert drain_deliveries(svc(app).db, svc(app).settings, spool) == 6  # the first again
        assert not spool.waiting()
        assert count(app, "conversions") == 3
        assert count(app, "conversion_events") == 3
        assert count(app, "webhook_deliveries") == 6
        assert rows(app, "SELECT kind, count(*) FROM commission_lines GROUP BY 1 ORDER BY 1") == [
            ("reversal", 3),
            ("sale", 3),
        ]
        again = drain_deliveries(svc(app).db, svc(app).settings, spool)
        assert again == 0


def test_bad_input_while_postgres_is_down_is_refused_and_nothing_is_kept(
    down_db: str, cluster: PostgresCluster, frozen: Any
) -> None:
    with shop_app(down_db) as api:
        spool = svc(api.app).webhook_spool
        svc(api.app).mover.stop()
        cluster.stop("immediate")
        frozen.set(ORDER_AT)
        order = load("woocommerce", "order_created_processing")
        assert post_woocommerce(api, order, "order.created", secret="not-ours").status_code == 401
        shop = load("shopify", "orders_create_eur_promo")
        assert post_shopify(api, shop, "orders/create", secret="not-ours").status_code == 401
        session = load("stripe", "checkout_session_completed_eur")
        assert post_stripe(api, session, secret="whsec_not_ours").status_code == 401
        stale = int(moment(ORDER_AT).timestamp()) - 301
        assert post_stripe(api, session, timestamp=stale).status_code == 401
        assert post_stripe(api, None, raw=b"[1, 2]").status_code == 400
        assert not spool.waiting()

        # Behind a delivery that waits, bad input is still refused and not kept.
        queued(post_woocommerce(api, order, "order.created"))
        odd = {**order, "currency": "EURO"}
        assert post_woocommerce(api, odd, "order.updated").status_code == 422
        assert post_shopify(api, shop, "orders/create", secret="not-ours").status_code == 401
        assert spool.status().records == 1


def test_a_spool_that_cannot_keep_the_delivery_answers_503(
    down_db: str, cluster: PostgresCluster, tmp_path: Path, frozen: Any
) -> None:
    with shop_app(down_db) as api:
        not_a_directory = tmp_path / "spool"
        not_a_directory.write_text("a file where the spool directory should be")
        svc(api.app).webhook_spool = Spool(not_a_directory, "webhooks")
        cluster.stop("immediate")
        frozen.set(ORDER_AT)
        answer = post_shopify(api, load("shopify", "orders_create_eur_promo"), "orders/create")
        assert answer.status_code == 503, answer.json
        assert answer.json["error"]["code"] == "retry"
        cluster.start()
        assert count(api.app, "webhook_deliveries") == 0


def test_on_sqlite_a_delivery_kept_while_the_file_is_unreachable_is_applied_later(
    tmp_path: Path, frozen: Any
) -> None:
    """The embedded default: the database file's directory goes away (an unmounted
    volume); a delivery is kept, a later one waits behind it, and both are applied in
    order once the file is back."""
    home = tmp_path / "data"
    home.mkdir()
    url = f"sqlite:///{home / 'afftrack.db'}"
    upgrade(url)
    with shop_app(url) as api:
        partners = setup_partners(api)
        svc(api.app).mover.stop()
        away = tmp_path / "unmounted"
        home.rename(away)
        frozen.set(ORDER_AT)
        order = queued(
            post_shopify(api, load("shopify", "orders_create_eur_promo"), "orders/create")
        )
        away.rename(home)
        frozen.set(REFUND_AT)
        refund = post_shopify(api, load("shopify", "refunds_create_line_items"), "refunds/create")
        assert queued(refund) and refund.json["detail"] == QUEUED_BEHIND_OTHERS

        frozen.set(BACK_AT)
        drained = api.app.test_cli_runner().invoke(args=["conversions", "spool", "--drain"])
        assert drained.exit_code == 0, drained.output
        assert "applied 2 webhook deliveries" in drained.output
        (conversion,) = api.get("/api/v1/conversions").json["items"]
        assert (conversion["refunded"], conversion["status"]) == ("27.00", "partially_refunded")
        assert moment(conversion["received_at"]) == moment(ORDER_AT)
        lines = api.get(f"/api/v1/commissions?influencer_id={partners['anna']['id']}").json
        assert sorted((x["kind"], x["amount"]) for x in lines["items"]) == [
            ("reversal", "-2.70"),
            ("sale", "10.80"),
        ]
        replayed = api.app.test_cli_runner().invoke(args=["conversions", "replay", "--id", order])
        assert replayed.exit_code == 0, replayed.output


def test_another_process_applies_what_a_dead_web_process_left_in_the_spool(
    down_db: str, tmp_path: Path, frozen: Any
) -> None:
    """A web process kept a delivery and died: `afftrack conversions spool --drain`, run
    as its own process on the same spool directory, applies it."""
    spool_dir = tmp_path / "spool"
    with shop_app(down_db, spool_dir=str(spool_dir)) as api:
        setup_partners(api)
        frozen.set(ORDER_AT)
        body = body_of(load("shopify", "orders_create_eur_promo"))
        headers = shopify_headers(body, "orders/create")
        left = Spool(spool_dir, "webhooks")
        delivery_id = spool_delivery(
            left, SOURCES["shopify"], body, headers, "orders/create", moment(ORDER_AT)
        )
        left.close()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AFFTRACK_")},
            "DATABASE_URL": down_db,
            "AFFTRACK_SPOOL_DIR": str(spool_dir),
            "AFFTRACK_HASHIDS_SALT": "test-salt-for-the-drain",
            "AFFTRACK_IP_HASH_KEY": "test-ip-key-for-the-drain",
        }
        run = subprocess.run(
            [AFFTRACK, "conversions", "spool", "--drain"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr
        assert "applied 1 webhook deliveries" in run.stdout
        assert rows(api.app, "SELECT id, received_at FROM webhook_deliveries") == [
            (delivery_id, moment(ORDER_AT))
        ]
        assert rows(api.app, "SELECT order_id, method FROM conversions") == [
            (SHOP_ORDER, "promo_code")
        ]
        assert not svc(api.app).webhook_spool.waiting()


def test_the_worker_applies_webhook_deliveries_a_web_process_left_in_the_spool(
    down_db: str, redis_url: str, frozen: Any
) -> None:
    app = create_app(make_settings(down_db, redis_url, **SECRETS), TESTING=True)
    try:
        api = Api(app, app.test_client())
        setup_partners(api)
        frozen.set(ORDER_AT)
        body = body_of(load("woocommerce", "order_created_processing"))
        left = Spool(svc(app).settings.spool_path, "webhooks")  # the dead process's own file
        spool_delivery(
            left,
            SOURCES["woocommerce"],
            body,
            woocommerce_headers(body, "order.created"),
            "order.created",
            moment(ORDER_AT),
        )
        left.close()
        ran = app.test_cli_runner().invoke(args=["worker", "--drain"])
        assert ran.exit_code == 0, ran.output
        assert rows(app, "SELECT order_id, method FROM conversions") == [("4821", "promo_code")]
        assert not svc(app).webhook_spool.waiting()
    finally:
        svc(app).mover.stop()
        svc(app).redis.close()
        svc(app).db.dispose()


def test_a_delivery_that_fails_for_a_reason_a_retry_would_not_change_is_set_aside(
    tmp_path: Path, frozen: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A spooled delivery whose ingestion fails with a fault (here one injected into the
    ingestion of the order) must not hold every later delivery back: it is set aside in
    the refused-webhooks spool for an operator, and the refund behind it still drains."""
    from service.conversions import spooled

    home = tmp_path / "data"
    home.mkdir()
    url = f"sqlite:///{home / 'afftrack.db'}"
    upgrade(url)
    with shop_app(url) as api:
        setup_partners(api)
        svc(api.app).mover.stop()
        away = tmp_path / "unmounted"
        home.rename(away)
        frozen.set(ORDER_AT)
        order = queued(
            post_shopify(api, load("shopify", "orders_create_eur_promo"), "orders/create")
        )
        away.rename(home)
        frozen.set(REFUND_AT)
        queued(post_shopify(api, load("shopify", "refunds_create_line_items"), "refunds/create"))

        real_apply = spooled._apply

        def faulty(db: Any, settings: Any, record: Any) -> Any:
            if record["id"] == order:
                raise TypeError("a fault of afftrack's")
            return real_apply(db, settings, record)

        monkeypatch.setattr(spooled, "_apply", faulty)
        drained = api.app.test_cli_runner().invoke(args=["conversions", "spool", "--drain"])
        assert drained.exit_code == 0, drained.output
        assert not svc(api.app).webhook_spool.waiting()
        set_aside = Spool(svc(api.app).webhook_spool.directory, spooled.REFUSED_KIND)
        assert [record["id"] for record in set_aside.records()] == [order]
        # The refund was applied: kept, waiting for its order, which never came.
        assert api.get("/api/v1/conversions").json["items"] == []
        assert api.rows("conversion_events") == 1
