"""Objectives' progress on the 10,000,000-click campaign, in process.

    python bench/objectives.py [--database afftrack_bench_reports] [--today 2026-10-21]
        [--runs 13] [--dsn postgresql+psycopg://postgres@127.0.0.1:5432]

Reads the database ``bench/reports.py --keep`` left (10,000,000 clicks, 200,000 orders,
1,000 partners, 2,000 posts) and changes nothing in it: the objectives are made in
memory, never stored, so the database may be at a migration before the objectives table.
Eight objectives over 1 October to 30 November: clicks, revenue, ROI, cost per
acquisition, conversion rate, reach and engagement rate for the campaign, and conversions
for each of the 1,000 partners. ``campaign_objectives`` (what the objectives report and
the dashboard's cards call) runs ``--runs`` times for ``--today``; the first three are a
warm-up, the rest timed (median, max), with each SQL statement's time of the last run.

Check: the clicks, revenue and conversions the objectives count equal the campaign
report's totals over the same days (the figures are not to be quoted if it fails).
Exit status: 0 when the check passed, 2 when it failed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, select
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import service.models  # noqa: F401 - every table, for the mappers
from service.campaigns.models import Campaign
from service.objectives.models import Objective
from service.objectives.progress import campaign_objectives
from service.reports.service import campaign_report

OBJECTIVES = (
    ("clicks", 5_000_000, "campaign"),
    ("revenue", 100_000_000, "campaign"),
    ("roi", 50_000, "campaign"),
    ("cost_per_acquisition", 2_000, "campaign"),
    ("conversion_rate", 100, "campaign"),
    ("reach", 1_000_000, "campaign"),
    ("engagement_rate", 300, "campaign"),
    ("conversions", 200, "influencer"),  # each partner
)


def main() -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("--database", default="afftrack_bench_reports")
    p.add_argument("--dsn", default="postgresql+psycopg://postgres@127.0.0.1:5432")
    p.add_argument("--today", type=date.fromisoformat, default=date(2026, 10, 21))
    p.add_argument("--runs", type=int, default=13)
    args = p.parse_args()
    engine = create_engine(f"{args.dsn}/{args.database}")
    timed: list[tuple[float, str]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn: Any, *_: Any) -> None:
        conn.info["t0"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        table = statement.split("FROM", 1)[-1].split()[0]
        timed.append(((time.perf_counter() - conn.info["t0"]) * 1000, table))

    with Session(engine) as session:
        campaign = session.scalars(select(Campaign).order_by(Campaign.id)).first()
        assert campaign is not None, "no campaign: run bench/reports.py --keep first"
        objectives = [
            Objective(
                id=f"obj_bench_{i}",
                campaign_id=campaign.id,
                kpi=kpi,
                target=target,
                starts_on=date(2026, 10, 1),
                deadline=date(2026, 11, 30),
                scope=scope,
                influencer_id=None,
            )
            for i, (kpi, target, scope) in enumerate(OBJECTIVES)
        ]
        times = []
        shown: list[dict[str, Any]] = []
        for _ in range(args.runs):
            timed.clear()
            started = time.perf_counter()
            shown = campaign_objectives(session, campaign, objectives, args.today)
            times.append((time.perf_counter() - started) * 1000)
        statements = list(timed)
        report = campaign_report(session, campaign.id, date(2026, 10, 1), args.today, "day")

    rest = times[3:]
    print(f"objectives {len(objectives)}, today {args.today}, runs {len(rest)}")
    print(f"median {statistics.median(rest):.1f} ms, max {max(rest):.1f} ms")
    for ms, table in statements:
        print(f"  {ms:7.1f} ms  {table}")
    for o in shown:
        print(
            f"  {o['kpi']:<22} actual {o['actual']!s:>14} pace {o['pace']!s:>12} "
            f"forecast {o['forecast']!s:>14} {o['status']}"
        )
    by_kpi = {o["kpi"]: o for o in shown}
    totals = report["totals"]
    each = by_kpi["conversions"]["partners"]
    ok = (
        by_kpi["clicks"]["actual"] == totals["clicks"]
        and by_kpi["revenue"]["actual"] == totals["money"][campaign.currency]["revenue"]
        and sum(row["actual"] for row in each) == totals["conversions"]
    )
    print("check:", "passed" if ok else "FAILED")
    return 0 if ok else 2


if __name__ == "__main__":
    sys.exit(main())
