"""Month-end settlement at its edges: a negative true-up of a capped month, cap room freed
for the month's CPC, a late click for a closed month, and a late order committed while the
month is being closed."""

from __future__ import annotations

from typing import Any

from tests.support.app import Api
from tests.support.settlement import (
    CPC,
    TIERED,
    HeldClick,
    Parts,
    cents,
    click,
    close,
    lines,
    of_kind,
    order,
    refund,
    total,
)


def verify_cli(api: Api) -> Any:
    return api.app.test_cli_runner().invoke(args=["ledger", "verify"])


# --- 1. a negative true-up ignores what the cap cut off ---------------------------------


def test_a_negative_true_up_of_a_capped_month_does_not_take_back_more_than_was_paid(
    api: Api, frozen: Any
):
    """Cap 10.00 a month. A: 100.00 → 10.00 (fills the cap). B: 100.00 at 12.5%
    → 12.50, all of it cut. A is refunded in full: -10.00. The month's net sales are
    100.00, which earn 10.00 (within the cap), so the month must net 10.00.
    The true-up is planned as formula(100.00) - (10.00 + 0.00 + 12.50 cut - 10.00)
    = -2.50, so the month nets -2.50: the influencer owes money for a month whose
    sales earned 10.00."""
    parts = Parts(api, [TIERED], monthly_cap_per_influencer="10.00")
    order(api, frozen, parts, "A", "2026-10-02T12:00:00Z", "100.00")
    order(api, frozen, parts, "B", "2026-10-03T12:00:00Z", "100.00")
    refund(api, frozen, parts, "A", "r-1", "2026-10-04T12:00:00Z", "100.00")
    frozen.set("2026-11-02T08:00:00Z")
    close(api, "2026-10")
    items = lines(api, parts.campaign_id)
    assert total(items, "sale", "reversal", "true_up") == 1_000


def test_cap_room_freed_by_a_negative_true_up_goes_to_the_months_cpc(api: Api, frozen: Any):
    """Cap 22.50, nothing cut on the tiered lines: A 100.00 → 10.00, B 100.00 → 12.50
    (the cap is full), A refunded → -10.00, a 10.00 post fee fills the cap again.
    The month's 100.00 earns 10.00: true-up -2.50, which leaves 2.50 of room. Three
    1.00 clicks: the cpc line must be 2.50 (0.50 cut) and the month net the cap,
    22.50. Actual: the cpc room is read from the ledger without the planned -2.50,
    the cpc line is cut to 0.00 (3.00 cut, which counts as settled for ever) and the
    month nets 20.00. Settling the tiered month first and the clicks later would give
    2.50: the result depends on what is planned together."""
    rules = [
        TIERED,
        {"type": "cpc", "amount": "1.00"},
        {"type": "per_post", "amount": "10.00"},
    ]
    parts = Parts(api, rules, monthly_cap_per_influencer="22.50")
    link = api.create_link(parts.campaign_id, parts.influencer_id)
    order(api, frozen, parts, "A", "2026-10-02T12:00:00Z", "100.00")
    order(api, frozen, parts, "B", "2026-10-03T12:00:00Z", "100.00")
    refund(api, frozen, parts, "A", "r-1", "2026-10-04T12:00:00Z", "100.00")
    frozen.set("2026-10-05T12:00:00Z")
    post = api.post(
        "/api/v1/deliverables",
        {
            "campaign_id": parts.campaign_id,
            "influencer_id": parts.influencer_id,
            "platform": "instagram",
            "url": f"https://instagram.com/p/review{parts.tag}",
            "posted_at": "2026-10-05T10:00:00Z",
            "metrics": {"views": 100},
        },
    )
    assert post.status_code == 201, post.json
    assert api.post(f"/api/v1/deliverables/{post.json['id']}/approve").status_code == 200
    frozen.set("2026-10-10T10:00:00Z")
    for n in range(3):
        click(api, link["code"], f"198.51.100.{n + 1}")
    frozen.set("2026-11-02T08:00:00Z")
    close(api, "2026-10")
    items = lines(api, parts.campaign_id)
    assert total(items, "sale", "reversal", "true_up") == 1_000  # the formula, no cut
    assert total(items, "per_post") == 1_000
    assert total(items) == 2_250


# --- 2. verify: a late click for a closed month with no cpc line yet -----------------------


def test_verify_flags_a_late_click_for_a_closed_month_that_had_no_clicks_until_settled(
    api: Api, frozen: Any
):
    """Clicks have no arrival time, so a month closed with no cpc line that later
    holds clicks looks like a deleted line: verify says so (exit 1) and names the
    remedy; `ledger settle` for the month clears it (docs/money.md#the-ledger)."""
    parts = Parts(api, [CPC])
    link = api.create_link(parts.campaign_id, parts.influencer_id)
    frozen.set("2026-10-31T23:59:00Z")
    late = HeldClick(api, link["code"], "198.51.100.2")  # October's only click, queued
    frozen.set("2026-11-02T08:00:00Z")
    close(api, "2026-10")
    assert not of_kind(lines(api, parts.campaign_id), "cpc")
    late.land()
    result = verify_cli(api)
    assert result.exit_code == 1, result.output
    assert "ledger settle --month 2026-10" in result.output
    settled = api.app.test_cli_runner().invoke(args=["ledger", "settle", "--month", "2026-10"])
    assert settled.exit_code == 0, settled.output
    assert len(of_kind(lines(api, parts.campaign_id), "cpc")) == 1
    assert verify_cli(api).exit_code == 0


# --- 3. a sale line committed during a close, stamped before it ------------------------------


def test_a_late_order_committed_during_the_close_is_trued_up_at_the_next_close(
    api: Api, frozen: Any
):
    """October: B (100.00, Oct 5) is booked at 10.00. A webhook for A (100.00, Oct 3)
    takes its timestamps at 07:59:59 on Nov 2 but commits after the close (08:00)
    settled October (READ COMMITTED: the settle did not see it). Simulated here by
    delivering A with the clock at 07:59:59 after the close. Its line is booked at
    10.00, the month's 200.00 earns 22.50: the next close must true up +2.50.
    Actual: November's close does not re-settle October (no change after 08:00)."""
    parts = Parts(api, [TIERED])
    order(api, frozen, parts, "B", "2026-10-05T12:00:00Z", "100.00")
    frozen.set("2026-11-02T08:00:00Z")
    close(api, "2026-10")
    order(api, frozen, parts, "A", "2026-10-03T12:00:00Z", "100.00", now="2026-11-02T07:59:59Z")
    frozen.set("2026-12-01T08:00:00Z")
    close(api, "2026-11")
    items = lines(api, parts.campaign_id)
    assert [cents(x["amount"]) for x in of_kind(items, "true_up")] == [250]
