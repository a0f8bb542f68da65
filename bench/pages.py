"""Every dashboard page on the 10,000,000-click data set of bench/reports.py, timed.

    python bench/reports.py --keep            # seeds afftrack_bench_reports (~8 min)
    python bench/pages.py [--requests 10] [--workers 2] [--per-shape 2] [--max-pages 80]
        [--dsn postgresql://postgres@127.0.0.1:5432/postgres] [--database NAME]

Migrates the kept database to head, adds a write API key and serves it as deployed
(gunicorn, ``service/gunicorn_conf.py``). One client logs in through the form, as a
browser does, and walks the dashboard from ``/dashboard/``: every same-site link to a
page (not the log-out, a download or a static file), breadth first, at most
``--per-shape`` pages of each shape (ids replaced: ``/dashboard/influencers/<id>``) and
``--max-pages`` in all. Each page found is asked for 2 warm-up times, then
``--requests`` timed times, one after another on a kept-alive connection.

Two figures per page: the server's own time (the ``Server-Timing: app;dur=`` header the
dashboard sends: from the request reaching the view layer to the response being
built) and the wall time the client saw (request sent → body read). The target is the
server time: every page under 300 ms (median and p95 printed; the target is reported,
not enforced).

Checks (the figures are not to be quoted if one fails): every link followed answers 200
(a download is not timed), and the walk found the pages listed in ``EXPECTED`` (the
shapes a user reaches).

Exit status: 0 when every check passed, 2 when a check failed, 1 when it could not run.
"""

from __future__ import annotations

import argparse
import re
import secrets
import statistics
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import psycopg
from _harness import (
    BenchError,
    Browser,
    Server,
    base_env,
    cpu_model,
    form_field,
    free_port,
    measure,
    note,
    percentile,
    shape,
    shout,
    start_server,
    table,
    wait_port,
    walk,
)
from commissions import code_version, sa_url

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from service.keys.service import hash_token  # noqa: E402
from service.migrate import upgrade  # noqa: E402

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_DB = "afftrack_bench_reports"
TARGET_MS = 300.0
# Not pages: downloads, images, the stylesheet and script, logging out.
_SKIP = re.compile(r"/static/|/logout|[?&]download=|\.(csv|json|png|svg|txt)(\?|$)|/qr\.")
# Shapes a user reaches from the start page; the walk must find each.
EXPECTED = ("/dashboard/", "/dashboard/campaigns/<id>", "/dashboard/influencers")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=10, help="timed requests per page")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    p.add_argument("--per-shape", type=int, default=2, help="pages of each shape")
    p.add_argument("--max-pages", type=int, default=80)
    p.add_argument("--dsn", default=DEFAULT_DSN, help="an admin connection (any database)")
    p.add_argument("--database", default=DEFAULT_DB)
    return p.parse_args()


def log_in(browser: Browser, token: str) -> None:
    """Log in through the dashboard's form, as a browser does."""
    _, page, _, _ = browser.request("GET", "/dashboard/login")
    csrf = form_field(page, "csrf")
    form = f"csrf={quote(csrf)}&api_key={quote(token)}&next=/dashboard/"
    status, _, _, _ = browser.request("POST", "/dashboard/login", form)
    if status != 303:
        raise BenchError(f"dashboard login answered {status}")


def main() -> int:
    args = parse_args()
    print(
        f"dashboard pages bench on {args.database}; {cpu_model()}; "
        f"{datetime.now(UTC).isoformat(timespec='seconds')}; {code_version()}",
        flush=True,
    )
    pg_url = args.dsn.rsplit("/", 1)[0] + "/" + args.database
    tmp = Path(tempfile.mkdtemp(prefix="afftrack-bench-pages-"))
    server: Server | None = None
    browser: Browser | None = None
    try:
        try:
            with psycopg.connect(pg_url) as conn:
                clicks = conn.execute("SELECT count(*) FROM clicks").fetchone()[0]
        except psycopg.OperationalError as exc:
            raise BenchError(
                f"no database {args.database}: run bench/reports.py --keep first ({exc})"
            ) from None
        print(f"clicks in the data set: {clicks:,}", flush=True)
        upgrade(sa_url(pg_url))
        token = "aft_" + secrets.token_urlsafe(32)
        with psycopg.connect(pg_url) as conn:
            conn.execute(
                "INSERT INTO api_keys (id, name, scope, prefix, key_hash, created_at) "
                "VALUES (%s, 'bench-pages', 'write', %s, %s, now())",
                ("key_bench" + secrets.token_hex(8), token[:10], hash_token(token)),
            )
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
        browser = Browser(port)
        log_in(browser, token)
        note("walking the dashboard")
        paths = walk(
            browser, "/dashboard/", _SKIP, per_shape=args.per_shape, max_pages=args.max_pages
        )
        note(f"{len(paths)} pages found; timing each {args.requests} times")
        pages = [measure(browser, path, args.requests) for path in paths]
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
    for p in pages:
        ordered = sorted(p.server_ms)
        rows.append(
            [
                shape(p.path),
                f"{len(p.body) / 1024:,.0f} KiB",
                f"{statistics.median(ordered):.1f}",
                f"{percentile(ordered, 95):.1f}",
                f"{max(ordered):.1f}",
                f"{statistics.median(p.wall_ms):.1f}",
                "yes" if percentile(ordered, 95) < TARGET_MS else "NO",
            ]
        )
    print()
    print(
        table(
            ["page", "body", "server median ms", "p95", "max", "wall median ms", "< 300 ms"],
            rows,
        )
    )
    shapes = {shape(p.path) for p in pages}
    checks = [(f"the walk reached {s}", s in shapes) for s in EXPECTED]
    print()
    for text, ok in checks:
        print(f"{'ok  ' if ok else 'FAIL'} {text}")
    slowest = max(pages, key=lambda p: percentile(sorted(p.server_ms), 95))
    print(
        f"\nslowest page (server p95): {slowest.path} "
        f"{percentile(sorted(slowest.server_ms), 95):.1f} ms; target {TARGET_MS:.0f} ms"
    )
    return 0 if all(ok for _, ok in checks) else 2


if __name__ == "__main__":
    sys.exit(main())
