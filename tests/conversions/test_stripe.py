"""Stripe checkout webhooks end to end: events as Stripe sends them
(tests/fixtures/stripe), signed with ``Stripe-Signature: t=…,v1=…`` — checked against the
official ``stripe`` package — read back through /api/v1/conversions and /api/v1/commissions."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
import stripe

from service import clock
from tests.support.app import Api
from tests.support.platforms import (
    STRIPE_SECRET,
    body_of,
    click,
    conversion,
    in_parallel,
    lines_of,
    load,
    post_stripe,
    setup_partners,
    status_of,
    statuses,
    stripe_headers,
    stripe_signature,
    with_click,
)

SOURCE = "stripe"
CLICK_AT = "2026-10-02T18:30:00Z"
ORDER_AT = "2026-10-03T12:05:00Z"  # sessions were created at 12:00:00Z (1791028800)
REFUND_AT = "2026-10-04T09:00:05Z"
SECOND_REFUND_AT = "2026-10-05T10:00:05Z"

EUR_SESSION = "cs_test_b1Xk4Lm9Qp2Rs7Tv3Wy8Za5Bc6De0Fg1Hj2Kl3Mn4Pq5Rs6Tu7Vw8"
JPY_SESSION = "cs_test_a1Jp5Yn6Ab7Cd8Ef9Gh0Ij1Kl2Mn3Op4Qr5St6Uv7Wx8Yz9"
INCL_SESSION = "cs_test_a1In6Cl7Ta8Xx9Aa0Bb1Cc2Dd3Ee4Ff5Gg6Hh7Ii8Jj9Kk0"
SEPA_SESSION = "cs_test_a1Se7Pa8De9Bi0Tx1Yy2Zz3Aa4Bb5Cc6Dd7Ee8Ff9Gg0Hh1"

# attributable = amount_subtotal - amount_discount - inclusive tax (integer minor units).
EXPECTED: dict[str, dict[str, str]] = {
    # 10000 - 1000 discount; 1805 exclusive tax (1710 items + 95 shipping) and 500
    # shipping on top: amount_total 11305.
    "checkout_session_completed_eur": {
        "order_id": EUR_SESSION,
        "amount": "90.00",
        "currency": "EUR",
        "method": "click",
        "influencer": "ben",
        "commission": "9.00",
    },
    # JPY is zero-decimal: 5000 is ¥5000; promo code from metadata "AUTUMN, anna15".
    "checkout_session_completed_jpy": {
        "order_id": JPY_SESSION,
        "amount": "5000",
        "currency": "JPY",
        "method": "promo_code",
        "influencer": "anna",
        "commission": "500",
    },
    # Prices include 19 % VAT: 11900 - 1190 discount - 1710 inclusive tax = 9000.
    "checkout_session_completed_inclusive_tax": {
        "order_id": INCL_SESSION,
        "amount": "90.00",
        "currency": "EUR",
        "method": "click",
        "influencer": "ben",
        "commission": "9.00",
    },
}


def partners_and_click(api: Api, frozen: Any) -> tuple[dict[str, Any], str]:
    partners = setup_partners(api)
    frozen.set(CLICK_AT)
    click_id = click(api, partners["link"])
    frozen.set(ORDER_AT)
    return partners, click_id


def eur_session(api: Api, click_id: str) -> None:
    event = with_click(load(SOURCE, "checkout_session_completed_eur"), click_id)
    assert status_of(post_stripe(api, event)) == "created"


# The signature scheme, proven with Stripe's own library ------------------------------------------
def test_our_test_signature_is_the_one_stripe_verifies(frozen: Any) -> None:
    body = body_of(load(SOURCE, "checkout_session_completed_eur"))
    ts = int(clock.now_utc().timestamp())
    header = stripe_signature(body, STRIPE_SECRET, ts)
    # Same bytes, same header as Stripe's own test helper.
    assert header == stripe.WebhookSignature.generate_signature_header(
        body.decode("utf-8"), STRIPE_SECRET, timestamp=ts
    )
    assert stripe.WebhookSignature.verify_header(body, header, STRIPE_SECRET, None) is True
    event = stripe.Webhook.construct_event(
        body.decode("utf-8"), header, STRIPE_SECRET, tolerance=None
    )
    assert event["type"] == "checkout.session.completed"
    assert event["data"]["object"]["id"] == EUR_SESSION
    # With the real clock and Stripe's 300 s tolerance too.
    now = int(time.time())
    fresh = stripe_signature(body, STRIPE_SECRET, now)
    assert stripe.WebhookSignature.verify_header(body, fresh, STRIPE_SECRET, 300) is True
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(body, fresh, "whsec_other", 300)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(
            body, stripe_signature(body, STRIPE_SECRET, now - 301), STRIPE_SECRET, 300
        )


def test_server_accepts_a_header_made_by_stripes_library(pg: Api, frozen: Any) -> None:
    setup_partners(pg)
    frozen.set(ORDER_AT)
    body = body_of(load(SOURCE, "checkout_session_completed_eur"))
    header = stripe.WebhookSignature.generate_signature_header(
        body.decode("utf-8"), STRIPE_SECRET, timestamp=int(clock.now_utc().timestamp())
    )
    response = pg.client.post(
        "/webhooks/stripe",
        data=body,
        headers={"Content-Type": "application/json; charset=utf-8", "Stripe-Signature": header},
    )
    assert status_of(response) == "created"


def test_header_older_than_five_minutes_is_401(pg: Api, frozen: Any) -> None:
    setup_partners(pg)
    frozen.set(ORDER_AT)
    event = load(SOURCE, "checkout_session_completed_eur")
    now = int(clock.now_utc().timestamp())
    assert post_stripe(pg, event, timestamp=now - 301).status_code == 401
    assert post_stripe(pg, event, timestamp=now + 301).status_code == 401
    assert pg.rows("conversions") == 0
    # Signed 299 s ago: still fresh. Then the server's clock moves on 2 more seconds and
    # the very same delivery (same header) is stale.
    body = body_of(event)
    headers = stripe_headers(body, timestamp=now - 299)
    assert status_of(pg.client.post("/webhooks/stripe", data=body, headers=headers)) == "created"
    frozen.advance(timedelta(seconds=2))
    assert pg.client.post("/webhooks/stripe", data=body, headers=headers).status_code == 401


def test_bad_signature_is_401(pg: Api, frozen: Any) -> None:
    frozen.set(ORDER_AT)
    event = load(SOURCE, "checkout_session_completed_eur")
    assert post_stripe(pg, event, secret="whsec_not_ours").status_code == 401
    body = body_of(event)
    headers = stripe_headers(body)
    tampered = body.replace(b'"amount_subtotal":10000', b'"amount_subtotal":99900')
    assert tampered != body
    assert pg.client.post("/webhooks/stripe", data=tampered, headers=headers).status_code == 401
    ts = int(clock.now_utc().timestamp())
    v0_only = {**headers, "Stripe-Signature": f"t={ts},v0=" + "0" * 64}
    assert pg.client.post("/webhooks/stripe", data=body, headers=v0_only).status_code == 401
    no_header = {k: v for k, v in headers.items() if k != "Stripe-Signature"}
    assert pg.client.post("/webhooks/stripe", data=body, headers=no_header).status_code == 401
    assert pg.rows("conversions") == 0


def test_rolled_secret_any_v1_may_match(pg: Api, frozen: Any) -> None:
    setup_partners(pg)
    frozen.set(ORDER_AT)
    body = body_of(load(SOURCE, "checkout_session_completed_eur"))
    ts = int(clock.now_utc().timestamp())
    old = stripe_signature(body, "whsec_old_secret", ts).split(",")[1]
    current = stripe_signature(body, STRIPE_SECRET, ts).split(",")[1]
    header = f"t={ts},{old},{current}"
    response = pg.client.post(
        "/webhooks/stripe",
        data=body,
        headers={"Content-Type": "application/json", "Stripe-Signature": header},
    )
    assert status_of(response) == "created"


def test_missing_secret_is_503(sqlite_api: Api, frozen: Any) -> None:
    response = post_stripe(sqlite_api, load(SOURCE, "checkout_session_completed_eur"))
    assert response.status_code == 503


# Sessions -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_session_fixture_becomes_the_expected_conversion(pg: Api, frozen: Any, name: str) -> None:
    partners, click_id = partners_and_click(pg, frozen)
    expected = EXPECTED[name]
    event = with_click(load(SOURCE, name), click_id)
    assert status_of(post_stripe(pg, event)) == "created"
    assert status_of(post_stripe(pg, event)) == "duplicate"

    conv = conversion(pg, SOURCE, expected["order_id"])
    assert (conv["amount"], conv["currency"], conv["status"]) == (
        expected["amount"],
        expected["currency"],
        "open",
    )
    assert conv["occurred_at"].startswith("2026-10-03T12:00:00")
    influencer = partners[expected["influencer"]]
    assert conv["attribution"]["method"] == expected["method"]
    assert conv["attribution"]["influencer_id"] == influencer["id"]
    if expected["method"] == "click":
        assert conv["attribution"]["click_id"] == click_id
    else:
        assert conv["attribution"]["promo_code"] == "ANNA15"
    assert lines_of(pg, influencer["id"]) == [
        ("sale", expected["commission"], expected["currency"])
    ]


def test_click_id_in_metadata_when_client_reference_id_is_the_shops_own(
    pg: Api, frozen: Any
) -> None:
    """Stripe documents client_reference_id as the shop's own reference ("a customer ID,
    a cart ID, or similar"); a click id the shop put in metadata must still count."""
    partners, click_id = partners_and_click(pg, frozen)
    event = with_click(load(SOURCE, "checkout_session_completed_eur"), click_id)
    event["data"]["object"]["client_reference_id"] = "cart_8812"
    assert status_of(post_stripe(pg, event)) == "created"
    conv = conversion(pg, SOURCE, EUR_SESSION)
    assert conv["attribution"]["method"] == "click"
    assert conv["attribution"]["click_id"] == click_id
    assert conv["attribution"]["influencer_id"] == partners["ben"]["id"]


def test_happy_path_on_sqlite(sqlite: Api, frozen: Any) -> None:
    partners, click_id = partners_and_click(sqlite, frozen)
    eur_session(sqlite, click_id)
    frozen.set(REFUND_AT)
    assert status_of(post_stripe(sqlite, load(SOURCE, "refund_created"))) == "applied"
    conv = conversion(sqlite, SOURCE, EUR_SESSION)
    assert (conv["amount"], conv["refunded"], conv["status"]) == (
        "90.00",
        "45.00",
        "partially_refunded",
    )
    assert lines_of(sqlite, partners["ben"]["id"]) == [
        ("reversal", "-4.50", "EUR"),
        ("sale", "9.00", "EUR"),
    ]


def test_unpaid_session_waits_for_async_payment_succeeded(pg: Api, frozen: Any) -> None:
    partners = setup_partners(pg)
    frozen.set(ORDER_AT)
    unpaid = load(SOURCE, "checkout_session_completed_unpaid")
    assert status_of(post_stripe(pg, unpaid)) == "ignored"
    assert pg.rows("conversions") == 0
    frozen.set("2026-10-06T12:00:05Z")
    paid = load(SOURCE, "checkout_session_async_payment_succeeded")
    assert status_of(post_stripe(pg, paid)) == "created"
    assert status_of(post_stripe(pg, paid)) == "duplicate"
    assert status_of(post_stripe(pg, unpaid)) in ("ignored", "duplicate")
    conv = conversion(pg, SOURCE, SEPA_SESSION)
    assert (conv["amount"], conv["currency"]) == ("40.00", "EUR")
    assert conv["attribution"]["method"] == "promo_code"
    assert lines_of(pg, partners["anna"]["id"]) == [("sale", "4.00", "EUR")]


@pytest.mark.parametrize(
    ("cur", "stripe_amount", "expected", "commission"),
    [
        # ISK: zero-decimal in ISO 4217, but Stripe's API writes it with two decimals
        # (amounts in multiples of 100): 1500000 is kr 15000.
        ("isk", 1500000, "15000", "1500"),
        # KWD: three decimals in both: 22500 is 22.500.
        ("kwd", 22500, "22.500", "2.250"),
        # HUF: two decimals in ISO 4217 and in Stripe's API.
        ("huf", 1250000, "12500.00", "1250.00"),
    ],
)
def test_stripe_currency_exponents(
    pg: Api, frozen: Any, cur: str, stripe_amount: int, expected: str, commission: str
) -> None:
    partners = setup_partners(pg)
    frozen.set(ORDER_AT)
    event = load(SOURCE, "checkout_session_async_payment_succeeded")  # promo ANNA15, no tax
    session = event["data"]["object"]
    session.update(currency=cur, amount_subtotal=stripe_amount, amount_total=stripe_amount)
    assert status_of(post_stripe(pg, event)) == "created"
    conv = conversion(pg, SOURCE, SEPA_SESSION)
    assert (conv["amount"], conv["currency"]) == (expected, cur.upper())
    assert lines_of(pg, partners["anna"]["id"]) == [("sale", commission, cur.upper())]


def test_fully_discounted_session_is_recorded_at_zero(pg: Api, frozen: Any) -> None:
    setup_partners(pg)
    frozen.set(ORDER_AT)
    event = load(SOURCE, "checkout_session_async_payment_succeeded")
    event["type"] = "checkout.session.completed"
    session = event["data"]["object"]
    session.update(amount_total=0, payment_status="no_payment_required", payment_intent=None)
    session["total_details"]["amount_discount"] = 4000
    assert status_of(post_stripe(pg, event)) == "created"
    conv = conversion(pg, SOURCE, SEPA_SESSION)
    assert (conv["amount"], conv["attribution"]["method"]) == ("0.00", "promo_code")


@pytest.mark.parametrize("raw", [b"not json", b"[]", b'{"type": "checkout.session.completed"'])
def test_malformed_body_is_refused(pg: Api, frozen: Any, raw: bytes) -> None:
    frozen.set(ORDER_AT)
    response = post_stripe(pg, None, raw=raw)
    assert response.status_code in (400, 422), response.get_data(as_text=True)
    assert pg.rows("conversions") == 0


def test_async_payment_failed_is_ignored(pg: Api, frozen: Any) -> None:
    frozen.set(ORDER_AT)
    failed = load(SOURCE, "checkout_session_async_payment_succeeded")
    failed["type"] = "checkout.session.async_payment_failed"
    failed["data"]["object"]["payment_status"] = "unpaid"
    assert status_of(post_stripe(pg, failed)) == "ignored"
    assert pg.rows("conversions") == 0


@pytest.mark.parametrize(
    "event_type",
    [
        "payment_intent.succeeded",
        "customer.created",
        "checkout.session.expired",
        "charge.succeeded",
    ],
)
def test_other_event_types_are_ignored(pg: Api, frozen: Any, event_type: str) -> None:
    frozen.set(ORDER_AT)
    event = load(SOURCE, "checkout_session_completed_eur")
    event["type"] = event_type
    assert status_of(post_stripe(pg, event)) == "ignored"
    assert pg.rows("conversions") == 0


# Refunds ------------------------------------------------------------------------------------
def test_refund_created_after_the_session(pg: Api, frozen: Any) -> None:
    partners, click_id = partners_and_click(pg, frozen)
    eur_session(pg, click_id)
    frozen.set(REFUND_AT)
    refund = load(SOURCE, "refund_created")
    # 53.55 gross → 53.55 x 90.00 / (90.00 + 17.10 item tax) = 45.00
    assert status_of(post_stripe(pg, refund)) == "applied"
    assert status_of(post_stripe(pg, refund)) == "duplicate"
    conv = conversion(pg, SOURCE, EUR_SESSION)
    assert (conv["refunded"], conv["status"]) == ("45.00", "partially_refunded")
    assert lines_of(pg, partners["ben"]["id"]) == [
        ("reversal", "-4.50", "EUR"),
        ("sale", "9.00", "EUR"),
    ]


def test_refund_created_before_the_session(pg: Api, frozen: Any) -> None:
    partners, click_id = partners_and_click(pg, frozen)
    frozen.set(REFUND_AT)
    refund = load(SOURCE, "refund_created")
    assert status_of(post_stripe(pg, refund)) == "pending_order"
    assert status_of(post_stripe(pg, refund)) == "duplicate"
    eur_session(pg, click_id)
    assert status_of(post_stripe(pg, refund)) == "duplicate"
    conv = conversion(pg, SOURCE, EUR_SESSION)
    assert (conv["refunded"], conv["status"]) == ("45.00", "partially_refunded")
    assert lines_of(pg, partners["ben"]["id"]) == [
        ("reversal", "-4.50", "EUR"),
        ("sale", "9.00", "EUR"),
    ]


def test_charge_refunded_lists_a_refund_already_seen(pg: Api, frozen: Any) -> None:
    partners, click_id = partners_and_click(pg, frozen)
    eur_session(pg, click_id)
    frozen.set(REFUND_AT)
    post_stripe(pg, load(SOURCE, "refund_created"))
    frozen.set(SECOND_REFUND_AT)
    charge = load(SOURCE, "charge_refunded")  # refunds.data: …002 (new, 59.50) and …001
    response = post_stripe(pg, charge)
    assert sorted(statuses(response)) == ["applied", "duplicate"]
    assert set(statuses(post_stripe(pg, charge))) == {"duplicate"}
    # The second refund's own refund.created comes later: nothing more.
    assert status_of(post_stripe(pg, load(SOURCE, "refund_created_second"))) == "duplicate"

    conv = conversion(pg, SOURCE, EUR_SESSION)
    assert (conv["refunded"], conv["status"]) == ("90.00", "refunded")
    assert lines_of(pg, partners["ben"]["id"]) == [
        ("reversal", "-4.50", "EUR"),
        ("reversal", "-4.50", "EUR"),
        ("sale", "9.00", "EUR"),
    ]
    result = pg.app.test_cli_runner().invoke(args=["ledger", "verify"])
    assert result.exit_code == 0, result.output


def test_charge_refunded_without_a_refund_list_is_ignored(pg: Api, frozen: Any) -> None:
    partners, click_id = partners_and_click(pg, frozen)
    eur_session(pg, click_id)
    frozen.set(SECOND_REFUND_AT)
    charge = load(SOURCE, "charge_refunded")
    charge["api_version"] = "2024-06-20"  # since 2022-11-15 a charge carries no refunds list
    del charge["data"]["object"]["refunds"]
    assert status_of(post_stripe(pg, charge)) == "ignored"
    assert conversion(pg, SOURCE, EUR_SESSION)["refunded"] == "0.00"
    assert lines_of(pg, partners["ben"]["id"]) == [("sale", "9.00", "EUR")]


@pytest.mark.parametrize("refund_status", ["failed", "canceled"])
def test_failed_or_canceled_refund_is_ignored(pg: Api, frozen: Any, refund_status: str) -> None:
    partners, click_id = partners_and_click(pg, frozen)
    eur_session(pg, click_id)
    frozen.set(REFUND_AT)
    refund = load(SOURCE, "refund_created")
    refund["data"]["object"]["status"] = refund_status
    assert status_of(post_stripe(pg, refund)) == "ignored"
    assert lines_of(pg, partners["ben"]["id"]) == [("sale", "9.00", "EUR")]


def test_refund_of_a_jpy_session(pg: Api, frozen: Any) -> None:
    partners, _ = partners_and_click(pg, frozen)
    assert status_of(post_stripe(pg, load(SOURCE, "checkout_session_completed_jpy"))) == "created"
    frozen.set(REFUND_AT)
    refund = load(SOURCE, "refund_created")
    obj = refund["data"]["object"]
    obj.update(
        id="re_3Q8aJp2eZvKYlo2C0jpyRf01",
        amount=2200,  # ¥2200 gross → 2200 x 5000 / (5000 + 500) = ¥2000
        currency="jpy",
        payment_intent="pi_3Q8aJp2eZvKYlo2C0jpyYen5",
        charge="ch_3Q8aJp2eZvKYlo2C0jpyChg1",
    )
    refund["id"] = "evt_3Q8aJp2eZvKYlo2C0jpyEv01"
    assert status_of(post_stripe(pg, refund)) == "applied"
    conv = conversion(pg, SOURCE, JPY_SESSION)
    assert (conv["refunded"], conv["status"]) == ("2000", "partially_refunded")
    assert lines_of(pg, partners["anna"]["id"]) == [
        ("reversal", "-200", "JPY"),
        ("sale", "500", "JPY"),
    ]


# Concurrency --------------------------------------------------------------------------------
def test_six_copies_of_a_session_at_once(pg: Api, frozen: Any) -> None:
    partners, click_id = partners_and_click(pg, frozen)
    event = with_click(load(SOURCE, "checkout_session_completed_eur"), click_id)
    outcomes = in_parallel(lambda api: post_stripe(api, event), pg)
    assert outcomes == Counter({(200, "created"): 1, (200, "duplicate"): 5})
    assert pg.rows("conversions") == 1
    assert lines_of(pg, partners["ben"]["id"]) == [("sale", "9.00", "EUR")]


def test_six_copies_of_a_refund_at_once(pg: Api, frozen: Any) -> None:
    partners, click_id = partners_and_click(pg, frozen)
    eur_session(pg, click_id)
    frozen.set(REFUND_AT)
    refund = load(SOURCE, "refund_created")
    outcomes = in_parallel(lambda api: post_stripe(api, refund), pg)
    assert outcomes == Counter({(200, "applied"): 1, (200, "duplicate"): 5})
    assert lines_of(pg, partners["ben"]["id"]) == [
        ("reversal", "-4.50", "EUR"),
        ("sale", "9.00", "EUR"),
    ]


def test_refund_and_session_racing(pg: Api, frozen: Any) -> None:
    """Three copies of the refund and three of the session at the same instant."""
    partners, click_id = partners_and_click(pg, frozen)
    frozen.set(REFUND_AT)
    session = with_click(load(SOURCE, "checkout_session_completed_eur"), click_id)
    refund = load(SOURCE, "refund_created")
    sends = iter([session, refund] * 3)
    lock = threading.Lock()

    def send(api: Api) -> Any:
        with lock:
            event = next(sends)
        return post_stripe(api, event)

    outcomes = in_parallel(send, pg)
    assert sum(outcomes.values()) == 6
    assert outcomes[(200, "created")] == 1
    assert {status for code, status in outcomes} <= {
        "created",
        "duplicate",
        "applied",
        "pending_order",
    }
    conv = conversion(pg, SOURCE, EUR_SESSION)
    assert (conv["refunded"], conv["status"]) == ("45.00", "partially_refunded")
    assert lines_of(pg, partners["ben"]["id"]) == [
        ("reversal", "-4.50", "EUR"),
        ("sale", "9.00", "EUR"),
    ]
