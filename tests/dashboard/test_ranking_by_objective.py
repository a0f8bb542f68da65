"""The campaign page's ranking and the objectives: a "below target" marker (in words) on
each partner below the pace of a per-influencer objective, and an order by contribution
to a chosen objective (``?sort=objective:<id>``, a plain form), an unknown order falling
back to the default with a notice. Through the Flask client, on PostgreSQL and SQLite.

The story (tests/support/contributions.py): on 5 October ben gets 6 clicks, cara 3,
anna none; today is 11 October."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support.app import Api
from tests.support.contributions import three_partners
from tests.support.dashboard_session import log_in
from tests.support.objectives import set_objective

pytestmark = pytest.mark.frozen_at("2026-10-11T12:00:00Z")


def ranking(html: str) -> list[str]:
    body = html.split('id="influencers"', 1)[1].split("</table>", 1)[0]
    return re.findall(r"<strong>([a-z]+)</strong>", body)


def rows(html: str) -> dict[str, str]:
    body = html.split('id="influencers"', 1)[1].split("</table>", 1)[0]
    found = re.findall(r"<tr data-influencer-id=.*?<strong>([a-z]+)</strong>(.*?)</tr>", body, re.S)
    return dict(found)


@pytest.fixture
def page(api: Api) -> Any:
    world = three_partners(api)
    campaign = world["campaign"]
    world["total"] = set_objective(api, campaign, kpi="clicks", target=100)
    world["each"] = set_objective(api, campaign, kpi="clicks", target=12, scope="influencer")
    log_in(api, "read")

    def get(**query: str) -> Any:
        r = api.client.get(f"/dashboard/campaigns/{campaign['id']}", query_string=query)
        assert r.status_code == 200
        return r.text

    world["get"] = get
    return world


def test_a_partner_below_pace_is_marked_below_target(page: dict[str, Any]) -> None:
    html = page["get"]()
    shown = rows(html)
    # 12 clicks each by 31 October: pace 4 today. cara (3) and anna (0) are below it,
    # ben (6) is not; the whole campaign's objective marks nobody.
    marker = (
        f'<span class="below-target" data-objective-id="{page["each"]}">below target: Clicks</span>'
    )
    assert marker in shown["anna"] and marker in shown["cara"]
    assert "below-target" not in shown["ben"]
    assert f'data-objective-id="{page["total"]}"' not in html.split('id="influencers"', 1)[1]


def test_the_ranking_orders_by_contribution_to_an_objective(page: dict[str, Any]) -> None:
    # The default order: by revenue, nobody has any: by handle.
    default = page["get"]()
    assert ranking(default) == ["anna", "ben", "cara"]
    assert f'<option value="objective:{page["total"]}">' in default

    by_total = page["get"](sort=f"objective:{page['total']}")
    # ben 6 of 9 clicks (66.7 %), cara 3 (33.3 %), anna 0 (0.0 %).
    assert ranking(by_total) == ["ben", "cara", "anna"]
    shown = rows(by_total)
    assert '<td class="num chosen" data-col="contribution">6 (66.7 %)</td>' in shown["ben"]
    assert '<td class="num chosen" data-col="contribution">0 (0.0 %)</td>' in shown["anna"]
    assert f'<option value="objective:{page["total"]}" selected>' in by_total
    assert "Influencers by contribution to the Clicks objective" in by_total
    assert 'id="sort-notice"' not in by_total

    by_each = page["get"](sort=f"objective:{page['each']}", kpi="clicks")
    # Each partner's own progress on 12 clicks: ben 50.0 %, cara 25.0 %, anna 0.0 %.
    assert ranking(by_each) == ["ben", "cara", "anna"]
    assert "3 (25.0 % of target)" in rows(by_each)["cara"]


@pytest.mark.parametrize("sort", ["objective:obj_nothing", "revenue", "objective:"])
def test_an_unknown_order_shows_the_default_with_a_notice(page: dict[str, Any], sort: str) -> None:
    html = page["get"](sort=sort)
    assert ranking(html) == ["anna", "ben", "cara"]
    assert 'id="sort-notice"' in html and "the default order is shown" in html
    assert 'data-col="contribution"' not in html
