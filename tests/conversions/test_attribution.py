"""Attribution order of docs/product.md §4 as a pure decision, with a table of cases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from service.conversions.attribution import (
    Candidate,
    ClickFact,
    attribute,
    click_id_from,
    utm_from,
)

ORDER = datetime(2026, 10, 3, 12, tzinfo=UTC)


def cand(
    pid: str,
    *,
    ends: date | None = None,
    starts: date = date(2026, 9, 1),
    window: int = 30,
    **extra: object,
) -> Candidate:
    return Candidate(pid, f"cmp-{pid}", f"inf-{pid}", starts, ends, window, **extra)  # type: ignore[arg-type]


def click(pid: str, *, hours_before: float = 5, bot: bool = False, window: int = 30) -> ClickFact:
    return ClickFact("clk1", ORDER - timedelta(hours=hours_before), bot, cand(pid, window=window))


@pytest.mark.parametrize(
    ("promos", "the_click", "utm", "expected"),
    [
        ([cand("a")], click("b"), cand("c"), ("promo_code", "a")),
        ([], click("b"), cand("c"), ("click", "b")),
        ([], None, cand("c"), ("utm", "c")),
        ([], None, None, None),
        # promo of an ended campaign does not count; the click does
        ([cand("a", ends=date(2026, 10, 1))], click("b"), None, ("click", "b")),
        # promo not yet valid, expired, or used up
        ([cand("a", promo_starts_at=ORDER + timedelta(hours=1))], None, None, None),
        ([cand("a", promo_ends_at=ORDER)], None, None, None),
        ([cand("a", promo_uses_left=0)], None, None, None),
        ([cand("a", promo_uses_left=1)], None, None, ("promo_code", "a")),
        # a bot click never attributes
        ([], click("b", bot=True), None, None),
        # outside the attribution window
        ([], click("b", hours_before=24 * 31), None, None),
        ([], click("b", hours_before=24 * 6, window=7), None, ("click", "b")),
        ([], click("b", hours_before=24 * 8, window=7), cand("c"), ("utm", "c")),
        # a click after the order does not attribute it
        ([], click("b", hours_before=-1), None, None),
        # the first matching promo wins
        ([cand("a", promo_uses_left=0), cand("d")], None, None, ("promo_code", "d")),
    ],
)
def test_attribution_order(promos, the_click, utm, expected):
    result = attribute(ORDER, promos, the_click, utm)
    if expected is None:
        assert result is None
    else:
        assert (result.method, result.candidate.partnership_id) == expected


def test_click_id_sources():
    assert click_id_from(" abc ", None, "aff_click") == "abc"
    assert click_id_from(None, "https://shop.example/?x=1&aff_click=k9", "aff_click") == "k9"
    assert click_id_from(None, "/products/1?ref_click=k9", "ref_click") == "k9"
    assert click_id_from(None, "https://shop.example/", "aff_click") is None
    assert click_id_from(None, None, "aff_click") is None


def test_utm_from_landing_url():
    url = "https://shop.example/?utm_campaign=Spring-26&utm_content=Anna&utm_source=ig"
    assert utm_from(url) == ("spring-26", "anna")
    assert utm_from("https://shop.example/?utm_campaign=x") is None
    assert utm_from("not a url at all") is None
