"""Commission rules from form rows: whatever spare rows a page sends between the used
ones, the API receives exactly the rules typed, and row ``i`` of the compacted form is
rule ``i`` (so a refusal lands beside its row)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from service.campaigns.schemas import CampaignIn
from service.forms import compact, field_value, flatten

amounts = st.sampled_from(["5.00", "0.05", "150", "12.5"])
rates = st.sampled_from(["10", "12.5", "0", "100"])
tier_lists = st.lists(st.tuples(amounts, rates), min_size=0, max_size=3).map(
    lambda rows: [{"up_to": u, "rate": r} for u, r in rows]
)
rules = st.one_of(
    st.builds(lambda r: {"type": "percent", "rate": r}, rates),
    st.builds(lambda a: {"type": "flat", "amount": a}, amounts),
    st.builds(lambda a: {"type": "cpc", "amount": a}, amounts),
    st.builds(lambda a: {"type": "per_post", "amount": a}, amounts),
    st.builds(
        lambda ts, last: {"type": "tiered_percent", "tiers": [*ts, {"up_to": None, "rate": last}]},
        tier_lists,
        rates,
    ),
)
SPARES = {
    "percent": {"rate": ""},
    "flat": {"amount": ""},
    "tiered_percent": {"tiers-0-up_to": "", "tiers-0-rate": ""},
}


def rows_of(rule: dict[str, Any], spare_tiers: int) -> dict[str, str]:
    if rule["type"] != "tiered_percent":
        return {k: v for k, v in rule.items() if k != "type"}
    out: dict[str, str] = {"tiers": ""}
    j = 0
    for tier in rule["tiers"]:
        for _ in range(spare_tiers):  # empty tier rows between the used ones
            out.update({f"tiers-{j}-up_to": "", f"tiers-{j}-rate": ""})
            j += 1
        out.update({f"tiers-{j}-up_to": tier["up_to"] or "", f"tiers-{j}-rate": tier["rate"]})
        j += 1
    return out


@given(
    typed=st.lists(rules, max_size=5),
    spares=st.lists(st.sampled_from(sorted(SPARES)), max_size=6),
    spare_tiers=st.integers(0, 2),
    data=st.data(),
)
def test_the_api_receives_the_rules_typed_whatever_spare_rows_lie_between(
    typed: list[dict[str, Any]], spares: list[str], spare_tiers: int, data: st.DataObject
) -> None:
    slots: list[tuple[str, dict[str, str]]] = [(r["type"], rows_of(r, spare_tiers)) for r in typed]
    for kind in spares:
        at = data.draw(st.integers(0, len(slots)))
        slots.insert(at, (kind, SPARES[kind]))
    form: MultiDict[str, str] = MultiDict([("commission_rules", ""), ("name", "x")])
    for i, (kind, fields) in enumerate(slots):
        form.add(f"commission_rules-{i}-type", kind)
        for key, value in fields.items():
            form.add(f"commission_rules-{i}-{key}", value)

    packed = compact(form, "commission_rules")
    assert field_value(CampaignIn(), form, "commission_rules") == typed
    assert field_value(CampaignIn(), packed, "commission_rules") == typed
    assert packed.get("name") == "x"
    for i, rule in enumerate(typed):
        assert packed.get(f"commission_rules-{i}-type") == rule["type"]


def test_a_domain_path_names_the_input_of_its_row() -> None:
    messages = {"commission_rules.1.tiers.0": ["tier bounds must increase"]}
    assert flatten(messages) == {"commission_rules-1-tiers-0": ["Tier bounds must increase."]}
