"""A campaign's objectives: create, change, delete and list them, each checked against
the campaign (its currency gives a money target its decimals, its start is the default
start, its partners are whom an objective may be for). Progress: service.objectives.progress."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.campaigns.models import Campaign, Partnership
from service.campaigns.service import get_campaign
from service.errors import InvalidInput, NotFound
from service.money import MoneyError
from service.objectives.models import Objective
from service.reports.objectives import format_value, parse_value
from service.vocabulary import GOAL_KPIS, KPIS

# The most objectives a campaign has: a handful is what people follow.
MAX_OBJECTIVES = 20


def suggested_kpis(goal: str) -> list[str]:
    """The KPIs a campaign's goal suggests (any KPI may be chosen)."""
    return list(GOAL_KPIS.get(goal, ()))


def kpi_choices(goal: str) -> list[str]:
    """Every KPI, the goal's suggestions first."""
    first = suggested_kpis(goal)
    return first + [kpi for kpi in KPIS if kpi not in first]


def list_objectives(session: Session, campaign_id: str) -> list[Objective]:
    get_campaign(session, campaign_id)
    return list(
        session.scalars(
            select(Objective).where(Objective.campaign_id == campaign_id).order_by(Objective.id)
        )
    )


def get_objective(session: Session, campaign_id: str, objective_id: str) -> Objective:
    get_campaign(session, campaign_id)
    found = session.get(Objective, objective_id)
    if found is None or found.campaign_id != campaign_id:
        raise NotFound(f"no objective {objective_id!r} in this campaign")
    return found


def create_objective(session: Session, campaign_id: str, data: dict[str, Any]) -> Objective:
    """An objective from ``data`` as ``ObjectiveIn`` loads it (``target`` as typed)."""
    campaign = get_campaign(session, campaign_id)
    count = len(list_objectives(session, campaign_id))
    if count >= MAX_OBJECTIVES:
        raise InvalidInput(
            f"a campaign has at most {MAX_OBJECTIVES} objectives",
            fields={"kpi": [f"the campaign already has {MAX_OBJECTIVES} objectives"]},
        )
    values = _checked(session, campaign, None, data)
    objective = Objective(campaign_id=campaign.id, **values)
    session.add(objective)
    session.flush()
    return objective


def change_objective(session: Session, objective: Objective, changes: dict[str, Any]) -> Objective:
    """Change some fields (as ``ObjectiveChange`` loads them), each checked against the
    objective as it will be; nothing changes unless all pass. A new KPI without a new
    target keeps the target's figure if it fits the new KPI's unit."""
    campaign = get_campaign(session, objective.campaign_id)
    values = _checked(session, campaign, objective, changes)
    for name, value in values.items():
        if getattr(objective, name) != value:
            setattr(objective, name, value)
    session.flush()
    return objective


def delete_objective(session: Session, objective: Objective) -> None:
    session.delete(objective)
    session.flush()


def _checked(
    session: Session, campaign: Campaign, current: Objective | None, data: dict[str, Any]
) -> dict[str, Any]:
    """The stored values of an objective as ``data`` makes it (over ``current``), or
    ``InvalidInput`` naming each field that does not hold."""
    errors: dict[str, list[str]] = {}

    def now(name: str, default: Any = None) -> Any:
        if name in data:
            return data[name]
        return getattr(current, name) if current is not None else default

    kpi = now("kpi")
    values: dict[str, Any] = {}
    if "kpi" in data:
        values["kpi"] = kpi
    if "target" in data or ("kpi" in data and current is not None):
        text = data.get("target")
        if text is None and current is not None:
            text = str(format_value(current.kpi, current.target, campaign.currency))
        try:
            values["target"] = parse_value(kpi, text, campaign.currency)
        except MoneyError as exc:
            errors["target"] = [f"not a target for {kpi}: {exc}"]
        except ValueError as exc:
            errors["kpi"] = [str(exc)]
    starts = now("starts_on") or campaign.starts_on
    if current is None or "starts_on" in data:
        values["starts_on"] = starts
    deadline = now("deadline")
    if "deadline" in data:
        values["deadline"] = deadline
    if deadline is not None and deadline < starts:
        errors["deadline" if "deadline" in data else "starts_on"] = [
            f"the deadline ({deadline.isoformat()}) must not be before the start "
            f"({starts.isoformat()})"
        ]
    scope = now("scope", "campaign")
    influencer_id = now("influencer_id")
    if "scope" in data or current is None:
        values["scope"] = scope
    if "influencer_id" in data or current is None:
        values["influencer_id"] = influencer_id
    if scope == "campaign" and influencer_id is not None:
        if "scope" in data and "influencer_id" not in data:
            values["influencer_id"] = None  # back to the whole campaign
        else:
            errors["influencer_id"] = ["only an objective per influencer names one"]
    elif influencer_id is not None and "influencer_id" in data:
        partner = session.scalar(
            select(Partnership.id).where(
                Partnership.campaign_id == campaign.id,
                Partnership.influencer_id == influencer_id,
            )
        )
        if partner is None:
            errors["influencer_id"] = ["this influencer is not a partner of the campaign"]
    if errors:
        raise InvalidInput("the objective cannot be like this", fields=errors)
    return values
