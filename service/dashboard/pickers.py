"""Choosing an influencer or a campaign on a form or a filter: a text input, never a list
of every one of them (docs/adr/0069-pickers-are-text-inputs-with-suggestions.md).

Without JavaScript the input takes an influencer's handle (or id) or a campaign's slug
or name (or id), and the server resolves it here: exactly one match, in any case; else a
refusal beside the input saying what was not found or that it names several, and nothing
changes. With JavaScript (static/dashboard.js) typing shows suggestions from
``GET /dashboard/search/<kind>?q=``: the API's influencer search (``q``) or its campaign
counterpart, handles or slugs starting with the text first, :data:`SUGGESTIONS` at most.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from flask import jsonify, request
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from service.campaigns.models import Campaign
from service.campaigns.service import (
    campaigns_named,
    search_campaigns,
    search_partners,
)
from service.dashboard import login
from service.dashboard.blueprint import bp
from service.forms import Form, flatten
from service.http.context import session
from service.influencers.models import Influencer
from service.influencers.schemas import SEARCH_MAX, InfluencerQuery
from service.influencers.service import influencers_named, search_influencers

SUGGESTIONS = 20  # suggestions a search answers
NAMED = 5  # names quoted in a refusal ("did you mean …", "several: …")

Kind = Literal["influencer", "campaign"]


@dataclass
class Picked:
    """A form or filter whose pickers were resolved: the inputs with each picker's text
    replaced by the id it names (for the API's schemas), and the refusals by input."""

    values: MultiDict[str, str]
    errors: dict[str, list[str]] = field(default_factory=dict)

    def onto(self, form: Form) -> Form:
        """``form`` with the pickers' refusals in place of any the schema made of them."""
        form.errors.update(self.errors)
        return form


def influencer_label(i: Influencer) -> str:
    return f"{i.handle} ({i.name})"


def campaign_label(c: Campaign) -> str:
    return f"{c.name} ({c.slug}, {c.currency})"


def resolve(values: MultiDict[str, str], pickers: Mapping[str, Kind]) -> Picked:
    """``values`` with each picker input (name → what it picks) naming exactly one
    influencer or campaign replaced by its id; an empty one is left as it is (the
    schema says whether it is needed)."""
    out: MultiDict[str, str] = MultiDict(values)
    picked = Picked(out)
    for name, kind in pickers.items():
        text = values.get(name, "").strip()
        if not text:
            continue
        if len(text) > SEARCH_MAX:  # no handle, slug or name is this long: not looked for
            picked.errors[name] = [f"At most {SEARCH_MAX} characters: a handle, slug or name."]
            continue
        found_id, problem = pick(kind, text)
        if found_id is not None:
            out[name] = found_id
        else:
            picked.errors[name] = [problem]
    return picked


def pick(kind: Kind, text: str) -> tuple[str | None, str]:
    """The id of the one influencer or campaign ``text`` names, or why there is none."""
    s = session()
    if kind == "influencer":
        people = influencers_named(s, text)
        if people:
            return people[0].id, ""
        near = ", ".join(i.handle for i in search_influencers(s, text, NAMED))
        hint = f" Handles that have it: {near}." if near else ""
        return None, f"No influencer has the handle (or id) “{text}”.{hint}"
    campaigns = campaigns_named(s, text, NAMED)
    if len(campaigns) == 1:
        return campaigns[0].id, ""
    if campaigns:
        slugs = ", ".join(c.slug for c in campaigns)
        return None, f"“{text}” is the name of several campaigns ({slugs}): type its slug."
    near = ", ".join(c.slug for c in search_campaigns(s, text, NAMED))
    hint = f" Campaigns that have it: {near}." if near else ""
    return None, f"No campaign has the slug, name (or id) “{text}”.{hint}"


@bp.app_template_global()
def picked_text(kind: Kind, value: Any) -> str:
    """What a picker input shows for ``value``: the handle or slug when it is an id,
    else the text as typed."""
    text = str(value or "").strip()
    if not text:
        return ""
    s = session()
    if kind == "influencer":
        person = s.get(Influencer, text)
        return person.handle if person else text
    campaign = s.get(Campaign, text)
    return campaign.slug if campaign else text


@bp.get("/search/<any(influencers, campaigns):kind>")
@login.login_required
def search(kind: str) -> Response | tuple[Response, int]:
    """Suggestions for a picker: ``[{value, label, id}]``; ``value`` is what the input
    takes (a handle or a slug). ``partner_of=<campaign id>``: that campaign's partners
    only."""
    try:  # the API's own query schema: the same rule for ``q``
        query = InfluencerQuery(only=("q",)).load({"q": request.args.get("q", "")})
    except ValidationError as exc:
        return jsonify({"errors": flatten(exc.messages)}), 422
    text = str(query.get("q", "")).strip()
    s = session()
    if not text:
        return jsonify({"items": []})
    if kind == "campaigns":
        items = [
            {"value": c.slug, "label": campaign_label(c), "id": c.id}
            for c in search_campaigns(s, text, SUGGESTIONS)
        ]
    else:
        partner_of = request.args.get("partner_of", "").strip()
        found = (
            search_partners(s, partner_of, text, SUGGESTIONS)
            if partner_of
            else search_influencers(s, text, SUGGESTIONS)
        )
        items = [{"value": i.handle, "label": influencer_label(i), "id": i.id} for i in found]
    return jsonify({"items": items})
