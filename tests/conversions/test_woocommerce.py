"""WooCommerce checkout webhooks end to end: REST v3 order objects as WooCommerce posts
them (tests/fixtures/woocommerce), signed with X-WC-Webhook-Signature, read back through
/api/v1/conversions and /api/v1/commissions."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.support.app import Api
from tests.support.platforms import (
    body_of,
    click,
    conversion,
    in_parallel,
    lines_of,
    load,
    post_woocommerce,
    setup_partners,
    status_of,
    statuses,
    with_click,
    woocommerce_headers,
)

SOURCE = "woocommerce"
CLICK_AT = "2026-10-02T18:30:00Z"
ORDER_AT = "2026-10-03T12:05:00Z"  # order 4821 was created at 12:00:00 GMT
REFUND_AT = "2026-10-04T09:00:05Z"
FULL_REFUND_AT = "2026-10-05T10:00:05Z"

# Order 4821: line totals (after the anna15 coupon, without tax) 54.00 + 54.00 = 108.00;
# the gift-wrap fee (2.00), shipping (4.90) and tax (21.83) are not attributable.
# Tax on the items is 10.26 + 10.26 = 20.52, what gross refunds are shared against.
EXPECTED = {
    "order_id": "4821",
    "amount": "108.00",
    "currency": "EUR",
    "commission": "10.80",
    # refund 4829: 64.26 gross → 64.26 x 108.00 / 128.52 = 54.00
    "partial_refunded": "54.00",
    "partial_reversal": "-5.40",
    # refund 4830: 72.47 gross → 60.90, capped at the 54.00 left
    "full_refunded": "108.00",
}


def without_coupon(order: dict[str, Any]) -> dict[str, Any]:
    order["coupon_lines"] = []
    return order


def created(api: Api, name: str = "order_created_processing", topic: str = "order.created") -> None:
    assert status_of(post_woocommerce(api, load(SOURCE, name), topic)) == "created"


# Orders -------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["pg", "sqlite"])
def test_processing_order_with_coupon(request: Any, frozen: Any, backend: str) -> None:
    api: Api = request.getfixturevalue(backend)
    partners = setup_partners(api)
    frozen.set(ORDER_AT)
    order = load(SOURCE, "order_created_processing")
    assert status_of(post_woocommerce(api, order, "order.created")) == "created"
    assert status_of(post_woocommerce(api, order, "order.created")) == "duplicate"

    conv = conversion(api, SOURCE, EXPECTED["order_id"])
    assert (conv["amount"], conv["currency"], conv["status"]) == (
        EXPECTED["amount"],
        EXPECTED["currency"],
        "open",
    )
    # date_created_gmt (naive, GMT), not the shop's local date_created (14:00 in Berlin).
    assert conv["occurred_at"].startswith("2026-10-03T12:00:00")
    assert conv["attribution"]["method"] == "promo_code"
    assert conv["attribution"]["promo_code"] == "ANNA15"
    assert conv["attribution"]["influencer_id"] == partners["anna"]["id"]
    assert lines_of(api, partners["anna"]["id"]) == [("sale", EXPECTED["commission"], "EUR")]
    assert lines_of(api, partners["ben"]["id"]) == []


def test_click_id_in_meta_data(pg: Api, frozen: Any) -> None:
    partners = setup_partners(pg)
    frozen.set(CLICK_AT)
    click_id = click(pg, partners["link"])
    frozen.set(ORDER_AT)
    order = with_click(without_coupon(load(SOURCE, "order_created_processing")), click_id)
    assert status_of(post_woocommerce(pg, order, "order.created")) == "created"
    conv = conversion(pg, SOURCE, "4821")
    assert conv["attribution"]["method"] == "click"
    assert conv["attribution"]["click_id"] == click_id
    assert conv["attribution"]["link_id"] == partners["link"]["id"]
    assert conv["attribution"]["influencer_id"] == partners["ben"]["id"]
    assert lines_of(pg, partners["ben"]["id"]) == [("sale", "10.80", "EUR")]


def test_click_id_in_meta_key_without_underscore(pg: Api, frozen: Any) -> None:
    partners = setup_partners(pg)
    frozen.set(CLICK_AT)
    click_id = click(pg, partners["link"])
    frozen.set(ORDER_AT)
    order = without_coupon(load(SOURCE, "order_created_processing"))
    order["meta_data"] = [
        m for m in order["meta_data"] if not m["key"].startswith(("_aff", "_wc_order_attr"))
    ]
    order["meta_data"].append({"id": 90301, "key": "aff_click", "value": click_id})
    assert status_of(post_woocommerce(pg, order, "order.created")) == "created"
    assert conversion(pg, SOURCE, "4821")["attribution"]["click_id"] == click_id


def test_order_attribution_utm_meta_names_the_partnership(pg: Api, frozen: Any) -> None:
    partners = setup_partners(pg)
    frozen.set(ORDER_AT)
    # No coupon, and a click id afftrack never issued: utm_campaign=spring, utm_content=ben.
    order = with_click(without_coupon(load(SOURCE, "order_created_processing")), "Zz9NoSuchClick00")
    assert status_of(post_woocommerce(pg, order, "order.created")) == "created"
    conv = conversion(pg, SOURCE, "4821")
    assert conv["attribution"]["method"] == "utm"
    assert conv["attribution"]["influencer_id"] == partners["ben"]["id"]


def test_order_attribution_utm_meta_without_a_landing_url(pg: Api, frozen: Any) -> None:
    partners = setup_partners(pg)
    frozen.set(ORDER_AT)
    order = without_coupon(load(SOURCE, "order_created_processing"))
    order["meta_data"] = [
        m
        for m in order["meta_data"]
        if m["key"] not in ("_aff_click", "_wc_order_attribution_session_entry")
    ]
    assert status_of(post_woocommerce(pg, order, "order.created")) == "created"
    conv = conversion(pg, SOURCE, "4821")
    assert conv["attribution"]["method"] == "utm"
    assert conv["attribution"]["influencer_id"] == partners["ben"]["id"]


def test_pending_order_is_ignored_until_paid(pg: Api, frozen: Any) -> None:
    partners = setup_partners(pg)
    frozen.set(ORDER_AT)
    pending = load(SOURCE, "order_created_pending")
    assert status_of(post_woocommerce(pg, pending, "order.created")) == "ignored"
    on_hold = {**pending, "status": "on-hold"}
    assert status_of(post_woocommerce(pg, on_hold, "order.updated")) == "ignored"
    failed = {**pending, "status": "failed"}
    assert status_of(post_woocommerce(pg, failed, "order.updated")) == "ignored"
    assert pg.rows("conversions") == 0

    paid = {
        **pending,
        "status": "processing",
        "date_paid": "2026-10-03T14:12:00",
        "date_paid_gmt": "2026-10-03T12:12:00",
        "needs_payment": False,
    }
    assert status_of(post_woocommerce(pg, paid, "order.updated")) == "created"
    conv = conversion(pg, SOURCE, "4822")
    assert conv["amount"] == "108.00"
    assert lines_of(pg, partners["anna"]["id"]) == [("sale", "10.80", "EUR")]


def test_cancelled_before_payment_is_ignored(pg: Api, frozen: Any) -> None:
    setup_partners(pg)
    frozen.set(ORDER_AT)
    cancelled = {**load(SOURCE, "order_created_pending"), "status": "cancelled"}
    assert status_of(post_woocommerce(pg, cancelled, "order.updated")) == "ignored"
    assert pg.rows("conversions") == 0


# Refunds ------------------------------------------------------------------------------------
def test_partial_then_full_refund(pg: Api, frozen: Any) -> None:
    partners = setup_partners(pg)
    frozen.set(ORDER_AT)
    created(pg)
    frozen.set(REFUND_AT)
    partial = load(SOURCE, "order_updated_partial_refund")
    response = post_woocommerce(pg, partial, "order.updated")
    assert status_of(response) == "duplicate"
    assert sorted(statuses(response)) == ["applied", "duplicate"]
    conv = conversion(pg, SOURCE, "4821")
    assert (conv["refunded"], conv["status"]) == (
        EXPECTED["partial_refunded"],
        "partially_refunded",
    )
    assert lines_of(pg, partners["anna"]["id"]) == [
        ("reversal", EXPECTED["partial_reversal"], "EUR"),
        ("sale", "10.80", "EUR"),
    ]
    # Redelivered: nothing new.
    assert set(statuses(post_woocommerce(pg, partial, "order.updated"))) == {"duplicate"}

    frozen.set(FULL_REFUND_AT)
    full = load(SOURCE, "order_updated_refunded")  # refunds 4830 (new) and 4829 (seen)
    response = post_woocommerce(pg, full, "order.updated")
    assert sorted(statuses(response)) == ["applied", "duplicate", "duplicate"]
    assert set(statuses(post_woocommerce(pg, full, "order.updated"))) == {"duplicate"}
    conv = conversion(pg, SOURCE, "4821")
    assert (conv["amount"], conv["refunded"], conv["status"]) == (
        EXPECTED["amount"],
        EXPECTED["full_refunded"],
        "refunded",
    )
    assert lines_of(pg, partners["anna"]["id"]) == [
        ("reversal", "-5.40", "EUR"),
        ("reversal", "-5.40", "EUR"),
        ("sale", "10.80", "EUR"),
    ]
    result = pg.app.test_cli_runner().invoke(args=["ledger", "verify"])
    assert result.exit_code == 0, result.output


def test_refunded_order_arriving_first_is_recorded_with_its_refunds(pg: Api, frozen: Any) -> None:
    partners = setup_partners(pg)
    frozen.set(FULL_REFUND_AT)
    response = post_woocommerce(pg, load(SOURCE, "order_updated_refunded"), "order.updated")
    assert status_of(response) == "created"
    # Deliveries that were late: the creation and the partial refund.
    assert set(
        statuses(post_woocommerce(pg, load(SOURCE, "order_created_processing"), "order.created"))
    ) == {"duplicate"}
    assert set(
        statuses(
            post_woocommerce(pg, load(SOURCE, "order_updated_partial_refund"), "order.updated")
        )
    ) == {"duplicate"}
    conv = conversion(pg, SOURCE, "4821")
    assert (conv["refunded"], conv["status"]) == ("108.00", "refunded")
    lines = lines_of(pg, partners["anna"]["id"])
    assert [kind for kind, _, _ in lines] == ["reversal", "reversal", "sale"]
    assert sum(int(amount.replace(".", "")) for _, amount, _ in lines) == 0


def test_single_full_refund_is_capped_at_the_order(pg: Api, frozen: Any) -> None:
    partners = setup_partners(pg)
    frozen.set(ORDER_AT)
    created(pg)
    frozen.set(FULL_REFUND_AT)
    full = load(SOURCE, "order_updated_refunded")
    full["refunds"] = [{"id": 4831, "reason": "Order fully refunded.", "total": "-136.73"}]
    post_woocommerce(pg, full, "order.updated")
    conv = conversion(pg, SOURCE, "4821")
    assert (conv["refunded"], conv["status"]) == ("108.00", "refunded")
    assert lines_of(pg, partners["anna"]["id"]) == [
        ("reversal", "-10.80", "EUR"),
        ("sale", "10.80", "EUR"),
    ]


# Cancellation -------------------------------------------------------------------------------
def test_cancelled_after_payment_reverses_the_order(pg: Api, frozen: Any) -> None:
    partners = setup_partners(pg)
    frozen.set(ORDER_AT)
    created(pg)
    frozen.set(FULL_REFUND_AT)
    cancelled = load(SOURCE, "order_updated_cancelled")
    response = post_woocommerce(pg, cancelled, "order.updated")
    assert sorted(statuses(response)) == ["applied", "duplicate"]
    assert set(statuses(post_woocommerce(pg, cancelled, "order.updated"))) == {"duplicate"}
    conv = conversion(pg, SOURCE, "4821")
    assert (conv["refunded"], conv["status"]) == ("108.00", "cancelled")
    assert lines_of(pg, partners["anna"]["id"]) == [
        ("reversal", "-10.80", "EUR"),
        ("sale", "10.80", "EUR"),
    ]


# Ping, topics, signatures ---------------------------------------------------------------------
@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", None])
def test_creation_ping_is_answered_200(pg: Api, frozen: Any, content_type: str | None) -> None:
    # WC_Webhook::deliver_ping(): wp_safe_remote_post with body "webhook_id=<id>", unsigned.
    headers = {"User-Agent": "WooCommerce/9.3.3 Hookshot (WordPress/6.6.2)"}
    if content_type:
        headers["Content-Type"] = content_type
    response = pg.client.post("/webhooks/woocommerce", data=b"webhook_id=17", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["status"] == "ping"
    assert pg.rows("conversions") == 0


def test_creation_ping_without_a_secret_is_503(sqlite_api: Api) -> None:
    response = sqlite_api.client.post("/webhooks/woocommerce", data=b"webhook_id=17")
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.json["error"]["code"] == "source_disabled"


@pytest.mark.parametrize(
    "topic", ["order.deleted", "product.updated", "customer.created", "coupon.created"]
)
def test_other_topics_are_ignored(pg: Api, frozen: Any, topic: str) -> None:
    frozen.set(ORDER_AT)
    response = post_woocommerce(pg, load(SOURCE, "order_created_processing"), topic)
    assert status_of(response) == "ignored"
    assert pg.rows("conversions") == 0


def test_restored_order_is_an_order(pg: Api, frozen: Any) -> None:
    setup_partners(pg)
    frozen.set(ORDER_AT)
    response = post_woocommerce(pg, load(SOURCE, "order_created_processing"), "order.restored")
    assert status_of(response) == "created"


def test_bad_signature_is_401(pg: Api, frozen: Any) -> None:
    frozen.set(ORDER_AT)
    order = load(SOURCE, "order_created_processing")
    assert post_woocommerce(pg, order, "order.created", secret="wrong").status_code == 401
    body = body_of(order)
    headers = woocommerce_headers(body, "order.created")
    tampered = body.replace(b'"54.00"', b'"5.00"')
    assert (
        pg.client.post("/webhooks/woocommerce", data=tampered, headers=headers).status_code == 401
    )
    del headers["X-WC-Webhook-Signature"]
    assert pg.client.post("/webhooks/woocommerce", data=body, headers=headers).status_code == 401
    assert pg.rows("conversions") == 0


def test_missing_secret_is_503(sqlite_api: Api, frozen: Any) -> None:
    response = post_woocommerce(
        sqlite_api, load(SOURCE, "order_created_processing"), "order.created"
    )
    assert response.status_code == 503


# Concurrency --------------------------------------------------------------------------------
def test_six_copies_of_an_order_at_once(pg: Api, frozen: Any) -> None:
    partners = setup_partners(pg)
    frozen.set(ORDER_AT)
    order = load(SOURCE, "order_created_processing")
    outcomes = in_parallel(lambda api: post_woocommerce(api, order, "order.created"), pg)
    assert outcomes == Counter({(200, "created"): 1, (200, "duplicate"): 5})
    assert lines_of(pg, partners["anna"]["id"]) == [("sale", "10.80", "EUR")]


def test_six_copies_of_a_refunded_snapshot_at_once(pg: Api, frozen: Any) -> None:
    partners = setup_partners(pg)
    frozen.set(ORDER_AT)
    created(pg)
    frozen.set(REFUND_AT)
    partial = load(SOURCE, "order_updated_partial_refund")
    outcomes = in_parallel(lambda api: post_woocommerce(api, partial, "order.updated"), pg)
    # The order event is a duplicate in every copy; the refund is applied by one only.
    assert outcomes == Counter({(200, "duplicate"): 6})
    assert lines_of(pg, partners["anna"]["id"]) == [
        ("reversal", "-5.40", "EUR"),
        ("sale", "10.80", "EUR"),
    ]


@pytest.mark.parametrize("raw", [b"not json", b'["order"]', b'{"id": 4821,'])
def test_malformed_body_is_refused(pg: Api, frozen: Any, raw: bytes) -> None:
    response = post_woocommerce(pg, None, "order.created", raw=raw)
    assert response.status_code in (400, 422), response.get_data(as_text=True)
    assert pg.rows("conversions") == 0
