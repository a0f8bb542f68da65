"""A campaign's objectives in the dashboard: the cards its page leads with (progress from
the same function as the API's objectives report) and the form to set, change and delete
an objective, loaded by the API's own schemas and saved by the same domain operations."""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for

from service.campaigns.models import Campaign
from service.campaigns.service import get_campaign, partner_handles
from service.dashboard import login
from service.dashboard.blueprint import bp, changes, saved
from service.forms import Form, submit
from service.http.context import session
from service.objectives.models import Objective
from service.objectives.progress import campaign_objectives
from service.objectives.schemas import ObjectiveChange, ObjectiveIn
from service.objectives.service import (
    change_objective,
    create_objective,
    delete_objective,
    get_objective,
    kpi_choices,
    list_objectives,
    suggested_kpis,
)
from service.reports.objectives import format_value

# What each KPI is called on the page.
KPI_LABELS = {
    "clicks": "Clicks",
    "unique_clicks": "Unique clicks",
    "qr_scans": "QR scans",
    "conversions": "Conversions",
    "revenue": "Revenue",
    "conversion_rate": "Conversion rate (by click)",
    "roi": "ROI",
    "cost_per_acquisition": "Cost per acquisition",
    "cost_per_click": "Cost per click",
    "reach": "Reach",
    "impressions": "Impressions",
    "engagements": "Engagements",
    "engagement_rate": "Engagement rate",
    "ctr": "Click-through rate",
    "media_value": "Media value",
}
STATUS_LABELS = {
    "on_track": "On track",
    "behind": "Behind",
    "achieved": "Achieved",
    "missed": "Missed",
    None: "Not measured",
}
SCOPES = [("campaign", "The whole campaign"), ("influencer", "Per influencer")]


def objective_cards(campaign: Campaign, contributions_for: str = "") -> list[dict[str, Any]]:
    """The campaign's objectives with their progress today, as the cards show them; the
    partners' contributions to the objective ``contributions_for`` only (a ranking's
    order)."""
    s = session()
    return campaign_objectives(
        s, campaign, list_objectives(s, campaign.id), contributions_for={contributions_for}
    )


def card_context() -> dict[str, Any]:
    return {"kpi_labels": KPI_LABELS, "status_labels": STATUS_LABELS}


@bp.get("/campaigns/<campaign_id>/objectives/new")
@login.login_required
def new_objective(campaign_id: str) -> Any:
    found = get_campaign(session(), campaign_id)
    values = {"kpi": suggested_kpis(found.goal)[0], "starts_on": found.starts_on.isoformat()}
    if found.ends_on is not None:
        values["deadline"] = found.ends_on.isoformat()
    return _objective_form(found, None, Form(values=values), 200)


@bp.post("/campaigns/<campaign_id>/objectives")
@changes
def create_objective_page(campaign_id: str) -> Any:
    found = get_campaign(session(), campaign_id)
    data, form = submit(ObjectiveIn(), request.form)
    if (
        data is not None
        and saved(form, create_objective, session(), campaign_id, data, once=Objective) is not None
    ):
        return redirect(url_for("dashboard.campaign", campaign_id=campaign_id), 303)
    return _objective_form(found, None, form, form.status)


@bp.get("/campaigns/<campaign_id>/objectives/<objective_id>")
@login.login_required
def objective(campaign_id: str, objective_id: str) -> Any:
    found = get_objective(session(), campaign_id, objective_id)
    return _objective_form(found.campaign, found, _filled(found), 200)


@bp.post("/campaigns/<campaign_id>/objectives/<objective_id>")
@changes
def change_objective_page(campaign_id: str, objective_id: str) -> Any:
    found = get_objective(session(), campaign_id, objective_id)
    data, form = submit(ObjectiveChange(), request.form)
    if data is not None and saved(form, change_objective, session(), found, data) is not None:
        return redirect(url_for("dashboard.campaign", campaign_id=campaign_id), 303)
    found = get_objective(session(), campaign_id, objective_id)
    return _objective_form(found.campaign, found, form, form.status)


@bp.post("/campaigns/<campaign_id>/objectives/<objective_id>/delete")
@changes
def delete_objective_page(campaign_id: str, objective_id: str) -> Any:
    found = get_objective(session(), campaign_id, objective_id)
    delete_objective(session(), found)
    session().commit()
    return redirect(url_for("dashboard.campaign", campaign_id=campaign_id), 303)


def _partners(campaign_id: str) -> list[tuple[str, str]]:
    return list(partner_handles(session(), campaign_id).items())


def _filled(o: Objective) -> Form:
    return Form(
        values={
            "kpi": o.kpi,
            "target": str(format_value(o.kpi, o.target, o.campaign.currency)),
            "starts_on": o.starts_on.isoformat(),
            "deadline": o.deadline.isoformat(),
            "scope": o.scope,
            "influencer_id": o.influencer_id or "",
        }
    )


def _objective_form(
    campaign: Campaign, found: Objective | None, form: Form, status: int
) -> tuple[str, int]:
    suggested = set(suggested_kpis(campaign.goal))
    kpis = [
        (kpi, KPI_LABELS[kpi] + (" (suggested)" if kpi in suggested else ""))
        for kpi in kpi_choices(campaign.goal)
    ]
    page = render_template(
        "dashboard/objective.html",
        campaign=campaign,
        objective=found,
        form=form,
        kpis=kpis,
        scopes=SCOPES,
        partners=_partners(campaign.id),
    )
    return page, status
