"""The daily clicks/conversions chart, drawn on the server as SVG. Pure: no Flask.

Clicks are bars on the left scale, conversions a line with dots on the right scale,
one slot per day of the range (days without data are zeros, not gaps). Every bar
carries its day and both counts (``data-*`` attributes and a ``<title>`` tooltip), so the
picture can be read back exactly. Colours are presentation attributes, not ``style``, so
the page's Content-Security-Policy needs no ``unsafe-inline``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

WIDTH, HEIGHT = 960, 280
LEFT, RIGHT, TOP, BOTTOM = 64, 64, 20, 40
CLICKS_COLOUR, CONVERSIONS_COLOUR, GRID_COLOUR, TEXT_COLOUR = (
    "#3b6fd8",
    "#e07b24",
    "#e3e6ea",
    "#4a5260",
)
GRID_LINES = 4


@dataclass(frozen=True)
class Day:
    day: date
    clicks: int
    conversions: int


def nice_ceiling(value: int) -> int:
    """The top of a scale at or above ``value``: four grid steps of 1, 2, 2.5 or 5 times 10^k
    (2.5 only from 25 up, so every grid label is a whole number). 0 gives 4."""
    magnitude = 1
    while True:
        steps = (1, 2, 2.5, 5) if magnitude >= 10 else (1, 2, 5)
        for step in steps:
            top = int(step * magnitude) * GRID_LINES
            if top >= value:
                return top
        magnitude *= 10


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def daily_chart(days: Sequence[Day], title: str = "Clicks and conversions per day") -> str:
    """The chart as an ``<svg>`` element (a string, escaped, ready for a template)."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = max(len(days), 1)
    slot = plot_w / n
    bar_w = max(slot * 0.7, 0.5)
    clicks_top = nice_ceiling(max((d.clicks for d in days), default=0))
    conversions_top = nice_ceiling(max((d.conversions for d in days), default=0))
    total_clicks = sum(d.clicks for d in days)
    total_conversions = sum(d.conversions for d in days)
    label = (
        f"{title}: {total_clicks:,} clicks and {total_conversions:,} conversions "
        f"over {len(days)} days"
    )
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{escape(label)}" font-family="system-ui, sans-serif" '
        f'font-size="11">',
        f"<title>{escape(label)}</title>",
    ]
    for i in range(GRID_LINES + 1):
        y = TOP + plot_h - plot_h * i / GRID_LINES
        out.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{_fmt(y)}" y2="{_fmt(y)}" '
            f'stroke="{GRID_COLOUR}"/>'
        )
        out.append(
            f'<text x="{LEFT - 6}" y="{_fmt(y + 4)}" text-anchor="end" fill="{CLICKS_COLOUR}">'
            f"{clicks_top * i // GRID_LINES:,}</text>"
        )
        out.append(
            f'<text x="{WIDTH - RIGHT + 6}" y="{_fmt(y + 4)}" fill="{CONVERSIONS_COLOUR}">'
            f"{conversions_top * i // GRID_LINES:,}</text>"
        )
    every = max(1, -(-len(days) // 10))  # at most about ten day labels
    points = []
    for i, d in enumerate(days):
        x = LEFT + slot * i + (slot - bar_w) / 2
        h = plot_h * d.clicks / clicks_top
        tip = f"{d.day.isoformat()}: {d.clicks:,} clicks, {d.conversions:,} conversions"
        out.append(
            f'<rect class="bar" x="{_fmt(x)}" y="{_fmt(TOP + plot_h - h)}" '
            f'width="{_fmt(bar_w)}" height="{_fmt(h)}" fill="{CLICKS_COLOUR}" '
            f'data-day="{d.day.isoformat()}" data-clicks="{d.clicks}" '
            f'data-conversions="{d.conversions}"><title>{tip}</title></rect>'
        )
        cx = LEFT + slot * i + slot / 2
        cy = TOP + plot_h - plot_h * d.conversions / conversions_top
        points.append(f"{_fmt(cx)},{_fmt(cy)}")
        if i % every == 0:
            out.append(
                f'<text x="{_fmt(cx)}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
                f'fill="{TEXT_COLOUR}">{d.day:%b} {d.day.day}</text>'
            )
    if points:
        out.append(
            f'<polyline points="{" ".join(points)}" fill="none" '
            f'stroke="{CONVERSIONS_COLOUR}" stroke-width="2"/>'
        )
        if len(points) <= 92:
            for p in points:
                at_x, at_y = p.split(",")
                out.append(f'<circle cx="{at_x}" cy="{at_y}" r="2.5" fill="{CONVERSIONS_COLOUR}"/>')
    legend_y = HEIGHT - 8
    out += [
        f'<rect x="{LEFT}" y="{legend_y - 9}" width="10" height="10" fill="{CLICKS_COLOUR}"/>',
        f'<text x="{LEFT + 14}" y="{legend_y}" fill="{TEXT_COLOUR}">clicks (left)</text>',
        f'<line x1="{LEFT + 110}" x2="{LEFT + 124}" y1="{legend_y - 4}" y2="{legend_y - 4}" '
        f'stroke="{CONVERSIONS_COLOUR}" stroke-width="2"/>',
        f'<text x="{LEFT + 128}" y="{legend_y}" fill="{TEXT_COLOUR}">conversions (right)</text>',
        "</svg>",
    ]
    return "".join(out)
