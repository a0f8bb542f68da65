"""Finance's pages: the commission ledger (filtered as ``GET /api/v1/commissions`` filters
it), one line's story (its order, how its amount was worked out, what answered it), the
forms to reject a line and to add a manual adjustment (the API's own schemas and ledger
operations), and the monthly exports: the months, one month's preview and downloads
(the API's files, byte for byte) and closing a month behind a confirmation step.
"""

from __future__ import annotations

import contextlib
import csv
import io
from dataclasses import dataclass
from typing import Any

from flask import g, redirect, render_template, request, url_for
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from service import clock
from service.audit.service import entries_for
from service.campaigns.service import get_campaign
from service.commissions import ledger
from service.commissions.models import WORKING, CommissionLine, LineKind, LinePurpose
from service.commissions.schemas import KINDS, AdjustmentIn, CommissionQuery, RejectIn
from service.conversions.service import get_conversion
from service.dashboard import login
from service.dashboard.blueprint import bp, can_write, changes, error_page
from service.dashboard.display import minor, money, rate, rule_words
from service.dashboard.pickers import Kind, resolve
from service.errors import AfftrackError, Conflict
from service.exports import service as exports
from service.exports.api import export_response
from service.exports.statement import SummaryRow
from service.forms import Form, flatten, sent_token, submit
from service.http.context import session, settings
from service.influencers.service import get_influencer
from service.money import format_amount
from service.paging import Page
from service.periods import parse_period, period_bounds

PAGE_SIZE = 50
PREVIEW_ROWS = 20  # rows of the detail shown on a month's page
SUMMARY_ROWS = 100  # rows of the summary shown on a month's page at a time
SEARCH_MAX = 100  # characters of a search of a month's summary
FILTERS = ("influencer_id", "campaign_id", "status", "kind", "period")
NARROWING = ("influencer_id", "campaign_id", "period")  # indexed: totals stay cheap
# The influencer and the campaign are chosen by picker (handle; slug or name).
PICKERS: dict[str, Kind] = {"influencer_id": "influencer", "campaign_id": "campaign"}
STATUS_WORDS = {
    "pending": "pending: not due yet (the campaign's hold period runs)",
    "approved": "approved: due, waiting for its month to be closed",
    "paid": "paid: its month is closed",
    "rejected": "rejected: will not be paid",
}
KIND_WORDS = {
    "sale": "sale: commission on an order",
    "reversal": "reversal: an order's refund or cancellation takes commission back",
    "true_up": "true-up: a tiered month settled at its close",
    "cpc": "cost per click: a month's clicks, paid at its close",
    "per_post": "per post: a fee for an approved post",
    "adjustment": "adjustment: added by hand, or a rejection's record",
}
CAP_WORDS = {"monthly_cap": "the campaign's monthly cap", "budget": "the campaign's budget"}


# --- the ledger ------------------------------------------------------------------------


@bp.get("/commissions")
@login.login_required
def commissions() -> Any:
    args = {k: v for k, v in request.args.items() if v.strip() and k in (*FILTERS, "cursor")}
    filters = {k: args.get(k, "") for k in FILTERS}
    picked = resolve(MultiDict(args), PICKERS)
    if picked.errors:  # a picker naming nothing (or several): said beside it
        return _ledger_page(Page([], None), None, picked.onto(Form(values=filters)), 422)
    try:
        query = CommissionQuery().load({**picked.values, "limit": PAGE_SIZE})
    except ValidationError as exc:
        problems = "; ".join(
            f"{name.replace('_', ' ')}: {' '.join(texts)}"
            for name, texts in flatten(exc.messages).items()
        )
        return error_page(400, f"The filter is not valid. {problems}")
    s, zone = session(), settings().timezone
    page = ledger.list_lines(s, query, zone)
    # Totals read every line found: offered once an indexed filter narrows the ledger.
    narrowed = any(query.get(k) for k in NARROWING)
    totals = ledger.line_totals(s, query, zone) if narrowed else None
    return _ledger_page(page, totals, Form(values=filters), 200)


def _ledger_page(
    page: Page[CommissionLine],
    totals: list[tuple[str, int, int]] | None,
    filters: Form,
    status: int,
) -> tuple[str, int]:
    shown = render_template(
        "dashboard/commissions.html",
        page=page,
        filters=filters.values,
        filter_form=filters,
        totals=None if totals is None else [(c, n, minor(t, c)) for c, n, t in totals],
        statuses=list(STATUS_WORDS.items()),
        kinds=[(k, KIND_WORDS[k]) for k in KINDS],
        names=_names(page.items),
        shown_status=_status,
    )
    return shown, status


@bp.get("/commissions/<line_id>")
@login.login_required
def commission(line_id: str) -> Any:
    return _line_page(line_id, Form(), 200)


@bp.post("/commissions/<line_id>/reject")
@changes
def reject_commission(line_id: str) -> Any:
    ledger.get_line(session(), line_id)  # 404 before anything else
    data, form = submit(RejectIn(), request.form)
    status = 422
    if data is not None:
        try:
            ledger.reject(session(), line_id, data["reason"], g.dashboard_key.id)
            session().commit()
        except AfftrackError as exc:
            session().rollback()
            form.refuse(exc)
            status = exc.status
        else:
            return redirect(url_for("dashboard.commission", line_id=line_id), 303)
    return _line_page(line_id, form, status)


@bp.get("/commissions/adjustments/new")
@login.login_required
def new_adjustment() -> Any:
    if not can_write():
        return error_page(403, "This API key can only read: it cannot add adjustments.")
    values = {k: request.args[k] for k in ("influencer_id", "campaign_id") if k in request.args}
    if "campaign_id" in values:  # an adjustment is in the campaign's currency
        with contextlib.suppress(AfftrackError):
            values["currency"] = get_campaign(session(), values["campaign_id"]).currency
    return _adjustment_page(Form(values=values), 200)


@bp.post("/commissions/adjustments")
@changes
def add_adjustment() -> Any:
    picked = resolve(request.form, PICKERS)
    data, form = submit(AdjustmentIn(), picked.values)
    form.values = {k: v for k, v in request.form.items() if k != "csrf"}  # as typed
    if picked.errors:
        picked.onto(form)
    elif data is not None:
        try:
            # The form's one-time token: the same form sent twice books one line.
            token = sent_token(form.value("once"))
            line = ledger.adjust(session(), data, g.dashboard_key.id, request_key=token)
            session().commit()
        except AfftrackError as exc:
            session().rollback()
            form.refuse(exc)
        else:
            return redirect(url_for("dashboard.commission", line_id=line.id), 303)
    return _adjustment_page(form, 422)


def _status(line: CommissionLine) -> str:
    return ledger.status_of(line, clock.now_utc())


def _names(lines: list[CommissionLine]) -> dict[str, str]:
    """Handles and campaign names of the lines shown, by id."""
    s = session()
    names: dict[str, str] = {}
    for line in lines:
        if line.influencer_id not in names:
            names[line.influencer_id] = get_influencer(s, line.influencer_id).handle
        if line.campaign_id not in names:
            names[line.campaign_id] = get_campaign(s, line.campaign_id).name
    return names


def _adjustment_page(form: Form, status: int) -> tuple[str, int]:
    return render_template("dashboard/adjustment.html", form=form), status


@dataclass(frozen=True)
class Fact:
    """One number of how a line's amount was worked out, and what it means."""

    label: str
    value: str
    words: str


def _line_page(line_id: str, form: Form, status: int) -> tuple[str, int]:
    s = session()
    line = ledger.get_line(s, line_id)
    campaign = get_campaign(s, line.campaign_id)
    order = get_conversion(s, line.conversion_id) if line.conversion_id else None
    reverses = ledger.get_line(s, line.reverses_line_id) if line.reverses_line_id else None
    answers = ledger.lines_reversing(s, line.id)
    page = render_template(
        "dashboard/commission.html",
        line=line,
        status=_status(line),
        status_words=STATUS_WORDS,
        kind_words=KIND_WORDS,
        influencer=get_influencer(s, line.influencer_id),
        campaign=campaign,
        order=order,
        rule_words=rule_words(line.rule, campaign.currency),
        facts=worked_out(line),
        reverses=reverses,
        answers=answers,
        rejection=next((a for a in answers if a.purpose == LinePurpose.REJECTION), None),
        shown_status=_status,
        rejectable=_rejectable(line),
        form=form,
    )
    return page, status


def _rejectable(line: CommissionLine) -> bool:
    """Whether to offer the reject form (the ledger decides; this only hides a form
    that could not succeed)."""
    return (
        line.export_id is None
        and line.status not in ("paid", "rejected")
        and line.kind != LineKind.REVERSAL
        and not (line.kind == LineKind.ADJUSTMENT and line.amount_minor == 0)
    )


def worked_out(line: CommissionLine) -> list[Fact]:
    """How the line's amount was worked out: each typed working column the line has
    (:data:`WORKING`), its basis and its amount, each with what it means."""
    cur = line.currency
    facts: list[Fact] = []
    shown = {fact.column for fact in WORKING if fact.shown(line)}

    def amount(minor: int | None) -> str:
        return money(None if minor is None else format_amount(minor, cur), cur)

    if "rule_index" in shown:
        facts.append(
            Fact(
                "Rule",
                f"no. {(line.rule_index or 0) + 1}",
                "Which of the partnership's commission rules wrote this line "
                "(counted from 1, in the order the campaign lists them).",
            )
        )
    if line.basis_minor is not None:
        words = {
            "sale": "The amount the rule was applied to: the order's attributable amount.",
            "reversal": "What was refunded or cancelled of the order: the line takes back "
            "its share of it.",
            "true_up": "The month's net sales the tiered rate was worked out on.",
        }.get(line.kind, "The amount the rule was applied to.")
        facts.append(Fact("Basis", amount(line.basis_minor), words + _basis_note(line)))
    if "before_minor" in shown:
        facts.append(
            Fact(
                "Month's sales before",
                amount(line.before_minor),
                "The month's net sales before this order: they decide the bracket, so the "
                "rate, this order earned.",
            )
        )
    if "month" in shown:
        facts.append(Fact("Month settled", str(line.month), "The month this line settles."))
    if "clicks" in shown:
        facts.append(
            Fact(
                "Clicks",
                f"{line.clicks:,}",
                "Unique, non-bot clicks the link redirected in that month, each paid at "
                "the rule's amount.",
            )
        )
    if "sales_minor" in shown:
        facts.append(
            Fact(
                "Month's net sales",
                amount(line.sales_minor),
                "All of the month's sales less refunds and cancellations, in the campaign's "
                "currency: the tiered formula is applied to this once.",
            )
        )
    if "recorded_minor" in shown:
        facts.append(
            Fact(
                "Already recorded",
                amount(line.recorded_minor),
                "What the month's lines held before this true-up, counting what caps cut "
                "off them. The true-up is the formula's result less this.",
            )
        )
    if "cut_minor" in shown:
        cap = CAP_WORDS.get(line.cap or "", "")
        if line.kind == LineKind.REVERSAL:
            words = "The refunded share of what a cap cut off the line this reverses."
        elif line.cap is None:
            words = "What the caps give back to the month now that they withhold less."
        else:
            words = f"What {cap} cut off this line so that it stays within it."
        facts.append(Fact("Cut by a cap", amount(line.cut_minor), words))
    if "withheld_minor" in shown:
        facts.append(
            Fact(
                "Withheld by caps",
                amount(line.withheld_minor),
                "What the caps withhold from the month after this line.",
            )
        )
    facts.append(Fact("Amount", amount(line.amount_minor), _amount_words(line)))
    return facts


def _amount_words(line: CommissionLine) -> str:
    rule = line.rule or {}
    cut = " less what the cap cut off" if line.cut_minor and line.kind == LineKind.SALE else ""
    if rule.get("type") == "percent" and line.kind == LineKind.SALE and line.basis_minor:
        basis = minor(line.basis_minor, line.currency)
        return (
            f"{rate(rule['rate'])} of {basis}{cut}, rounded half-even once to the "
            f"currency's smallest unit: what this line pays."
        )
    if line.kind == LineKind.REVERSAL:
        return (
            "What this line takes back: the reversed line's share of everything refunded "
            "so far, less what earlier reversals took (rounded once)."
        )
    return "What this line pays (negative: takes back)."


def _basis_note(line: CommissionLine) -> str:
    rule = line.rule or {}
    if rule.get("type") == "flat":
        return " A fixed amount per order does not depend on it."
    return ""


# --- exports ---------------------------------------------------------------------------


@bp.get("/exports")
@login.login_required
def export_months() -> str:
    months = exports.months(session(), settings().timezone)
    return render_template("dashboard/exports.html", months=months)


@dataclass(frozen=True)
class Preview:
    """A month's export as its page shows it: the summary rows, their totals per
    currency and line count, the first rows of its detail and the checksum of its
    summary CSV (closed: stored; ended: what closing will store)."""

    summary: list[SummaryRow]
    totals: list[tuple[str, str]]
    lines: int
    detail: list[dict[str, str]]
    more_detail: bool
    checksum: str | None
    paypal: dict[str, int]  # the parts of each currency's PayPal file

    def handles(self) -> dict[str, str]:
        """The influencers' handles by id (the detail names them by id only)."""
        return {row.influencer_id: row.handle for row in self.summary}


def _month(period: str) -> exports.Month:
    parse_period(period)
    for month in exports.months(session(), settings().timezone):
        if month.period == period:
            return month
    raise Conflict(f"{period} has no export: it is not started yet or before the ledger began")


def preview(period: str, *, checksum: bool) -> Preview:
    """A month's summary and totals, and its first detail rows or (``checksum``, for a
    close) the checksum closing would store; from one working-out of its settlement
    (``exports.one_projection``)."""
    s = session()
    with exports.one_projection(s):
        return _preview(period, checksum=checksum)


def _preview(period: str, *, checksum: bool) -> Preview:
    rows = exports.summary(session(), period, settings().timezone)
    by_currency: dict[str, int] = {}
    for row in rows:
        by_currency[row.currency] = by_currency.get(row.currency, 0) + row.net_payable
    totals = [(c, minor(v, c)) for c, v in sorted(by_currency.items())]
    # The confirmation of a close shows the figures and the checksum, not the detail.
    detail, more = ([], False) if checksum else _detail_head(period)
    return Preview(
        summary=rows,
        totals=totals,
        lines=sum(row.lines for row in rows),
        detail=detail,
        more_detail=more,
        checksum=exports.checksum_of(exports.summary_csv(rows)) if checksum else None,
        paypal=_paypal_parts(rows),
    )


def _paypal_parts(rows: list[SummaryRow]) -> dict[str, int]:
    """Each currency the month pays in, with how many parts its PayPal file comes in
    (the payees: the rows with a positive net)."""
    payees: dict[str, int] = {}
    for row in rows:
        if row.net_payable > 0:
            payees[row.currency] = payees.get(row.currency, 0) + 1
    return {cur: exports.paypal_parts(n) for cur, n in sorted(payees.items())}


def _detail_head(period: str) -> tuple[list[dict[str, str]], bool]:
    """The first :data:`PREVIEW_ROWS` rows of the detail CSV, and whether there are more."""
    built = exports.build(
        session(), period, detail=True, zone=settings().timezone, head=PREVIEW_ROWS + 1
    )
    text = b"".join(built.chunks).decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    return rows[:PREVIEW_ROWS], len(rows) > PREVIEW_ROWS


@bp.get("/exports/<period>")
@login.login_required
def export_month(period: str) -> Any:
    month = _month(period)
    return _month_page(month, None, 200)


class SummaryFilter(Schema):
    """What of a month's summary its page shows: the influencers matching ``q`` (handle,
    name or payout e-mail), :data:`SUMMARY_ROWS` at a time."""

    q = fields.String(
        load_default="",
        validate=validate.Length(max=SEARCH_MAX, error="at most {max} characters"),
    )
    page = fields.Integer(
        load_default=1,
        validate=validate.Range(min=1, error="a page number from {min}"),
        error_messages={"invalid": "a page number from 1"},
    )


@dataclass(frozen=True)
class SummaryPage:
    rows: list[SummaryRow]
    q: str
    page: int
    pages: int
    found: int  # rows matching ``q`` (all rows without one)

    @property
    def first(self) -> int:
        """The number of the page's first row among those found (from 1)."""
        return (self.page - 1) * SUMMARY_ROWS + 1


def summary_page(rows: list[SummaryRow], q: str, page: int) -> SummaryPage:
    """The page ``page`` of the ``rows`` matching ``q`` (case-insensitive, anywhere in
    the handle, name or payout e-mail); past the last page, the last."""
    needle = q.strip().casefold()
    found = [
        row
        for row in rows
        if not needle
        or needle in row.handle.casefold()
        or needle in row.name.casefold()
        or needle in (row.payout_email or "").casefold()
    ]
    pages = max(1, -(-len(found) // SUMMARY_ROWS))
    page = min(page, pages)
    start = (page - 1) * SUMMARY_ROWS
    return SummaryPage(found[start : start + SUMMARY_ROWS], q.strip(), page, pages, len(found))


def _month_page(month: exports.Month, notice: str | None, status: int) -> tuple[str, int]:
    try:
        asked = {k: v for k, v in request.args.items() if v != ""}  # empty: the default
        wanted = SummaryFilter().load(asked, unknown=EXCLUDE)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'search' if name == 'q' else name}: {' '.join(texts)}"
            for name, texts in flatten(exc.messages).items()
        )
        return error_page(400, f"The summary's search or page is not valid. {problems}")
    _start, end = period_bounds(month.period, settings().timezone)
    shown = preview(month.period, checksum=False)
    page = render_template(
        "dashboard/export.html",
        month=month,
        preview=shown,
        rows=summary_page(shown.summary, wanted["q"], wanted["page"]),
        search_max=SEARCH_MAX,
        closes_from=end,
        notice=notice,
        paypal_rows=exports.PAYPAL_ROWS,
        audit=entries_for(session(), "export", month.export.id) if month.export else [],
    )
    return page, status


@bp.get("/exports/<period>/download")
@login.login_required
def download_export(period: str) -> Response:
    """The API's export file, built and streamed by the same code, with its headers."""
    return export_response(period, request.args)


@bp.get("/exports/<period>/close")
@login.login_required
def confirm_close(period: str) -> Any:
    if not can_write():
        return error_page(403, "This API key can only read: it cannot close a month.")
    month = _month(period)
    if month.state != "open":
        return _not_closable(month)
    return _confirm_page(month, Form(), 200)


@bp.post("/exports/<period>/close")
@changes
def close_month(period: str) -> Any:
    month = _month(period)
    if month.state != "open":
        return _not_closable(month)
    form = Form(values={k: v for k, v in request.form.items() if k != "csrf"})
    if request.form.get("confirm") != "yes":
        form.errors["confirm"] = ["Tick the box to confirm that this month is paid from here."]
    if request.form.get("month", "").strip() != period:
        form.errors["month"] = [f"Type the month, {period}, to confirm."]
    if form.failed:
        return _confirm_page(month, form, 422)
    shown = preview(period, checksum=True)
    if request.form.get("checksum") != shown.checksum:
        form.errors[""] = [
            "The month's figures changed since the confirmation page was opened (a line "
            "was written, rejected or became due). Nothing was closed: check the new "
            "totals below and confirm again."
        ]
        return _confirm_page(month, form, 409)
    try:
        exports.close(session(), period, settings().timezone)
        session().commit()
    except AfftrackError as exc:
        session().rollback()
        if exc.code == "already_closed":
            return _not_closable(_month(period))
        raise
    return redirect(url_for("dashboard.export_month", period=period), 303)


def _not_closable(month: exports.Month) -> tuple[str, int]:
    if month.state == "closed" and month.export is not None:
        notice = (
            f"{month.period} is already closed (on {month.export.closed_at:%Y-%m-%d %H:%M} "
            "UTC): nothing was changed."
        )
    else:
        notice = f"{month.period} is still running: it can be closed once it has ended."
    return _month_page(month, notice, 409)


def _confirm_page(month: exports.Month, form: Form, status: int) -> tuple[str, int]:
    page = render_template(
        "dashboard/export_close.html",
        month=month,
        preview=preview(month.period, checksum=True),
        form=form,
    )
    return page, status
