"""What each kind of import file holds: its columns, an example row, and how a row's
cells become the API's request body (pure, no database).

Cells are trimmed; an empty cell is a field left out (the API's default applies). Two
cells hold something nested, in a flat form:

- ``platforms`` (influencers): accounts separated by ``;``, each
  ``platform:handle:followers`` (``instagram:anna.travels:48200; tiktok:anna:12000``).
  The platform is before the first colon and the followers after the last, so a handle
  may hold colons.
- ``commission_rules`` (partners): rules separated by ``;``, each ``type:value`` —
  ``percent:12.5``, ``flat:5.00``, ``cpc:0.05``, ``per_post:150.00``, and
  ``tiered_percent:10 up to 1000.00, 15`` (rates with their upper bounds, the last
  without) — or the API's JSON list as it is (a cell starting with ``[``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from service.commissions.rules import RULE_FIELDS

# A cell's problems: (column, message).
Problems = list[tuple[str, str]]
_INTEGER = re.compile(r"^[0-9]{1,15}$")
_TIER = re.compile(r"^(?P<rate>\S+)(?:\s+up\s+to\s+(?P<up_to>\S+))?$", re.IGNORECASE)


def _integer(cell: str) -> int | str:
    """Digits as a number; anything else as it is, for the schema to refuse."""
    return int(cell) if _INTEGER.match(cell) else cell


def parse_platforms(cell: str) -> tuple[list[dict[str, Any]], list[str]]:
    """``instagram:anna:48200; tiktok:anna:12000`` as the API's platform accounts."""
    accounts: list[dict[str, Any]] = []
    problems: list[str] = []
    for n, item in enumerate((part.strip() for part in cell.split(";")), start=1):
        if not item:
            continue
        platform, sep, rest = item.partition(":")
        handle, sep2, followers = rest.rpartition(":")
        if not (sep and sep2):
            problems.append(
                f"account {n} is not platform:handle:followers "
                "(for example instagram:anna.travels:48200)"
            )
            continue
        accounts.append(
            {
                "platform": platform.strip().lower(),
                "handle": handle.strip(),
                "followers": _integer(followers.strip()),
            }
        )
    return accounts, problems


def format_platforms(accounts: Sequence[Mapping[str, Any]]) -> str:
    return "; ".join(f"{a['platform']}:{a['handle']}:{a['followers']}" for a in accounts)


def parse_rules_cell(cell: str) -> tuple[Any, list[str]]:
    """The compact rules (or a JSON list) as the API's ``commission_rules``."""
    if cell.startswith(("[", "{")):
        try:
            loaded = json.loads(cell)
        except json.JSONDecodeError as exc:
            return None, [f"is not valid JSON ({exc.msg} at character {exc.pos + 1})"]
        return ([loaded] if isinstance(loaded, dict) else loaded), []
    rules: list[dict[str, Any]] = []
    problems: list[str] = []
    for n, item in enumerate((part.strip() for part in cell.split(";")), start=1):
        if not item:
            continue
        kind, sep, value = (s.strip() for s in item.partition(":"))
        kind = kind.lower()
        if not sep or not value:
            problems.append(f"rule {n} is not type:value (for example percent:10 or flat:5.00)")
            continue
        names = RULE_FIELDS.get(kind)
        if names is None:
            rules.append({"type": kind})  # parse_rules names the types it knows
        elif names == ("tiers",):
            tiers: list[dict[str, Any]] = []
            for part in (p.strip() for p in value.split(",")):
                match = _TIER.match(part)
                if not match:
                    problems.append(
                        f"rule {n}: a tier is 'RATE up to AMOUNT' or, the last, 'RATE' "
                        "(for example tiered_percent:10 up to 1000.00, 15)"
                    )
                    break
                tiers.append({"up_to": match["up_to"], "rate": match["rate"]})
            rules.append({"type": kind, "tiers": tiers})
        else:
            rules.append({"type": kind, names[0]: value})
    return rules, problems


def format_rules(rules: Sequence[Mapping[str, Any]]) -> str:
    """Rules in the compact form :func:`parse_rules_cell` reads."""
    parts = []
    for rule in rules:
        if rule["type"] == "tiered_percent":
            tiers = ", ".join(
                f"{t['rate']} up to {t['up_to']}" if t.get("up_to") is not None else str(t["rate"])
                for t in rule["tiers"]
            )
            parts.append(f"tiered_percent:{tiers}")
        else:
            (name,) = RULE_FIELDS[rule["type"]]
            parts.append(f"{rule['type']}:{rule[name]}")
    return "; ".join(parts)


@dataclass(frozen=True)
class Kind:
    """One kind of import file."""

    name: str
    columns: tuple[str, ...]
    required: tuple[str, ...]
    example: Mapping[str, str]
    # A request field's column, where their names differ (``campaign_id`` → ``campaign``).
    column_of: Mapping[str, str] = field(default_factory=dict)
    # Cells that need more than being a string: column → parser of the cell.
    parsers: Mapping[str, Callable[[str], tuple[Any, list[str]]]] = field(default_factory=dict)

    def column(self, path: str) -> str:
        """The column behind a request field's path (``platforms.0.followers``)."""
        first = path.split(".", 1)[0]
        return self.column_of.get(first, first)

    def cells(self, row: Mapping[str, str]) -> tuple[dict[str, Any], Problems]:
        """A row's filled cells as request fields (references still by handle and slug)."""
        values: dict[str, Any] = {}
        problems: Problems = []
        for column in self.columns:
            cell = row.get(column, "").strip()
            if not cell:
                continue
            parser = self.parsers.get(column)
            if parser is None:
                values[column] = cell
                continue
            value, messages = parser(cell)
            problems.extend((column, m) for m in messages)
            values[column] = value
        return values, problems


def _integer_cell(cell: str) -> tuple[Any, list[str]]:
    return _integer(cell), []


_REFS = {"campaign_id": "campaign", "influencer_id": "influencer"}

INFLUENCERS = Kind(
    name="influencers",
    columns=("handle", "name", "email", "payout_email", "platforms"),
    required=("handle", "name", "email"),
    example={
        "handle": "anna.travels",
        "name": "Anna Berg",
        "email": "anna@example.com",
        "payout_email": "pay@annaberg.example",
        "platforms": "instagram:anna.travels:48200; tiktok:annatravels:12000",
    },
    parsers={"platforms": parse_platforms},
)
PARTNERS = Kind(
    name="partners",
    columns=("campaign", "influencer", "commission_rules"),
    required=("campaign", "influencer"),
    example={
        "campaign": "autumn-2026",
        "influencer": "anna.travels",
        "commission_rules": "tiered_percent:10 up to 1000.00, 15",
    },
    column_of=_REFS,
    parsers={"commission_rules": parse_rules_cell},
)
LINKS = Kind(
    name="links",
    columns=("campaign", "influencer", "platform", "destination", "slug"),
    required=("campaign", "influencer", "platform", "destination"),
    example={
        "campaign": "autumn-2026",
        "influencer": "anna.travels",
        "platform": "instagram",
        "destination": "https://shop.example/autumn?ref=bio",
        "slug": "anna-autumn",
    },
    column_of=_REFS,
    parsers={"platform": lambda cell: (cell.lower(), [])},
)
PROMO_CODES = Kind(
    name="promo-codes",
    columns=("campaign", "influencer", "code", "starts_at", "ends_at", "max_uses"),
    required=("campaign", "influencer"),
    example={
        "campaign": "autumn-2026",
        "influencer": "anna.travels",
        "code": "ANNA15",
        "starts_at": "2026-10-01T00:00:00+00:00",
        "ends_at": "2027-01-01T00:00:00+00:00",
        "max_uses": "500",
    },
    column_of=_REFS,
    parsers={"max_uses": _integer_cell},
)
KINDS: dict[str, Kind] = {k.name: k for k in (INFLUENCERS, PARTNERS, LINKS, PROMO_CODES)}
