"""Month-end settlement stories: a partner of a campaign of its own (:class:`Parts`),
its orders, refunds and clicks (a click held back as a worker backlog would), the
campaign's ledger lines and closing a month. For the settlement tests."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from tests.support.app import Api
from tests.support.flow import HUMAN_UA

TIERED = {
    "type": "tiered_percent",
    "tiers": [
        {"up_to": "100.00", "rate": "10"},
        {"up_to": "250.00", "rate": "12.5"},
        {"up_to": None, "rate": "15"},
    ],
}

CPC = {"type": "cpc", "amount": "0.05"}

_SEQ = itertools.count(1)


def cents(text_amount: str) -> int:
    value = Decimal(text_amount) * 100
    assert value == value.to_integral_value(), text_amount
    return int(value)


def is_pg(api: Api) -> bool:
    return api.app.extensions["afftrack"].db.dialect == "postgresql"


class Parts:
    def __init__(self, api: Api, rules: list[dict], *, prefix: str = "set", **campaign: Any):
        n = next(_SEQ)
        self.tag = n
        self.handle = f"{prefix}-{n}"
        self.code = f"SET{n}"
        self.influencer = api.create_influencer(self.handle)
        campaign.setdefault("hold_days", 0)
        self.campaign = api.create_campaign(f"settle-{n}", commission_rules=rules, **campaign)
        self.partner = api.add_partner(self.campaign["id"], self.influencer["id"])
        api.create_promo_code(self.campaign["id"], self.influencer["id"], self.code)

    @property
    def campaign_id(self) -> str:
        return self.campaign["id"]

    @property
    def influencer_id(self) -> str:
        return self.influencer["id"]


def order(
    api: Api,
    frozen: Any,
    parts: Parts,
    order_id: str,
    occurred_at: str,
    amount: str,
    *,
    currency: str = "EUR",
    now: str | None = None,
) -> None:
    frozen.set(now or occurred_at)
    body = {
        "type": "order",
        "order_id": f"{parts.tag}-{order_id}",
        "occurred_at": occurred_at,
        "currency": currency,
        "subtotal": amount,
        "promo_codes": [parts.code],
    }
    r = api.webhook(body)
    assert r.status_code == 200 and r.json["status"] == "created", r.json


def refund(
    api: Api, frozen: Any, parts: Parts, order_id: str, refund_id: str, when: str, amount: str
) -> None:
    frozen.set(when)
    body = {
        "type": "refund",
        "order_id": f"{parts.tag}-{order_id}",
        "refund_id": refund_id,
        "occurred_at": when,
        "amount": amount,
    }
    r = api.webhook(body)
    assert r.status_code == 200 and r.json["status"] == "applied", r.json


def click(api: Api, code: str, ip: str, ua: str = HUMAN_UA, *, drain: bool = True) -> str:
    r = api.client.get(f"/r/{code}", headers={"User-Agent": ua}, environ_base={"REMOTE_ADDR": ip})
    assert r.status_code == 302
    if drain:
        drain_clicks(api)
    return r.headers["Location"]


def drain_clicks(api: Api) -> None:
    if is_pg(api):
        drained = api.app.test_cli_runner().invoke(args=["worker", "--drain"])
        assert drained.exit_code == 0, drained.output


class HeldClick:
    """The latest click, kept out of the clicks table until :meth:`land` (a worker
    backlog). PostgreSQL: left in the stream. SQLite, which writes clicks at once: taken
    out of the table and written back. The roll-ups have no trigger for a deleted click
    (clicks are never deleted): its link's rows are rebuilt by writing its other clicks
    again, through the database's own trigger."""

    def __init__(self, api: Api, code: str, ip: str) -> None:
        self.api = api
        click(api, code, ip, drain=not is_pg(api))
        self.row: dict[str, Any] | None = None
        if not is_pg(api):
            with self._db().engine.begin() as conn:
                row = conn.execute(text("SELECT * FROM clicks ORDER BY occurred_at DESC"))
                self.row = dict(row.mappings().first() or {})
                link = {"link": self.row["link_id"]}
                others = [
                    dict(r)
                    for r in conn.execute(
                        text("SELECT * FROM clicks WHERE link_id = :link AND id != :id"),
                        {**link, "id": self.row["id"]},
                    ).mappings()
                ]
                conn.execute(text("DELETE FROM clicks WHERE link_id = :link"), link)
                for table in ("click_daily", "click_monthly"):
                    conn.execute(text(f"DELETE FROM {table} WHERE link_id = :link"), link)
                for other in others:
                    _insert(conn, other)

    def _db(self) -> Any:
        return self.api.app.extensions["afftrack"].db

    def land(self) -> None:
        if self.row is None:
            drain_clicks(self.api)
            return
        with self._db().engine.begin() as conn:
            _insert(conn, self.row)


def _insert(conn: Any, row: dict[str, Any]) -> None:
    columns = ", ".join(row)
    values = ", ".join(f":{name}" for name in row)
    conn.execute(text(f"INSERT INTO clicks ({columns}) VALUES ({values})"), row)


def lines(api: Api, campaign_id: str) -> list[dict]:
    """The campaign's ledger lines, through the API."""
    items: list[dict] = []
    cursor = None
    while True:
        path = f"/api/v1/commissions?campaign_id={campaign_id}&limit=200"
        r = api.get(path + (f"&cursor={cursor}" if cursor else ""))
        assert r.status_code == 200, r.json
        items += r.json["items"]
        cursor = r.json["next_cursor"]
        if not cursor:
            return items


def of_kind(items: list[dict], *kinds: str) -> list[dict]:
    """The lines of ``kinds`` (all of them if none is named)."""
    return [x for x in items if not kinds or x["kind"] in kinds]


def total(items: list[dict], *kinds: str) -> int:
    """Net of the lines (of ``kinds``, if given) that are not rejected, in minor units."""
    return sum(cents(x["amount"]) for x in of_kind(items, *kinds) if x["status"] != "rejected")


def close(api: Api, period: str) -> dict:
    r = api.post(f"/api/v1/exports/commissions/{period}/close")
    assert r.status_code == 200, r.json
    return r.json
