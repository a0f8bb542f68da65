"""Bulk import of influencers, partners, links and promo codes from CSV files.

Each row is read by the API's own schema and written by the domain's own service, in one
transaction for the whole file: :func:`plan` runs the rows and rolls everything back (the
dry run), :func:`run` commits only when no row has an error (ADR "imports all or
nothing"). A row whose key exists with the same values is ``unchanged``; with other
values it is an error, never an update.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from marshmallow import Schema, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.campaigns.models import Campaign, Partnership
from service.campaigns.schemas import PartnershipIn
from service.campaigns.service import add_partner, check_rules
from service.config import Settings
from service.errors import AfftrackError, InvalidInput
from service.imports.columns import KINDS, Kind, format_platforms, format_rules
from service.imports.csvfile import FileProblem, read_table, shown, without_controls, write_table
from service.influencers.models import Influencer
from service.influencers.schemas import InfluencerIn
from service.influencers.service import create_influencer
from service.links.models import Link
from service.links.schemas import LinkIn
from service.links.service import create_link
from service.promo_codes.models import PromoCode, normalize_code
from service.promo_codes.schemas import PromoCodeIn
from service.promo_codes.service import create_promo_code

Outcome = Literal["created", "unchanged", "error"]
OUTCOMES: tuple[Outcome, ...] = ("created", "unchanged", "error")


@dataclass(frozen=True)
class CellError:
    """One problem of one row: the spreadsheet's row number (the header is row 1), the
    column ("" for the row as a whole) and a sentence."""

    row: int
    column: str
    message: str

    def __str__(self) -> str:
        where = f"row {self.row}, column {self.column}" if self.column else f"row {self.row}"
        return f"{where}: {self.message}"


@dataclass
class RowResult:
    row: int
    key: str
    outcome: Outcome
    errors: list[CellError] = field(default_factory=list)
    id: str | None = None


@dataclass
class Plan:
    """What an import does (or did, when ``applied``), row by row."""

    kind: str
    rows: list[RowResult]
    applied: bool = False

    @property
    def counts(self) -> dict[Outcome, int]:
        return {o: sum(1 for r in self.rows if r.outcome == o) for o in OUTCOMES}

    @property
    def ok(self) -> bool:
        return not any(r.outcome == "error" for r in self.rows)

    @property
    def errors(self) -> list[CellError]:
        return [e for r in self.rows for e in r.errors]


class RowFailed(Exception):
    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__(problems)
        self.problems = problems


def kind_of(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise InvalidInput(
            f"no import of {shown(name)}; the kinds are {', '.join(KINDS)}"
        ) from None


def template(kind: str) -> str:
    """The kind's CSV template: its header and one example row, importable as it is
    (the example rows of all four kinds fit together with a campaign ``autumn-2026``
    on ``shop.example``)."""
    k = kind_of(kind)
    return write_table(list(k.columns), [[k.example.get(c, "") for c in k.columns]])


def plan(session: Session, kind: str, data: str | bytes, *, settings: Settings) -> Plan:
    """The dry run: every row run as the import would, then all of it rolled back."""
    try:
        result = _apply(session, kind_of(kind), data, settings)
    finally:
        session.rollback()
    for row in result.rows:
        if row.outcome == "created":
            row.id = None  # rolled back: the id would be another one in the import
    return result


def run(session: Session, kind: str, data: str | bytes, *, settings: Settings) -> Plan:
    """The import: committed in one transaction when no row has an error; otherwise
    rolled back, nothing written, and the plan says why (``applied`` false)."""
    try:
        result = _apply(session, kind_of(kind), data, settings)
    except BaseException:
        session.rollback()
        raise
    if result.ok:
        session.commit()
        result.applied = True
    else:
        session.rollback()
    return result


# -- rows -----------------------------------------------------------------------------


def _apply(session: Session, kind: Kind, data: str | bytes, settings: Settings) -> Plan:
    table = read_table(data)
    _check_header(kind, table.header)
    handler = _HANDLERS[kind.name]
    results = []
    for number, cells in table.rows:
        row = dict(zip(table.header, cells, strict=False))
        key = " / ".join(row.get(c, "").strip() for c in _KEYS[kind.name] if row.get(c, "").strip())
        result = RowResult(number, without_controls(key)[:120], "error")
        try:
            extra = cells[len(table.header) :]
            unnamed = [c for n, c in zip(table.header, cells, strict=False) if not n]
            if any(c.strip() for c in extra + unnamed):
                raise RowFailed([("", "has a value in a column without a name in the header")])
            values, problems = kind.cells(row)
            if problems:
                raise RowFailed(problems)
            result.outcome, result.id = handler(session, settings, kind, values)
        except RowFailed as exc:
            result.errors = [
                CellError(number, column, without_controls(message))
                for column, message in exc.problems
            ]
        results.append(result)
    return Plan(kind.name, results)


def _check_header(kind: Kind, header: list[str]) -> None:
    known = ", ".join(kind.columns)
    # A column without a name (a trailing delimiter) is ignored while its cells are empty.
    unknown = [name for name in header if name and name not in kind.columns]
    if unknown:
        raise FileProblem(
            f"unknown column(s) {', '.join(shown(n) for n in unknown)}; "
            f"a {kind.name} file has the columns {known}"
        )
    twice = sorted({name for name in header if name and header.count(name) > 1})
    if twice:
        raise FileProblem(f"column(s) {', '.join(twice)} appear more than once")
    missing = [name for name in kind.required if name not in header]
    if missing:
        raise FileProblem(
            f"missing column(s) {', '.join(missing)}; a {kind.name} file has the columns {known}"
        )


_LABELS = {"platforms": "account", "commission_rules": "rule", "tiers": "tier"}
_MESSAGES = {"Missing data for required field.": "is empty, and it is required."}


def _problems(kind: Kind, messages: Any, default: str = "") -> list[tuple[str, str]]:
    """Schema or domain messages (nested by field path) as (column, sentence)."""
    flat: list[tuple[list[str], str]] = []

    def walk(node: Any, path: list[str]) -> None:
        if isinstance(node, Mapping):
            for name, value in node.items():
                walk(value, [*path, *str(name).split(".")])
        elif isinstance(node, list | tuple):
            for value in node:
                walk(value, path)
        else:
            flat.append((path, str(node)))

    walk(messages, [])
    problems = []
    for path, message in flat:
        if not path or path[0] == "_schema":
            problems.append((default, message))
            continue
        where = []
        for before, segment in itertools.pairwise(path):
            if segment.isdigit():
                where.append(f"{_LABELS.get(before, 'item')} {int(segment) + 1}")
            else:
                where.append(segment)
        text = _MESSAGES.get(message, message)
        problems.append((kind.column(path[0]), f"{', '.join(where)}: {text}" if where else text))
    return problems


def _load(kind: Kind, schema: Schema, body: dict[str, Any]) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = schema.load(body)
    except ValidationError as exc:
        raise RowFailed(_problems(kind, exc.messages)) from None
    return loaded


def _domain(kind: Kind, call: Callable[[], Any], default: str) -> Any:
    """A domain service's call; its refusal becomes the row's problems."""
    try:
        return call()
    except AfftrackError as exc:
        problems = _problems(kind, exc.fields, default) if exc.fields else []
        raise RowFailed(problems or [(default, exc.message)]) from None


def _differ(what: str, pairs: Mapping[str, tuple[Any, Any]]) -> None:
    """Refuse a row whose key exists with other values, naming each difference."""
    diffs = [
        f"{name} is {_show(mine)} here and {_show(theirs)} stored"
        for name, (mine, theirs) in pairs.items()
        if mine != theirs
    ]
    if diffs:
        raise RowFailed([(what, "exists with different values: " + "; ".join(diffs))])


def _show(value: Any) -> str:
    if value is None or value == "":
        return "empty"
    if isinstance(value, datetime):
        return value.isoformat()
    return shown(str(value))


def _references(session: Session, values: dict[str, Any]) -> tuple[Campaign, Influencer]:
    """The campaign (by slug) and influencer (by handle) a row names."""
    problems = []
    campaign = influencer = None
    if "campaign" in values:
        campaign = session.scalar(select(Campaign).where(Campaign.slug == values["campaign"]))
        if campaign is None:
            problems.append(("campaign", f"no campaign with slug {shown(values['campaign'])}"))
    else:
        problems.append(("campaign", _MESSAGES["Missing data for required field."]))
    if "influencer" in values:
        influencer = session.scalar(
            select(Influencer).where(Influencer.handle == values["influencer"])
        )
        if influencer is None:
            problems.append(
                ("influencer", f"no influencer with handle {shown(values['influencer'])}")
            )
    else:
        problems.append(("influencer", _MESSAGES["Missing data for required field."]))
    if problems:
        raise RowFailed(problems)
    assert campaign is not None and influencer is not None
    return campaign, influencer


def _body(
    values: dict[str, Any], names: tuple[str, ...], refs: tuple[Campaign, Influencer]
) -> dict[str, Any]:
    body = {name: values[name] for name in names if name in values}
    body["campaign_id"], body["influencer_id"] = refs[0].id, refs[1].id
    return body


# -- one handler per kind: (outcome, id) or RowFailed ----------------------------------

Handled = tuple[Outcome, str]


def _influencer(session: Session, _s: Settings, kind: Kind, values: dict[str, Any]) -> Handled:
    data = _load(kind, InfluencerIn(), values)
    existing = session.scalar(select(Influencer).where(Influencer.handle == data["handle"]))
    if existing is not None:

        def accounts(items: Any) -> str:
            rows = [(a["platform"], a["handle"], a["followers"]) for a in items]
            return format_platforms(
                [{"platform": p, "handle": h, "followers": f} for p, h, f in sorted(rows)]
            )

        stored = [
            {"platform": a.platform, "handle": a.handle, "followers": a.followers}
            for a in existing.platforms
        ]
        _differ(
            "handle",
            {
                "name": (data["name"], existing.name),
                "email": (data["email"], existing.email),
                "payout_email": (data["payout_email"], existing.payout_email),
                "platforms": (accounts(data["platforms"]), accounts(stored)),
            },
        )
        return "unchanged", existing.id
    made = _domain(kind, lambda: create_influencer(session, data), "platforms")
    return "created", made.id


def _partner(session: Session, _s: Settings, kind: Kind, values: dict[str, Any]) -> Handled:
    campaign, influencer = _references(session, values)
    body = {"influencer_id": influencer.id}
    if "commission_rules" in values:
        body["commission_rules"] = values["commission_rules"]
    data = _load(kind, PartnershipIn(), body)
    existing = session.scalar(
        select(Partnership).where(
            Partnership.campaign_id == campaign.id, Partnership.influencer_id == influencer.id
        )
    )
    if existing is not None:
        try:
            rules = check_rules(data["commission_rules"], campaign.currency, "commission_rules")
        except ValidationError as exc:
            raise RowFailed(_problems(kind, exc.messages, "commission_rules")) from None

        def told(r: list[dict[str, Any]] | None) -> str | None:
            return None if r is None else format_rules(r)  # empty: the campaign's rules

        _differ(
            "influencer",
            {"commission_rules": (told(rules), told(existing.commission_rules))},
        )
        return "unchanged", existing.id
    made = _domain(kind, lambda: add_partner(session, campaign.id, data), "influencer")
    return "created", made.id


def _link(session: Session, settings: Settings, kind: Kind, values: dict[str, Any]) -> Handled:
    refs = _references(session, values)
    data = _load(kind, LinkIn(), _body(values, ("destination", "platform", "slug"), refs))
    campaign, influencer = refs
    if data["slug"] is not None:
        existing = session.scalar(select(Link).where(Link.code == data["slug"]))
        if existing is not None:
            _differ(
                "slug",
                {
                    "campaign": (campaign.slug, existing.partnership.campaign.slug),
                    "influencer": (influencer.handle, existing.partnership.influencer.handle),
                    "platform": (data["platform"], existing.platform),
                    "destination": (data["destination"], existing.destination),
                },
            )
            return "unchanged", existing.id
    else:
        same = session.scalar(
            select(Link.id)
            .where(
                Link.campaign_id == campaign.id,
                Link.influencer_id == influencer.id,
                Link.platform == data["platform"],
                Link.destination == data["destination"],
            )
            .order_by(Link.id)
            .limit(1)
        )
        if same is not None:
            return "unchanged", same
    made = _domain(kind, lambda: create_link(session, settings, data), "slug")
    return "created", made.id


def _promo_code(session: Session, _s: Settings, kind: Kind, values: dict[str, Any]) -> Handled:
    refs = _references(session, values)
    names = ("code", "starts_at", "ends_at", "max_uses")
    data = _load(kind, PromoCodeIn(), _body(values, names, refs))
    campaign, influencer = refs
    window = {
        "starts_at": data["starts_at"],
        "ends_at": data["ends_at"],
        "max_uses": data["max_uses"],
    }
    if data["code"] is not None:
        normalized = normalize_code(data["code"])
        existing = session.scalar(
            select(PromoCode).where(
                PromoCode.normalized == normalized,
                PromoCode.status == "active",
            )
        )
        if existing is None:
            # The partner's own code of any status: a retired one is never issued again
            # by an import (re-importing a file must not undo a retirement).
            earlier = session.scalar(
                select(PromoCode)
                .where(
                    PromoCode.normalized == normalized,
                    PromoCode.campaign_id == campaign.id,
                    PromoCode.influencer_id == influencer.id,
                )
                .order_by(PromoCode.created_at.desc(), PromoCode.id)
                .limit(1)
            )
            if earlier is not None:
                raise RowFailed(
                    [
                        (
                            "code",
                            f"{_show(earlier.code)} exists already and is {earlier.status}; "
                            "to use it again, reactivate it on its page",
                        )
                    ]
                )
        if existing is not None:
            _differ(
                "code",
                {
                    "campaign": (campaign.slug, existing.partnership.campaign.slug),
                    "influencer": (influencer.handle, existing.partnership.influencer.handle),
                    "code": (data["code"].strip(), existing.code),
                    **{name: (mine, getattr(existing, name)) for name, mine in window.items()},
                },
            )
            return "unchanged", existing.id
    else:
        stmt = select(PromoCode.id).where(
            PromoCode.campaign_id == campaign.id,
            PromoCode.influencer_id == influencer.id,
        )
        for name, mine in window.items():
            column = getattr(PromoCode, name)
            stmt = stmt.where(column.is_(None) if mine is None else column == mine)
        # Any status: a retired code counts as the one the file made.
        same = session.scalar(stmt.order_by(PromoCode.id).limit(1))
        if same is not None:
            return "unchanged", same
    made = _domain(kind, lambda: create_promo_code(session, data), "code")
    return "created", made.id


Handler = Callable[[Session, Settings, Kind, dict[str, Any]], Handled]
_HANDLERS: dict[str, Handler] = {
    "influencers": _influencer,
    "partners": _partner,
    "links": _link,
    "promo-codes": _promo_code,
}
# The cells that name a row in the plan.
_KEYS: dict[str, tuple[str, ...]] = {
    "influencers": ("handle",),
    "partners": ("campaign", "influencer"),
    "links": ("campaign", "influencer", "platform", "slug"),
    "promo-codes": ("campaign", "influencer", "code"),
}
