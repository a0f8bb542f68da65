"""What the report roll-up triggers (migration 0008) cost the writers, on PostgreSQL.

    python bench/rollup_triggers.py [--lines 1000000] [--orders 20000] [--runs 3]
        [--dsn postgresql://postgres@127.0.0.1:5432/postgres]

Recreates ``afftrack_bench_triggers``, migrates it to head, adds one campaign with 1,000
partners, then measures each write with the roll-up triggers enabled and with them
disabled (``ALTER TABLE … DISABLE TRIGGER``; the ledger's append-only trigger stays on
in both), alternating, ``--runs`` times each, in one transaction rolled back after each
run so every run starts from the same table:

* ``INSERT`` of ``--orders`` conversions one statement each (a webhook writes one);
* ``INSERT … SELECT`` of ``--lines`` ledger lines in one statement (settlement writes
  batches; the statement trigger aggregates its transition table);
* ``UPDATE`` of those lines to ``paid`` (the month's close; the status trigger's
  ``WHEN`` is false for every row).

Prints the median seconds of each, on and off. Drops the database at the end.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import psycopg
from _harness import drop_pg_database, note, recreate_pg_database, table

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from service.migrate import upgrade  # noqa: E402

DB = "afftrack_bench_triggers"
TRIGGERS = {
    "conversions": ("conversions_daily",),
    "commission_lines": ("commission_lines_daily", "commission_lines_daily_status"),
}

SETUP = """
INSERT INTO campaigns (id, name, slug, goal, kind, currency, starts_on, allowed_domains,
    fallback_url, attribution_window_days, hold_days, utm_medium, commission_rules,
    created_at, updated_at)
VALUES ('cmp_bench', 'Bench', 'bench', 'conversions', 'affiliate', 'EUR', '2026-01-01',
    '["shop.example"]', 'https://shop.example/', 30, 0, 'influencer',
    '[{"type": "percent", "rate": "10"}]', now(), now());
INSERT INTO influencers (id, handle, name, email, created_at, updated_at)
SELECT 'inf_' || n, 'creator' || n, 'Creator ' || n, 'c' || n || '@example.com', now(), now()
FROM generate_series(1, 1000) n;
INSERT INTO partnerships (id, campaign_id, influencer_id, created_at)
SELECT 'prt_' || n, 'cmp_bench', 'inf_' || n, now() FROM generate_series(1, 1000) n;
INSERT INTO links (id, code, partnership_id, campaign_id, influencer_id, destination,
    platform, status, created_at, updated_at)
SELECT 'lnk_' || n, 'c' || n, 'prt_' || n, 'cmp_bench', 'inf_' || n,
    'https://shop.example/p', 'instagram', 'active', now(), now()
FROM generate_series(1, 1000) n;
"""
ORDER = """
INSERT INTO conversions (id, source, order_id, occurred_at, received_at, currency,
    amount_minor, refunded_minor, tax_minor, prices_include_tax, status, promo_codes, method,
    partnership_id, campaign_id, influencer_id, link_id, raw)
VALUES (%(id)s, 'generic', %(id)s, %(at)s, %(at)s, 'EUR', 4200, 0, 0, false, 'open', '[]',
    'click', %(prt)s, 'cmp_bench', %(inf)s, %(lnk)s, '{}')
"""
LINES = """
INSERT INTO commission_lines (id, idempotency_key, influencer_id, campaign_id,
    partnership_id, kind, amount_minor, currency, status, occurred_at, due_at, recorded_at,
    purpose)
SELECT 'cml_' || n, 'bench:' || n, 'inf_' || (1 + n %% 1000), 'cmp_bench',
    'prt_' || (1 + n %% 1000), 'adjustment', 100 + n %% 900, 'EUR', 'pending',
    timestamptz '2026-10-01' + make_interval(secs => (n %% 2678400)::int),
    timestamptz '2026-10-01', now(), 'adjustment'
FROM generate_series(1, %(n)s) n
"""


def timed(conn: psycopg.Connection, work: str, args: argparse.Namespace) -> float:
    started = time.perf_counter()
    if work == "orders":
        with conn.cursor() as cur:
            for i in range(args.orders):
                p = 1 + i % 1000
                cur.execute(
                    ORDER,
                    {
                        "id": f"cnv_{i}",
                        "at": f"2026-10-{1 + i % 28:02d}T12:00:00Z",
                        "prt": f"prt_{p}",
                        "inf": f"inf_{p}",
                        "lnk": f"lnk_{p}",
                    },
                )
    elif work == "lines":
        conn.execute(LINES, {"n": args.lines})
    else:
        conn.execute("UPDATE commission_lines SET status = 'paid'")
    return time.perf_counter() - started


def run(conn: psycopg.Connection, work: str, enabled: bool, args: argparse.Namespace) -> float:
    """One measurement in a transaction of its own, rolled back."""
    with conn.transaction(force_rollback=True):
        for tbl, names in TRIGGERS.items():
            for name in names:
                state = "ENABLE" if enabled else "DISABLE"
                conn.execute(f"ALTER TABLE {tbl} {state} TRIGGER {name}")
        if work == "close":
            conn.execute(LINES, {"n": args.lines})
        return timed(conn, work, args)


def main() -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("--lines", type=int, default=1_000_000)
    p.add_argument("--orders", type=int, default=20_000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = p.parse_args()
    url = recreate_pg_database(args.dsn, DB)
    try:
        upgrade(url.replace("postgresql://", "postgresql+psycopg://", 1))
        with psycopg.connect(url) as conn:
            conn.execute(SETUP)
            conn.commit()
            rows = []
            for work, label in (
                ("orders", f"{args.orders:,} conversions, one INSERT each"),
                ("lines", f"{args.lines:,} ledger lines, one INSERT ... SELECT"),
                ("close", f"UPDATE of {args.lines:,} lines to paid"),
            ):
                seconds: dict[bool, list[float]] = {True: [], False: []}
                for _ in range(args.runs):
                    for enabled in (True, False):
                        seconds[enabled].append(run(conn, work, enabled, args))
                        note(f"{work} triggers {'on' if enabled else 'off'}: "
                             f"{seconds[enabled][-1]:.2f} s")  # fmt: skip
                on, off = statistics.median(seconds[True]), statistics.median(seconds[False])
                rows.append([label, f"{on:.2f}", f"{off:.2f}", f"{(on - off) / off:+.0%}"])
        print(table(["write", "triggers on (s)", "off (s)", "difference"], rows))
        print(f"median of {args.runs} runs each, alternating on and off")
    finally:
        drop_pg_database(args.dsn, DB)
    return 0


if __name__ == "__main__":
    sys.exit(main())
