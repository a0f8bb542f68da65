"""An object's History list reads like the rest of its page: amounts as money in the
campaign's currency, commission rules in sentences, influencers and campaigns by their
handle and name (linked to their pages), days and statuses as the pages write them, and
no bookkeeping or derived columns. The audit trail itself keeps what was stored. On
PostgreSQL and SQLite."""

from __future__ import annotations

import re
from html import unescape

import pytest

from service.audit.models import AuditEntry
from tests.support.app import Api
from tests.support.dashboard_session import csrf, log_in
from tests.support.queries import count_queries

pytestmark = pytest.mark.frozen_at("2026-10-10T09:00:00Z")


def history(html: str) -> str:
    """The History section of a page, as HTML."""
    return html.split('id="audit"', 1)[1].split("</section>", 1)[0]


def text(html: str) -> str:
    """What a person reads of some HTML: its text, spaces collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def settings_history(api: Api, campaign_id: str) -> str:
    page = api.client.get(f"/dashboard/campaigns/{campaign_id}/settings")
    assert page.status_code == 200, page.text
    return history(page.text)


def test_a_campaigns_budget_and_rules_read_as_money_and_sentences(api: Api) -> None:
    campaign = api.create_campaign("spring")
    r = api.patch(
        f"/api/v1/campaigns/{campaign['id']}",
        {"budget": "1500.00", "commission_rules": [{"type": "flat", "amount": "5.00"}]},
    )
    assert r.status_code == 200, r.json
    log_in(api, "read")
    shown = text(settings_history(api, campaign["id"]))

    assert "Budget: none → EUR 1,500.00" in shown
    assert (
        "Commission rules: 10 % of the order's attributable amount (after discounts). → "
        "A fixed EUR 5.00 per order." in shown
    )
    # The campaign's creation in the page's words.
    assert "Goal: Conversions" in shown and "Kind: Affiliate (commission on sales)" in shown
    assert "Hold: 14 days" in shown and "Last day" not in shown  # created without one
    for stored in ("150000", "minor units", "budget_minor", "updated_at", "'type'", "rate 10"):
        assert stored not in shown
    # Kept as stored: the audit trail and the API are unchanged.
    entry = api.get(f"/api/v1/campaigns/{campaign['id']}").json
    assert entry["budget"] == "1500.00"


def test_a_budget_set_on_the_page_reads_in_its_currency(api: Api) -> None:
    campaign = api.create_campaign("yen", currency="JPY", commission_rules=[])
    log_in(api, "write")
    path = f"/dashboard/campaigns/{campaign['id']}/settings"
    page = api.client.get(path).text
    form = {
        "csrf": csrf(page),
        "name": "Yen",
        "goal": "conversions",
        "kind": "affiliate",
        "currency": "JPY",
        "starts_on": "2026-09-01",
        "ends_on": "2026-12-31",
        "allowed_domains": "shop.example",
        "fallback_url": "https://shop.example/sale-over",
        "attribution_window_days": "30",
        "hold_days": "14",
        "monthly_cap_per_influencer": "20000",
        "budget": "150000",
        "utm_medium": "influencer",
        "commission_rules": "",
        "commission_rules-0-type": "cpc",
        "commission_rules-0-amount": "12",
    }
    r = api.client.post(path, data=form)
    assert r.status_code == 303, r.text
    shown = text(settings_history(api, campaign["id"]))
    assert "Budget: none → JPY 150,000" in shown
    assert "Monthly cap per influencer: none → JPY 20,000" in shown
    assert "Last day: no end → 2026-12-31" in shown
    assert "Commission rules: none → JPY 12 per unique, non-bot click in the month." in shown


def test_a_partner_reads_as_the_influencers_handle_linked_to_their_page(api: Api) -> None:
    campaign = api.create_campaign("spring")
    nora = api.create_influencer("nora.knits")
    ben = api.create_influencer("ben.cooks")
    api.add_partner(campaign["id"], nora["id"])
    api.add_partner(campaign["id"], ben["id"], rules=[{"type": "percent", "rate": "12.5"}])
    r = api.client.delete(
        f"/api/v1/campaigns/{campaign['id']}/partners/{nora['id']}",
        headers=api.headers(api.write_key),
    )
    assert r.status_code == 204, r.text
    log_in(api, "read")
    html = settings_history(api, campaign["id"])
    shown = text(html)

    assert f'<a href="/dashboard/influencers/{nora["id"]}">nora.knits</a>' in html
    assert "partnership deleted Influencer: nora.knits Commission rules: the campaign's" in shown
    assert (
        "partnership created Influencer: ben.cooks Commission rules: 12.5 % of the order's "
        "attributable amount (after discounts)." in shown
    )
    assert not re.search(r"\b(inf|cmp|prt)_", shown)  # no id is read as text


def test_an_id_whose_object_is_gone_is_shown_as_the_id(api: Api) -> None:
    campaign = api.create_campaign("spring")
    with api.app.extensions["afftrack"].db.session() as s:
        s.add(
            AuditEntry(
                actor="cli",
                subject_type="campaign",
                subject_id=campaign["id"],
                kind="partnership",
                action="deleted",
                changes={
                    "influencer_id": ["inf_gone", None],
                    "campaign_id": [campaign["id"], None],
                },
            )
        )
        s.commit()
    log_in(api, "read")
    shown = text(settings_history(api, campaign["id"]))
    assert "partnership deleted Influencer: inf_gone" in shown
    assert "Campaign:" not in shown  # the partnership's own campaign is the page's


def test_the_names_are_fetched_once_per_kind_however_long_the_history(api: Api) -> None:
    campaign = api.create_campaign("spring")
    log_in(api, "read")

    def influencer_lookups() -> int:
        with count_queries(api.app) as seen:
            settings_history(api, campaign["id"])
        return sum(
            1
            for sql in seen.statements
            if re.search(r"FROM influencers\s+WHERE influencers\.id IN", sql)
        )

    for handle in ("p1", "p2"):
        api.add_partner(campaign["id"], api.create_influencer(handle)["id"])
    few = influencer_lookups()
    for handle in ("p3", "p4", "p5", "p6", "p7"):
        api.add_partner(campaign["id"], api.create_influencer(handle)["id"])
    assert influencer_lookups() == few == 1
    assert all(f">p{i}</a>" in settings_history(api, campaign["id"]) for i in range(1, 8))


def test_a_promo_codes_history_has_no_internal_columns(api: Api) -> None:
    campaign = api.create_campaign("spring")
    nora = api.create_influencer("nora.knits")
    api.add_partner(campaign["id"], nora["id"])
    code = api.create_promo_code(campaign["id"], nora["id"], "nora15")
    log_in(api, "write")
    path = f"/dashboard/codes/{code['id']}"
    form = {"csrf": csrf(api.client.get(path).text), "starts_at": "", "ends_at": "2026-10-31"}
    r = api.client.post(path, data={**form, "max_uses": "100"})
    assert r.status_code == 303, r.text
    r = api.client.post(path, data={"csrf": form["csrf"], "status": "retired"})
    assert r.status_code == 303, r.text
    html = history(api.client.get(path).text)
    shown = text(html)

    assert "normalized" not in shown.lower() and "NORA15" not in shown
    assert "Code: nora15" in shown
    assert f'<a href="/dashboard/campaigns/{campaign["id"]}">Spring</a>' in html
    assert f'<a href="/dashboard/influencers/{nora["id"]}">nora.knits</a>' in html
    assert "Campaign: Spring Influencer: nora.knits Status: active" in shown
    assert "Valid until: no end → 2026-10-31" in shown
    assert "Most uses: no limit → 100" in shown
    assert "Status: active → retired" in shown
    assert "Partnership" not in shown and "partnership id" not in shown


def test_a_links_history_names_its_campaign_and_influencer(api: Api) -> None:
    campaign = api.create_campaign("spring")
    nora = api.create_influencer("nora.knits")
    api.add_partner(campaign["id"], nora["id"])
    link = api.create_link(campaign["id"], nora["id"])
    r = api.patch(f"/api/v1/links/{link['id']}", {"status": "paused"})
    assert r.status_code == 200, r.json
    log_in(api, "read")
    shown = text(history(api.client.get(f"/dashboard/links/{link['id']}").text))
    assert "Campaign: Spring Influencer: nora.knits" in shown
    assert "Status: active → paused" in shown
    assert "Destination: https://shop.example/spring?ref=bio" in shown
    for stored in ("updated_at", "created at", "partnership", "lnk_", "inf_", "cmp_"):
        assert stored not in shown


def test_amounts_before_a_change_of_currency_keep_the_old_currency(api: Api) -> None:
    campaign = api.create_campaign("spring", budget="1500.00")
    r = api.patch(f"/api/v1/campaigns/{campaign['id']}", {"currency": "JPY", "budget": "1500"})
    assert r.status_code == 200, r.json
    log_in(api, "read")
    shown = text(settings_history(api, campaign["id"]))
    # One entry each (the frozen clock gives both the same time, so either may come first).
    entries = dict(
        re.findall(r"campaign (created|changed) (.*?)(?= \d{4}-\d\d-\d\d \d\d:\d\d:\d\d|$)", shown)
    )
    assert "Currency: EUR → JPY" in entries["changed"]
    assert "Budget: EUR 1,500.00 → JPY 1,500" in entries["changed"]
    assert "Currency: EUR" in entries["created"] and "Budget: EUR 1,500.00" in entries["created"]


def test_a_changed_part_names_itself_and_a_target_reads_in_its_kpis_unit(api: Api) -> None:
    """A change filed under its campaign says which part changed (a partner's influencer,
    an objective's KPI), unchanged; an objective's target reads as its card writes it."""
    campaign = api.create_campaign("spring", starts_on="2026-10-01")
    nora = api.create_influencer("nora.knits")
    api.add_partner(campaign["id"], nora["id"])
    r = api.patch(
        f"/api/v1/campaigns/{campaign['id']}/partners/{nora['id']}",
        {"commission_rules": [{"type": "flat", "amount": "2.00"}]},
    )
    assert r.status_code == 200, r.json
    base = f"/api/v1/campaigns/{campaign['id']}/objectives"
    made = api.post(base, {"kpi": "revenue", "target": "1500.00", "deadline": "2026-10-31"})
    assert made.status_code == 201, made.json
    rate = api.post(base, {"kpi": "conversion_rate", "target": "0.025", "deadline": "2026-10-31"})
    assert rate.status_code == 201, rate.json
    r = api.patch(f"{base}/{made.json['id']}", {"target": "2000"})
    assert r.status_code == 200, r.json
    log_in(api, "read")
    shown = text(settings_history(api, campaign["id"]))

    assert (
        "partnership changed Influencer: nora.knits Commission rules: the campaign's → "
        "A fixed EUR 2.00 per order." in shown
    )
    assert "objective created KPI: Revenue For: The whole campaign" in shown
    assert "Target: EUR 1,500.00" in shown and "Target: 0.0250" in shown
    assert (
        "objective changed KPI: Revenue For: The whole campaign Target: EUR 1,500.00 → "
        "EUR 2,000.00" in shown
    )
    for stored in ("150000", "200000", "KPI: revenue", "scope"):  # stored values, not words
        assert stored not in shown
