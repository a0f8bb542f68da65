"""An objective's progress: pace, forecast, status and percent reached. Pure; exact.

Every value is an integer in its KPI's unit (``service.vocabulary.KPI_UNITS``): a count,
minor units of the campaign's currency, or a ratio in units of ``10**-RATIO_PLACES``
(``300`` is ``"0.0300"``, 3 %). :func:`parse_value` and :func:`format_value` convert at
the edges. Every division rounds once, half-even (``service.money.div_half_even``).
docs/objectives.md explains the rules for people; ADR "objective forecast and status"
records the choices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from service.money import div_half_even, format_amount, parse_amount, parse_decimal
from service.reports.kpis import format_scaled, ratio
from service.vocabulary import (
    ACHIEVED,
    BEHIND,
    COUNT,
    CUMULATIVE_KPIS,
    KPI_UNITS,
    LOWER_IS_BETTER_KPIS,
    MISSED,
    MONEY,
    ON_TRACK,
    RATIO_PLACES,
)

# The forecast's window: the mean of this many last complete days (fewer while the
# objective is younger).
FORECAST_WINDOW_DAYS = 7
# Percent reached: one decimal.
PERCENT_PLACES = 1


def _known(kpi: str) -> str:
    try:
        return KPI_UNITS[kpi]
    except KeyError:
        raise ValueError(f"unknown KPI {kpi!r}") from None


def is_cumulative(kpi: str) -> bool:
    """Whether ``kpi`` is a total that adds up day by day (else a rate or cost per result)."""
    _known(kpi)
    return kpi in CUMULATIVE_KPIS


def lower_is_better(kpi: str) -> bool:
    """Whether ``kpi``'s target is a ceiling (costs per result)."""
    _known(kpi)
    return kpi in LOWER_IS_BETTER_KPIS


def parse_value(kpi: str, text: object, currency: str) -> int:
    """A target as typed (a decimal string) in ``kpi``'s unit: a count ``"5000"`` → 5000,
    money ``"120.50"`` EUR → 12050, a ratio ``"0.025"`` → 250. Raises
    ``service.money.MoneyError`` for junk or over-precision; only ROI may be negative."""
    unit = _known(kpi)
    if unit == MONEY:
        return parse_amount(text, currency)
    if unit == COUNT:
        return parse_decimal(text, 0, unit="a count")
    return parse_decimal(text, RATIO_PLACES, allow_negative=kpi == "roi", unit="a ratio")


def format_value(kpi: str, value: int | None, currency: str) -> int | str | None:
    """A value for JSON: a count as an integer, money and ratios as decimal strings."""
    unit = _known(kpi)
    if value is None or unit == COUNT:
        return value
    if unit == MONEY:
        return format_amount(value, currency)
    return format_scaled(value)


def pace(kpi: str, target: int, start: date, deadline: date, today: date) -> int:
    """Where a straight line from 0 on ``start`` to ``target`` on ``deadline`` stands on
    ``today``: ``target * elapsed days / days from start to deadline``, rounded half-even
    to the KPI's unit; 0 before the start, ``target`` from the deadline on.

    A rate or cost per result does not accumulate, so its pace is the target itself: the
    value it should have on any day."""
    if deadline < start:
        raise ValueError("the deadline is before the start")
    if not is_cumulative(kpi) or today >= deadline:
        return target
    if today <= start:
        return 0
    return div_half_even(target * (today - start).days, (deadline - start).days)


def days_left(today: date, deadline: date) -> int:
    """Whole days after ``today`` up to and including ``deadline`` (0 from the deadline on)."""
    return max(0, (deadline - today).days)


def forecast(kpi: str, actual: int | None, recent: Sequence[int], days_left: int) -> int | None:
    """The value expected on the deadline.

    A total: ``actual + mean(recent) * days_left``, rounded once, half-even, where
    ``recent`` holds the KPI's values of the last complete days (at most
    ``FORECAST_WINDOW_DAYS``; today, unfinished, is not one of them) and ``days_left`` is
    :func:`days_left`. ``None`` when days are left but no complete day is known yet.
    A rate or cost per result is forecast as its current value. ``None`` when ``actual``
    is (a rate over nothing yet)."""
    if days_left < 0:
        raise ValueError("days_left must not be negative")
    if actual is None:
        return None
    if not is_cumulative(kpi) or days_left == 0:
        return actual
    if not recent:
        return None
    # One rounding of the whole: ties go to an even forecast, not an even increment.
    return div_half_even(actual * len(recent) + sum(recent) * days_left, len(recent))


def met(kpi: str, actual: int | None, target: int) -> bool:
    """Whether ``actual`` meets ``target``: at or over it, or at or under it for a KPI
    whose target is a ceiling. A rate with no value yet meets nothing."""
    if actual is None:
        return False
    return actual <= target if lower_is_better(kpi) else actual >= target


def status(
    kpi: str, actual: int | None, target: int, pace: int, today: date, deadline: date
) -> str:
    """``achieved``, ``missed``, ``on_track`` or ``behind``.

    - A total (higher is better) is ``achieved`` as soon as it meets the target.
    - A rate or cost per result goes up and down until the end: it is judged only once
      the deadline has passed, ``achieved`` if it meets the target then.
    - After the deadline, anything not achieved is ``missed``.
    - Before that: ``on_track`` when ``actual`` is at or ahead of ``pace`` (at or under it
      for a ceiling), else ``behind``; a rate with no value yet is ``behind``.
    The forecast does not decide the status; it is shown beside it."""
    if is_cumulative(kpi) and not lower_is_better(kpi) and met(kpi, actual, target):
        return ACHIEVED
    if today > deadline:
        return ACHIEVED if met(kpi, actual, target) else MISSED
    return ON_TRACK if met(kpi, actual, pace) else BEHIND


def percent_reached(kpi: str, actual: int | None, target: int) -> str | None:
    """How much of the target is reached, in percent with one decimal, half-even
    (``"62.5"``): ``actual / target * 100``; for a ceiling ``target / actual * 100`` (a
    cost half the ceiling is 200 %). ``None`` when there is no value or the divisor is 0."""
    if actual is None:
        return None
    if lower_is_better(kpi):
        return ratio(target * 100, actual, PERCENT_PLACES)
    return ratio(actual * 100, target, PERCENT_PLACES)


@dataclass(frozen=True)
class Progress:
    """An objective's progress on a day, every value in its KPI's unit."""

    kpi: str
    actual: int | None
    target: int
    pace: int
    forecast: int | None
    percent: str | None
    status: str

    def to_json(self, currency: str) -> dict[str, Any]:
        return {
            "kpi": self.kpi,
            "actual": format_value(self.kpi, self.actual, currency),
            "target": format_value(self.kpi, self.target, currency),
            "percent": self.percent,
            "pace": format_value(self.kpi, self.pace, currency),
            "forecast": format_value(self.kpi, self.forecast, currency),
            "status": self.status,
        }


def progress(
    kpi: str,
    target: int,
    start: date,
    deadline: date,
    today: date,
    actual: int | None,
    recent: Sequence[int] = (),
) -> Progress:
    """Everything a report shows for one objective on ``today``.

    ``actual`` is the KPI's value from ``start`` to ``min(today, deadline)`` (``None`` for
    a rate over nothing yet); ``recent`` the KPI's values of the last complete days before
    today, oldest first, at most ``FORECAST_WINDOW_DAYS`` and none before ``start``
    (only totals use it)."""
    if len(recent) > FORECAST_WINDOW_DAYS:
        raise ValueError(f"at most {FORECAST_WINDOW_DAYS} recent days")
    expected = pace(kpi, target, start, deadline, today)
    return Progress(
        kpi=kpi,
        actual=actual,
        target=target,
        pace=expected,
        forecast=forecast(kpi, actual, recent, days_left(today, deadline)),
        percent=percent_reached(kpi, actual, target),
        status=status(kpi, actual, target, expected, today, deadline),
    )
