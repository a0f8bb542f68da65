"""Following tracked links as visitors do, and reading back the clicks they leave: for
the redirect, cache and bot tests."""

from __future__ import annotations

from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from service.clicks.models import Click
from tests.support.app import Api, random_handle
from tests.support.click_stream import drain
from tests.support.visitors import IPHONE_SAFARI, VISITOR_IP


class Tracked(NamedTuple):
    campaign: dict
    influencer: dict
    link: dict

    @property
    def code(self) -> str:
        return self.link["code"]


def tracked_link(
    api: Api, *, campaign: dict | None = None, handle: str | None = None, **link: Any
) -> Tracked:
    """An influencer enrolled in a campaign (a new one unless given) with one link."""
    influencer = api.create_influencer(handle or random_handle())
    campaign = campaign or api.create_campaign("spring-26")
    api.add_partner(campaign["id"], influencer["id"])
    return Tracked(campaign, influencer, api.create_link(campaign["id"], influencer["id"], **link))


def visit(
    api: Api,
    code: str,
    *,
    ua: str = IPHONE_SAFARI,
    ip: str = VISITOR_IP,
    method: str = "GET",
    query: str = "",
    **headers: str,
) -> Any:
    send = api.client.head if method == "HEAD" else api.client.get
    return send(
        f"/r/{code}" + (f"?{query}" if query else ""),
        headers={"User-Agent": ua, **{k.replace("_", "-"): v for k, v in headers.items()}},
        environ_base={"REMOTE_ADDR": ip},
    )


def location_params(response: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(response.headers["Location"]).query, keep_blank_values=True)


def click_id(response: Any, param: str = "aff_click") -> str:
    (value,) = location_params(response)[param]
    return value


def stored_clicks(api: Api, *, drain_first: bool = True) -> dict[str, Any]:
    """Every stored click by id, after draining the stream when the app has one."""
    svc = api.app.extensions["afftrack"]
    if drain_first and svc.redis is not None:
        drain(api)
    with svc.db.engine.connect() as conn:
        rows = conn.execute(select(Click.__table__)).mappings().all()
    return {row["id"]: row for row in rows}


def uniqueness_of(api: Api, responses: list[Any], **how: Any) -> list[bool]:
    """``is_unique`` of the stored click behind each redirect response, in order."""
    clicks = stored_clicks(api, **how)
    return [clicks[click_id(r)]["is_unique"] for r in responses]
