"""A campaign's objectives (/api/v1/campaigns/<id>/objectives) and their progress
(/api/v1/reports/campaigns/<id>/objectives)."""

from __future__ import annotations

from typing import Any

from service.campaigns.service import get_campaign
from service.clock import now_utc
from service.http.auth import require
from service.http.context import session
from service.http.contract import JSON_BODY, QUERY, Blueprint
from service.objectives import service
from service.objectives.models import Objective
from service.objectives.progress import campaign_objectives
from service.objectives.schemas import (
    ObjectiveChange,
    ObjectiveIn,
    ObjectiveList,
    ObjectiveOut,
    ProgressOut,
    ProgressQuery,
)

bp = Blueprint("objectives", __name__, url_prefix="/api/v1/campaigns")
# Their progress is a report: /api/v1/reports/campaigns/<id>/objectives.
reports = Blueprint("objective_reports", __name__, url_prefix="/api/v1/reports")


@bp.route("/<campaign_id>/objectives", methods=["GET"])
@require("read")
@bp.response(200, ObjectiveList)
@bp.errors(404)
def index(campaign_id: str) -> dict[str, Any]:
    """List a campaign's objectives

    With the KPIs the campaign's goal suggests (any KPI may be chosen)."""
    campaign = get_campaign(session(), campaign_id)
    return {
        "items": service.list_objectives(session(), campaign_id),
        "suggested_kpis": service.suggested_kpis(campaign.goal),
    }


@bp.route("/<campaign_id>/objectives", methods=["POST"])
@require("write")
@bp.arguments(ObjectiveIn)
@bp.response(201, ObjectiveOut)
@bp.errors(JSON_BODY, 404)
def create(data: dict[str, Any], campaign_id: str) -> Objective:
    """Set an objective

    Refused (422, naming the field) for a target that is not a value of the KPI's unit
    (more decimals than the campaign's currency has, a fraction of a count, a negative
    figure but for ROI), a deadline before the start, and an influencer who is not a
    partner of the campaign."""
    objective = service.create_objective(session(), campaign_id, data)
    session().commit()
    return objective


@reports.route("/campaigns/<campaign_id>/objectives", methods=["GET"])
@require("read")
@reports.arguments(ProgressQuery, location="query")
@reports.response(200, ProgressOut)
@reports.errors(QUERY, 404)
def progress(query: dict[str, Any], campaign_id: str) -> dict[str, Any]:
    """Objectives report: a campaign's objectives with their progress today

    For each objective: actual, target, percent reached, pace, forecast (and how it was
    made) and status, from the report roll-ups; per influencer, each partner's own
    progress and whether they are below pace (docs/objectives.md)."""
    s = session()
    campaign = get_campaign(s, campaign_id)
    today = now_utc().date()
    objectives = service.list_objectives(s, campaign_id)
    return {
        "campaign_id": campaign.id,
        "currency": campaign.currency,
        "today": today.isoformat(),
        "suggested_kpis": service.suggested_kpis(campaign.goal),
        "objectives": campaign_objectives(
            s, campaign, objectives, today, contributions_for=None if query["contributions"] else ()
        ),
    }


@bp.route("/<campaign_id>/objectives/<objective_id>", methods=["PATCH"])
@require("write")
@bp.arguments(ObjectiveChange)
@bp.response(200, ObjectiveOut)
@bp.errors(JSON_BODY, 404)
def change(data: dict[str, Any], campaign_id: str, objective_id: str) -> Objective:
    """Change an objective

    Only the fields sent change; a new KPI without a new target keeps the target's figure
    when it fits the new KPI's unit."""
    s = session()
    objective = service.change_objective(
        s, service.get_objective(s, campaign_id, objective_id), data
    )
    s.commit()
    return objective


@bp.route("/<campaign_id>/objectives/<objective_id>", methods=["DELETE"])
@require("write")
@bp.response(204)
@bp.errors(404)
def delete(campaign_id: str, objective_id: str) -> None:
    """Delete an objective"""
    s = session()
    service.delete_objective(s, service.get_objective(s, campaign_id, objective_id))
    s.commit()
