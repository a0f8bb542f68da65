"""Click worker drain rate: N queued clicks from the Redis stream into PostgreSQL.

    python bench/worker_drain.py [--clicks 1000000] [--batch-size 5000] [--workers 1]

Creates a throwaway database ``afftrack_bench_drain`` (dropped and recreated), migrates
it, makes one link, fills a fresh Redis stream with N clicks shaped exactly as the
redirect's script writes them, then times ``ClickWorker.drain`` (in ``--workers``
processes sharing the consumer group) until every click is in the table. Prints the
rate, the peak RSS of each worker process and checks the row count.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import secrets
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import redis as redis_lib
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service.clicks.ingest import ClickWorker
from service.config import from_env
from service.db import Database
from service.demo import create_demo
from service.migrate import upgrade

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DB_NAME = "afftrack_bench_drain"
URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DB_NAME}"
STREAM = "afftrack:bench:clicks"
UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 Instagram 334.0.4.32.98"
)


def fresh_database() -> None:
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    upgrade(URL)


def make_link(db: Database) -> str:
    """One real link, made the way ``afftrack demo`` makes them."""
    settings = from_env(
        {
            "DATABASE_URL": URL,
            "AFFTRACK_HASHIDS_SALT": secrets.token_hex(8),
            "AFFTRACK_IP_HASH_KEY": secrets.token_hex(8),
        }
    )
    with db.session() as session:
        create_demo(session, settings)
    with db.engine.connect() as conn:
        return str(conn.scalar(text("SELECT min(id) FROM links")))


def fill(r: redis_lib.Redis, link_id: str, n: int) -> float:
    started = time.perf_counter()
    base = datetime.now(UTC) - timedelta(hours=1)
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        pipe.xadd(
            STREAM,
            {
                "link_id": link_id,
                "outcome": "redirect",
                "is_unique": "1" if i % 3 else "0",
                "id": secrets.token_urlsafe(12),
                "occurred_at": (base + timedelta(microseconds=i * 3)).isoformat(),
                "ip_hash": secrets.token_hex(16),
                "user_agent": UA,
                "referrer": "https://l.instagram.com/",
                "country": "",
                "is_bot": "0",
                "bot_reason": "",
            },
        )
        if i % 10_000 == 9_999:
            pipe.execute()
    pipe.execute()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clicks", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--redis-db", type=int, default=13)
    args = parser.parse_args()

    r = redis_lib.Redis(db=args.redis_db, decode_responses=True)
    r.delete(STREAM)
    fresh_database()
    db = Database(URL)
    link_id = make_link(db)
    print(f"filling the stream with {args.clicks:,} clicks...", flush=True)
    fill_s = fill(r, link_id, args.clicks)
    print(f"  filled in {fill_s:.1f} s; XLEN = {r.xlen(STREAM):,}", flush=True)

    ctx = mp.get_context("fork")
    queue: mp.Queue = ctx.Queue()
    started = time.perf_counter()
    procs = [
        ctx.Process(target=_child, args=(i, args.batch_size, args.redis_db, queue))
        for i in range(args.workers)
    ]
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - started

    with db.engine.connect() as conn:
        rows = conn.scalar(text("SELECT count(*) FROM clicks"))
        distinct = conn.scalar(text("SELECT count(DISTINCT id) FROM clicks"))
    print()
    print(f"clicks queued      {args.clicks:>12,}")
    print(f"rows in clicks     {rows:>12,}   (distinct ids {distinct:,})")
    print(f"workers            {args.workers:>12}")
    print(f"batch size         {args.batch_size:>12,}")
    print(f"drain time         {elapsed:>12.2f} s")
    print(f"drain rate         {args.clicks / elapsed:>12,.0f} clicks/s")
    for index, count, rss_kb in sorted(results):
        print(f"worker {index} wrote    {count:>12,}   peak RSS {rss_kb / 1024:.0f} MB")
    print(f"stream left        {r.xlen(STREAM):>12,}")
    if rows != args.clicks or distinct != args.clicks:
        print("!!! row count does not match the clicks queued", file=sys.stderr)
        sys.exit(1)


def _child(index: int, batch_size: int, redis_db: int, queue: mp.Queue) -> None:
    db = Database(URL)
    r = redis_lib.Redis(db=redis_db, socket_timeout=30, decode_responses=True)
    worker = ClickWorker(db, r, STREAM, consumer=f"bench-{index}", batch_size=batch_size)
    worker.drain()
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put((index, worker.stats.written, rss_kb))


if __name__ == "__main__":
    main()
