"""What the local spool costs a redirect, and how fast a spool drains.

    python bench/spool.py [--clicks 2000] [--drain 50000] [--threads 4] [--dir DIR]

1. A redirect while Redis and PostgreSQL are both down: ``Redirector.follow`` on a link
   this process has seen (answered from its last copy), the click spooled before the
   answer — with ``AFFTRACK_SPOOL_FSYNC=always`` and ``never`` — against the same call
   on the normal path (Redis up, one round trip). p50/p99 per call, one thread and
   ``--threads`` threads at once; the difference is what the spool adds to a redirect.
   "Down" is a Redis and a PostgreSQL URL on ports nothing listens on: refused at once,
   as a stopped server is.
2. Draining ``--drain`` spooled clicks: into the Redis stream (REPLAY_LUA, pipelined
   batches) and straight into PostgreSQL (no Redis), clicks per second.

Needs PostgreSQL on 127.0.0.1:5432 (trust) and Redis on 127.0.0.1:6379; uses a throwaway
database ``afftrack_bench_spool`` and stream key, and a temporary spool directory on the
disk of ``--dir`` (default: the system's temporary directory), removed after.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import redis as redis_lib

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service.app import create_app
from service.config import Settings
from service.migrate import upgrade
from service.redirect.recovery import ClickMover, click_record
from service.redirect.service import Redirector, Visit
from service.spool import Spool

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DB_NAME = "afftrack_bench_spool"
URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DB_NAME}"
DEAD_DB = "postgresql+psycopg://postgres@127.0.0.1:1/none"
DEAD_REDIS = "redis://127.0.0.1:1/0"
REDIS_URL = "redis://127.0.0.1:6379/0"
STREAM = "afftrack:bench:spool:clicks"
UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 Instagram 334.0.4.32.98"
)


def settings(database_url: str, redis_url: str, spool_dir: Path, fsync: str) -> Settings:
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        hashids_salt="bench-spool-salt",
        ip_hash_key="bench-spool-key",
        click_stream=STREAM,
        spool_dir=str(spool_dir),
        spool_fsync=fsync,
    )


def fresh_database() -> None:
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    upgrade(URL)


def drop_database() -> None:
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


def seed(spool_dir: Path) -> tuple[str, str]:
    """One demo link; returns (code, link id)."""
    from service.demo import create_demo
    from service.links.models import Link

    app = create_app(settings(URL, REDIS_URL, spool_dir, "always"), announce=False)
    db = app.extensions["afftrack"].db
    with db.session() as session:
        create_demo(session, app.extensions["afftrack"].settings)
    with db.read_session() as session:
        link = session.query(Link).order_by(Link.id).first()
        assert link is not None
        return link.code, link.id


def timed_follows(redirector: Redirector, code: str, count: int, threads: int) -> list[float]:
    """Seconds per ``follow`` call, ``count`` calls spread over ``threads`` threads."""
    out: list[float] = []
    lock = threading.Lock()
    per = count // threads

    def run(n: int) -> None:
        mine = []
        for i in range(per):
            visit = Visit("GET", UA, f"10.{n}.{i // 250 % 250}.{i % 250}")
            started = time.perf_counter()
            answer = redirector.follow(code, visit)
            mine.append(time.perf_counter() - started)
            assert answer.status == 302, answer
        with lock:
            out.extend(mine)

    workers = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return out


def ms(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


def redirect_costs(args: argparse.Namespace, base: Path, code: str) -> None:
    print(f"redirect cost, {args.clicks} calls each (ms per call):")
    print(f"  {'path':<38} {'threads':>7} {'p50':>7} {'p99':>7} {'mean':>7}")
    # The normal path: Redis up, the link cached, one round trip.
    app = create_app(settings(URL, REDIS_URL, base / "normal", "always"), announce=False)
    normal = app.extensions["afftrack"].redirector
    normal.follow(code, Visit("GET", UA, "10.0.0.1"))  # fills the cache
    target = normal._stale_target(code)
    rows = [("normal (Redis up)", normal)]
    for fsync in ("always", "never"):
        down = create_app(
            settings(DEAD_DB, DEAD_REDIS, base / f"down-{fsync}", fsync), announce=False
        )
        redirector = down.extensions["afftrack"].redirector
        redirector._keep_stale(code, target)  # "seen before the outage"
        redirector.follow(code, Visit("GET", UA, "10.0.0.2"))  # opens the breaker
        redirector.follow(code, Visit("GET", UA, "10.0.0.3"))
        assert redirector.breaker.tripped
        rows.append((f"both down, spooled, fsync={fsync}", redirector))
    for label, redirector in rows:
        for threads in (1, args.threads):
            seconds = timed_follows(redirector, code, args.clicks, threads)
            print(
                f"  {label:<38} {threads:>7} {ms(seconds, 0.5):>7.3f} "
                f"{ms(seconds, 0.99):>7.3f} {statistics.fmean(seconds) * 1000:>7.3f}"
            )
    for label, redirector in rows[1:]:
        redirector.mover.stop()
        waiting = redirector.clicks.spool.status().records
        print(f"  ({label}: {waiting} clicks waiting in the spool)")
    redis_lib.Redis.from_url(REDIS_URL).delete(STREAM)


def drain_rates(args: argparse.Namespace, base: Path, link_id: str) -> None:
    from datetime import UTC, datetime

    from service.clicks.identity import visitor_keys
    from service.clicks.recorder import ClickRecord

    print(f"drain rate, {args.drain} spooled clicks:")
    now = datetime.now(UTC)
    records = []
    for i in range(args.drain):
        today, before, _k1, _k2 = visitor_keys(
            "k", f"10.9.{i // 250 % 250}.{i % 250}", UA, now.date()
        )
        click = ClickRecord(
            f"bench{i:011d}", link_id, now, today, UA, None, None, False, None, "redirect"
        )
        records.append(click_record(click, (today, before)))
    app = create_app(settings(URL, REDIS_URL, base / "seed", "always"), announce=False)
    db = app.extensions["afftrack"].db
    redis = redis_lib.Redis.from_url(REDIS_URL, decode_responses=True)
    for target in ("redis", "database"):
        directory = base / f"drain-{target}"
        spool = Spool(directory, "clicks", fsync=False)
        started = time.perf_counter()
        for record in records:
            spool.append(record)
        written = time.perf_counter() - started
        mover = ClickMover(db, redis if target == "redis" else None, STREAM, directory)
        started = time.perf_counter()
        moved = mover.drain()
        seconds = time.perf_counter() - started
        assert moved == len(records), (moved, len(records))
        if target == "redis":
            assert redis.xlen(STREAM) == len(records)
            redis.delete(STREAM)
        else:
            with db.engine.connect() as conn:
                from sqlalchemy import text

                stored = conn.execute(text("SELECT count(*) FROM clicks")).scalar_one()
            assert stored == len(records), stored
        print(
            f"  into {target:<8}: {moved / seconds:>9,.0f} clicks/s "
            f"({seconds:.2f} s; writing them to the spool took {written:.2f} s, fsync off)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clicks", type=int, default=2000)
    parser.add_argument("--drain", type=int, default=50_000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--dir", default=tempfile.gettempdir())
    args = parser.parse_args()
    fresh_database()
    try:
        with tempfile.TemporaryDirectory(dir=args.dir, prefix="afftrack-bench-spool-") as tmp:
            base = Path(tmp)
            code, link_id = seed(base / "seed")
            redirect_costs(args, base, code)
            drain_rates(args, base, link_id)
    finally:
        drop_database()


if __name__ == "__main__":
    main()
