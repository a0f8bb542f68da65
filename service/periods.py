"""Periods (``YYYY-MM``): calendar months in the deployment's zone, as UTC bounds."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from service.errors import InvalidInput
from service.vocabulary import PERIOD_PATTERN, full, year_in_range

PERIOD_RE = full(PERIOD_PATTERN)


def parse_period(text: str) -> tuple[int, int]:
    match = PERIOD_RE.match(text) if isinstance(text, str) else None
    if not match or not year_in_range(int(match.group(1))):
        raise InvalidInput("period must be YYYY-MM", fields={"period": ["must be YYYY-MM"]})
    return int(match.group(1)), int(match.group(2))


def period_bounds(period: str, zone_name: str = "UTC") -> tuple[datetime, datetime]:
    """``[start, end)`` of the month in UTC."""
    year, month = parse_period(period)
    zone = ZoneInfo(zone_name)
    start = datetime(year, month, 1, tzinfo=zone)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def period_of(moment: datetime, zone_name: str = "UTC") -> str:
    local = moment.astimezone(ZoneInfo(zone_name))
    return f"{local.year:04d}-{local.month:02d}"


def period_of_day(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def month_bounds(moment: datetime, zone_name: str = "UTC") -> tuple[datetime, datetime]:
    return period_bounds(period_of(moment, zone_name), zone_name)


def next_period(period: str) -> str:
    year, month = parse_period(period)
    return f"{year + month // 12:04d}-{month % 12 + 1:02d}"


def periods_between(first: str, last: str) -> list[str]:
    """``first`` to ``last`` inclusive (empty if ``first`` is later)."""
    periods, period = [], first
    while period <= last:
        periods.append(period)
        period = next_period(period)
    return periods


def utc_midnight(moment: datetime, *, up: bool) -> datetime:
    """The UTC midnight at or after (``up``) or at or before ``moment``: the roll-ups'
    days are UTC days, and a span in a brand's time zone starts and ends inside them."""
    utc = moment.astimezone(UTC)
    floor = datetime(utc.year, utc.month, utc.day, tzinfo=UTC)
    return floor + timedelta(days=1) if up and floor < utc else floor
