"""What Flask's routing, request object and contexts cost a redirect, per request.

    .venv/bin/python bench/flask_overhead.py [--requests 20000] [--redis-db 12] [--query qr=1]

Builds the real app (SQLite file, Redis db ``--redis-db``), creates the demo links, and
serves the same cached link two ways, in-process, without any HTTP server:

* ``fast path``: the WSGI middleware afftrack ships (``service/redirect/api.py``);
* ``flask view``: the same ``Redirector.follow`` behind a Flask route, reading the
  request through ``flask.request`` and answering with a ``flask.Response`` — what the
  redirect cost before the fast path.

Both make the same one Redis round trip per request, so the difference is Flask. Prints
CPU and wall microseconds per request (median of 5 rounds), pinned to one CPU.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis
from flask import Response, request

from service.app import create_app
from service.clicks.identity import client_address
from service.config import from_env
from service.demo import create_demo
from service.migrate import upgrade
from service.redirect.service import Visit

UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 Instagram 330.0.0.0.0"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--redis-db", type=int, default=12)
    parser.add_argument(
        "--query", default="", help="the short URL's query string (qr=1: a QR code's scan)"
    )
    args = parser.parse_args()
    os.sched_setaffinity(0, {0})

    tmp = tempfile.mkdtemp(prefix="afftrack-flask-overhead-")
    url = f"sqlite:///{tmp}/bench.db"
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
    redis.Redis.from_url(redis_url).flushdb()
    upgrade(url)
    settings = from_env({"DATABASE_URL": url, "REDIS_URL": redis_url})
    app = create_app(settings)
    svc = app.extensions["afftrack"]
    with svc.db.session() as session:
        create_demo(session, settings)
    with svc.db.engine.connect() as conn:
        code = conn.exec_driver_sql("SELECT code FROM links ORDER BY code LIMIT 1").scalar()

    @app.get("/via-flask/<code>")
    def via_flask(code: str) -> Response:
        visit = Visit(
            method=request.method,
            user_agent=request.headers.get("User-Agent", "")[:512],
            address=client_address(request.remote_addr, request.headers.get("X-Forwarded-For"), 0),
            referrer=request.headers.get("Referer"),
        )
        answer = svc.redirector.follow(code, visit)
        return Response(status=answer.status, headers={"Location": answer.location or ""})

    def environ(path: str) -> dict[str, Any]:
        return {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": path,
            "QUERY_STRING": args.query,
            "SERVER_NAME": "bench",
            "SERVER_PORT": "80",
            "REMOTE_ADDR": "198.51.100.7",
            "HTTP_USER_AGENT": UA,
            "wsgi.url_scheme": "http",
            "wsgi.input": None,
            "wsgi.errors": sys.stderr,
        }

    statuses: list[str] = []

    def start_response(status: str, _headers: list[Any], *_: Any) -> None:
        statuses.append(status)

    def measure(path: str) -> tuple[float, float]:
        cpu, wall = [], []
        for _ in range(5):
            statuses.clear()
            c0, w0 = time.process_time(), time.perf_counter()
            for _ in range(args.requests // 5):
                for chunk in app(environ(path), start_response):
                    del chunk
            cpu.append((time.process_time() - c0) / (args.requests // 5) * 1e6)
            wall.append((time.perf_counter() - w0) / (args.requests // 5) * 1e6)
            assert {s[:3] for s in statuses} == {"302"}, set(statuses)
        return statistics.median(cpu), statistics.median(wall)

    measure(f"/r/{code}")  # warm: cache filled, script loaded
    fast = measure(f"/r/{code}")
    flask = measure(f"/via-flask/{code}")
    print(f"requests per variant   {args.requests:,} (5 rounds, median)")
    print(f"fast path   CPU {fast[0]:7.1f} us/request   wall {fast[1]:7.1f} us/request")
    print(f"flask view  CPU {flask[0]:7.1f} us/request   wall {flask[1]:7.1f} us/request")
    print(f"Flask costs CPU {flask[0] - fast[0]:7.1f} us/request ({flask[0] / fast[0]:.2f}x)")
    svc.db.dispose()


if __name__ == "__main__":
    main()
