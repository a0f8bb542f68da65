"""Limits and vocabularies, stated once.

Schemas, models, webhook parsers, the redirect path and the docs read these; a limit
changes here or nowhere. Patterns are written so that one text serves both Python
(``re.fullmatch``) and JSON Schema (ECMA-262): no ``\\Z``, no look-behinds, and they
carry their own ``^...$`` anchors for JSON Schema, which matches anywhere otherwise.
"""

from __future__ import annotations

import re

# Short codes, promo codes, click ids, campaign slugs: at most this many characters.
CODE_MAX_LENGTH = 64
# A link's short code: what the redirect accepts after /r/.
CODE_PATTERN = rf"^[A-Za-z0-9_-]{{1,{CODE_MAX_LENGTH}}}$"
# A vanity code asked for when creating a link.
VANITY_MIN_LENGTH = 3
VANITY_PATTERN = rf"^[A-Za-z0-9][A-Za-z0-9_-]{{{VANITY_MIN_LENGTH - 1},{CODE_MAX_LENGTH - 1}}}$"
VANITY_RULE = (
    f"{VANITY_MIN_LENGTH} to {CODE_MAX_LENGTH} letters, digits, dashes or underscores, "
    "starting with a letter or digit, and not a word the service reserves (such as api)"
)

# An influencer's handle: lower-case letters, digits and ._- , 2 to 40 characters.
HANDLE_PATTERN = r"^[a-z0-9._-]{2,40}$"
HANDLE_RULE = "a handle is 2 to 40 lower-case letters, digits, dots, dashes or underscores"

# A campaign's slug: lower-case, 1 to 64 characters.
SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
SLUG_RULE = "lower-case [a-z0-9_-], 1 to 64 characters"
# A shop domain a campaign's links may point at.
DOMAIN_PATTERN = r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$|^localhost$"
# A promo code as typed: 3 to 32 of [A-Za-z0-9_-], spaces or tabs around it ignored.
PROMO_CODE_PATTERN = r"^[ \t]*[A-Za-z0-9][A-Za-z0-9_-]{2,31}[ \t]*$"
PROMO_CODE_RULE = "3 to 32 of [A-Za-z0-9_-]"

# A campaign's utm_medium.
UTM_MEDIUM_PATTERN = rf"^[A-Za-z0-9._-]{{1,{CODE_MAX_LENGTH}}}$"

# A list's cursor: where the next page starts (the last id of the page before).
CURSOR_PATTERN = r"^[a-z0-9_]{0,64}$"

# An http(s) URL with a host, as a link's destination or a post's address: no spaces,
# control characters or backslashes; a host of any script, or an IPv6 address in brackets.
URL_MAX_LENGTH = 2048
URL_PATTERN = (
    r"^[Hh][Tt][Tt][Pp][Ss]?://([^\x00-\x20\x7f\\/?#@]*@)?"
    r"(\[[0-9A-Fa-f:.]+\]|[^\x00-\x20\x7f\\/?#@\[\]:]+)(:[0-9]*)?([/?#][^\x00-\x20\x7f\\]*)?$"
)

# The years a date may fall in (dates outside them are typing mistakes); DATE_PATTERN and
# PERIOD_PATTERN spell the same range.
YEAR_MIN = 2000
YEAR_MAX = 2100
YEAR_RULE = f"must be between {YEAR_MIN} and {YEAR_MAX}"
YEAR_SPAN = f"{YEAR_MIN} to {YEAR_MAX}"  # the same, as a post's refusal says it


def year_in_range(year: int) -> bool:
    """Whether ``year`` is one a date of ours may have."""
    return YEAR_MIN <= year <= YEAR_MAX


# A date the API takes (YYYY-MM-DD): years 2000 to 2100.
DATE_PATTERN = r"^(20[0-9]{2}|2100)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"

# A calendar month, the unit of commission exports and statements (years 2000 to 2100,
# as service.periods.parse_period checks).
PERIOD_PATTERN = r"^(20[0-9]{2}|2100)-(0[1-9]|1[0-2])$"
PERIOD_RULE = "must be YYYY-MM"

# A decimal money amount as text, such as "12.50" (exactness per currency is checked
# where the currency is known: service.money.parse_amount).
_DECIMAL = r"[0-9]{1,18}(\.[0-9]{1,6})?"
AMOUNT_PATTERN = rf"^-?{_DECIMAL}$"
# An amount more than zero, such as a commission rule's amount or a tier's bound.
POSITIVE_AMOUNT_PATTERN = rf"^(?=.*[1-9]){_DECIMAL}$"

# A percentage as text, such as "12.5": 0 to 100 with at most RATE_DECIMALS decimals
# (service.money.parse_rate reads it as an exact fraction).
RATE_DECIMALS = 6
RATE_PATTERN = rf"^(0?[0-9]{{1,2}}(\.[0-9]{{1,{RATE_DECIMALS}}})?|100(\.0{{1,{RATE_DECIMALS}}})?)$"

# Where an influencer posts, or a link is placed.
PLATFORMS = (
    "instagram",
    "tiktok",
    "youtube",
    "twitter",
    "facebook",
    "linkedin",
    "pinterest",
    "twitch",
    "snapchat",
    "blog",
    "other",
)

# The caps that can cut a commission line: the monthly cap per influencer, the budget.
MONTHLY_CAP = "monthly_cap"
BUDGET = "budget"
CAPS = (MONTHLY_CAP, BUDGET)

# Where a click came from: the short link itself, or its QR code (the short URL with
# QR_MARKER as its query, docs/product.md §2). Stored in clicks.source.
LINK_SOURCE = "link"
QR_SOURCE = "qr"
CLICK_SOURCES = (LINK_SOURCE, QR_SOURCE)
QR_MARKER = "qr=1"
# A QR code's module size in pixels (PNG) or user units (SVG), as ?scale= asks for it.
QR_SCALE_MIN = 1
QR_SCALE_MAX = 40
QR_SCALE_DEFAULT = 8

# The shops whose checkout webhooks afftrack reads.
WEBHOOK_SOURCES = ("shopify", "woocommerce", "stripe", "generic")


def full(pattern: str) -> re.Pattern[str]:
    """A vocabulary pattern compiled for Python: anchored at both ends, and ``$`` does not
    let a trailing newline through (``re.fullmatch`` semantics)."""
    body = pattern.removeprefix("^").removesuffix("$")
    return re.compile(rf"(?:{body})\Z")


# A post's statuses: recorded (`submitted`), then `approved` (its per-post fee earned) or
# `rejected` (never paid; only a submitted post can be, ADR "rejecting a post").
DELIVERABLE_STATUSES = ("submitted", "approved", "rejected")

# What a campaign is for (campaigns.goal).
CAMPAIGN_GOALS = ("awareness", "traffic", "conversions")

# A post's metrics (deliverables.metrics), and the ones that are engagements: what media
# value pays per unit and the "engagements" KPI counts.
ENGAGEMENT_METRICS = ("likes", "comments", "shares", "saves")
POST_METRICS = ("impressions", "reach", "views", *ENGAGEMENT_METRICS)

# An objective's KPI (docs/objectives.md), each in one unit: a count, money (minor units of
# the campaign's currency) or a ratio (a fraction with RATIO_PLACES decimals, as reports
# show conversion_rate, roi, engagement_rate and ctr: "0.0300" is 3 %).
RATIO_PLACES = 4
COUNT = "count"
MONEY = "money"
RATIO = "ratio"
KPI_UNITS: dict[str, str] = {
    "clicks": COUNT,
    "unique_clicks": COUNT,
    "qr_scans": COUNT,
    "conversions": COUNT,
    "revenue": MONEY,
    "conversion_rate": RATIO,
    "roi": RATIO,
    "cost_per_acquisition": MONEY,
    "cost_per_click": MONEY,
    "reach": COUNT,
    "impressions": COUNT,
    "engagements": COUNT,
    "engagement_rate": RATIO,
    "ctr": RATIO,
    "media_value": MONEY,
}
KPIS = tuple(KPI_UNITS)
# KPIs that add up day by day (a total); the others are quotients (rates, costs per result),
# which rise and fall and have no straight line to follow.
CUMULATIVE_KPIS = frozenset(
    {
        "clicks",
        "unique_clicks",
        "qr_scans",
        "conversions",
        "revenue",
        "reach",
        "impressions",
        "engagements",
        "media_value",
    }
)
# KPIs whose target is a ceiling: the objective is met at or under it.
LOWER_IS_BETTER_KPIS = frozenset({"cost_per_acquisition", "cost_per_click"})
# The KPIs a campaign's goal suggests (any KPI may be chosen).
GOAL_KPIS: dict[str, tuple[str, ...]] = {
    "awareness": ("reach", "impressions", "media_value"),
    "traffic": ("clicks", "ctr"),
    "conversions": ("conversions", "revenue", "roi", "cost_per_acquisition"),
}
# Whom an objective's target is for: the campaign as a whole, or each influencer.
OBJECTIVE_SCOPES = ("campaign", "influencer")
# An objective's progress (docs/objectives.md "Status").
ON_TRACK = "on_track"
BEHIND = "behind"
ACHIEVED = "achieved"
MISSED = "missed"
OBJECTIVE_STATUSES = (ON_TRACK, BEHIND, ACHIEVED, MISSED)
