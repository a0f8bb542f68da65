"""What the roll-up triggers (migrations 0008, 0020, 0021, 0024) cost the writers, on
PostgreSQL.

    python bench/rollup_triggers.py [--lines 200000] [--orders 5000] [--runs 3]
        [--dsn postgresql://postgres@127.0.0.1:5432/postgres]

Recreates ``afftrack_bench_triggers``, migrates it to head, adds one campaign (a tiered
rule and a flat one: two sale lines per order) with 1,000 partners, then measures each
write with the roll-up triggers enabled and with them disabled (``ALTER TABLE …
DISABLE TRIGGER``; the ledger's append-only trigger stays on in both), alternating,
``--runs`` times each, in one transaction rolled back after each run so every run starts
from the same tables:

* ``orders``: ``--orders`` orders as a webhook writes them, one at a time: the order
  (one INSERT) and its two sale lines (one INSERT);
* ``lines``: ``--lines`` sale lines (of ``--lines`` / 2 orders, stored first, untimed)
  in one ``INSERT … SELECT`` (the statement triggers aggregate their transition table);
* ``refunds``: a refund of each of ``--orders`` orders, one UPDATE each (the order's
  row trigger moves its tiered net sales);
* ``close``: the ``UPDATE`` of the ``--lines`` lines to ``paid`` by an export (a
  month's close: every line moves to the export's statement, and each order with it).

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
    "conversions": ("conversions_daily", "conversions_ledger_updated"),
    "commission_lines": (
        "commission_lines_daily",
        "commission_lines_daily_status",
        "commission_lines_ledger_inserted",
        "commission_lines_ledger_updated",
    ),
}
TIERED = (
    '{"type": "tiered_percent", "tiers": [{"up_to": "100.00", "rate": "10"}, '
    '{"up_to": null, "rate": "15"}]}'
)
FLAT = '{"type": "flat", "amount": "2.00"}'

SETUP = f"""
INSERT INTO campaigns (id, name, slug, goal, kind, currency, starts_on, allowed_domains,
    fallback_url, attribution_window_days, hold_days, utm_medium, commission_rules,
    created_at, updated_at)
VALUES ('cmp_bench', 'Bench', 'bench', 'conversions', 'affiliate', 'EUR', '2026-01-01',
    '["shop.example"]', 'https://shop.example/', 30, 14, 'influencer',
    '[{TIERED}, {FLAT}]', now(), now());
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
INSERT INTO exports (id, period, checksum, closed_at, line_count, totals)
VALUES ('exp_bench', '2026-10', '', now(), 0, '[]');
"""
# An order of partner ``n % 1000 + 1``; %(first)s and %(n)s choose the orders.
ORDERS = """
INSERT INTO conversions (id, source, order_id, occurred_at, received_at, currency,
    amount_minor, refunded_minor, tax_minor, prices_include_tax, status, promo_codes, method,
    partnership_id, campaign_id, influencer_id, link_id, raw)
SELECT 'cnv_' || n, 'generic', 'o' || n,
    timestamptz '2026-10-01' + make_interval(secs => (n %% 2678400)::int), now(), 'EUR',
    4200, 0, 0, false, 'open', '[]', 'click', 'prt_' || (1 + n %% 1000), 'cmp_bench',
    'inf_' || (1 + n %% 1000), 'lnk_' || (1 + n %% 1000), '{}'
FROM generate_series(%(first)s, %(first)s + %(n)s - 1) n
"""
SALE_LINES = f"""
INSERT INTO commission_lines (id, idempotency_key, influencer_id, campaign_id,
    partnership_id, conversion_id, kind, rule, rule_index, basis_minor, amount_minor,
    currency, status, occurred_at, due_at, recorded_at, purpose)
SELECT 'cml_' || n || '_' || r, 'sale:cnv_' || n || ':' || r, 'inf_' || (1 + n %% 1000),
    'cmp_bench', 'prt_' || (1 + n %% 1000), 'cnv_' || n, 'sale',
    CASE r WHEN 0 THEN '{TIERED}'::jsonb ELSE '{FLAT}'::jsonb END, r, 4200,
    CASE r WHEN 0 THEN 420 ELSE 200 END, 'EUR', 'pending',
    timestamptz '2026-10-01' + make_interval(secs => (n %% 2678400)::int),
    timestamptz '2026-10-15' + make_interval(secs => (n %% 2678400)::int), now(), 'sale'
FROM generate_series(%(first)s, %(first)s + %(n)s - 1) n, generate_series(0, 1) r
"""


def timed(conn: psycopg.Connection, work: str, args: argparse.Namespace) -> float:
    started = time.perf_counter()
    if work == "orders":
        with conn.cursor() as cur:
            for i in range(args.orders):
                one = {"first": 10_000_000 + i, "n": 1}
                cur.execute(ORDERS, one)
                cur.execute(SALE_LINES, one)
    elif work == "lines":
        conn.execute(SALE_LINES, {"first": 1, "n": args.lines // 2})
    elif work == "refunds":
        with conn.cursor() as cur:
            for i in range(1, args.orders + 1):
                cur.execute(
                    "UPDATE conversions SET refunded_minor = 1000 WHERE id = %(id)s",
                    {"id": f"cnv_{i}"},
                )
    else:
        conn.execute(
            "UPDATE commission_lines SET status = 'paid', export_id = 'exp_bench' "
            "WHERE status = 'pending' AND export_id IS NULL"
        )
    return time.perf_counter() - started


def run(conn: psycopg.Connection, work: str, enabled: bool, args: argparse.Namespace) -> float:
    """One measurement in a transaction of its own, rolled back."""
    with conn.transaction(force_rollback=True):
        conn.execute(ORDERS, {"first": 1, "n": args.lines // 2})
        if work in ("refunds", "close"):
            conn.execute(SALE_LINES, {"first": 1, "n": args.lines // 2})
        for tbl, names in TRIGGERS.items():
            for name in names:
                state = "ENABLE" if enabled else "DISABLE"
                conn.execute(f"ALTER TABLE {tbl} {state} TRIGGER {name}")
        return timed(conn, work, args)


def main() -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("--lines", type=int, default=200_000)
    p.add_argument("--orders", type=int, default=5_000)
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
                ("orders", f"{args.orders:,} orders as webhooks write them (order + 2 lines)"),
                ("lines", f"{args.lines:,} sale lines, one INSERT ... SELECT"),
                ("refunds", f"{args.orders:,} refunds, one UPDATE each"),
                ("close", f"UPDATE of {args.lines:,} lines to paid by an export (a close)"),
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
