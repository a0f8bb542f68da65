"""An object's history for people: the audit entries (``service.audit``, kept as they
were stored) written the way the rest of the dashboard writes them.

Each kind of audited row has its fields' labels and shapes in :data:`FIELDS`, one place:
amounts in minor units become money in the campaign's currency (the change set's own
currency if it changes it, else the campaign's as it was then), commission rules become
sentences, ids of influencers and campaigns become their handles and names, linked to
their pages, days and times read as on the pages. Bookkeeping and derived columns
(:data:`HIDDEN`) are left out. A field no label names yet is still shown, as it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

from flask import url_for
from markupsafe import Markup
from sqlalchemy import select

from service.audit.models import AuditEntry
from service.campaigns.models import Campaign
from service.dashboard.blueprint import bp
from service.dashboard.campaign_pages import GOALS, KINDS
from service.dashboard.codes import as_day
from service.dashboard.display import count, field_name, minor, money, rule_words, told
from service.dashboard.objective_pages import KPI_LABELS, SCOPES
from service.dashboard.posts import METRIC_LABELS
from service.http.context import session
from service.influencers.models import Influencer
from service.reports.objectives import format_value
from service.vocabulary import KPI_UNITS, MONEY

Shown = str | Markup
# How a stored value is written; "text" as it is (see ``_shown``).
Shape = Literal[
    "text",
    "money",
    "rules",
    "influencer",
    "campaign",
    "goal",
    "campaign_kind",
    "status",
    "count",
    "days",
    "list",
    "moment",
    "valid_from",
    "valid_until",
    "figures",
    "totals",
    "kpi",
    "scope",
    "kpi_value",
]


class Field(NamedTuple):
    """How one stored field reads: its label, its ``shape`` (how a value is written)
    and what nothing (``None``) means for it."""

    label: str
    shape: Shape = "text"
    empty: str = "(empty)"


# Columns no person changes or reads: bookkeeping, what is derived from another field
# (a promo code's matching form; a link's or code's partnership, which its campaign and
# influencer name), the subject itself, and hashes.
HIDDEN = frozenset({"id", "created_at", "updated_at"})
HIDDEN_OF: dict[str, frozenset[str]] = {
    "promo_code": frozenset({"normalized", "partnership_id"}),
    "link": frozenset({"partnership_id"}),
    "deliverable": frozenset({"partnership_id", "submission_key"}),
    "partnership": frozenset({"campaign_id"}),
    "platform_account": frozenset({"influencer_id"}),
    "payout_change_request": frozenset({"influencer_id"}),
    "export": frozenset({"checksum"}),
    "objective": frozenset({"campaign_id"}),
}
_CAMPAIGN = Field("Campaign", "campaign")
_INFLUENCER = Field("Influencer", "influencer")
_STATUS = Field("Status", "status")
# Labels as the pages' forms and facts name the fields, per kind of audited row.
FIELDS: dict[str, dict[str, Field]] = {
    "campaign": {
        "name": Field("Name"),
        "slug": Field("Slug"),
        "goal": Field("Goal", "goal"),
        "kind": Field("Kind", "campaign_kind"),
        "currency": Field("Currency"),
        "starts_on": Field("First day"),
        "ends_on": Field("Last day", empty="no end"),
        "budget_minor": Field("Budget", "money", "none"),
        "monthly_cap_minor": Field("Monthly cap per influencer", "money", "none"),
        "allowed_domains": Field("Shop domains", "list"),
        "fallback_url": Field("Fallback page"),
        "attribution_window_days": Field("Attribution window", "days"),
        "hold_days": Field("Hold", "days"),
        "utm_medium": Field("UTM medium"),
        "commission_rules": Field("Commission rules", "rules", "none"),
        "media_value_rates": Field("Media value rates", empty="afftrack's defaults"),
    },
    "partnership": {
        "influencer_id": _INFLUENCER,
        "commission_rules": Field("Commission rules", "rules", "the campaign's"),
    },
    "influencer": {
        "handle": Field("Handle"),
        "name": Field("Name"),
        "email": Field("Email"),
        "payout_email": Field("Payout email (PayPal)", empty="(empty: the email)"),
    },
    "platform_account": {
        "platform": Field("Platform"),
        "handle": Field("Handle"),
        "followers": Field("Followers", "count"),
    },
    "payout_change_request": {
        "email": Field("Payout email asked for"),
        "status": _STATUS,
        "requested_at": Field("Asked", "moment"),
        "decided_at": Field("Decided", "moment"),
        "decided_by": Field("Decided by"),
        "reason": Field("Why"),
    },
    "link": {
        "code": Field("Code"),
        "campaign_id": _CAMPAIGN,
        "influencer_id": _INFLUENCER,
        "destination": Field("Destination"),
        "platform": Field("Platform"),
        "status": _STATUS,
    },
    "promo_code": {
        "code": Field("Code"),
        "campaign_id": _CAMPAIGN,
        "influencer_id": _INFLUENCER,
        "status": _STATUS,
        "starts_at": Field("Valid from", "valid_from", "when created"),
        "ends_at": Field("Valid until", "valid_until", "no end"),
        "max_uses": Field("Most uses", "count", "no limit"),
    },
    "deliverable": {
        "campaign_id": _CAMPAIGN,
        "influencer_id": _INFLUENCER,
        "platform": Field("Platform"),
        "url": Field("Address"),
        "posted_at": Field("Posted", "moment"),
        "metrics": Field("Figures", "figures"),
        "status": _STATUS,
        "approved_at": Field("Approved", "moment"),
        "rejected_at": Field("Rejected", "moment"),
        "rejection_reason": Field("Why rejected"),
        "link_id": Field("Tracked link", empty="none"),
    },
    "objective": {
        "kpi": Field("KPI", "kpi"),
        "scope": Field("For", "scope"),
        "influencer_id": Field("Influencer", "influencer", "each partner"),
        "target": Field("Target", "kpi_value"),
        "starts_on": Field("From"),
        "deadline": Field("Deadline"),
    },
    "export": {
        "period": Field("Month"),
        "closed_at": Field("Closed", "moment"),
        "line_count": Field("Ledger lines", "count"),
        "totals": Field("Net payable", "totals", "nothing"),
    },
}
_WORDS = {
    "goal": dict(GOALS),
    "campaign_kind": dict(KINDS),
    "kpi": KPI_LABELS,
    "scope": dict(SCOPES),
}


@dataclass(frozen=True)
class Change:
    """One field of an entry as shown: its label and its values before and after."""

    label: str
    before: Shown
    after: Shown


@dataclass(frozen=True)
class Told:
    """An audit entry as its history shows it."""

    entry: AuditEntry
    changes: list[Change]


@dataclass
class _Names:
    """The influencers and campaigns the entries name, fetched once per kind."""

    handles: dict[str, str]
    campaigns: dict[str, tuple[str, str]]  # id → (name, currency)

    def influencer(self, value: str) -> Shown:
        handle = self.handles.get(value)
        if handle is None:  # gone: its id is all there is
            return value
        link = url_for("dashboard.influencer", influencer_id=value)
        return Markup('<a href="{}">{}</a>').format(link, handle)

    def campaign(self, value: str) -> Shown:
        found = self.campaigns.get(value)
        if found is None:
            return value
        link = url_for("dashboard.campaign", campaign_id=value)
        return Markup('<a href="{}">{}</a>').format(link, found[0])


def _field(kind: str, name: str) -> Field | None:
    """How a field of this kind of row reads; ``None``: not shown. A field no label
    names yet is shown under its column's name."""
    if name in HIDDEN or name in HIDDEN_OF.get(kind, ()):
        return None
    known = FIELDS.get(kind, {}).get(name)
    if known is not None:
        return known
    if name.endswith("_minor"):
        return Field(field_name(name.removesuffix("_minor")), "money")
    return Field(field_name(name))


def _ids(entries: list[AuditEntry], shape: Shape) -> set[str]:
    found: set[str] = set()
    for entry in entries:
        for name, pair in entry.changes.items():
            spec = _field(entry.kind, name)
            if spec is not None and spec.shape == shape:
                found.update(v for v in pair if isinstance(v, str))
    return found


def _names(entries: list[AuditEntry]) -> _Names:
    s = session()
    handles: dict[str, str] = {}
    campaigns: dict[str, tuple[str, str]] = {}
    if ids := _ids(entries, "influencer"):
        stmt = select(Influencer.id, Influencer.handle).where(Influencer.id.in_(ids))
        handles = {row.id: row.handle for row in s.execute(stmt)}
    ids = _ids(entries, "campaign")
    ids.update(e.subject_id for e in entries if e.subject_type == "campaign")
    if ids:
        query = select(Campaign.id, Campaign.name, Campaign.currency)
        rows = s.execute(query.where(Campaign.id.in_(ids)))
        campaigns = {row.id: (row.name, row.currency) for row in rows}
    return _Names(handles, campaigns)


def _moment(value: str) -> str:
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return value
    return f"{at.astimezone(UTC).strftime('%Y-%m-%d %H:%M')} UTC"


def _valid(value: str, *, end: bool) -> str:
    try:
        return as_day(datetime.fromisoformat(value), end=end)
    except ValueError:
        return value


def _rules(value: list[Any], currency: str | None) -> str:
    if currency is None:
        return told(value)
    return " ".join(rule_words(rule, currency) for rule in value) or "none"


def _totals(value: list[Any]) -> str:
    return "; ".join(money(t.get("net_payable"), t.get("currency", "")) for t in value)


def _shown(spec: Field, value: Any, currency: str | None, names: _Names) -> Shown:
    """A stored value as the pages write it."""
    if value is None:
        return spec.empty
    shape = spec.shape
    if shape == "money" and isinstance(value, int):
        return minor(value, currency) if currency else f"{count(value)} (in minor units)"
    if shape == "rules" and isinstance(value, list):
        return _rules(value, currency)
    if shape in ("influencer", "campaign") and isinstance(value, str):
        return names.influencer(value) if shape == "influencer" else names.campaign(value)
    if shape in _WORDS and isinstance(value, str):
        return _WORDS[shape].get(value, value)
    if shape == "status" and isinstance(value, str):
        return Markup('<span class="state state-{}">{}</span>').format(value, value)
    if shape == "count" and isinstance(value, int):
        return count(value)
    if shape == "days" and isinstance(value, int):
        return f"{count(value)} day{'' if value == 1 else 's'}"
    if shape == "list" and isinstance(value, list):
        return ", ".join(str(v) for v in value) or "none"
    if shape == "moment" and isinstance(value, str):
        return _moment(value)
    if shape in ("valid_from", "valid_until") and isinstance(value, str):
        return _valid(value, end=shape == "valid_until")
    if shape == "figures" and isinstance(value, dict):
        known = [(label, value[name]) for name, label in METRIC_LABELS if name in value]
        return ", ".join(f"{label} {told(figure)}" for label, figure in known) or spec.empty
    if shape == "totals" and isinstance(value, list):
        return _totals(value) or spec.empty
    return told(value)


def _kpi_value(kpi: str | None, value: Any, currency: str | None) -> Shown:
    """An objective's target as its card writes it: money with its currency, a rate as
    a decimal, a count with separators."""
    if value is None or not isinstance(value, int) or kpi not in KPI_LABELS:
        return told(value)
    if currency and KPI_UNITS[kpi] == MONEY:
        return minor(value, currency)
    shown = format_value(kpi, value, currency or "XXX")
    return count(shown) if isinstance(shown, int) else str(shown)


def _currencies(entries: list[AuditEntry], names: _Names) -> list[tuple[str | None, str | None]]:
    """Each entry's currency before and after it: walking back from the campaign's
    currency now, an entry that changed the currency had the old one before it."""
    out: list[tuple[str | None, str | None]] = []
    now: dict[str, str | None] = {}
    for entry in entries:  # newest first
        subject = entry.subject_id
        if entry.subject_type != "campaign":
            out.append((None, None))
            continue
        if subject not in now:
            found = names.campaigns.get(subject)
            now[subject] = found[1] if found else None
        after = now[subject]
        pair = entry.changes.get("currency") if entry.kind == "campaign" else None
        if pair:
            after = pair[1] or after
            now[subject] = pair[0] or after
        out.append((now[subject], after))
    return out


def _told(entry: AuditEntry, currency: tuple[str | None, str | None], names: _Names) -> Told:
    shown = []
    order = list(FIELDS.get(entry.kind, {}))
    # In the order the page lists the fields (a database may store a change set's keys
    # in an order of its own); fields no label names after them.
    in_order = sorted(
        entry.changes, key=lambda name: order.index(name) if name in order else len(order)
    )
    for name in in_order:
        before, after = entry.changes[name]
        spec = _field(entry.kind, name)
        if spec is None or (entry.action == "created" and after is None):
            continue
        if entry.action == "changed" and before is None and after is None:  # a name it lacks
            continue
        if spec.shape == "kpi_value":  # in the unit of the entry's KPI (always recorded)
            kpis = entry.changes.get("kpi") or [None, None]
            shown.append(
                Change(
                    spec.label,
                    _kpi_value(kpis[0], before, currency[0]),
                    _kpi_value(kpis[1], after, currency[1]),
                )
            )
            continue
        shown.append(
            Change(
                spec.label,
                _shown(spec, before, currency[0], names),
                _shown(spec, after, currency[1], names),
            )
        )
    return Told(entry, shown)


@bp.app_template_global()
def history(entries: Iterable[AuditEntry]) -> list[Told]:
    """An object's audit entries (newest first) as its History list shows them. The
    influencers and campaigns they name are fetched in one query per kind."""
    listed = list(entries)
    names = _names(listed)
    told = (
        _told(entry, currency, names)
        for entry, currency in zip(listed, _currencies(listed, names), strict=True)
    )
    # A change of hidden columns only (a checksum, a derived column) tells nothing.
    return [t for t in told if t.changes or t.entry.action != "changed"]
