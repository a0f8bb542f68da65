"""The portal's reads show one influencer their own objects and nothing else: every list
holds only theirs, and another influencer's id is answered as an unknown one is."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import pytest

from service.errors import NotFound
from service.portal import own
from tests.portal.story import Story, build, db, settings
from tests.support.app import Api

pytestmark = pytest.mark.frozen_at("2026-09-01T09:00:00Z")

# No field about a customer, nor a brand-only setting, in any answer.
CUSTOMER_OR_BRAND = {
    "customer_id",
    "landing_url",
    "raw",
    "budget_minor",
    "monthly_cap_minor",
    "allowed_domains",
    "fallback_url",
    "media_value_rates",
    "created_by_key_id",
    "payout_email",
    "email",
}


def _everything(api: Api, influencer_id: str) -> list[Any]:
    with db(api).read_session() as s:
        return [
            *own.campaigns_of(s, influencer_id),
            *own.links_of(s, settings(api), influencer_id),
            *own.codes_of(s, influencer_id),
            *own.orders_of(s, influencer_id, limit=200).items,
            *own.commissions(s, influencer_id, limit=200).items,
            *own.balances(s, influencer_id),
            *own.statements(s, influencer_id),
            *own.posts_of(s, influencer_id),
        ]


def test_every_list_holds_the_influencers_own_objects_only(api: Api, frozen: Any) -> None:
    story = build(api, frozen)
    anna, ben = story.anna, story.ben
    with db(api).read_session() as s:
        assert [c.id for c in own.campaigns_of(s, anna.id)] == [story.campaign_id]
        assert {c.id for c in own.campaigns_of(s, ben.id)} == {story.campaign_id, story.solo_id}
        links = own.links_of(s, settings(api), anna.id)
        assert [link.id for link in links] == [anna.link_id]
        code = api.get(f"/api/v1/links/{anna.link_id}").json["code"]
        assert links[0].short_url == f"https://go.example.test/r/{code}"
        assert links[0].qr_url == f"https://go.example.test/r/{code}?qr=1"
        assert links[0].tracked_url == api.get(f"/api/v1/links/{anna.link_id}").json["tracked_url"]
        assert [c.id for c in own.codes_of(s, anna.id)] == [anna.code_id]
        assert [c.code for c in own.codes_of(s, anna.id)] == ["ANNA15"]
        assert [p.id for p in own.posts_of(s, anna.id)] == [anna.post_id]
        assert {line.id for line in own.commissions(s, anna.id, limit=200).items} == set(
            anna.line_ids
        )
        theirs = api.get(f"/api/v1/conversions?influencer_id={anna.id}").json["items"]
        assert {o.id for o in own.orders_of(s, anna.id).items} == {o["id"] for o in theirs}
        assert len(theirs) == 3
    for thing in _everything(api, anna.id):
        fields = asdict(thing)
        assert not CUSTOMER_OR_BRAND & set(fields), thing
        shown = repr(fields)
        for word in (ben.id, "B-2000", "BEN10", "cust-", "secret=customer"):
            assert word not in shown, (word, thing)


def test_an_order_reference_is_masked_to_its_last_four_characters(api: Api, frozen: Any) -> None:
    story = build(api, frozen)
    with db(api).read_session() as s:
        refs = sorted(o.order_ref for o in own.orders_of(s, story.anna.id).items)
        lines = own.commissions(s, story.anna.id, limit=200).items
    assert refs == ["•••0001", "•••0002", "•••0003"]
    assert {line.order_ref for line in lines if line.conversion_id} <= set(refs)
    assert own.mask_reference("1001") == "•••01"
    assert own.mask_reference("7") == "•••"
    assert own.mask_reference(None) is None


def _lookups(api: Api, story: Story) -> list[tuple[str, Callable[[Any, str], Any], str]]:
    """(what, the read of one object as anna, ben's id of that kind)."""
    anna, ben = story.anna.id, story.ben
    return [
        ("campaign", lambda s, i: own.campaign(s, anna, i), story.solo_id),
        ("link", lambda s, i: own.link(s, settings(api), anna, i), ben.link_id),
        ("promo code", lambda s, i: own.code(s, anna, i), ben.code_id),
        ("post", lambda s, i: own.post(s, anna, i), ben.post_id),
        ("commission line", lambda s, i: own.commission(s, anna, i), ben.line_ids[0]),
    ]


def test_another_influencers_id_is_not_found_as_an_unknown_one_is(api: Api, frozen: Any) -> None:
    story = build(api, frozen)
    with db(api).read_session() as s:
        for what, read, bens in _lookups(api, story):
            with pytest.raises(NotFound) as theirs:
                read(s, bens)
            with pytest.raises(NotFound) as unknown:
                read(s, "xyz_0000000000000000000000")
            assert theirs.value.message == f"no {what} {bens!r}"
            assert unknown.value.message == f"no {what} 'xyz_0000000000000000000000'"
            assert (theirs.value.code, theirs.value.fields) == (unknown.value.code, {})
        # Their own objects are found.
        assert own.link(s, settings(api), story.anna.id, story.anna.link_id).id
        assert own.post(s, story.anna.id, story.anna.post_id).id == story.anna.post_id
        assert own.commission(s, story.anna.id, story.anna.line_ids[0]).id
        assert own.campaign(s, story.anna.id, story.campaign_id).id == story.campaign_id


def test_a_month_that_paid_them_nothing_is_not_found_as_an_open_one(api: Api, frozen: Any) -> None:
    story = build(api, frozen)
    carol = api.create_influencer("carol")
    with db(api).read_session() as s:
        for period in ("2026-09", "2026-10"):
            own.statement(s, story.anna.id, period)  # hers
            with pytest.raises(NotFound) as none_of_hers:
                own.statement(s, carol["id"], period)
            assert none_of_hers.value.message == f"no statement for {period}"
            with pytest.raises(NotFound):
                own.statement_csv(s, carol["id"], period)
        with pytest.raises(NotFound) as still_open:
            own.statement(s, story.anna.id, "2026-11")
        assert still_open.value.message == "no statement for 2026-11"
        assert own.statements(s, carol["id"]) == []
