"""The dashboard's pages: the campaign list and one campaign (KPI tiles, the daily
chart, influencers ranked by a chosen KPI, the links with their short URLs).

Every figure on a page comes from ``service.reports.service.campaign_report``, the
function behind ``GET /api/v1/reports/campaigns/<id>``, so the page and the API cannot
disagree.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from flask import redirect, render_template, request, url_for
from markupsafe import Markup
from marshmallow import ValidationError, fields, validate
from werkzeug.wrappers import Response

from service import clock
from service.campaigns.service import campaign_overview, get_campaign
from service.dashboard import login
from service.dashboard.blueprint import bp, error_page
from service.dashboard.charts import Day, daily_chart
from service.dashboard.objective_pages import card_context, objective_cards
from service.http.context import session, settings
from service.links.service import campaign_links, short_url
from service.money import format_amount
from service.reports.schemas import ReportQuery
from service.reports.service import campaign_report

DEFAULT_DAYS = 30
# Rows of the influencer ranking and of the links shown before "show all".
TOP = 50
MAX_DAYS = 366
# KPIs the influencers can be ranked by: (name, label).
KPIS = (
    ("revenue", "Revenue"),
    ("conversions", "Conversions"),
    ("clicks", "Clicks"),
    ("unique_clicks", "Unique clicks"),
    ("conversion_rate", "Conversion rate (by click)"),
    ("commission", "Commission"),
    ("epc", "EPC"),
    ("roi", "ROI"),
    ("reach", "Reach"),
    ("engagement_rate", "Engagement rate"),
)
KPI_NAMES = tuple(name for name, _ in KPIS)
# The attribution methods as the page names them: (name, tile label, column label). The
# conversion rate counts the first only; the others are shown beside it.
METHODS = (
    ("click", "By click", "By click"),
    ("promo_code", "By promo code", "By code"),
    ("utm", "By UTM", "By UTM"),
)
RATE_MEANING = (
    "Conversion rate: orders attributed to a click over unique clicks; orders by promo "
    "code or UTM are counted beside it, not in it."
)
MONEY_KPIS = ("revenue", "commission", "epc", "roi")


class DashboardQuery(ReportQuery):
    """The campaign page's query: an optional range (at most a year) and a KPI."""

    max_days = MAX_DAYS

    from_ = fields.Date(load_default=None, data_key="from")
    to = fields.Date(load_default=None)
    kpi = fields.String(load_default="revenue", validate=validate.OneOf(KPI_NAMES))
    show = fields.String(load_default="top", validate=validate.OneOf(("top", "all")))


@bp.app_template_global()
def money_of(figures: dict[str, Any], currency: str) -> dict[str, Any]:
    """A report row's (or the totals') money in ``currency``; the report leaves out a
    currency nothing happened in, which here reads as zero revenue and cost."""
    found: dict[str, Any] | None = figures["money"].get(currency)
    if found is not None:
        return found
    zero = format_amount(0, currency)
    return {
        "revenue": zero,
        "commission": zero,
        "cost": zero,
        "epc": zero if figures.get("clicks") else None,
        "roi": None,
    }


# --- login -----------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login_page() -> Any:
    target = login.safe_next(request.values.get("next"))
    if request.method == "GET":
        if login.current_key() is not None:
            return redirect(target)
        return render_template("dashboard/login.html", next=target, error=None)
    login.check_csrf()
    token = request.form.get("api_key", "")
    if not token.strip():
        page = render_template("dashboard/login.html", next=target, error="Enter an API key.")
        return page, 400
    if len(token) > 200 or login.log_in(token) is None:
        page = render_template(
            "dashboard/login.html", next=target, error="That API key is not valid."
        )
        return page, 401
    return redirect(target, 303)


@bp.post("/logout")
def logout() -> Response:
    login.check_csrf()
    login.log_out()
    return redirect(url_for("dashboard.login_page"), 303)


# --- pages -----------------------------------------------------------------------------


@bp.get("/")
@login.login_required
def campaigns() -> str:
    today = clock.now_utc().date()
    rows = campaign_overview(session())
    for row in rows:
        c = row["campaign"]
        row["state"] = (
            "upcoming"
            if c.starts_on > today
            else "ended"
            if c.ends_on is not None and c.ends_on < today
            else "running"
        )
    return render_template("dashboard/campaigns.html", rows=rows)


def default_range(starts_on: date, ends_on: date | None, today: date) -> tuple[date, date]:
    """The last ``DEFAULT_DAYS`` days of the campaign up to today (its end if it ended)."""
    end = min(today, ends_on) if ends_on is not None else today
    end = max(end, starts_on)
    return max(starts_on, end - timedelta(days=DEFAULT_DAYS - 1)), end


@bp.get("/campaigns/<campaign_id>")
@login.login_required
def campaign(campaign_id: str) -> Any:
    s = session()
    camp = get_campaign(s, campaign_id)
    args = request.args.to_dict()
    sort = args.pop("sort", "")
    try:
        q = DashboardQuery().load(args)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"": exc.messages}
        text = "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in messages.items())
        return error_page(400, f"The range or KPI is not valid ({text}).")
    start, end = default_range(camp.starts_on, camp.ends_on, clock.now_utc().date())
    if q["from_"] is not None or q["to"] is not None:
        start = q["from_"] or (q["to"] - timedelta(days=DEFAULT_DAYS - 1))
        end = q["to"] or min(start + timedelta(days=DEFAULT_DAYS - 1), clock.now_utc().date())
        if end < start or (end - start).days >= MAX_DAYS:
            message = f"The range must run forwards and span at most {MAX_DAYS} days."
            return error_page(400, message)

    by_influencer = campaign_report(s, camp.id, start, end, "influencer")
    # The chart and the links table need only clicks, orders and the ledger per row.
    by_day = campaign_report(s, camp.id, start, end, "day", posts=False)
    by_link = campaign_report(s, camp.id, start, end, "link", posts=False)
    kpi = q["kpi"]
    currencies = sorted(
        by_influencer["totals"]["money"], key=lambda cur: (cur != camp.currency, cur)
    )
    ranked = rank(by_influencer["rows"], kpi, camp.currency)
    wanted = sort.removeprefix(SORT_PREFIX) if sort.startswith(SORT_PREFIX) else ""
    objectives = objective_cards(camp, wanted)
    chosen, sort_notice = sort_choice(sort, objectives)
    if chosen is not None:
        ranked = by_contribution(ranked, chosen)
    link_rows = {row["key"]: row for row in by_link["rows"]}
    # The busiest links first, as the influencers are ranked.
    busiest = sorted(
        campaign_links(s, camp.id),
        key=lambda pair: -int(link_rows.get(pair[0].id, {}).get("clicks", 0)),
    )
    links = [
        {
            "link": link,
            "handle": handle,
            "short_url": short_url(settings(), link.code),
            "figures": link_rows.get(link.id),
        }
        for link, handle in busiest
    ]
    shown = None if q["show"] == "all" else TOP
    return render_template(
        "dashboard/campaign.html",
        campaign=camp,
        start=start,
        end=end,
        kpi=kpi,
        kpis=KPIS,
        totals=by_influencer["totals"],
        report_rates=by_influencer["media_value_rates"],
        currencies=currencies or [camp.currency],
        chart=Markup(daily_chart(days_of(by_day["rows"], start, end))),  # noqa: S704 - built escaped
        ranked=ranked[:shown],
        ranked_count=len(ranked),
        links=links[:shown],
        link_count=len(links),
        top=TOP,
        show=q["show"],
        methods=METHODS,
        rate_meaning=RATE_MEANING,
        ranges=quick_ranges(camp.starts_on, camp.ends_on, clock.now_utc().date()),
        objectives=objectives,
        sort=sort if chosen is not None else "",
        sorted_by=chosen,
        sort_notice=sort_notice,
        contribution={c["influencer_id"]: c for c in (chosen or {}).get("contributions", [])},
        below_target=below_target(objectives),
        **card_context(),
    )


def days_of(rows: list[dict[str, Any]], start: date, end: date) -> list[Day]:
    """One chart slot per day of the range; days the report has no row for are zeros."""
    by_day = {row["key"]: row for row in rows}
    out = []
    day = start
    while day <= end:
        row = by_day.get(day.isoformat()) or {}
        out.append(Day(day, int(row.get("clicks", 0)), int(row.get("conversions", 0))))
        day += timedelta(days=1)
    return out


def kpi_value(row: dict[str, Any], kpi: str, currency: str) -> Decimal | None:
    """A row's value of ``kpi`` as the page shows it (money in the campaign's currency,
    zero where nothing happened in it), ``None`` if unknown."""
    value = money_of(row, currency)[kpi] if kpi in MONEY_KPIS else row.get(kpi)
    return None if value is None else Decimal(str(value))


def rank(rows: list[dict[str, Any]], kpi: str, currency: str) -> list[dict[str, Any]]:
    """Influencer rows, best ``kpi`` first; unknown values last, ties by handle."""

    def order(row: dict[str, Any]) -> tuple[bool, Decimal, str]:
        value = kpi_value(row, kpi, currency)
        handle = (row.get("influencer") or {}).get("handle") or row["key"] or ""
        return (value is None, -(value or Decimal(0)), handle)

    return sorted(rows, key=order)


SORT_PREFIX = "objective:"


def sort_choice(
    sort: str, objectives: list[dict[str, Any]]
) -> tuple[dict[str, Any] | None, str | None]:
    """The objective ``?sort=objective:<id>`` names, or None (the default order: by the
    chosen KPI) with a notice when the value names no objective of the campaign."""
    if not sort:
        return None, None
    wanted = sort.removeprefix(SORT_PREFIX) if sort.startswith(SORT_PREFIX) else None
    for o in objectives:
        if o["id"] == wanted:
            return o, None
    return None, "That order is not known (no such objective); the default order is shown."


def by_contribution(rows: list[dict[str, Any]], objective: dict[str, Any]) -> list[dict[str, Any]]:
    """Influencer rows in the order of their contributions to ``objective`` (the API's
    order); rows it does not apply to (or without a partner) after them, in their order."""
    place = {c["influencer_id"]: i for i, c in enumerate(objective["contributions"])}
    last = len(place)
    return sorted(rows, key=lambda row: place.get(row["key"] or "", last))


def below_target(objectives: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Per influencer id: the per-influencer objectives they are below the pace of today
    (or missed), from the partners' progress (ADR "below target")."""
    out: dict[str, list[dict[str, Any]]] = {}
    for o in objectives:
        for c in o["partners"] or ():
            if c["below_pace"]:
                out.setdefault(c["influencer_id"], []).append(
                    {"id": o["id"], "kpi": o["kpi"], "missed": c["status"] == "missed"}
                )
    return out


def quick_ranges(starts_on: date, ends_on: date | None, today: date) -> list[tuple[str, str, str]]:
    """(label, from, to) for the range shortcuts above the page."""
    end = max(min(today, ends_on) if ends_on is not None else today, starts_on)
    out = []
    for label, days in (("Last 7 days", 7), ("Last 30 days", 30), ("Last 90 days", 90)):
        lo = max(starts_on, end - timedelta(days=days - 1))
        out.append((label, lo.isoformat(), end.isoformat()))
    lo = max(starts_on, end - timedelta(days=MAX_DAYS - 1))
    label = "Campaign to date" if lo == starts_on else "Last year"
    out.append((label, lo.isoformat(), end.isoformat()))
    return out
