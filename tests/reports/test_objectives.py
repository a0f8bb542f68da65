"""An objective's pace, forecast, status and percent reached: exact, rounded once."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.campaigns.schemas import CampaignIn
from service.money import MoneyError
from service.reports.objectives import (
    FORECAST_WINDOW_DAYS,
    days_left,
    forecast,
    format_value,
    met,
    pace,
    parse_value,
    percent_reached,
    progress,
    status,
)
from service.vocabulary import (
    CAMPAIGN_GOALS,
    CUMULATIVE_KPIS,
    GOAL_KPIS,
    KPI_UNITS,
    KPIS,
    LOWER_IS_BETTER_KPIS,
    OBJECTIVE_STATUSES,
)
from tests.reports.test_kpis import reference_half_even

TOTALS = sorted(CUMULATIVE_KPIS)
RATES = sorted(set(KPIS) - CUMULATIVE_KPIS)
CEILINGS = sorted(LOWER_IS_BETTER_KPIS)

kpis = st.sampled_from(KPIS)
totals = st.sampled_from(TOTALS)
rates = st.sampled_from(RATES)
values = st.integers(-(10**15), 10**15)
targets = st.integers(0, 10**15)
days = st.dates(date(2000, 1, 1), date(2100, 12, 31))


@st.composite
def timelines(draw: st.DrawFn) -> tuple[date, date, date]:
    """A start, a deadline on or after it, and a day anywhere around them."""
    start = draw(st.dates(date(2020, 1, 1), date(2030, 12, 31)))
    deadline = start + timedelta(days=draw(st.integers(0, 800)))
    today = start + timedelta(days=draw(st.integers(-30, 830)))
    return start, deadline, today


def reference_percent(numerator: int, denominator: int) -> str:
    scaled = reference_half_even(Fraction(numerator * 100, denominator) * 10)
    return str(Decimal(scaled).scaleb(-1).quantize(Decimal("0.1")))


# The vocabulary


def test_each_campaign_goal_suggests_kpis_of_the_vocabulary() -> None:
    assert set(GOAL_KPIS) == set(CAMPAIGN_GOALS)
    assert set(CampaignIn().fields["goal"].validate.choices) == set(CAMPAIGN_GOALS)
    for suggested in GOAL_KPIS.values():
        assert suggested and set(suggested) <= set(KPIS)


def test_every_kpi_has_a_unit_and_ceilings_are_rates() -> None:
    assert set(KPI_UNITS.values()) == {"count", "money", "ratio"}
    assert CUMULATIVE_KPIS.issubset(KPIS) and LOWER_IS_BETTER_KPIS.issubset(RATES)
    assert all(KPI_UNITS[kpi] != "ratio" for kpi in CUMULATIVE_KPIS)


def test_a_kpi_outside_the_vocabulary_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown KPI"):
        pace("likes", 10, date(2026, 1, 1), date(2026, 2, 1), date(2026, 1, 5))


@pytest.mark.parametrize(
    ("kpi", "text", "currency", "value", "shown"),
    [
        ("clicks", "5000", "EUR", 5000, 5000),
        ("revenue", "120.5", "EUR", 12050, "120.50"),
        ("revenue", "1500", "JPY", 1500, "1500"),
        ("cost_per_click", "0.125", "KWD", 125, "0.125"),
        ("ctr", "0.025", "EUR", 250, "0.0250"),
        ("roi", "-0.5", "EUR", -5000, "-0.5000"),
    ],
)
def test_values_are_read_and_shown_in_their_kpis_unit(
    kpi: str, text: str, currency: str, value: int, shown: object
) -> None:
    assert parse_value(kpi, text, currency) == value
    assert format_value(kpi, value, currency) == shown


@pytest.mark.parametrize(
    ("kpi", "text", "currency"),
    [
        ("clicks", "10.5", "EUR"),
        ("revenue", "1.5", "JPY"),
        ("ctr", "0.00001", "EUR"),
        ("ctr", "-0.1", "EUR"),
        ("revenue", 12.5, "EUR"),
        ("clicks", "-3", "EUR"),
    ],
)
def test_a_target_finer_than_its_unit_negative_or_not_text_is_refused(
    kpi: str, text: object, currency: str
) -> None:
    with pytest.raises(MoneyError):
        parse_value(kpi, text, currency)


# Pace


@given(totals, targets, timelines())
def test_pace_of_a_total_is_the_straight_line_rounded_half_even(
    kpi: str, target: int, timeline: tuple[date, date, date]
) -> None:
    start, deadline, today = timeline
    if today >= deadline:
        share = Fraction(1)
    elif today <= start:
        share = Fraction(0)
    else:
        share = Fraction((today - start).days, (deadline - start).days)
    assert pace(kpi, target, start, deadline, today) == reference_half_even(target * share)


@given(totals, targets, timelines())
def test_pace_is_zero_at_the_start_and_the_target_at_the_deadline(
    kpi: str, target: int, timeline: tuple[date, date, date]
) -> None:
    start, deadline, _ = timeline
    if deadline > start:
        assert pace(kpi, target, start, deadline, start) == 0
    assert pace(kpi, target, start, deadline, deadline) == target


@given(totals, targets, timelines(), st.integers(1, 60))
def test_pace_never_goes_down_as_days_pass(
    kpi: str, target: int, timeline: tuple[date, date, date], later: int
) -> None:
    start, deadline, today = timeline
    assert pace(kpi, target, start, deadline, today) <= pace(
        kpi, target, start, deadline, today + timedelta(days=later)
    )


@given(rates, values, timelines())
def test_pace_of_a_rate_is_its_target(
    kpi: str, target: int, timeline: tuple[date, date, date]
) -> None:
    assert pace(kpi, target, *timeline) == target


def test_pace_worked_example() -> None:
    # 10,000 clicks in October (1st to 31st): by the 16th, half of the 30 days have passed.
    assert pace("clicks", 10_000, date(2026, 10, 1), date(2026, 10, 31), date(2026, 10, 16)) == 5000
    # 1/30 of 1,000 is 33.33…; 45/30 of 1 is 1.5 → 2, 15/30 is 0.5 → 0 (ties to even).
    assert pace("clicks", 1000, date(2026, 10, 1), date(2026, 10, 31), date(2026, 10, 2)) == 33
    assert pace("conversions", 3, date(2026, 10, 1), date(2026, 10, 31), date(2026, 10, 16)) == 2
    assert pace("conversions", 1, date(2026, 10, 1), date(2026, 10, 31), date(2026, 10, 16)) == 0


def test_a_deadline_before_the_start_is_refused() -> None:
    with pytest.raises(ValueError, match="before the start"):
        pace("clicks", 10, date(2026, 2, 1), date(2026, 1, 1), date(2026, 1, 5))


# Forecast


@given(
    totals, values, st.lists(values, min_size=1, max_size=FORECAST_WINDOW_DAYS), st.integers(0, 800)
)
def test_forecast_of_a_total_adds_the_recent_mean_for_each_day_left(
    kpi: str, actual: int, recent: list[int], left: int
) -> None:
    mean = Fraction(sum(recent), len(recent))
    assert forecast(kpi, actual, recent, left) == reference_half_even(actual + mean * left)


@given(totals, values, st.integers(1, 800))
def test_no_forecast_of_a_total_before_a_whole_day_is_known(
    kpi: str, actual: int, left: int
) -> None:
    assert forecast(kpi, actual, [], left) is None
    assert forecast(kpi, actual, [], 0) == actual


@given(rates, st.one_of(st.none(), values), st.lists(values, max_size=7), st.integers(0, 800))
def test_a_rate_is_forecast_as_its_current_value(
    kpi: str, actual: int | None, recent: list[int], left: int
) -> None:
    assert forecast(kpi, actual, recent, left) == actual


@given(days, days)
def test_days_left_count_the_days_after_today_up_to_the_deadline(
    today: date, deadline: date
) -> None:
    left = days_left(today, deadline)
    assert left == max(0, (deadline - today).days)
    assert left == 0 or today + timedelta(days=left) == deadline


def test_forecast_worked_example() -> None:
    # 4,200 clicks so far; the last 7 days brought 300, 310, 290, 305, 295, 320, 280
    # (mean 300); 10 days left → 4,200 + 3,000.
    recent = [300, 310, 290, 305, 295, 320, 280]
    assert forecast("clicks", 4200, recent, 10) == 7200
    with pytest.raises(ValueError, match="negative"):
        forecast("clicks", 4200, recent, -1)


# Status


def _day(offset: int) -> date:
    return date(2026, 10, 31) + timedelta(days=offset)


DEADLINE = _day(0)
BEFORE, ON, AFTER = _day(-5), DEADLINE, _day(1)


@pytest.mark.parametrize(
    ("kpi", "actual", "target", "pace_", "today", "expected"),
    [
        # A total: achieved whenever it meets the target; missed only after the deadline.
        ("clicks", 100, 100, 50, BEFORE, "achieved"),
        ("clicks", 120, 100, 100, ON, "achieved"),
        ("clicks", 100, 100, 100, AFTER, "achieved"),
        ("clicks", 60, 100, 50, BEFORE, "on_track"),
        ("clicks", 50, 100, 50, BEFORE, "on_track"),
        ("clicks", 49, 100, 50, BEFORE, "behind"),
        ("clicks", 99, 100, 100, ON, "behind"),
        ("clicks", 99, 100, 100, AFTER, "missed"),
        ("revenue", -500, 100, 0, BEFORE, "behind"),
        # A rate (higher is better): judged only once the deadline has passed.
        ("ctr", 300, 250, 250, BEFORE, "on_track"),
        ("ctr", 250, 250, 250, ON, "on_track"),
        ("ctr", 200, 250, 250, ON, "behind"),
        ("ctr", 250, 250, 250, AFTER, "achieved"),
        ("ctr", 249, 250, 250, AFTER, "missed"),
        ("ctr", None, 250, 250, BEFORE, "behind"),
        ("ctr", None, 250, 250, AFTER, "missed"),
        ("roi", -100, -200, -200, AFTER, "achieved"),
        # A ceiling (lower is better): at or under the target.
        ("cost_per_acquisition", 1500, 2000, 2000, BEFORE, "on_track"),
        ("cost_per_acquisition", 2000, 2000, 2000, ON, "on_track"),
        ("cost_per_acquisition", 2001, 2000, 2000, BEFORE, "behind"),
        ("cost_per_acquisition", 1500, 2000, 2000, AFTER, "achieved"),
        ("cost_per_acquisition", 2001, 2000, 2000, AFTER, "missed"),
        ("cost_per_click", None, 50, 50, BEFORE, "behind"),
        ("cost_per_click", None, 50, 50, AFTER, "missed"),
        ("cost_per_click", 0, 50, 50, AFTER, "achieved"),
    ],
)
def test_status_by_case(
    kpi: str, actual: int | None, target: int, pace_: int, today: date, expected: str
) -> None:
    assert status(kpi, actual, target, pace_, today, DEADLINE) == expected


@given(kpis, st.one_of(st.none(), values), values, values, st.integers(-40, 40))
def test_status_follows_the_rules_for_every_kpi_and_day(
    kpi: str, actual: int | None, target: int, pace_: int, offset: int
) -> None:
    today = _day(offset)
    result = status(kpi, actual, target, pace_, today, DEADLINE)
    assert result in OBJECTIVE_STATUSES
    total = kpi in CUMULATIVE_KPIS
    if today > DEADLINE:
        assert result == ("achieved" if met(kpi, actual, target) else "missed")
    elif total and met(kpi, actual, target):
        assert result == "achieved"
    else:
        assert result == ("on_track" if met(kpi, actual, pace_) else "behind")
    if result == "achieved" and not total:
        assert today > DEADLINE
    if actual is None:
        assert result in ("behind", "missed")


@given(kpis, values, values)
def test_a_ceiling_is_met_at_or_under_it_and_any_other_target_at_or_over(
    kpi: str, actual: int, target: int
) -> None:
    if kpi in LOWER_IS_BETTER_KPIS:
        assert met(kpi, actual, target) == (actual <= target)
    else:
        assert met(kpi, actual, target) == (actual >= target)


# Percent reached


@given(st.sampled_from(sorted(set(KPIS) - LOWER_IS_BETTER_KPIS)), values, values)
def test_percent_reached_is_actual_over_target_rounded_half_even_to_one_decimal(
    kpi: str, actual: int, target: int
) -> None:
    expected = None if target == 0 else reference_percent(actual, target)
    assert percent_reached(kpi, actual, target) == expected


@given(st.sampled_from(CEILINGS), values, values)
def test_percent_reached_of_a_ceiling_is_target_over_actual(
    kpi: str, actual: int, target: int
) -> None:
    expected = None if actual == 0 else reference_percent(target, actual)
    assert percent_reached(kpi, actual, target) == expected


def test_percent_reached_examples() -> None:
    assert percent_reached("clicks", 625, 1000) == "62.5"
    assert percent_reached("clicks", 1, 3) == "33.3"
    assert percent_reached("clicks", 1, 1600) == "0.1"  # 0.0625 → 0.1
    assert percent_reached("clicks", 1, 2000) == "0.0"  # 0.05 → 0.0, ties to even
    assert percent_reached("clicks", 3, 2000) == "0.2"  # 0.15 → 0.2, ties to even
    assert percent_reached("cost_per_click", 100, 50) == "50.0"
    assert percent_reached("ctr", None, 250) is None


# Progress


def test_progress_worked_example_in_json() -> None:
    shown = progress(
        "revenue",
        target=1_000_000,
        start=date(2026, 10, 1),
        deadline=date(2026, 10, 31),
        today=date(2026, 10, 21),
        actual=600_000,
        recent=[30_000] * 7,
    ).to_json("EUR")
    assert shown == {
        "kpi": "revenue",
        "actual": "6000.00",
        "target": "10000.00",
        "percent": "60.0",
        "pace": "6666.67",
        "forecast": "9000.00",
        "status": "behind",
    }


def test_progress_refuses_a_window_longer_than_the_forecast_uses() -> None:
    with pytest.raises(ValueError, match="recent days"):
        progress("clicks", 10, date(2026, 1, 1), date(2026, 2, 1), date(2026, 1, 20), 5, [1] * 8)
