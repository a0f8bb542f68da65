"""A campaign's own media-value rates in EUR and a post recorded through the API, for the
tests of media value (tests/reports, tests/objectives)."""

from __future__ import annotations

from typing import Any

from tests.support.app import Api

EUR_RATES = {
    "instagram": {
        "impressions": "6.00",
        "likes": "0.20",
        "comments": "1.00",
        "shares": "0.50",
        "saves": "0.40",
    },
    "tiktok": {
        "impressions": "2.50",
        "likes": "0.01",
        "comments": "0.30",
        "shares": "0.25",
        "saves": "0.10",
    },
}  # no youtube: a youtube post has no media value


def record_post(
    api: Api,
    campaign: dict[str, Any],
    person: dict[str, Any],
    platform: str,
    day: int,
    **extra: Any,
) -> str:
    """A post by ``person`` on ``day`` October 2026 at noon UTC; its id."""
    body = {
        "campaign_id": campaign["id"],
        "influencer_id": person["id"],
        "platform": platform,
        "url": f"https://{platform}.example/p/{person['handle']}-{day}",
        "posted_at": f"2026-10-{day:02d}T12:00:00Z",
        **extra,
    }
    r = api.post("/api/v1/deliverables", body)
    assert r.status_code == 201, r.json
    return str(r.json["id"])
