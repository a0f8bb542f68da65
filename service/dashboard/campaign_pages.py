"""The campaigns' settings pages: create a campaign, change it, enrol influencers, change
a partner's own rules and remove a partner — through the API's own schemas and the same
domain operations — with a preview of what an example order, clicks and posts would
earn under the rules on the form, worked out by the ledger's own rule functions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import redirect, render_template, request, url_for
from marshmallow import ValidationError
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from service.audit.service import entries_for
from service.campaigns.models import Campaign, Partnership
from service.campaigns.schemas import (
    RULE_MEANINGS,
    CampaignChange,
    CampaignIn,
    PartnershipChange,
    PartnershipIn,
)
from service.campaigns.service import (
    add_partner,
    change_campaign,
    change_partner,
    create_campaign,
    get_campaign,
    get_partnership,
    media_value_rates,
    remove_partner,
)
from service.commissions.rules import (
    RULE_FIELDS,
    CappedLine,
    CapRoom,
    RuleError,
    parse_rules,
    preview,
)
from service.dashboard import login
from service.dashboard.blueprint import bp, changes, saved
from service.dashboard.pickers import resolve
from service.errors import AfftrackError
from service.forms import Form, compact, field_value, flatten, row_numbers, submit
from service.http.context import session
from service.money import MoneyError, format_amount, is_currency, parse_amount
from service.reports.media_value import RATE_METRICS, REFERENCE_CURRENCY, rates_json
from service.vocabulary import PLATFORMS

RULES = "commission_rules"
RATES = "media_value_rates"
# The rates form's columns: what each rate prices.
RATE_TITLES = {
    "impressions": "per 1,000 impressions",
    "likes": "per like",
    "comments": "per comment",
    "shares": "per share",
    "saves": "per save",
}
SPARE_TIERS = 2
GOALS = [("conversions", "Conversions"), ("traffic", "Traffic"), ("awareness", "Awareness")]
KINDS = [
    ("affiliate", "Affiliate (commission on sales)"),
    ("paid", "Paid (fees)"),
    ("organic", "Organic (unpaid)"),
    ("multichannel", "Multichannel"),
]
# What each rule type is called on the form.
RULE_TITLES = {
    "percent": "Percent of each order",
    "flat": "Fixed amount per order",
    "tiered_percent": "Tiered percent by monthly sales",
    "cpc": "Amount per unique click",
    "per_post": "Fee per approved post",
}


@dataclass(frozen=True)
class Slot:
    """One rule's inputs on the form: row ``index`` of ``type`` (with tier rows)."""

    index: int
    type: str
    tiers: range = range(0)
    spare: bool = False  # an empty one offered to add a rule


@dataclass
class Preview:
    """The preview under the form: each rule's earnings for the example, or why not."""

    lines: list[tuple[dict[str, Any], CappedLine]]
    currency: str
    total: str
    problem: str = ""


def rule_slots(form: Form) -> list[Slot]:
    """The rule rows to draw: those on the form, then one empty row of each type."""
    types = {
        i: form.values[f"{RULES}-{i}-type"]
        for i in row_numbers(form.values, RULES)
        if f"{RULES}-{i}-type" in form.values
    }
    slots = []
    for i in sorted(types):
        if types[i] not in RULE_FIELDS:
            continue
        used = row_numbers(form.values, f"{RULES}-{i}-tiers")
        tiers = range((used[-1] + 1 if used else 0) + SPARE_TIERS)
        slots.append(Slot(i, types[i], tiers if types[i] == "tiered_percent" else range(0)))
    nxt = max(types, default=-1) + 1
    for offset, kind in enumerate(RULE_FIELDS):
        tiers = range(3) if kind == "tiered_percent" else range(0)
        slots.append(Slot(nxt + offset, kind, tiers, spare=True))
    return slots


def rules_values(rules: list[dict[str, Any]] | None) -> dict[str, str]:
    """Stored rules as the form's inputs."""
    values: dict[str, str] = {}
    for i, rule in enumerate(rules or []):
        values[f"{RULES}-{i}-type"] = rule["type"]
        for name, value in rule.items():
            if name == "tiers":
                for j, tier in enumerate(value):
                    values[f"{RULES}-{i}-tiers-{j}-up_to"] = tier["up_to"] or ""
                    values[f"{RULES}-{i}-tiers-{j}-rate"] = tier["rate"]
            elif name != "type":
                values[f"{RULES}-{i}-{name}"] = value
    return values


def make_preview(
    raw_rules: Any, form: MultiDict[str, str], currency: str, caps: tuple[str, str] = ("", "")
) -> Preview:
    """What ``raw_rules`` (as the API takes them) earn for the form's example
    (``example_order``, ``example_clicks``, ``example_posts``) in ``currency``, within
    the caps (monthly cap per influencer, budget; "" for none), as a new partner's first
    order of a month."""
    empty = Preview([], currency, "")
    if not is_currency(currency):
        empty.problem = "Choose the campaign's currency to see a preview."
        return empty
    try:
        rules = parse_rules(raw_rules or [], currency)
        order = parse_amount(form.get("example_order", "").strip() or "0", currency)
        clicks = int(form.get("example_clicks", "").strip() or "0")
        posts = int(form.get("example_posts", "").strip() or "0")
        room = CapRoom(month=_optional(caps[0], currency), budget=_optional(caps[1], currency))
    except (RuleError, MoneyError, ValueError) as exc:
        empty.problem = f"No preview: {exc}. Correct the rules and the example, then preview again."
        return empty
    capped = preview(
        rules, currency=currency, order_minor=order, clicks=clicks, posts=posts, room=room
    )
    shown = [(rules[c.line.rule_index].to_json(currency), c) for c in capped]
    total = format_amount(sum(c.amount_minor for c in capped), currency)
    return Preview(shown, currency, total)


def _form_caps(form: MultiDict[str, str]) -> tuple[str, str]:
    return form.get("monthly_cap_per_influencer", ""), form.get("budget", "")


def _campaign_caps(c: Campaign) -> tuple[str, str]:
    return _amount(c.monthly_cap_minor, c.currency), _amount(c.budget_minor, c.currency)


def _optional(text: str, currency: str) -> int | None:
    text = text.strip()
    return parse_amount(text, currency) if text else None


def _previewing() -> bool:
    return request.form.get("action") == "preview"


def _amount(minor: int | None, currency: str) -> str:
    return "" if minor is None else format_amount(minor, currency)


# Creating a campaign


@bp.get("/campaigns/new")
@login.login_required
def new_campaign() -> Any:
    form = Form(
        values={
            "currency": "EUR",
            "attribution_window_days": "30",
            "hold_days": "30",
            "utm_medium": "influencer",
            "goal": "conversions",
            "kind": "affiliate",
        }
    )
    return _campaign_form(None, form, None, 200)


@bp.post("/campaigns")
@changes
def create_campaign_page() -> Any:
    posted = compact(request.form, RULES)
    if _previewing():
        currency = posted.get("currency", "").strip().upper()
        raw = field_value(CampaignIn(), posted, RULES)
        shown = make_preview(raw, posted, currency, _form_caps(posted))
        return _campaign_form(None, Form(values=_values(posted)), shown, 200)
    data, form = submit(CampaignIn(), posted)
    if (
        data is not None
        and (campaign := saved(form, create_campaign, session(), data, once=Campaign)) is not None
    ):
        return redirect(url_for("dashboard.campaign_settings", campaign_id=campaign.id), 303)
    return _campaign_form(None, form, None, 422)


# One campaign's settings


@bp.get("/campaigns/<campaign_id>/settings")
@login.login_required
def campaign_settings(campaign_id: str) -> Any:
    found = get_campaign(session(), campaign_id)
    return _campaign_form(found, _filled(found), None, 200)


@bp.post("/campaigns/<campaign_id>/settings")
@changes
def change_campaign_page(campaign_id: str) -> Any:
    found = get_campaign(session(), campaign_id)
    posted = compact(request.form, RULES)
    if _previewing():
        currency = posted.get("currency", "").strip().upper() or found.currency
        raw = field_value(CampaignChange(), posted, RULES)
        shown = make_preview(raw, posted, currency, _form_caps(posted))
        return _campaign_form(found, Form(values=_values(posted)), shown, 200)
    data, form = submit(CampaignChange(), posted)
    if data is not None and saved(form, change_campaign, session(), found, data) is not None:
        return redirect(url_for("dashboard.campaign_settings", campaign_id=campaign_id), 303)
    found = get_campaign(session(), campaign_id)
    return _campaign_form(found, form, None, 422)


@bp.post("/campaigns/<campaign_id>/media-value-rates")
@changes
def change_rates_page(campaign_id: str) -> Any:
    """The campaign's media value rates: those on the form (a platform left empty has
    none), or back to the defaults ("reset")."""
    found = get_campaign(session(), campaign_id)
    form = Form(values=_values(request.form))
    raw: dict[str, dict[str, str]] | None = None
    if request.form.get("action") != "reset":
        raw = {}
        for platform in PLATFORMS:
            typed = {
                m: request.form.get(f"{RATES}-{platform}-{m}", "").strip() for m in RATE_METRICS
            }
            if any(typed.values()):
                raw[platform] = typed
    try:
        data = CampaignChange(only=(RATES,)).load({RATES: raw})
    except ValidationError as exc:
        form.errors = flatten(exc.messages)
    else:
        if saved(form, change_campaign, session(), found, data) is not None:
            return redirect(
                url_for("dashboard.campaign_settings", campaign_id=campaign_id)
                + "#media-value-rates",
                303,
            )
    found = get_campaign(session(), campaign_id)
    return _campaign_form(found, _filled(found), None, form.status, rates=form)


def _rates_filled(c: Campaign) -> Form:
    """The rates form with the rates that apply now (the defaults where they do)."""
    table, _ = media_value_rates(c)
    shown = rates_json(table, c.currency) if table is not None else {}
    return Form(
        values={
            f"{RATES}-{platform}-{metric}": value
            for platform, rates in shown.items()
            for metric, value in rates.items()
        }
    )


def _values(form: MultiDict[str, str]) -> dict[str, str]:
    return {k: v for k, v in form.items() if k not in ("csrf", "action")}


def _filled(c: Campaign) -> Form:
    values = {
        "name": c.name,
        "goal": c.goal,
        "kind": c.kind,
        "currency": c.currency,
        "starts_on": c.starts_on.isoformat(),
        "ends_on": c.ends_on.isoformat() if c.ends_on else "",
        "budget": _amount(c.budget_minor, c.currency),
        "monthly_cap_per_influencer": _amount(c.monthly_cap_minor, c.currency),
        "allowed_domains": "\n".join(c.allowed_domains),
        "fallback_url": c.fallback_url,
        "attribution_window_days": str(c.attribution_window_days),
        "hold_days": str(c.hold_days),
        "utm_medium": c.utm_medium,
        **rules_values(c.commission_rules),
    }
    return Form(values=values)


def _campaign_form(
    found: Campaign | None,
    form: Form,
    shown: Preview | None,
    status: int,
    rates: Form | None = None,
) -> tuple[str, int]:
    s = session()
    partners = (
        list(
            s.scalars(
                select(Partnership)
                .where(Partnership.campaign_id == found.id)
                .order_by(Partnership.id)
            )
        )
        if found
        else []
    )
    page = render_template(
        "dashboard/campaign_settings.html",
        campaign=found,
        form=form,
        slots=rule_slots(form),
        preview=shown,
        partners=partners,
        audit=entries_for(s, "campaign", found.id) if found else [],
        rates=rates if rates is not None else _rates_filled(found) if found else None,
        rates_are_defaults=media_value_rates(found)[1] if found else False,
        **_choices(),
    )
    return page, status


def _choices() -> dict[str, Any]:
    return {
        "goals": GOALS,
        "kinds": KINDS,
        "rule_titles": RULE_TITLES,
        "rule_meanings": RULE_MEANINGS,
        "rate_platforms": PLATFORMS,
        "rate_metrics": RATE_METRICS,
        "rate_titles": RATE_TITLES,
        "reference_currency": REFERENCE_CURRENCY,
    }


# Partners


@bp.get("/campaigns/<campaign_id>/partners/new")
@login.login_required
def new_partner(campaign_id: str) -> Any:
    found = get_campaign(session(), campaign_id)
    return _partner_form(found, None, Form(), None, 200)


@bp.post("/campaigns/<campaign_id>/partners")
@changes
def add_partner_page(campaign_id: str) -> Any:
    found = get_campaign(session(), campaign_id)
    posted = compact(request.form, RULES)
    if _previewing():
        shown = _partner_preview(found, posted)
        return _partner_form(found, None, Form(values=_values(posted)), shown, 200)
    picked = resolve(posted, {"influencer_id": "influencer"})
    data, form = submit(PartnershipIn(), _own_rules(picked.values))
    form.values = _values(posted)  # as typed
    if picked.errors:
        return _partner_form(found, None, picked.onto(form), None, 422)
    if data is not None and saved(form, add_partner, session(), campaign_id, data) is not None:
        return redirect(url_for("dashboard.campaign_settings", campaign_id=campaign_id), 303)
    return _partner_form(found, None, form, None, 422)


@bp.get("/campaigns/<campaign_id>/partners/<influencer_id>")
@login.login_required
def partner(campaign_id: str, influencer_id: str) -> Any:
    found = get_partnership(session(), campaign_id, influencer_id)
    values = rules_values(found.commission_rules)
    if found.commission_rules is not None:
        values["own_rules"] = "on"
    return _partner_form(found.campaign, found, Form(values=values), None, 200)


@bp.post("/campaigns/<campaign_id>/partners/<influencer_id>")
@changes
def change_partner_page(campaign_id: str, influencer_id: str) -> Any:
    found = get_partnership(session(), campaign_id, influencer_id)
    posted = compact(request.form, RULES)
    if _previewing():
        shown = _partner_preview(found.campaign, posted)
        return _partner_form(found.campaign, found, Form(values=_values(posted)), shown, 200)
    data, form = submit(PartnershipChange(), _own_rules(posted))
    if data is not None and not posted.get("own_rules"):
        data["commission_rules"] = None  # the campaign's rules apply again
    if data is not None and saved(form, change_partner, session(), found, data) is not None:
        return redirect(url_for("dashboard.campaign_settings", campaign_id=campaign_id), 303)
    found = get_partnership(session(), campaign_id, influencer_id)
    return _partner_form(found.campaign, found, form, None, 422)


@bp.post("/campaigns/<campaign_id>/partners/<influencer_id>/remove")
@changes
def remove_partner_page(campaign_id: str, influencer_id: str) -> Any:
    found = get_partnership(session(), campaign_id, influencer_id)
    try:
        remove_partner(session(), found)
        session().commit()
    except AfftrackError as exc:
        session().rollback()
        found = get_partnership(session(), campaign_id, influencer_id)
        form = Form(values=rules_values(found.commission_rules)).refuse(exc)
        if found.commission_rules is not None:
            form.values = {**form.values, "own_rules": "on"}
        return _partner_form(found.campaign, found, form, None, 409)
    return redirect(url_for("dashboard.campaign_settings", campaign_id=campaign_id), 303)


def _own_rules(posted: MultiDict[str, str]) -> MultiDict[str, str]:
    """The form as the API takes it: without "own rules" ticked, the partner follows the
    campaign's rules (``commission_rules`` null) whatever the rule rows hold."""
    if posted.get("own_rules"):
        return posted
    return MultiDict([(k, v) for k, v in posted.items(multi=True) if not k.startswith(RULES)])


def _partner_preview(campaign: Campaign, posted: MultiDict[str, str]) -> Preview:
    """The partner's own rules on the form if ticked, else the campaign's."""
    own = posted.get("own_rules")
    raw = field_value(PartnershipIn(), posted, RULES) if own else campaign.commission_rules
    return make_preview(raw, posted, campaign.currency, _campaign_caps(campaign))


def _partner_form(
    campaign: Campaign,
    found: Partnership | None,
    form: Form,
    shown: Preview | None,
    status: int,
) -> tuple[str, int]:
    page = render_template(
        "dashboard/partner.html",
        campaign=campaign,
        partnership=found,
        form=form,
        slots=rule_slots(form),
        preview=shown,
        **_choices(),
    )
    return page, status
