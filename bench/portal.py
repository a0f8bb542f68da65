"""The influencer portal's pages for one big influencer: 1,000,000 clicks, 10,000 orders.

    python bench/portal.py [--reuse] [--clicks 1000000] [--orders 10000] [--others 200]
        [--days 91] [--requests 10] [--workers 2] [--explain]
        [--dsn postgresql://postgres@127.0.0.1:5432/postgres] [--database NAME]

Drops and recreates ``afftrack_bench_portal`` (``--database``), migrates it to head and
seeds it with COPY, reusing the row makers of ``bench/commissions.py`` (imported, not
copied), so the database's own triggers fill the roll-ups (``click_daily``,
``conversion_daily``, ``commission_daily`` and the monthly ones) as they do for the worker:
three EUR campaigns; one big influencer (``@bigcreator``) partner of all three with two
links and a promo code in each, ``--clicks`` clicks over the last ``--days`` UTC days
(8 % bots, repeats and paused-link fallbacks among them, 1 in 20 by QR code) and
``--orders`` orders with their tiered sale lines, 5 % refunded or cancelled with their
reversal lines, and 42 posts; ``--others`` influencers with a link, a few hundred clicks,
a few dozen orders and two posts each, so that every query that picks the big
influencer's rows out has others to leave out. Then the first month with data is closed
through the service (``afftrack export commissions --month M --close``), so its
statement and export exist. The database is kept; ``--reuse`` measures it again without
seeding (a run's portal sessions and sign-in links stay in it, a few rows).

Then the service runs as deployed (gunicorn, ``service/gunicorn_conf.py``, ``--workers``
workers). A sign-in link is made as an operator makes one (``afftrack portal invite
--handle bigcreator``) and one client signs in the way a browser does (GET the link's
page, POST its form) and walks the portal from ``/portal/``: every same-site link to a
page (not signing out, a QR code, a download or a static file), breadth first, one page
of each shape (ids and months replaced), plus the results page over every seeded day.
Each page is asked for 2 warm-up times, then ``--requests`` timed times, one after
another on a kept-alive connection; the closed month's statement CSV is timed the same
way apart.

Two figures per page: the server's own time (the ``Server-Timing: app;dur=`` header the
portal sends: from the request reaching the portal's blueprint to the response being
built) and the wall time the client saw (request sent → body read). The target is the
server time: every page under 300 ms at p95 (reported, not enforced).

Checks (the figures are not to be quoted if one fails): every page and the CSV answer
200; the walk reached the pages of the navigation (``EXPECTED``); the total of clicks on
the results page equals SQL over the raw clicks of the big influencer's links, for the
default 30 days and for every seeded day.

``--explain`` prints EXPLAIN (ANALYZE, BUFFERS) of every SELECT the slowest page runs
(captured in-process with the service's own code).

Exit status: 0 when every check passed, 2 when a check failed, 1 when it could not run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import psycopg
from _harness import (
    WARMUP,
    BenchError,
    Browser,
    Server,
    base_env,
    cpu_model,
    form_field,
    free_port,
    loadavg,
    measure,
    note,
    percentile,
    recreate_pg_database,
    shape,
    shout,
    start_server,
    table,
    wait_port,
    walk,
)
from commissions import (
    CAMPAIGN_TERMS,
    CONVERSION_COLUMNS,
    EVENT_COLUMNS,
    LINE_COLUMNS,
    Copier,
    Partner,
    _clicks,
    _orders,
    code_version,
    id_maker,
    pg_settings,
    sa_url,
)

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from service.clicks.partitions import COLUMNS as CLICK_COLUMNS  # noqa: E402
from service.clicks.partitions import ensure_partitions  # noqa: E402
from service.db import Database, new_id  # noqa: E402
from service.migrate import upgrade  # noqa: E402

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_DB = "afftrack_bench_portal"
BIG = "bigcreator"
CAMPAIGNS = 3
HOLD_DAYS = 7
TARGET_MS = 300.0
RESULT_DAYS = 30  # the results page's default range (service/portal_site/pages.py)
# Not pages: signing out, QR codes, downloads, the stylesheet and script.
_SKIP = re.compile(r"/static/|/sign-out|/sign-in/|[?&]download=|\.(csv|json|png|svg|txt)(\?|$)")
# The pages of the navigation: the walk must reach each.
EXPECTED = (
    "/portal/",
    "/portal/links",
    "/portal/codes",
    "/portal/campaigns",
    "/portal/campaigns/<id>",
    "/portal/results",
    "/portal/commissions",
    "/portal/statements",
    "/portal/statements/<month>",
    "/portal/posts",
)
_CLICKS_TABLE = re.compile(r'<table id="clicks">(.*?)</table>', re.S)
_HEADED_ROW = re.compile(r'<tr><th>[^<]*</th><th class="num">([^<]*)</th>')


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("--clicks", type=int, default=1_000_000, help="the big influencer's clicks")
    p.add_argument("--orders", type=int, default=10_000, help="the big influencer's orders")
    p.add_argument("--others", type=int, default=200, help="other influencers (small data)")
    p.add_argument("--days", type=int, default=91, help="UTC days of data, up to yesterday")
    p.add_argument("--requests", type=int, default=10, help="timed requests per page")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--dsn", default=DEFAULT_DSN, help="an admin connection (any database)")
    p.add_argument("--database", default=DEFAULT_DB)
    p.add_argument("--reuse", action="store_true", help="measure the kept database again")
    p.add_argument("--explain", action="store_true")
    args = p.parse_args()
    if not args.database.startswith("afftrack_bench_"):
        p.error("--database must start with afftrack_bench_ (it is dropped)")
    return args


# --- seeding -------------------------------------------------------------------------------


def month_spans(first: datetime, last: datetime) -> list[tuple[datetime, datetime]]:
    """``[first, last)`` cut at the UTC months' starts."""
    spans = []
    lo = first
    while lo < last:
        nxt = datetime(lo.year + lo.month // 12, lo.month % 12 + 1, 1, tzinfo=UTC)
        spans.append((lo, min(nxt, last)))
        lo = nxt
    return spans


def split(total: int, parts: list[float]) -> list[int]:
    """``total`` cut in proportion to ``parts`` (the remainder on the last)."""
    whole = sum(parts)
    out = [int(total * x / whole) for x in parts]
    out[-1] += total - sum(out)
    return out


def seed(pg_url: str, args: argparse.Namespace, first: datetime, last: datetime) -> None:
    started = time.perf_counter()
    rng = random.Random(args.seed)
    random.seed(args.seed + 1)  # id_maker
    created = first - timedelta(days=30)
    frozen = last  # refunds happen before the end of the data
    hold = timedelta(days=HOLD_DAYS)
    spans = month_spans(first, last)
    with psycopg.connect(pg_url) as conn, conn.cursor() as cur:
        campaign_ids = [new_id("cmp") for _ in range(CAMPAIGNS)]
        for i, cid in enumerate(campaign_ids):
            cur.execute(
                "INSERT INTO campaigns (id, name, slug, goal, kind, currency, starts_on, "
                "ends_on, budget_minor, monthly_cap_minor, allowed_domains, fallback_url, "
                "attribution_window_days, hold_days, utm_medium, commission_rules, "
                "created_at, updated_at) VALUES (%s, %s, %s, 'conversions', 'affiliate', "
                "'EUR', %s, NULL, NULL, NULL, %s, 'https://shop.example/', 30, %s, "
                "'influencer', %s, %s, %s)",
                (
                    cid,
                    f"Bench portal {i + 1}",
                    f"bench-portal-{i + 1}",
                    created.date(),
                    json.dumps(["shop.example"]),
                    HOLD_DAYS,
                    json.dumps(CAMPAIGN_TERMS.rules_json()),
                    created,
                    created,
                ),
            )
        # The big influencer first, then the others.
        handles = [BIG] + [f"creator{i:04d}" for i in range(args.others)]
        inf_ids = [new_id("inf") for _ in handles]
        with cur.copy(
            "COPY influencers (id, handle, name, email, payout_email, created_at, updated_at) "
            "FROM STDIN"
        ) as cp:
            for inf, handle in zip(inf_ids, handles, strict=True):
                cp.write_row(
                    (inf, handle, handle.title(), f"{handle}@example.com", None, created, created)
                )
        # (partner, campaign, links per partnership): the big one in every campaign.
        partners: list[tuple[Partner, str]] = []
        for c, cid in enumerate(campaign_ids):
            partners.append((Partner(new_id("prt"), inf_ids[0], CAMPAIGN_TERMS, [], 1.0), cid))
            del c
        for i, inf in enumerate(inf_ids[1:]):
            cid = campaign_ids[i % CAMPAIGNS]
            partners.append((Partner(new_id("prt"), inf, CAMPAIGN_TERMS, [], 1.0), cid))
        with cur.copy(
            "COPY partnerships (id, campaign_id, influencer_id, commission_rules, created_at) "
            "FROM STDIN"
        ) as cp:
            for p, cid in partners:
                cp.write_row((p.pid, cid, p.influencer_id, None, created))
        with cur.copy(
            "COPY links (id, code, partnership_id, campaign_id, influencer_id, destination, "
            "platform, status, created_at, updated_at) FROM STDIN"
        ) as cp:
            for n, (p, cid) in enumerate(partners):
                big = p.influencer_id == inf_ids[0]
                for k, platform in enumerate(("instagram", "tiktok") if big else ("instagram",)):
                    lid = new_id("lnk")
                    p.links.append(lid)
                    cp.write_row(
                        (lid, f"p{n:04d}{k}", p.pid, cid, p.influencer_id,
                         f"https://shop.example/p/{n}", platform, "active", created, created)
                    )  # fmt: skip
        with cur.copy(
            "COPY promo_codes (id, code, normalized, partnership_id, campaign_id, "
            "influencer_id, status, created_at) FROM STDIN"
        ) as cp:
            for n, (p, cid) in enumerate(partners):
                code = f"CODE{n:04d}"
                cp.write_row((new_id("pc"), code, code.lower(), p.pid, cid, p.influencer_id,
                              "active", created))  # fmt: skip
        conn.commit()
        db = Database(sa_url(pg_url))
        try:
            with db.engine.begin() as sa_conn:
                ensure_partitions(sa_conn, [lo.date() for lo, _ in spans])
        finally:
            db.dispose()

        copier = Copier(
            conn,
            {
                "conversions": CONVERSION_COLUMNS,
                "conversion_events": EVENT_COLUMNS,
                "commission_lines": LINE_COLUMNS,
                "clicks": CLICK_COLUMNS,
            },
        )
        ids = {k: id_maker(k, created) for k in ("cnv", "evt", "cml")}
        order_no = itertools.count(2_000_000_000)
        widths = [(hi - lo).total_seconds() for lo, hi in spans]
        big_partners = [p for p, _ in partners if p.influencer_id == inf_ids[0]]
        note(f"seeding {args.orders:,} orders and {args.clicks:,} clicks of @{BIG}")
        for p, cid in partners:
            big = p in big_partners
            n_orders = args.orders // CAMPAIGNS if big else rng.randint(10, 60)
            n_clicks = args.clicks // CAMPAIGNS if big else rng.randint(100, 800)
            if big and p is big_partners[-1]:  # the remainders
                n_orders += args.orders % CAMPAIGNS
                n_clicks += args.clicks % CAMPAIGNS
            for (lo, hi), n_o, n_c in zip(
                spans, split(n_orders, widths), split(n_clicks, widths), strict=True
            ):
                if n_o:
                    _orders(copier, ids, order_no, rng, p, cid, lo, hi, n_o, hold, frozen)
                for lid, n in zip(p.links, split(n_c, [2.0, 1.0][: len(p.links)]), strict=True):
                    _clicks(copier, rng, lid, lo, hi, n)
            copier.flush()
        conn.commit()

        note("posts and platform accounts")
        cur.execute(
            """
            INSERT INTO platform_accounts (influencer_id, platform, handle, followers)
            SELECT i.id, p.platform, i.handle, 2000 + (length(i.id) * 7919 + i.n) % 900000
            FROM (SELECT id, handle, row_number() OVER (ORDER BY id) AS n FROM influencers) i
            CROSS JOIN (VALUES ('instagram'), ('tiktok')) AS p(platform)
            """
        )
        cur.execute(
            """
            INSERT INTO deliverables (id, partnership_id, campaign_id, influencer_id,
                platform, url, posted_at, metrics, status, created_at)
            SELECT 'dlv_' || md5(p.id || k::text), p.id, p.campaign_id, p.influencer_id,
                CASE WHEN k %% 3 = 0 THEN 'tiktok' ELSE 'instagram' END,
                'https://instagram.example/p/' || md5(p.id || k::text),
                %(first)s::timestamptz
                    + make_interval(hours => ((k * 53 + n * 7) %% %(hours)s)::int),
                jsonb_build_object('impressions', 1000 + k * 37 %% 50000,
                    'reach', 800 + k * 31 %% 40000, 'likes', 50 + k * 13 %% 5000,
                    'comments', k * 7 %% 400, 'views', 0, 'shares', k %% 90, 'saves', k %% 40),
                CASE WHEN k %% 10 = 0 THEN 'submitted' ELSE 'approved' END, %(first)s
            FROM (SELECT *, row_number() OVER (ORDER BY id) AS n FROM partnerships) p
            CROSS JOIN LATERAL generate_series(1,
                CASE WHEN p.influencer_id = %(big)s THEN 14 ELSE 2 END) AS k
            """,
            {"first": first, "hours": args.days * 24, "big": inf_ids[0]},
        )
        conn.commit()
    note(f"rows written: {dict(copier.counts)}")
    note(f"seeded in {time.perf_counter() - started:.0f} s")


def afftrack(env: dict[str, str], *argv: str, timeout: float = 600) -> str:
    """``afftrack ARGV`` (the CLI an operator runs) on the bench database; its stdout."""
    done = subprocess.run(
        [str(Path(sys.executable).parent / "afftrack"), *argv],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"afftrack {' '.join(argv)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def close_first_month(env: dict[str, str], first: datetime, tmp: Path) -> str:
    month = f"{first.year:04d}-{first.month:02d}"
    note(f"closing {month} through the service")
    afftrack(env, "export", "commissions", "--month", month, "--close", "--detail",
             "--out", str(tmp / "detail.csv"))  # fmt: skip
    return month


def facts(pg_url: str, big_id: str) -> dict[str, int]:
    with psycopg.connect(pg_url) as conn:

        def one(sql: str, *params: Any) -> int:
            return int(conn.execute(sql, params).fetchone()[0])

        return {
            "clicks": one("SELECT count(*) FROM clicks"),
            f"@{BIG} clicks": one(
                "SELECT count(*) FROM clicks c JOIN links l ON l.id = c.link_id "
                "WHERE l.influencer_id = %s", big_id
            ),
            "click_daily": one("SELECT count(*) FROM click_daily"),
            "conversions": one("SELECT count(*) FROM conversions"),
            f"@{BIG} orders": one("SELECT count(*) FROM conversions WHERE influencer_id = %s",
                                  big_id),
            "commission_lines": one("SELECT count(*) FROM commission_lines"),
            f"@{BIG} lines": one(
                "SELECT count(*) FROM commission_lines WHERE influencer_id = %s", big_id
            ),
            "conversion_daily": one("SELECT count(*) FROM conversion_daily"),
            "influencers": one("SELECT count(*) FROM influencers"),
            "links": one("SELECT count(*) FROM links"),
            "deliverables": one("SELECT count(*) FROM deliverables"),
            "closed months": one("SELECT count(*) FROM exports"),
        }  # fmt: skip


def raw_clicks(pg_url: str, big_id: str, start: date, end: date) -> int:
    """People's clicks on the big influencer's links over UTC days [start, end]."""
    lo = datetime(start.year, start.month, start.day, tzinfo=UTC)
    hi = datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1)
    with psycopg.connect(pg_url) as conn:
        return int(
            conn.execute(
                "SELECT count(*) FROM clicks c JOIN links l ON l.id = c.link_id "
                "WHERE l.influencer_id = %s AND NOT c.is_bot "
                "AND c.occurred_at >= %s AND c.occurred_at < %s",
                (big_id, lo, hi),
            ).fetchone()[0]
        )


# --- the client -----------------------------------------------------------------------------


def sign_in(browser: Browser, link_path: str) -> None:
    """Sign in through a sign-in link: GET its page, POST its form, as a browser does."""
    status, page, _, _ = browser.request("GET", link_path)
    if status != 200:
        raise BenchError(f"the sign-in link's page answered {status}")
    csrf = form_field(page, "csrf")
    status, _, headers, _ = browser.request("POST", link_path, f"csrf={quote(csrf)}")
    if status != 303 or "afftrack_portal" not in browser.cookies:
        raise BenchError(f"signing in answered {status} ({headers.get('location')})")


def clicks_total(body: bytes) -> int | None:
    """The clicks of the results page's total row (its clicks table's last headed row)."""
    found = _CLICKS_TABLE.search(body.decode())
    rows = _HEADED_ROW.findall(found.group(1)) if found else []
    if not rows:
        return None
    digits = re.sub(r"\D", "", unescape(rows[-1]))
    return int(digits) if digits else None


# --- EXPLAIN ---------------------------------------------------------------------------------


def explain(pg_url: str, big_id: str, path: str, env: dict[str, str]) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) each SELECT the page ``path`` runs, captured in process
    with the service's own app (signed in with a portal session made for the purpose)."""
    import os

    from sqlalchemy import event

    from service.app import create_app
    from service.portal import access

    os.environ.update(env)
    app = create_app()
    db = app.extensions["afftrack"].db
    with db.session() as s:
        cookie, _row = access.open_session(s, big_id, None, hours=1)
    seen: list[tuple[str, Any]] = []

    def capture(_c: Any, _cur: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append((statement, params))

    client = app.test_client()
    client.set_cookie("afftrack_portal", cookie, path="/portal")
    event.listen(db.engine, "before_cursor_execute", capture)
    started = time.perf_counter()
    status = client.get(path).status_code
    ms = (time.perf_counter() - started) * 1000
    event.remove(db.engine, "before_cursor_execute", capture)
    note(f"in process: GET {path} {status} in {ms:.0f} ms, {len(seen)} SELECTs")
    with db.engine.connect() as conn:
        raw = conn.connection.driver_connection
        for statement, params in seen:
            print("\n" + " ".join(statement.split())[:600])
            cur = raw.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
            print("\n".join(row[0] for row in cur.fetchall()))


# --- main ------------------------------------------------------------------------------------


def main() -> int:
    args = parse_args()
    print(
        f"portal pages bench on {args.database}; {cpu_model()}; "
        f"{datetime.now(UTC).isoformat(timespec='seconds')}; load {loadavg()}; "
        f"{code_version()}",
        flush=True,
    )
    with psycopg.connect(args.dsn, autocommit=True) as conn:
        print("PostgreSQL: " + ", ".join(f"{k}={v}" for k, v in pg_settings(conn)), flush=True)
    pg_url = args.dsn.rsplit("/", 1)[0] + "/" + args.database
    tmp = Path(tempfile.mkdtemp(prefix="afftrack-bench-portal-"))
    server: Server | None = None
    browser: Browser | None = None
    env = base_env()
    env.update(
        DATABASE_URL=sa_url(pg_url),
        AFFTRACK_HASHIDS_SALT=secrets.token_hex(16),
        AFFTRACK_IP_HASH_KEY=secrets.token_hex(16),
        AFFTRACK_LOG_LEVEL="WARNING",
    )
    try:
        if args.reuse:
            try:
                upgrade(sa_url(pg_url))
            except Exception as exc:  # any failure: no such database to reuse
                raise BenchError(f"no database {args.database} to reuse ({exc})") from None
        else:
            today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            first = today - timedelta(days=args.days)
            note(f"recreating {args.database}: data from {first.date()} to {today.date()}")
            recreate_pg_database(args.dsn, args.database)
            upgrade(sa_url(pg_url))
            seed(pg_url, args, first, today)
            close_first_month(env, first, tmp)
            note("VACUUM ANALYZE")
            with psycopg.connect(pg_url, autocommit=True) as conn:
                conn.execute("VACUUM (ANALYZE)")
                conn.execute("CHECKPOINT")
        with psycopg.connect(pg_url) as conn:
            (big_id,) = conn.execute(
                "SELECT id FROM influencers WHERE handle = %s", (BIG,)
            ).fetchone()
            first_day, last_day = conn.execute(
                "SELECT min(day), max(day) FROM click_daily d JOIN links l ON l.id = d.link_id "
                "WHERE l.influencer_id = %s",
                (big_id,),
            ).fetchone()
            (closed,) = conn.execute("SELECT min(period) FROM exports").fetchone()
        sizes = facts(pg_url, big_id)
        print("rows: " + ", ".join(f"{k} {v:,}" for k, v in sizes.items()), flush=True)

        link = afftrack(env, "portal", "invite", "--handle", BIG).strip().splitlines()[-1]
        port = free_port()
        argv = [
            sys.executable, "-m", "gunicorn", "-c", str(REPO / "service" / "gunicorn_conf.py"),
            "--bind", f"127.0.0.1:{port}", "-w", str(args.workers), "service.wsgi:app",
        ]  # fmt: skip
        server = start_server("afftrack", argv, env=env, cwd=REPO, log_path=tmp / "gunicorn.log")
        wait_port(server, port)
        browser = Browser(port)
        sign_in(browser, urlsplit(link).path)
        note("walking the portal")
        # One page of each shape; a query string makes another (``/portal/results?…``).
        paths = walk(browser, "/portal/", _SKIP, keep_query=True)
        every_day = f"/portal/results?start={first_day}&end={last_day}"
        todo = [(p, shape(p, keep_query=True)) for p in paths]
        todo.append((every_day, f"/portal/results ({first_day}..{last_day})"))
        note(f"{len(paths)} pages found; timing each {args.requests} times")
        load_before = loadavg()
        pages = [measure(browser, path, args.requests, label) for path, label in todo]
        csv_path = f"/portal/statements/{closed}/statement.csv"
        csv = measure(browser, csv_path, args.requests, "/portal/statements/<month>/statement.csv")
        load_after = loadavg()
    except BenchError as exc:
        shout(str(exc))
        if server is not None:
            print(server.log_tail(), file=sys.stderr)
        return 1
    finally:
        if browser is not None:
            browser.close()
        if server is not None:
            server.stop()

    rows = []
    for p in [*pages, csv]:
        s, w = sorted(p.server_ms), sorted(p.wall_ms)
        rows.append(
            [
                p.label,
                f"{len(p.body) / 1024:,.0f} KiB",
                f"{statistics.median(s):.1f}",
                f"{percentile(s, 95):.1f}",
                f"{statistics.median(w):.1f}",
                f"{percentile(w, 95):.1f}",
                "yes" if percentile(s, 95) < TARGET_MS else "NO",
            ]
        )
    print()
    print(
        table(
            ["page", "body", "server median ms", "p95", "wall median ms", "p95", "< 300 ms"],
            rows,
        )
    )
    print(f"\n{args.requests} timed requests each after {WARMUP} warm-up, one client; "
          f"load average before {load_before}, after {load_after}")  # fmt: skip

    shapes = {p.label for p in pages}
    checks = [(f"the walk reached {s}", s in shapes, "") for s in EXPECTED]
    default = next(p for p in pages if p.path == "/portal/results")
    today = datetime.now(UTC).date()
    for label, page, lo, hi in (
        ("the last 30 days", default, today - timedelta(days=RESULT_DAYS - 1), today),
        ("every seeded day", pages[-1], first_day, last_day),
    ):
        shown, want = clicks_total(page.body), raw_clicks(pg_url, big_id, lo, hi)
        checks.append(
            (f"results page's clicks over {label} = SQL over raw clicks", shown == want,
             f"({shown} vs {want})")
        )  # fmt: skip
    checks.append(("the statement CSV has lines", csv.body.count(b"\n") > 1, ""))
    print()
    for text, ok, detail in checks:
        print(f"{'ok  ' if ok else 'FAIL'} {text} {detail}")
    slowest = max(pages, key=lambda p: percentile(sorted(p.server_ms), 95))
    print(
        f"\nslowest page (server p95): {slowest.path} "
        f"{percentile(sorted(slowest.server_ms), 95):.1f} ms; target {TARGET_MS:.0f} ms"
    )
    if args.explain:
        explain(pg_url, big_id, slowest.path, env)
    ok = all(ok for _, ok, _ in checks)
    if not ok:
        shout("a check failed: the figures above are not to be quoted")
    return 0 if ok else 2


if __name__ == "__main__":
    sys.exit(main())
