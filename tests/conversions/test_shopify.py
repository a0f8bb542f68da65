"""Shopify checkout webhooks end to end: real payload shapes (tests/fixtures/shopify),
signed as Shopify signs them, posted with the Flask test client, read back through
/api/v1/conversions and /api/v1/commissions."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
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
    post_shopify,
    replace_ids,
    setup_partners,
    shopify_headers,
    status_of,
    statuses,
    with_click,
)

SOURCE = "shopify"
CLICK_AT = "2026-10-02T18:30:00Z"
ORDER_AT = "2026-10-03T12:05:00Z"  # orders were placed at 12:00Z
REFUND_AT = "2026-10-04T09:00:05Z"
CANCEL_AT = "2026-10-06T08:00:05Z"

# What each order fixture must become (attributable = after discounts, without tax and
# shipping, in the shop currency; commission is the campaign's 10 %).
EXPECTED: dict[str, dict[str, str]] = {
    # 120.00 of items - 12.00 ANNA15 = 108.00; VAT 22.60 and shipping 5.00 on top.
    "orders_create_eur_promo": {
        "order_id": "6201000000101",
        "amount": "108.00",
        "currency": "EUR",
        "method": "promo_code",
        "influencer": "anna",
        "commission": "10.80",
    },
    # taxes_included: subtotal_price 160.65 holds 25.65 of VAT on the items → 135.00.
    "orders_create_taxes_included": {
        "order_id": "6201000000102",
        "amount": "135.00",
        "currency": "EUR",
        "method": "click",
        "influencer": "ben",
        "commission": "13.50",
    },
    # JPY, taxes included: 6600 - 600 consumption tax = 6000 yen; click in note_attributes.
    "orders_create_jpy": {
        "order_id": "6201000000103",
        "amount": "6000",
        "currency": "JPY",
        "method": "click",
        "influencer": "ben",
        "commission": "600",
    },
    # KWD, three decimals: 25.000 - 2.500 = 22.500; code written in lower case.
    "orders_create_kwd": {
        "order_id": "6201000000104",
        "amount": "22.500",
        "currency": "KWD",
        "method": "promo_code",
        "influencer": "anna",
        "commission": "2.250",
    },
}


def zero_like(amount: str) -> str:
    """``"0.00"`` for ``"108.00"``, ``"0"`` for ``"6000"``, ``"0.000"`` for ``"22.500"``."""
    _, _, decimals = amount.partition(".")
    return f"0.{'0' * len(decimals)}" if decimals else "0"


def partners_and_click(api: Api, frozen: Any) -> tuple[dict[str, Any], str]:
    partners = setup_partners(api)
    frozen.set(CLICK_AT)
    click_id = click(api, partners["link"])
    frozen.set(ORDER_AT)
    return partners, click_id


# Orders -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_order_fixture_becomes_the_expected_conversion(pg: Api, frozen: Any, name: str) -> None:
    partners, click_id = partners_and_click(pg, frozen)
    expected = EXPECTED[name]
    payload = with_click(load(SOURCE, name), click_id)

    assert status_of(post_shopify(pg, payload, "orders/create")) == "created"

    conv = conversion(pg, SOURCE, expected["order_id"])
    assert conv["amount"] == expected["amount"]
    assert conv["currency"] == expected["currency"]
    assert conv["status"] == "open"
    assert conv["occurred_at"].startswith("2026-10-03T12:00:00")  # processed_at, in UTC
    assert conv["refunded"] == zero_like(expected["amount"])
    assert conv["attribution"]["method"] == expected["method"]
    influencer = partners[expected["influencer"]]
    assert conv["attribution"]["influencer_id"] == influencer["id"]
    if expected["method"] == "click":
        assert conv["attribution"]["click_id"] == click_id
        assert conv["attribution"]["link_id"] == partners["link"]["id"]
    else:
        assert conv["attribution"]["promo_code"] == "ANNA15"
    assert lines_of(pg, influencer["id"]) == [
        ("sale", expected["commission"], expected["currency"])
    ]


def test_happy_path_on_sqlite(sqlite: Api, frozen: Any) -> None:
    partners, click_id = partners_and_click(sqlite, frozen)
    order = load(SOURCE, "orders_create_eur_promo")
    assert status_of(post_shopify(sqlite, order, "orders/create")) == "created"
    assert status_of(post_shopify(sqlite, order, "orders/create")) == "duplicate"
    taxed = with_click(load(SOURCE, "orders_create_taxes_included"), click_id)
    assert status_of(post_shopify(sqlite, taxed, "orders/create")) == "created"

    frozen.set(REFUND_AT)
    refund = load(SOURCE, "refunds_create_line_items")
    assert status_of(post_shopify(sqlite, refund, "refunds/create")) == "applied"
    assert status_of(post_shopify(sqlite, refund, "refunds/create")) == "duplicate"

    conv = conversion(sqlite, SOURCE, "6201000000101")
    assert (conv["amount"], conv["refunded"], conv["status"]) == (
        "108.00",
        "27.00",
        "partially_refunded",
    )
    assert lines_of(sqlite, partners["anna"]["id"]) == [
        ("reversal", "-2.70", "EUR"),
        ("sale", "10.80", "EUR"),
    ]
    assert conversion(sqlite, SOURCE, "6201000000102")["amount"] == "135.00"
    assert lines_of(sqlite, partners["ben"]["id"]) == [("sale", "13.50", "EUR")]


def test_orders_paid_after_orders_create_is_the_same_order(pg: Api, frozen: Any) -> None:
    partners = setup_partners(pg)
    frozen.set(ORDER_AT)
    order = load(SOURCE, "orders_create_eur_promo")
    assert status_of(post_shopify(pg, order, "orders/create")) == "created"
    assert status_of(post_shopify(pg, order, "orders/paid")) == "duplicate"
    assert pg.rows("conversions") == 1
    assert lines_of(pg, partners["anna"]["id"]) == [("sale", "10.80", "EUR")]


def test_unpaid_order_counts_once_it_is_paid(pg: Api, frozen: Any) -> None:
    partners = setup_partners(pg)
    frozen.set(ORDER_AT)
    pending = load(SOURCE, "orders_create_eur_promo")
    pending.update(financial_status="pending", payment_gateway_names=["Bank Deposit"])
    assert status_of(post_shopify(pg, pending, "orders/create")) == "ignored"
    assert pg.rows("conversions") == 0
    frozen.set("2026-10-04T08:00:00Z")
    paid = load(SOURCE, "orders_create_eur_promo")
    paid.update(payment_gateway_names=["Bank Deposit"], updated_at="2026-10-04T10:00:00+02:00")
    assert status_of(post_shopify(pg, paid, "orders/paid")) == "created"
    conv = conversion(pg, SOURCE, "6201000000101")
    assert conv["occurred_at"].startswith("2026-10-03T12:00:00")  # processed_at, not paid
    assert lines_of(pg, partners["anna"]["id"]) == [("sale", "10.80", "EUR")]


def test_click_id_in_note_attribute_named_aff_click(pg: Api, frozen: Any) -> None:
    partners, click_id = partners_and_click(pg, frozen)
    order = load(SOURCE, "orders_create_eur_promo")
    order["discount_codes"] = []
    order["note_attributes"] = [{"name": "aff_click", "value": click_id}]
    assert status_of(post_shopify(pg, order, "orders/create")) == "created"
    conv = conversion(pg, SOURCE, "6201000000101")
    assert conv["attribution"]["method"] == "click"
    assert conv["attribution"]["influencer_id"] == partners["ben"]["id"]
    assert conv["attribution"]["click_id"] == click_id


def test_unknown_click_in_landing_site_falls_back_to_utm(pg: Api, frozen: Any) -> None:
    partners, _ = partners_and_click(pg, frozen)
    order = with_click(load(SOURCE, "orders_create_taxes_included"), "Zz9NoSuchClick00")
    assert status_of(post_shopify(pg, order, "orders/create")) == "created"
    conv = conversion(pg, SOURCE, "6201000000102")
    assert conv["attribution"]["method"] == "utm"
    assert conv["attribution"]["influencer_id"] == partners["ben"]["id"]
    assert conv["amount"] == "135.00"


def test_test_order_is_ignored(pg: Api, frozen: Any) -> None:
    setup_partners(pg)
    frozen.set(ORDER_AT)
    response = post_shopify(pg, load(SOURCE, "orders_create_test"), "orders/create")
    assert status_of(response) == "ignored"
    assert pg.rows("conversions") == 0
    assert pg.rows("commission_lines") == 0


@pytest.mark.parametrize(
    "topic", ["products/update", "customers/create", "app/uninstalled", "checkouts/create"]
)
def test_other_topics_are_answered_200_and_ignored(pg: Api, frozen: Any, topic: str) -> None:
    frozen.set(ORDER_AT)
    response = post_shopify(pg, load(SOURCE, "orders_create_eur_promo"), topic)
    assert status_of(response) == "ignored"
    assert pg.rows("conversions") == 0


# Refunds ------------------------------------------------------------------------------------
def test_refund_with_line_items_reverses_their_share(pg: Api, frozen: Any) -> None:
    partners = setup_partners(pg)
    frozen.set(ORDER_AT)
    post_shopify(pg, load(SOURCE, "orders_create_eur_promo"), "orders/create")
    frozen.set(REFUND_AT)
    # One tote: 30.00 - 3.00 discount = 27.00 of items (VAT 5.40 on top, not counted).
    response = post_shopify(pg, load(SOURCE, "refunds_create_line_items"), "refunds/create")
    assert status_of(response) == "applied"
    conv = conversion(pg, SOURCE, "6201000000101")
    assert (conv["refunded"], conv["status"]) == ("27.00", "partially_refunded")
    assert lines_of(pg, partners["anna"]["id"]) == [
        ("reversal", "-2.70", "EUR"),
        ("sale", "10.80", "EUR"),
    ]


def test_refund_with_only_transactions_is_shared_as_gross(pg: Api, frozen: Any) -> None:
    partners, click_id = partners_and_click(pg, frozen)
    post_shopify(
        pg, with_click(load(SOURCE, "orders_create_taxes_included"), click_id), "orders/create"
    )
    frozen.set(REFUND_AT)
    # 37.03 returned, of which 4.90 is shipping (4.12 + 0.78 VAT) → 32.13 gross on items;
    # share = 32.13 x 135.00 / (135.00 + 25.65) = 27.00.
    response = post_shopify(pg, load(SOURCE, "refunds_create_transactions_only"), "refunds/create")
    assert status_of(response) == "applied"
    conv = conversion(pg, SOURCE, "6201000000102")
    assert (conv["amount"], conv["refunded"], conv["status"]) == (
        "135.00",
        "27.00",
        "partially_refunded",
    )
    assert lines_of(pg, partners["ben"]["id"]) == [
        ("reversal", "-2.70", "EUR"),
        ("sale", "13.50", "EUR"),
    ]


def test_refund_of_a_taxes_included_order_by_line_items_leaves_out_vat(
    pg: Api, frozen: Any
) -> None:
    partners, click_id = partners_and_click(pg, frozen)
    order = with_click(load(SOURCE, "orders_create_taxes_included"), click_id)
    post_shopify(pg, order, "orders/create")
    frozen.set(REFUND_AT)
    refund = load(SOURCE, "refunds_create_line_items")
    refund = replace_ids(refund, {6201000000101: 6201000000102, 9401000000101: 9401000000202})
    socks = order["line_items"][1]
    [rli] = refund["refund_line_items"]
    rli.update(
        line_item_id=socks["id"],
        line_item=socks,
        quantity=1,
        subtotal=53.55,  # 59.50 - 5.95 discount, VAT 8.55 inside (taxes_included)
        total_tax=8.55,
    )
    rli["subtotal_set"]["shop_money"]["amount"] = "53.55"
    rli["subtotal_set"]["presentment_money"]["amount"] = "53.55"
    rli["total_tax_set"]["shop_money"]["amount"] = "8.55"
    rli["total_tax_set"]["presentment_money"]["amount"] = "8.55"
    refund["transactions"][0]["amount"] = "53.55"
    assert status_of(post_shopify(pg, refund, "refunds/create")) == "applied"
    conv = conversion(pg, SOURCE, "6201000000102")
    assert conv["refunded"] == "45.00"  # 53.55 - 8.55
    assert lines_of(pg, partners["ben"]["id"]) == [
        ("reversal", "-4.50", "EUR"),
        ("sale", "13.50", "EUR"),
    ]


def test_refund_of_shipping_only_reverses_nothing(pg: Api, frozen: Any) -> None:
    partners, click_id = partners_and_click(pg, frozen)
    post_shopify(
        pg, with_click(load(SOURCE, "orders_create_taxes_included"), click_id), "orders/create"
    )
    frozen.set(REFUND_AT)
    refund = load(SOURCE, "refunds_create_transactions_only")
    refund["transactions"][0]["amount"] = "4.90"  # exactly the shipping (4.12 + 0.78)
    assert status_of(post_shopify(pg, refund, "refunds/create")) == "ignored"
    conv = conversion(pg, SOURCE, "6201000000102")
    assert (conv["refunded"], conv["status"]) == ("0.00", "open")
    assert lines_of(pg, partners["ben"]["id"]) == [("sale", "13.50", "EUR")]


def in_presentment(payload: Any, code: str, rate: Decimal) -> Any:
    """The payload as for a customer paying in ``code`` (Shopify Markets): every
    ``presentment_money`` converted at ``rate``, transactions in that currency."""
    if isinstance(payload, list):
        return [in_presentment(v, code, rate) for v in payload]
    if not isinstance(payload, dict):
        return payload
    out = {k: in_presentment(v, code, rate) for k, v in payload.items()}
    money = out.get("presentment_money")
    if isinstance(money, dict):
        amount = (Decimal(money["amount"]) * rate).quantize(Decimal("0.01"))
        out["presentment_money"] = {"amount": str(amount), "currency_code": code}
    if "presentment_currency" in out:
        out["presentment_currency"] = code
    if out.get("kind") == "refund" and "gateway" in out:  # a transaction
        out["currency"] = code
        out["amount"] = str((Decimal(out["amount"]) * rate).quantize(Decimal("0.01")))
    return out


def test_refund_of_an_order_paid_in_another_presentment_currency(pg: Api, frozen: Any) -> None:
    partners = setup_partners(pg)
    frozen.set(ORDER_AT)
    rate = Decimal("1.10")
    order = in_presentment(load(SOURCE, "orders_create_eur_promo"), "USD", rate)
    assert status_of(post_shopify(pg, order, "orders/create")) == "created"
    assert conversion(pg, SOURCE, "6201000000101")["currency"] == "EUR"  # shop currency
    frozen.set(REFUND_AT)
    refund = in_presentment(load(SOURCE, "refunds_create_line_items"), "USD", rate)
    assert refund["transactions"][0]["currency"] == "USD"
    assert status_of(post_shopify(pg, refund, "refunds/create")) == "applied"
    conv = conversion(pg, SOURCE, "6201000000101")
    assert (conv["refunded"], conv["status"]) == ("27.00", "partially_refunded")
    assert lines_of(pg, partners["anna"]["id"]) == [
        ("reversal", "-2.70", "EUR"),
        ("sale", "10.80", "EUR"),
    ]


def test_refund_before_its_order_is_kept_and_applied_when_the_order_arrives(
    pg: Api, frozen: Any
) -> None:
    partners = setup_partners(pg)
    frozen.set(REFUND_AT)
    refund = load(SOURCE, "refunds_create_line_items")
    assert status_of(post_shopify(pg, refund, "refunds/create")) == "pending_order"
    assert status_of(post_shopify(pg, refund, "refunds/create")) == "duplicate"
    assert status_of(
        post_shopify(pg, load(SOURCE, "orders_create_eur_promo"), "orders/create")
    ) == ("created")
    conv = conversion(pg, SOURCE, "6201000000101")
    assert (conv["refunded"], conv["status"]) == ("27.00", "partially_refunded")
    assert lines_of(pg, partners["anna"]["id"]) == [
        ("reversal", "-2.70", "EUR"),
        ("sale", "10.80", "EUR"),
    ]


def test_orders_updated_does_not_double_count(pg: Api, frozen: Any) -> None:
    partners = setup_partners(pg)
    frozen.set(ORDER_AT)
    post_shopify(pg, load(SOURCE, "orders_create_eur_promo"), "orders/create")
    frozen.set(REFUND_AT)
    updated = load(SOURCE, "orders_updated_partially_refunded")  # carries refund …101
    response = post_shopify(pg, updated, "orders/updated")
    assert status_of(response) == "duplicate"  # the order event's outcome
    assert sorted(statuses(response)) == ["applied", "duplicate"]
    # The same refund by its own topic, and the update again, change nothing.
    refund = load(SOURCE, "refunds_create_line_items")
    assert status_of(post_shopify(pg, refund, "refunds/create")) == "duplicate"
    assert set(statuses(post_shopify(pg, updated, "orders/updated"))) == {"duplicate"}
    # An edited order (other subtotal) keeps the amount it was first recorded with.
    edited = load(SOURCE, "orders_updated_partially_refunded")
    edited["subtotal_price"] = "999.00"
    edited["subtotal_price_set"]["shop_money"]["amount"] = "999.00"
    assert status_of(post_shopify(pg, edited, "orders/updated")) == "duplicate"

    assert pg.rows("conversions") == 1
    conv = conversion(pg, SOURCE, "6201000000101")
    assert (conv["amount"], conv["refunded"], conv["status"]) == (
        "108.00",
        "27.00",
        "partially_refunded",
    )
    assert lines_of(pg, partners["anna"]["id"]) == [
        ("reversal", "-2.70", "EUR"),
        ("sale", "10.80", "EUR"),
    ]


def test_orders_updated_first_creates_the_order_with_its_refund(pg: Api, frozen: Any) -> None:
    partners = setup_partners(pg)
    frozen.set(REFUND_AT)
    response = post_shopify(pg, load(SOURCE, "orders_updated_partially_refunded"), "orders/updated")
    assert status_of(response) == "created"
    assert (
        post_shopify(pg, load(SOURCE, "orders_create_eur_promo"), "orders/create").json["status"]
        == "duplicate"
    )
    assert lines_of(pg, partners["anna"]["id"]) == [
        ("reversal", "-2.70", "EUR"),
        ("sale", "10.80", "EUR"),
    ]


# Cancellations ------------------------------------------------------------------------------
def test_orders_cancelled_after_a_refund_reverses_the_rest_once(pg: Api, frozen: Any) -> None:
    partners = setup_partners(pg)
    frozen.set(ORDER_AT)
    post_shopify(pg, load(SOURCE, "orders_create_eur_promo"), "orders/create")
    frozen.set(REFUND_AT)
    post_shopify(pg, load(SOURCE, "refunds_create_line_items"), "refunds/create")
    frozen.set(CANCEL_AT)
    cancelled = load(SOURCE, "orders_cancelled")  # refunds …101 (27.00) and …102 (81.00)
    response = post_shopify(pg, cancelled, "orders/cancelled")
    assert status_of(response) == "duplicate"
    assert sorted(statuses(response)) == ["applied", "applied", "duplicate", "duplicate"]
    assert set(statuses(post_shopify(pg, cancelled, "orders/cancelled"))) == {"duplicate"}

    conv = conversion(pg, SOURCE, "6201000000101")
    assert (conv["refunded"], conv["status"]) == ("108.00", "cancelled")
    assert lines_of(pg, partners["anna"]["id"]) == [
        ("reversal", "-2.70", "EUR"),
        ("reversal", "-8.10", "EUR"),
        ("sale", "10.80", "EUR"),
    ]


def test_orders_cancelled_without_refunds_reverses_everything(pg: Api, frozen: Any) -> None:
    partners = setup_partners(pg)
    frozen.set(ORDER_AT)
    post_shopify(pg, load(SOURCE, "orders_create_eur_promo"), "orders/create")
    frozen.set(CANCEL_AT)
    voided = load(SOURCE, "orders_cancelled")
    voided["refunds"] = []
    voided["financial_status"] = "voided"
    response = post_shopify(pg, voided, "orders/cancelled")
    # The order event itself is a duplicate (or ignored: a voided order is not a paid
    # one); the cancel is applied.
    assert sorted(statuses(response)) in (["applied", "duplicate"], ["applied", "ignored"])
    conv = conversion(pg, SOURCE, "6201000000101")
    assert (conv["refunded"], conv["status"]) == ("108.00", "cancelled")
    assert lines_of(pg, partners["anna"]["id"]) == [
        ("reversal", "-10.80", "EUR"),
        ("sale", "10.80", "EUR"),
    ]


@pytest.mark.parametrize("topic", ["orders/cancelled", "orders/updated"])
def test_orders_cancelled_alone_records_order_refunds_and_cancel(
    pg: Api, frozen: Any, topic: str
) -> None:
    partners = setup_partners(pg)
    frozen.set(CANCEL_AT)
    response = post_shopify(pg, load(SOURCE, "orders_cancelled"), topic)
    assert status_of(response) == "created"
    conv = conversion(pg, SOURCE, "6201000000101")
    assert (conv["amount"], conv["refunded"], conv["status"]) == ("108.00", "108.00", "cancelled")
    # Then the late orders/create and refunds/create deliveries change nothing.
    assert (
        post_shopify(pg, load(SOURCE, "orders_create_eur_promo"), "orders/create").json["status"]
        == "duplicate"
    )
    assert (
        post_shopify(pg, load(SOURCE, "refunds_create_line_items"), "refunds/create").json["status"]
        == "duplicate"
    )
    lines = lines_of(pg, partners["anna"]["id"])
    assert lines == [
        ("reversal", "-2.70", "EUR"),
        ("reversal", "-8.10", "EUR"),
        ("sale", "10.80", "EUR"),
    ]
    result = pg.app.test_cli_runner().invoke(args=["ledger", "verify"])
    assert result.exit_code == 0, result.output


# Redelivery, concurrency ----------------------------------------------------------------------
def test_six_copies_of_an_order_at_once_make_one_conversion(pg: Api, frozen: Any) -> None:
    partners = setup_partners(pg)
    frozen.set(ORDER_AT)
    order = load(SOURCE, "orders_create_eur_promo")
    outcomes = in_parallel(lambda api: post_shopify(api, order, "orders/create"), pg)
    assert outcomes == Counter({(200, "created"): 1, (200, "duplicate"): 5})
    assert pg.rows("conversions") == 1
    assert lines_of(pg, partners["anna"]["id"]) == [("sale", "10.80", "EUR")]


def test_six_copies_of_a_refund_at_once_make_one_reversal(pg: Api, frozen: Any) -> None:
    partners = setup_partners(pg)
    frozen.set(ORDER_AT)
    post_shopify(pg, load(SOURCE, "orders_create_eur_promo"), "orders/create")
    frozen.set(REFUND_AT)
    refund = load(SOURCE, "refunds_create_line_items")
    outcomes = in_parallel(lambda api: post_shopify(api, refund, "refunds/create"), pg)
    assert outcomes == Counter({(200, "applied"): 1, (200, "duplicate"): 5})
    assert lines_of(pg, partners["anna"]["id"]) == [
        ("reversal", "-2.70", "EUR"),
        ("sale", "10.80", "EUR"),
    ]


def test_six_copies_of_a_refund_before_its_order_at_once(pg: Api, frozen: Any) -> None:
    partners = setup_partners(pg)
    frozen.set(REFUND_AT)
    refund = load(SOURCE, "refunds_create_line_items")
    outcomes = in_parallel(lambda api: post_shopify(api, refund, "refunds/create"), pg)
    assert outcomes == Counter({(200, "pending_order"): 1, (200, "duplicate"): 5})
    order = load(SOURCE, "orders_create_eur_promo")
    outcomes = in_parallel(lambda api: post_shopify(api, order, "orders/create"), pg)
    assert outcomes == Counter({(200, "created"): 1, (200, "duplicate"): 5})
    assert lines_of(pg, partners["anna"]["id"]) == [
        ("reversal", "-2.70", "EUR"),
        ("sale", "10.80", "EUR"),
    ]


# Signatures, configuration, malformed bodies --------------------------------------------------
def test_bad_signature_is_401(pg: Api, frozen: Any) -> None:
    frozen.set(ORDER_AT)
    order = load(SOURCE, "orders_create_eur_promo")
    body = body_of(order)
    wrong_secret = post_shopify(pg, order, "orders/create", secret="not-the-secret")
    assert wrong_secret.status_code == 401
    headers = shopify_headers(body, "orders/create")
    tampered = body.replace(b'"108.00"', b'"1.00"')
    assert pg.client.post("/webhooks/shopify", data=tampered, headers=headers).status_code == 401
    del headers["X-Shopify-Hmac-Sha256"]
    assert pg.client.post("/webhooks/shopify", data=body, headers=headers).status_code == 401
    assert pg.rows("conversions") == 0


def test_missing_secret_is_503(sqlite_api: Api, frozen: Any) -> None:
    # conftest's app has only the generic secret.
    response = post_shopify(sqlite_api, load(SOURCE, "orders_create_eur_promo"), "orders/create")
    assert response.status_code == 503


@pytest.mark.parametrize("raw", [b"not json at all", b"[1, 2, 3]", b'{"id": '])
def test_malformed_body_is_refused(pg: Api, frozen: Any, raw: bytes) -> None:
    response = post_shopify(pg, None, "orders/create", raw=raw)
    assert response.status_code in (400, 422), response.get_data(as_text=True)
    assert pg.rows("conversions") == 0
