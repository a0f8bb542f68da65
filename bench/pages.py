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
import http.client
import re
import secrets
import statistics
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import unescape
from pathlib import Path
from urllib.parse import quote, urlsplit

import psycopg
from _harness import (
    BenchError,
    Server,
    base_env,
    cpu_model,
    free_port,
    note,
    percentile,
    shout,
    start_server,
    table,
    wait_port,
)
from commissions import code_version, sa_url

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from service.keys.service import hash_token  # noqa: E402
from service.migrate import upgrade  # noqa: E402

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_DB = "afftrack_bench_reports"
TARGET_MS = 300.0
WARMUP = 2
# A page's shape: its path with ids (``abc_0123…``) and months replaced.
_ID = re.compile(r"/[a-z]{3}_[0-9a-z]{20,}")
_MONTH = re.compile(r"/\d{4}-\d{2}(?=/|$)")
_HREF = re.compile(r'href="(/dashboard/[^"#]*)"')
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


def shape(path: str) -> str:
    parts = urlsplit(path)
    return _MONTH.sub("/<month>", _ID.sub("/<id>", parts.path))


@dataclass
class Page:
    path: str
    server_ms: list[float] = field(default_factory=list)
    wall_ms: list[float] = field(default_factory=list)
    body_bytes: int = 0


class Browser:
    """One kept-alive connection with the dashboard's session cookie."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.cookie = ""

    def request(
        self, method: str, path: str, body: str | None = None
    ) -> tuple[int, bytes, dict[str, str], float]:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        self.conn.request(method, path, body=body, headers=headers)
        resp = self.conn.getresponse()
        data = resp.read()
        wall = (time.perf_counter() - started) * 1000
        found = {k.lower(): v for k, v in resp.getheaders()}
        if "set-cookie" in found:
            self.cookie = found["set-cookie"].split(";")[0]
        return resp.status, data, found, wall

    def log_in(self, token: str) -> None:
        status, page, _, _ = self.request("GET", "/dashboard/login")
        csrf = page.decode().split('name="csrf" value="', 1)[1].split('"', 1)[0]
        form = f"csrf={quote(csrf)}&api_key={quote(token)}&next=/dashboard/"
        status, _, _, _ = self.request("POST", "/dashboard/login", form)
        if status != 303:
            raise BenchError(f"dashboard login answered {status}")

    def close(self) -> None:
        self.conn.close()


def server_ms(headers: dict[str, str]) -> float:
    found = re.search(r"app;dur=([0-9.]+)", headers.get("server-timing", ""))
    if not found:
        raise BenchError("the page sent no Server-Timing header")
    return float(found.group(1))


def walk(browser: Browser, per_shape: int, max_pages: int) -> list[str]:
    """The pages reachable from the start page, a few of each shape."""
    seen: set[str] = set()
    per: dict[str, int] = {}
    queue = deque(["/dashboard/"])
    found: list[str] = []
    while queue and len(found) < max_pages:
        path = queue.popleft()
        if path in seen:
            continue
        seen.add(path)
        key = shape(path)
        if per.get(key, 0) >= per_shape:
            continue
        status, body, headers, _ = browser.request("GET", path)
        if status != 200:
            raise BenchError(f"GET {path} answered {status}")
        if "text/html" not in headers.get("content-type", ""):
            continue  # a download (a template, an export): not a page
        per[key] = per.get(key, 0) + 1
        found.append(path)
        for href in _HREF.findall(body.decode()):
            href = unescape(href)
            if not _SKIP.search(href) and href not in seen:
                queue.append(href)
    return found


def measure(browser: Browser, path: str, n: int) -> Page:
    page = Page(path)
    for i in range(WARMUP + n):
        status, body, headers, wall = browser.request("GET", path)
        if status != 200:
            raise BenchError(f"GET {path} answered {status}")
        if i >= WARMUP:
            page.server_ms.append(server_ms(headers))
            page.wall_ms.append(wall)
        page.body_bytes = len(body)
    return page


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
        browser.log_in(token)
        note("walking the dashboard")
        paths = walk(browser, args.per_shape, args.max_pages)
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
                f"{p.body_bytes / 1024:,.0f} KiB",
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
