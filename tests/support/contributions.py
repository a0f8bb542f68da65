"""Three partners of campaign "autumn" (from 1 October) and their clicks on 5 October:
anna none, ben 6, cara 3; for the tests of each partner's contribution to an objective
(tests/objectives, tests/dashboard). The clock should stand on 11 October."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from service.clicks.partitions import insert_clicks
from tests.support.app import Api
from tests.support.clicks import stored_click

CLICKS = {"anna": 0, "ben": 6, "cara": 3}


def three_partners(api: Api) -> dict[str, Any]:
    """The campaign and its partners by handle; each partner has a link."""
    campaign = api.create_campaign("autumn", starts_on="2026-10-01")
    people: dict[str, Any] = {}
    rows = []
    for n, (handle, clicks) in enumerate(CLICKS.items()):
        person = people[handle] = api.create_influencer(handle)
        api.add_partner(campaign["id"], person["id"])
        link = api.create_link(campaign["id"], person["id"])
        rows += [
            stored_click(
                f"clk_{n:02d}{i:024d}",
                link["id"],
                datetime(2026, 10, 5, 8, tzinfo=UTC) + timedelta(minutes=i),
                ip_hash=f"{n:02d}{i:062d}",
            )
            for i in range(clicks)
        ]
    with api.app.extensions["afftrack"].db.session() as session:
        insert_clicks(session, rows)
    return {"campaign": campaign, **people}
