"""Campaign report: 10,000,000 clicks and 200,000 conversions, over HTTP.

    python bench/reports.py [--clicks 10000000] [--conversions 200000]
        [--influencers 1000] [--month 2026-10] [--requests 30] [--workers 2]
        [--keep] [--reuse] [--explain]
        [--dsn postgresql://postgres@127.0.0.1:5432/postgres]

Drops and recreates ``afftrack_bench_reports`` (``--database``), migrates it to head and
seeds it with the seeder of ``bench/commissions.py`` (imported, not copied): one EUR
campaign, one partnership per influencer, a link each (two for every 5th), N orders in
the month spread Zipf-like over the influencers with their sale lines, 5 % refunded or
cancelled with their reversal lines, and M clicks in the month (8 % bots, repeats and
paused-link fallbacks among them), 1 % more orders and clicks in the next month. Clicks
go in by COPY, so the database's own trigger fills ``click_daily`` as it does for the
worker. Each influencer also gets an Instagram account (and a TikTok one for every 5th)
and two deliverables in the month, so ``group_by=influencer`` carries its profiles and
posts. ``--reuse`` measures an existing database of that name instead of seeding.

Then the service runs as it is deployed (gunicorn, ``service/gunicorn_conf.py``,
``--workers`` workers) and one client on a kept-alive connection asks
``GET /api/v1/reports/campaigns/<id>`` for every ``group_by``, over the whole month and
over one week: 3 warm-up requests, then ``--requests`` timed ones each, one after
another. The figure is the wall time from sending the request to having read the whole
body, as the client sees it (median, p95, max).

Then the objectives report (``GET /api/v1/reports/campaigns/<id>/objectives``) for the
eight objectives of ``bench/objectives.py``, stored once for the campaign from the
month's first day to 30 days from now (so they are running: their pace and forecast read
the last days' daily roll-ups), timed the same way against the same 200 ms target.

Then the dashboard's campaign page for the month (``/dashboard/campaigns/<id>``, logged in
through the form: three reports, by influencer, day and link, and the page around them),
timed the same way; it has no target.

Checks (the figures are not to be quoted if one fails): the objectives' clicks and
conversion rate equal SQL over the raw clicks and orders since their first day; every
answer is 200; for each range, the totals are the same whatever the grouping, and equal
SQL over the raw tables (``clicks``, ``conversions``, ``commission_lines``), so the
roll-up is right at this size (conversions per attribution method too, and the
conversion rate: click-attributed orders over unique clicks); the rows' sums equal the
totals; grouped by influencer or link, every partner or link of the campaign has its
row.

``--explain`` prints EXPLAIN (ANALYZE, BUFFERS) of the report's statements for the month
by influencer (the statements are captured in-process with the service's own code).
The database is dropped at the end unless ``--keep``.

Exit status: 0 when every check passed (the target is reported, not enforced), 2 when a
check failed, 1 when the benchmark could not run.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from _harness import (
    BenchError,
    Server,
    base_env,
    cpu_model,
    drop_pg_database,
    free_port,
    note,
    percentile,
    recreate_pg_database,
    shout,
    start_server,
    table,
    wait_port,
)
from commissions import code_version, pg_settings, sa_url, seed
from commissions import parse_args as seed_args
from objectives import OBJECTIVES

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from service.keys.service import hash_token  # noqa: E402
from service.migrate import upgrade  # noqa: E402
from service.periods import period_bounds  # noqa: E402

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_DB = "afftrack_bench_reports"
GROUPS = ("influencer", "link", "platform", "day")
TARGET_MS = 200.0
WARMUP = 3


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("--clicks", type=int, default=10_000_000)
    p.add_argument("--conversions", type=int, default=200_000)
    p.add_argument("--influencers", type=int, default=1_000)
    p.add_argument("--month", default="2026-10")
    p.add_argument("--requests", type=int, default=30, help="timed requests per report")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--dsn", default=DEFAULT_DSN, help="an admin connection (any database)")
    p.add_argument("--database", default=DEFAULT_DB)
    p.add_argument("--keep", action="store_true", help="keep the database at the end")
    p.add_argument("--reuse", action="store_true", help="measure an existing database")
    p.add_argument("--explain", action="store_true")
    args = p.parse_args()
    if not args.database.startswith("afftrack_bench_"):
        p.error("--database must start with afftrack_bench_ (it is dropped)")
    return args


# --- seeding -------------------------------------------------------------------------------


def seed_all(pg_url: str, args: argparse.Namespace) -> None:
    started = time.perf_counter()
    seed(
        pg_url,
        seed_args(
            [
                f"--conversions={args.conversions}",
                f"--influencers={args.influencers}",
                f"--clicks={args.clicks}",
                f"--month={args.month}",
                f"--seed={args.seed}",
            ]
        ),
    )
    start, _end = period_bounds(args.month, "UTC")
    note("platform accounts and deliverables")
    with psycopg.connect(pg_url) as conn:
        # An Instagram account each, a TikTok one for every 5th; two posts each in the
        # month, with metrics that differ per influencer.
        conn.execute(
            """
            INSERT INTO platform_accounts (influencer_id, platform, handle, followers)
            SELECT i.id, p.platform, i.handle, 2000 + (n * 7919) % 900000
            FROM (SELECT id, handle, row_number() OVER (ORDER BY id) AS n FROM influencers) i
            CROSS JOIN (VALUES ('instagram'), ('tiktok')) AS p(platform)
            WHERE p.platform = 'instagram' OR i.n % 5 = 0
            """
        )
        conn.execute(
            """
            INSERT INTO deliverables (id, partnership_id, campaign_id, influencer_id,
                platform, url, posted_at, metrics, status, created_at)
            SELECT 'dlv_' || md5(p.id || k::text), p.id, p.campaign_id, p.influencer_id,
                'instagram', 'https://instagram.example/p/' || md5(p.id || k::text),
                %(start)s::timestamptz
                    + make_interval(days => ((k * 11 + n) %% 28)::int, hours => (n %% 24)::int),
                jsonb_build_object('impressions', 1000 + n * 37 %% 50000,
                    'reach', 800 + n * 31 %% 40000, 'likes', 50 + n * 13 %% 5000,
                    'comments', n * 7 %% 400, 'views', 0, 'shares', n %% 90, 'saves', n %% 40),
                'approved', %(start)s
            FROM (SELECT *, row_number() OVER (ORDER BY id) AS n FROM partnerships) p
            CROSS JOIN generate_series(1, 2) AS k
            """,
            {"start": start},
        )
        conn.commit()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
        conn.execute("CHECKPOINT")
    note(f"seeded in {time.perf_counter() - started:.0f} s")


def facts(pg_url: str) -> dict[str, int]:
    with psycopg.connect(pg_url) as conn:
        return {
            name: conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
            for name in (
                "clicks",
                "click_daily",
                "click_monthly",
                "conversion_daily",
                "conversion_monthly",
                "commission_daily",
                "commission_monthly",
                "conversions",
                "commission_lines",
                "links",
                "influencers",
                "deliverables",
            )
        }


# --- what SQL over the raw tables says -------------------------------------------------------


def raw_totals(pg_url: str, campaign_id: str, start: date, end: date) -> dict[str, Any]:
    lo = datetime(start.year, start.month, start.day, tzinfo=UTC)
    hi = datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1)
    with psycopg.connect(pg_url) as conn:
        clicks, unique, bots = conn.execute(
            "SELECT count(*) FILTER (WHERE NOT c.is_bot), "
            "count(*) FILTER (WHERE NOT c.is_bot AND c.is_unique), "
            "count(*) FILTER (WHERE c.is_bot) "
            "FROM clicks c JOIN links l ON l.id = c.link_id "
            "WHERE l.campaign_id = %s AND c.occurred_at >= %s AND c.occurred_at < %s",
            (campaign_id, lo, hi),
        ).fetchone()
        conversions, revenue, by_click, by_code, by_utm = conn.execute(
            "SELECT count(*), coalesce(sum(amount_minor - refunded_minor), 0), "
            "count(*) FILTER (WHERE method = 'click'), "
            "count(*) FILTER (WHERE method = 'promo_code'), "
            "count(*) FILTER (WHERE method = 'utm') FROM conversions "
            "WHERE campaign_id = %s AND status <> 'cancelled' "
            "AND occurred_at >= %s AND occurred_at < %s",
            (campaign_id, lo, hi),
        ).fetchone()
        (commission,) = conn.execute(
            "SELECT coalesce(sum(amount_minor), 0) FROM commission_lines "
            "WHERE campaign_id = %s AND status <> 'rejected' "
            "AND occurred_at >= %s AND occurred_at < %s",
            (campaign_id, lo, hi),
        ).fetchone()
    return {
        "clicks": clicks,
        "unique_clicks": unique,
        "bot_clicks": bots,
        "conversions": conversions,
        "conversions_by_method": {"click": by_click, "promo_code": by_code, "utm": by_utm},
        # The orders the clicks brought over the unique clicks, 4 places half-even.
        "conversion_rate": (
            str((Decimal(by_click) / Decimal(unique)).quantize(Decimal("0.0001"), ROUND_HALF_EVEN))
            if unique
            else None
        ),
        "revenue": f"{revenue / 100:.2f}",
        "commission": f"{commission / 100:.2f}",
    }


def partners_and_links(pg_url: str, campaign_id: str) -> dict[str, set[str]]:
    """Every partner and every link of the campaign: the rows the report must have."""
    with psycopg.connect(pg_url) as conn:
        return {
            group_by: {
                key
                for (key,) in conn.execute(
                    f"SELECT {column} FROM {table} WHERE campaign_id = %s", (campaign_id,)
                )
            }
            for group_by, column, table in (
                ("influencer", "influencer_id", "partnerships"),
                ("link", "id", "links"),
            )
        }


def seen_totals(body: dict[str, Any]) -> dict[str, Any]:
    t = body["totals"]
    eur = t["money"].get("EUR", {})
    return {
        "clicks": t["clicks"],
        "unique_clicks": t["unique_clicks"],
        "bot_clicks": t["bot_clicks"],
        "conversions": t["conversions"],
        "conversions_by_method": t["conversions_by_method"],
        "conversion_rate": t["conversion_rate"],
        "revenue": eur.get("revenue", "0.00"),
        "commission": eur.get("commission", "0.00"),
    }


def rows_sum(body: dict[str, Any]) -> dict[str, Any]:
    sums: dict[str, Any] = {"clicks": 0, "unique_clicks": 0, "bot_clicks": 0, "conversions": 0}
    by_method: dict[str, int] = {}
    revenue = commission = 0
    for row in body["rows"]:
        for key in sums:
            sums[key] += row[key]
        for method, n in row["conversions_by_method"].items():
            by_method[method] = by_method.get(method, 0) + n
        eur = row["money"].get("EUR")
        if eur:
            revenue += round(float(eur["revenue"]) * 100)
            commission += round(float(eur["commission"]) * 100)
    return {
        **sums,
        "conversions_by_method": by_method,
        # A rate does not sum: the totals' own, from the summed counts it is made of.
        "conversion_rate": body["totals"]["conversion_rate"],
        "revenue": f"{revenue / 100:.2f}",
        "commission": f"{commission / 100:.2f}",
    }


# --- measuring -------------------------------------------------------------------------------


@dataclass
class Timing:
    label: str
    group_by: str
    ms: list[float] = field(default_factory=list)
    rows: int = 0
    body_bytes: int = 0
    body: dict[str, Any] = field(default_factory=dict)


def get(conn: http.client.HTTPConnection, path: str, token: str) -> tuple[int, bytes, float]:
    started = time.perf_counter()
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    resp = conn.getresponse()
    body = resp.read()
    return resp.status, body, (time.perf_counter() - started) * 1000


def measure(
    port: int, token: str, campaign_id: str, label: str, start: date, end: date, n: int
) -> list[Timing]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    out = []
    try:
        for group_by in GROUPS:
            path = (
                f"/api/v1/reports/campaigns/{campaign_id}"
                f"?from={start.isoformat()}&to={end.isoformat()}&group_by={group_by}"
            )
            timing = Timing(label, group_by)
            for i in range(WARMUP + n):
                status, body, ms = get(conn, path, token)
                if status != 200:
                    raise BenchError(f"GET {path} answered {status}: {body[:300]!r}")
                if i >= WARMUP:
                    timing.ms.append(ms)
            timing.body = json.loads(body)
            timing.rows = len(timing.body["rows"])
            timing.body_bytes = len(body)
            out.append(timing)
    finally:
        conn.close()
    return out


def store_objectives(pg_url: str, campaign_id: str, first: date, deadline: date) -> None:
    """The eight objectives ``bench/objectives.py`` times in process, stored for the
    campaign from ``first`` to ``deadline`` (once: a reused database keeps its own)."""
    with psycopg.connect(pg_url) as conn:
        (held,) = conn.execute(
            "SELECT count(*) FROM objectives WHERE campaign_id = %s", (campaign_id,)
        ).fetchone()
        if held:
            return
        for i, (kpi, target, scope) in enumerate(OBJECTIVES):
            conn.execute(
                "INSERT INTO objectives (id, campaign_id, kpi, target, starts_on, deadline, "
                "scope, influencer_id, created_at, updated_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, NULL, now(), now())",
                (f"obj_bench_{i}", campaign_id, kpi, target, first, deadline, scope),
            )
        conn.commit()


def measure_objectives(port: int, token: str, campaign_id: str, n: int) -> Timing:
    """``GET /api/v1/reports/campaigns/<id>/objectives``: every objective's progress today."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    path = f"/api/v1/reports/campaigns/{campaign_id}/objectives"
    timing = Timing("objectives", "(today)")
    try:
        for i in range(WARMUP + n):
            status, body, ms = get(conn, path, token)
            if status != 200:
                raise BenchError(f"GET {path} answered {status}: {body[:300]!r}")
            if i >= WARMUP:
                timing.ms.append(ms)
    finally:
        conn.close()
    timing.body = json.loads(body)
    timing.rows = len(timing.body["objectives"])
    timing.body_bytes = len(body)
    return timing


def dashboard(port: int, token: str, campaign_id: str, start: date, end: date, n: int) -> Timing:
    """The dashboard's campaign page (three reports: by influencer, day and link, and the
    page around them), logged in through the form like a browser."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", "/dashboard/login")
        resp = conn.getresponse()
        page = resp.read().decode()
        cookie = (resp.getheader("Set-Cookie") or "").split(";")[0]
        csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        form = f"csrf={quote(csrf)}&api_key={quote(token)}&next=/dashboard/"
        conn.request(
            "POST",
            "/dashboard/login",
            body=form,
            headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
        )
        resp = conn.getresponse()
        resp.read()
        if resp.status != 303:
            raise BenchError(f"dashboard login answered {resp.status}")
        cookie = (resp.getheader("Set-Cookie") or "").split(";")[0]
        path = f"/dashboard/campaigns/{campaign_id}?from={start}&to={end}&kpi=revenue"
        timing = Timing("month", "dashboard page")
        for i in range(WARMUP + n):
            started = time.perf_counter()
            conn.request("GET", path, headers={"Cookie": cookie})
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200:
                raise BenchError(f"GET {path} answered {resp.status}")
            if i >= WARMUP:
                timing.ms.append((time.perf_counter() - started) * 1000)
        timing.body_bytes = len(body)
        timing.rows = body.count(b"<tr data-influencer-id=")
        return timing
    finally:
        conn.close()


def explain(pg_url: str, campaign_id: str, start: date, end: date) -> None:
    """EXPLAIN ANALYZE each statement the report runs (captured from the service's code)."""
    from sqlalchemy import event

    from service.db import Database
    from service.reports.service import campaign_report

    db = Database(sa_url(pg_url))
    seen: list[tuple[str, Any]] = []

    def _capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, params))

    event.listen(db.engine, "before_cursor_execute", _capture)
    with db.session() as session:
        started = time.perf_counter()
        campaign_report(session, campaign_id, start, end, "influencer")
        note(f"in-process report by influencer: {(time.perf_counter() - started) * 1000:.0f} ms")
    event.remove(db.engine, "before_cursor_execute", _capture)
    with db.engine.connect() as conn:
        raw = conn.connection.driver_connection
        for statement, params in seen:
            print("\n" + " ".join(statement.split())[:400])
            cur = raw.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
            print("\n".join(row[0] for row in cur.fetchall()))
    db.dispose()


# --- main ------------------------------------------------------------------------------------


def main() -> int:
    args = parse_args()
    print(
        f"reports bench: {args.clicks:,} clicks, {args.conversions:,} orders, "
        f"{args.influencers:,} influencers in {args.month}; {os.cpu_count()} CPUs "
        f"({cpu_model()}); {datetime.now(UTC).isoformat(timespec='seconds')}; "
        f"{code_version()}",
        flush=True,
    )
    with psycopg.connect(args.dsn, autocommit=True) as conn:
        print("PostgreSQL: " + ", ".join(f"{k}={v}" for k, v in pg_settings(conn)), flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="afftrack-bench-reports-"))
    server: Server | None = None
    pg_url = ""
    code = 1
    try:
        if args.reuse:
            pg_url = args.dsn.rsplit("/", 1)[0] + "/" + args.database
            upgrade(sa_url(pg_url))
        else:
            note(f"recreating database {args.database} and migrating it to head")
            pg_url = recreate_pg_database(args.dsn, args.database)
            upgrade(sa_url(pg_url))
            seed_all(pg_url, args)
        sizes = facts(pg_url)
        print("rows: " + ", ".join(f"{k} {v:,}" for k, v in sizes.items()), flush=True)
        token = "aft_" + secrets.token_urlsafe(32)
        with psycopg.connect(pg_url) as conn:
            (campaign_id,) = conn.execute(
                "SELECT campaign_id FROM conversions GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
            ).fetchone()
            conn.execute(
                "INSERT INTO api_keys (id, name, scope, prefix, key_hash, created_at) "
                "VALUES (%s, 'bench', 'read', %s, %s, now())",
                ("key_bench" + secrets.token_hex(8), token[:10], hash_token(token)),
            )
            conn.commit()
        env = base_env()
        env.update(
            DATABASE_URL=sa_url(pg_url),
            AFFTRACK_HASHIDS_SALT=secrets.token_hex(16),
            AFFTRACK_IP_HASH_KEY=secrets.token_hex(16),
            AFFTRACK_LOG_LEVEL="WARNING",
        )
        port = free_port()
        argv = [
            sys.executable, "-m", "gunicorn", "-c", str(REPO / "service" / "gunicorn_conf.py"),
            "--bind", f"127.0.0.1:{port}", "-w", str(args.workers), "service.wsgi:app",
        ]  # fmt: skip
        server = start_server("afftrack", argv, env=env, cwd=REPO, log_path=tmp / "gunicorn.log")
        wait_port(server, port)

        start, end = period_bounds(args.month, "UTC")
        month = (start.date(), (end - timedelta(days=1)).date())
        week = (start.date() + timedelta(days=9), start.date() + timedelta(days=15))
        # Whole months: the month before, the month, the month after (monthly roll-ups).
        quarter = (
            (start - timedelta(days=1)).date().replace(day=1),
            (end + timedelta(days=32)).date().replace(day=1) - timedelta(days=1),
        )
        # Six weeks over a month's end: daily days on both sides, no whole month.
        weeks6 = (start.date() + timedelta(days=9), start.date() + timedelta(days=50))
        timings: list[Timing] = []
        checks: list[tuple[str, bool, str]] = []
        for label, (lo, hi) in (
            ("month", month),
            ("week", week),
            ("quarter", quarter),
            ("6 weeks", weeks6),
        ):
            note(f"measuring the {label} {lo}..{hi}")
            got = measure(port, token, campaign_id, label, lo, hi, args.requests)
            timings += got
            want = raw_totals(pg_url, campaign_id, lo, hi)
            every = partners_and_links(pg_url, campaign_id)
            for t in got:
                if t.group_by in every:
                    keys = {row["key"] for row in t.body["rows"]}
                    missing = every[t.group_by] - keys
                    checks.append(
                        (f"{label} by {t.group_by}: a row for every one of the campaign's",
                         not missing, f"{len(missing)} missing" if missing else "")
                    )  # fmt: skip
                seen = seen_totals(t.body)
                checks.append(
                    (f"{label} by {t.group_by}: totals = SQL over raw tables", seen == want,
                     "" if seen == want else f"{seen} != {want}")
                )  # fmt: skip
                summed = rows_sum(t.body)
                checks.append(
                    (f"{label} by {t.group_by}: rows sum to the totals", summed == seen,
                     "" if summed == seen else f"{summed} != {seen}")
                )  # fmt: skip
        # Objectives running today: from the month's first day to 30 days from now, so
        # their pace and forecast read the daily roll-ups of the last days.
        today = datetime.now(UTC).date()
        store_objectives(pg_url, campaign_id, start.date(), today + timedelta(days=30))
        note("measuring the objectives report")
        progress = measure_objectives(port, token, campaign_id, args.requests)
        timings.append(progress)
        with psycopg.connect(pg_url) as conn:
            (first,) = conn.execute(
                "SELECT min(starts_on) FROM objectives WHERE campaign_id = %s", (campaign_id,)
            ).fetchone()
        counted = {o["kpi"]: o["actual"] for o in progress.body["objectives"]}
        want = raw_totals(pg_url, campaign_id, first, today)
        checks.append(
            ("objectives: clicks and conversion rate = SQL over raw tables",
             (counted.get("clicks"), counted.get("conversion_rate"))
             == (want["clicks"], want["conversion_rate"]),
             f"{counted} vs {want}")
        )  # fmt: skip
        note("measuring the dashboard's campaign page over the month")
        page = dashboard(port, token, campaign_id, *month, args.requests)
        print()
        print(
            table(
                ["range", "group_by", "rows", "body", "median ms", "p95 ms", "max ms", "target"],
                [
                    [
                        t.label,
                        t.group_by,
                        f"{t.rows:,}",
                        f"{t.body_bytes / 1024:,.0f} KiB",
                        f"{statistics.median(t.ms):.1f}",
                        f"{percentile(sorted(t.ms), 95):.1f}",
                        f"{max(t.ms):.1f}",
                        "ok" if percentile(sorted(t.ms), 95) < TARGET_MS else "MISSED",
                    ]
                    for t in timings
                ]
                + [
                    [
                        page.label,
                        page.group_by,
                        f"{page.rows:,}",
                        f"{page.body_bytes / 1024:,.0f} KiB",
                        f"{statistics.median(page.ms):.1f}",
                        f"{percentile(sorted(page.ms), 95):.1f}",
                        f"{max(page.ms):.1f}",
                        "(none)",
                    ]
                ],
            )
        )
        print(f"\n{args.requests} timed requests each, after {WARMUP} warm-up; target p95 "
              f"< {TARGET_MS:.0f} ms")  # fmt: skip
        for name, ok, detail in checks:
            print(f"check {'ok  ' if ok else 'FAIL'} {name} {detail}")
        if args.explain:
            explain(pg_url, campaign_id, *month)
        code = 0 if all(ok for _, ok, _ in checks) else 2
        if code:
            shout("a check failed: the figures above are not to be quoted")
    except BenchError as exc:
        shout(str(exc))
    except KeyboardInterrupt:
        code = 130
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        if pg_url and not args.keep and not args.reuse:
            with contextlib.suppress(psycopg.Error):
                drop_pg_database(args.dsn, args.database)
        elif pg_url:
            note(f"kept database {args.database}")
    return code


if __name__ == "__main__":
    sys.exit(main())
