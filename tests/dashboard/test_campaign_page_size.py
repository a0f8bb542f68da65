"""A campaign with many partners: its report page ranks the top 50 influencers and
shows the 50 busiest links, says how many there are, and shows them all when asked, so
the page stays quick to build and to read at any size. On PostgreSQL and SQLite."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from service.clicks.partitions import insert_clicks
from service.dashboard.views import TOP
from tests.support.app import Api
from tests.support.clicks import stored_click
from tests.support.dashboard_session import log_in

START = datetime(2026, 10, 1, tzinfo=UTC)
PARTNERS = TOP + 2


@pytest.fixture
def crowded(api: Api, frozen: Any) -> str:
    """A campaign whose partner number i has one link clicked i + 1 times."""
    frozen.set(START + timedelta(days=2))
    campaign = api.create_campaign("crowded", starts_on="2026-10-01")
    clicks = []
    for i in range(PARTNERS):
        person = api.create_influencer(f"p{i:03d}")
        api.add_partner(campaign["id"], person["id"])
        link = api.create_link(campaign["id"], person["id"])
        clicks += [
            stored_click(
                f"clk_{i:03d}_{n:022d}",
                link["id"],
                START + timedelta(hours=1 + n),
                unique=True,
                ip_hash=f"{i:016x}{n:016x}",
            )
            for n in range(i + 1)
        ]
    with api.app.extensions["afftrack"].db.session() as session:
        insert_clicks(session, clicks)
    return str(campaign["id"])


def handles(html: str, table: str) -> list[str]:
    body = html.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    return re.findall(r"<strong>(p\d{3})</strong>", body)


def test_the_page_shows_the_top_50_and_says_how_many_there_are(api: Api, crowded: str) -> None:
    log_in(api, "read")
    query = {"from": "2026-10-01", "to": "2026-10-03", "kpi": "clicks"}
    page = api.client.get(f"/dashboard/campaigns/{crowded}", query_string=query)
    assert page.status_code == 200
    ranked = handles(page.text, "influencers")
    # The busiest first: partner 51 has 52 clicks, partner 2 has 3.
    assert ranked == [f"p{i:03d}" for i in range(PARTNERS - 1, PARTNERS - 1 - TOP, -1)]
    assert f"The top {TOP} of {PARTNERS} influencers are shown." in page.text
    links = re.findall(r'<tr data-link-id="', page.text.split('id="links"', 1)[1])
    assert len(links) == TOP
    assert f"of {PARTNERS}." in page.text.split('id="more-links"', 1)[1]

    everything = api.client.get(
        f"/dashboard/campaigns/{crowded}", query_string={**query, "show": "all"}
    )
    assert len(handles(everything.text, "influencers")) == PARTNERS
    assert 'id="more-influencers"' not in everything.text
    assert 'id="more-links"' not in everything.text
    assert 'name="show" value="all"' in everything.text  # the range form keeps it


def test_an_unknown_show_is_a_clear_400(api: Api, crowded: str) -> None:
    log_in(api, "read")
    r = api.client.get(f"/dashboard/campaigns/{crowded}", query_string={"show": "some"})
    assert r.status_code == 400
    assert "show" in r.text
