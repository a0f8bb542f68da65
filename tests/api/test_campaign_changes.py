"""Changing a campaign and its partners through the API: each field checked against the
campaign as it will be, the currency fixed once money refers to it, rules for new orders
only, a partner removed only while nothing refers to the partnership."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from tests.support.app import Api

pytestmark = pytest.mark.frozen_at("2026-10-10T09:00:00Z")


def order(n: int, code: str = "ANNA", subtotal: str = "100.00") -> dict:
    return {
        "type": "order",
        "order_id": f"O-{n}",
        "occurred_at": "2026-10-09T12:00:00Z",
        "currency": "EUR",
        "subtotal": subtotal,
        "promo_codes": [code],
    }


def test_the_currency_changes_while_nothing_is_booked_and_amounts_must_fit_it(api: Api) -> None:
    campaign = api.create_campaign("spring", budget="500.50")
    anna = api.create_influencer("anna")
    api.add_partner(campaign["id"], anna["id"], [{"type": "flat", "amount": "2.50"}])
    path = f"/api/v1/campaigns/{campaign['id']}"

    # JPY has no minor unit: the kept budget and the partner's own rules do not fit it.
    r = api.patch(path, {"currency": "JPY"})
    assert r.status_code == 422
    fields = r.json["error"]["fields"]
    assert "budget" in fields and "anna" in " ".join(fields["currency"])
    assert api.get(path).json["currency"] == "EUR"

    r = api.patch(path, {"currency": "USD"})
    assert r.status_code == 200, r.json
    assert (r.json["currency"], r.json["budget"]) == ("USD", "500.50")


def test_the_currency_stays_once_an_order_is_booked(api: Api) -> None:
    campaign = api.create_campaign("spring")
    anna = api.create_influencer("anna")
    api.add_partner(campaign["id"], anna["id"])
    api.create_promo_code(campaign["id"], anna["id"], "ANNA")
    assert api.webhook(order(1)).json["status"] == "created"
    r = api.patch(f"/api/v1/campaigns/{campaign['id']}", {"currency": "USD", "name": "New"})
    assert r.status_code == 422
    assert "1 order" in r.json["error"]["fields"]["currency"][0]
    shown = api.get(f"/api/v1/campaigns/{campaign['id']}").json
    assert (shown["currency"], shown["name"]) == ("EUR", "Spring")  # nothing changed


def test_new_rules_apply_to_orders_recorded_after_the_change(api: Api) -> None:
    campaign = api.create_campaign("spring")
    anna = api.create_influencer("anna")
    api.add_partner(campaign["id"], anna["id"])
    api.create_promo_code(campaign["id"], anna["id"], "ANNA")
    assert api.webhook(order(1)).json["status"] == "created"
    rules = {"commission_rules": [{"type": "percent", "rate": "20"}]}
    assert api.patch(f"/api/v1/campaigns/{campaign['id']}", rules).status_code == 200
    assert api.webhook(order(2)).json["status"] == "created"
    lines = api.get(f"/api/v1/commissions?influencer_id={anna['id']}").json["items"]
    assert sorted(x["amount"] for x in lines) == ["10.00", "20.00"]


def test_shop_domains_that_would_strand_a_link_are_refused(api: Api) -> None:
    campaign = api.create_campaign("spring")
    anna = api.create_influencer("anna")
    api.add_partner(campaign["id"], anna["id"])
    api.create_link(campaign["id"], anna["id"])
    path = f"/api/v1/campaigns/{campaign['id']}"
    r = api.patch(
        path,
        {"allowed_domains": ["other.example"], "fallback_url": "https://other.example/"},
    )
    assert r.status_code == 422
    assert "links point elsewhere" in r.json["error"]["fields"]["allowed_domains"][0]
    r = api.patch(path, {"allowed_domains": ["shop.example", "other.example"]})
    assert r.status_code == 200
    assert r.json["allowed_domains"] == ["other.example", "shop.example"]


def test_a_partners_own_rules_change_and_clear(api: Api) -> None:
    campaign = api.create_campaign("spring")
    anna = api.create_influencer("anna")
    api.add_partner(campaign["id"], anna["id"])
    path = f"/api/v1/campaigns/{campaign['id']}/partners/{anna['id']}"
    r = api.patch(path, {"commission_rules": [{"type": "cpc", "amount": "0.10"}]})
    assert r.status_code == 200, r.json
    assert r.json["effective_rules"] == [{"type": "cpc", "amount": "0.10"}]
    r = api.patch(path, {"commission_rules": [{"type": "cpc", "amount": "0.001"}]})
    assert r.status_code == 422
    r = api.patch(path, {"commission_rules": None})
    assert r.status_code == 200 and r.json["commission_rules"] is None
    assert api.patch(path.replace(anna["id"], "inf_nobody"), {}).status_code == 404


def test_a_partner_is_removed_only_while_nothing_refers_to_it(api: Api) -> None:
    campaign = api.create_campaign("spring")
    anna, ben = api.create_influencer("anna"), api.create_influencer("ben")
    api.add_partner(campaign["id"], anna["id"])
    api.add_partner(campaign["id"], ben["id"])
    api.create_link(campaign["id"], ben["id"])
    base = f"/api/v1/campaigns/{campaign['id']}/partners"
    write = api.headers(api.make_key("write"))
    read = api.headers(api.make_key("read"))
    assert api.client.delete(f"{base}/{anna['id']}", headers=read).status_code == 403
    assert api.client.delete(f"{base}/{anna['id']}", headers=write).status_code == 204
    assert api.client.delete(f"{base}/{anna['id']}", headers=write).status_code == 404
    r = api.client.delete(f"{base}/{ben['id']}", headers=write)
    assert r.status_code == 409 and "1 link" in r.json["error"]["message"]
    assert [p["influencer_id"] for p in api.get(base).json["items"]] == [ben["id"]]


def test_removing_a_partner_with_commission_lines_never_counts_the_ledger(api: Api) -> None:
    """commission_lines.partnership_id has no index: the refusal finds that the partner
    has lines (through the campaign's index) without counting them."""
    campaign = api.create_campaign("spring")
    anna = api.create_influencer("anna")
    api.add_partner(campaign["id"], anna["id"])
    adjustment = {
        "influencer_id": anna["id"],
        "campaign_id": campaign["id"],
        "amount": "5.00",
        "currency": "EUR",
        "reason": "welcome bonus",
    }
    assert api.post("/api/v1/commissions/adjustments", adjustment).status_code == 201
    engine = api.app.extensions["afftrack"].db.engine
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_rest) -> None:  # type: ignore[no-untyped-def]
        statements.append(" ".join(statement.lower().split()))

    event.listen(engine, "before_cursor_execute", seen)
    try:
        r = api.client.delete(
            f"/api/v1/campaigns/{campaign['id']}/partners/{anna['id']}",
            headers=api.headers(api.make_key("write")),
        )
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert r.status_code == 409, r.json
    message = r.json["error"]["message"]
    assert "has commission lines, which stay on record" in message
    ledger = [s for s in statements if "from commission_lines" in s]
    assert ledger and not [s for s in ledger if "count(" in s], ledger
    assert api.rows("partnerships") == 1
