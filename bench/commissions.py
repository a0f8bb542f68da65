"""Month-end commission settlement: ``settle()`` over a month of 1,000,000 orders.

    python bench/commissions.py [--conversions 1000000] [--influencers 5000]
        [--clicks 2000000] [--month 2026-10] [--keep] [--explain] [--capped]
        [--dsn postgresql://postgres@127.0.0.1:5432/postgres]

Drops and recreates the database ``afftrack_bench_commissions`` (``--database``), migrates
it to head with the project's own code (``service.migrate.upgrade``), creates the month's
clicks partition with ``service.clicks.partitions.ensure_partitions``, then seeds it with
COPY: one EUR campaign (a three-bracket ``tiered_percent`` rule and a ``cpc`` rule;
every 20th partnership has its own rules), one partnership per influencer, a link each
(a second one for every 5th), N orders in the month spread over the influencers
(Zipf-like), each with its tiered sale line exactly as ``engine.sale_line_rows`` writes
it (``before`` = the month's net sales before the order, the bracket amount rounded
half-even), 4 % refunded and 1 % cancelled (a ``conversion_events`` row and the
reversal line ``record_reversal`` writes), and clicks for the month (bots, repeats and
fallbacks among them); 1 % more orders and clicks fall in the next month. The month
before is closed (an ``exports`` row, closed two days into the month), as on a live
database, so the settlement covers the months since that close. ``--capped`` gives the
campaign a monthly cap per influencer so high that nothing is ever cut. The seeded
database is then VACUUM ANALYZEd and a CHECKPOINT taken, as autovacuum would have done.
The ledger's roll-ups (``statement_daily``, ``statement_orders``, ``tiered_sales_daily``)
are compacted first (VACUUM FULL): the seeder writes an order's lines in transactions of
tens of thousands, and each line updates its day's roll-up row, so the old row versions
cannot be pruned while the transaction runs: the two updated tables came out 7 and 13
times their size (24 and 46 MB against 3.5 MB). A live database writes each order in its
own transaction, and PostgreSQL prunes a page's old versions as it goes (a table of
3,000 rows updated 30,000 times stayed at 240 kB one update per transaction, and grew
to 2.2 MB in one transaction). Seeding uses its own connection and is not measured.

Then ``service.commissions.settlement.settle(session, month, "UTC")`` runs, with its
commit, in a fresh Python process (the clock frozen after the month's end), twice: the
first run writes the true-up and cpc lines, the second must write none. Per run: wall
time of settle() and of the commit, the child's peak RSS (``VmHWM`` of its own address
space, from ``/proc/self/status`` after the commit: ``ru_maxrss`` cannot be used, because
Linux carries the parent's high-water mark into a child across fork and exec, and the
parent holds the seeding data), lines written, and the time spent in each kind of
SQL statement. Then the ledger is checked independently of the service: for every
partnership the month's tiered lines sum to the bracket formula over its net sales
(rounded half-even once), and each cpc line is the partnership's unique, non-bot,
redirected clicks of the month times its rate, both against SQL over the raw tables and
against what the seeder generated. ``--explain`` prints EXPLAIN (ANALYZE, BUFFERS) of the
slowest SELECTs of the second run. The database is dropped at the end unless ``--keep``.

Exit status: 0 when every check passed (the targets are reported, not enforced), 2 when
a check failed, 1 when the benchmark could not run.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import heapq
import itertools
import json
import math
import os
import random
import re
import resource
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from _harness import (
    BROWSER_UA,
    BenchError,
    cpu_model,
    drop_pg_database,
    note,
    recreate_pg_database,
    shout,
    status_kb,
    table,
)

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from service.clicks.bots import bot_reason  # noqa: E402
from service.clicks.partitions import COLUMNS as CLICK_COLUMNS  # noqa: E402
from service.clicks.partitions import ensure_partitions  # noqa: E402
from service.commissions.rules import parse_rules  # noqa: E402
from service.db import Database, new_id  # noqa: E402
from service.migrate import upgrade  # noqa: E402
from service.money import format_amount  # noqa: E402
from service.periods import next_period, parse_period, period_bounds  # noqa: E402

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_DB = "afftrack_bench_commissions"
CURRENCY = "EUR"
TARGET_SECONDS = 60.0
TARGET_MB = 500.0
SETTINGS = (
    "server_version",
    "shared_buffers",
    "work_mem",
    "hash_mem_multiplier",
    "effective_cache_size",
    "max_parallel_workers_per_gather",
    "jit",
    "random_page_cost",
    "synchronous_commit",
    "max_wal_size",
)
BOT_UA = "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)"
CHUNK = 20_000  # rows per COPY
UNBINDING_CAP = 10**11  # --capped: EUR 1,000,000,000.00 a month per influencer, never reached


# --- the rules, and our own arithmetic for them (independent of service.rules) --------


@dataclass(frozen=True)
class Terms:
    """A partnership's rules: brackets as (up_to minor or None, rate in per-mille)."""

    tiers: tuple[tuple[int | None, int], ...]
    cpc_minor: int

    def rules_json(self) -> list[dict[str, Any]]:
        raw = [
            {
                "type": "tiered_percent",
                "tiers": [
                    {
                        "up_to": None if up is None else format_amount(up, CURRENCY),
                        "rate": f"{pm // 10}" if pm % 10 == 0 else f"{pm / 10}",
                    }
                    for up, pm in self.tiers
                ],
            },
            {"type": "cpc", "amount": format_amount(self.cpc_minor, CURRENCY)},
        ]
        # The canonical stored form, as the campaign API would store it.
        return [rule.to_json(CURRENCY) for rule in parse_rules(raw, CURRENCY)]


CAMPAIGN_TERMS = Terms(((100_000, 50), (1_000_000, 80), (None, 100)), 5)  # 5/8/10 %, 0.05
OWN_TERMS = Terms(((50_000, 60), (500_000, 90), (None, 125)), 10)  # 6/9/12.5 %, 0.10


def tiered_x1000(total: int, tiers: Sequence[tuple[int | None, int]]) -> int:
    """Marginal brackets over ``total`` minor units, in thousandths of a minor unit."""
    out, lower = 0, 0
    for up, per_mille in tiers:
        if total <= lower:
            break
        top = total if up is None else min(total, up)
        out += (top - lower) * per_mille
        if up is None:
            break
        lower = up
    return out


def div_half_even(n: int, d: int) -> int:
    q, r = divmod(n, d)
    if 2 * r > d or (2 * r == d and q % 2 == 1):
        q += 1
    return q


def formula(net: int, terms: Terms) -> int:
    """What a month's tiered lines must total: the brackets over net sales, rounded once."""
    return div_half_even(tiered_x1000(max(net, 0), terms.tiers), 1000)


# --- ids -------------------------------------------------------------------------------

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def id_maker(prefix: str, moment: datetime) -> Iterator[str]:
    """Ids shaped like ``service.db.new_id`` (prefix + 26 base32), cheap to make in bulk:
    10 chars of milliseconds, then 16 hex digits (hex is a subset of base32) counting up."""
    millis = int(moment.timestamp() * 1000)
    head = "".join(_CROCKFORD[(millis >> (5 * i)) & 31] for i in reversed(range(10)))
    rnd = random.getrandbits(32) << 32
    for n in itertools.count():
        yield f"{prefix}_{head}{rnd + n:016x}"


# --- seeding -----------------------------------------------------------------------------


@dataclass
class Partner:
    pid: str
    influencer_id: str
    terms: Terms
    links: list[str]
    weight: float
    # What the seeder wrote for the month, to check the ledger against afterwards.
    net: int = 0  # net attributable sales (refunds deducted, cancellations at zero)
    recorded: int = 0  # sum of its tiered sale and reversal lines
    clicks: int = 0  # unique, non-bot, redirected clicks


@dataclass
class Seeded:
    campaign_id: str
    partners: list[Partner]
    counts: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    orders: list[int] = field(default_factory=list)  # the month's orders per partnership


class Copier:
    """Buffers rows per table and COPYs them in chunks, parents first."""

    ORDER = ("conversions", "conversion_events", "commission_lines", "clicks")

    def __init__(self, conn: psycopg.Connection, columns: dict[str, Sequence[str]]) -> None:
        self.conn, self.columns = conn, columns
        self.rows: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        self.counts: Counter[str] = Counter()

    def add(self, table_name: str, row: tuple[Any, ...]) -> None:
        rows = self.rows[table_name]
        rows.append(row)
        if len(rows) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        for name in self.ORDER:
            rows = self.rows.get(name)
            if not rows:
                continue
            cols = ", ".join(self.columns[name])
            with self.conn.cursor() as cur, cur.copy(f"COPY {name} ({cols}) FROM STDIN") as cp:
                for row in rows:
                    cp.write_row(row)
            self.counts[name] += len(rows)
            rows.clear()


CONVERSION_COLUMNS = (
    "id", "source", "order_id", "occurred_at", "received_at", "currency", "amount_minor",
    "total_minor", "refunded_minor", "tax_minor", "prices_include_tax", "status",
    "promo_codes", "method", "partnership_id", "campaign_id", "influencer_id", "link_id",
    "raw",
)  # fmt: skip
EVENT_COLUMNS = (
    "id", "source", "order_id", "kind", "external_id", "conversion_id", "basis",
    "amount_text", "currency", "amount_minor", "occurred_at", "received_at", "applied_at",
    "raw",
)  # fmt: skip
LINE_COLUMNS = (
    "id", "idempotency_key", "influencer_id", "campaign_id", "partnership_id",
    "conversion_id", "event_id", "reverses_line_id", "kind", "rule", "basis_minor",
    "amount_minor", "currency", "status", "occurred_at", "due_at", "recorded_at", "purpose",
    "rule_index", "before_minor",
)  # fmt: skip


def zipf_weights(n: int, s: float, rng: random.Random) -> list[float]:
    weights = [1.0 / (rank**s) for rank in range(1, n + 1)]
    rng.shuffle(weights)  # rank unrelated to creation order
    return weights


def draw_counts(
    n_items: int, total: int, weights: Sequence[float], rng: random.Random
) -> list[int]:
    """How many of ``total`` fall on each item (a multinomial draw by ``weights``)."""
    cum = list(itertools.accumulate(weights))
    counts = [0] * n_items
    for index in rng.choices(range(n_items), cum_weights=cum, k=total):
        counts[index] += 1
    return counts


def seed(pg_url: str, args: argparse.Namespace) -> Seeded:
    started = time.perf_counter()
    rng = random.Random(args.seed)
    random.seed(args.seed + 1)  # id_maker
    start, end = period_bounds(args.month, "UTC")
    next_start, _next_end = period_bounds(next_period(args.month), "UTC")
    created = start - timedelta(days=60)
    frozen = frozen_moment(args.month)
    hold = timedelta(days=args.hold_days)

    with psycopg.connect(pg_url) as conn:
        # --- campaign, influencers, partnerships, links (small: ids from the service)
        campaign_id = new_id("cmp")
        with conn.cursor() as cur:
            cur.execute(
                "INSERT INTO campaigns (id, name, slug, goal, kind, currency, starts_on, "
                "ends_on, budget_minor, monthly_cap_minor, allowed_domains, fallback_url, "
                "attribution_window_days, hold_days, utm_medium, commission_rules, "
                "created_at, updated_at) VALUES (%s, 'Bench commissions', "
                "'bench-commissions', 'conversions', 'affiliate', %s, %s, NULL, NULL, %s, "
                "%s, 'https://shop.example/', 30, %s, 'influencer', %s, %s, %s)",
                (
                    campaign_id,
                    CURRENCY,
                    date(start.year, 1, 1),
                    UNBINDING_CAP if args.capped else None,
                    json.dumps(["shop.example"]),
                    args.hold_days,
                    json.dumps(CAMPAIGN_TERMS.rules_json()),
                    created,
                    created,
                ),
            )
            # The month before is closed (its export exists), as on a live database: the
            # settlement covers the months since that close.
            cur.execute(
                "INSERT INTO exports (id, period, checksum, closed_at, line_count, totals) "
                "VALUES (%s, %s, %s, %s, 0, '[]')",
                (new_id("exp"), prev_period(args.month), "0" * 64, start + timedelta(days=2)),
            )
        weights = zipf_weights(args.influencers, args.skew, rng)
        partners: list[Partner] = []
        own_rules = json.dumps(OWN_TERMS.rules_json())
        with conn.cursor() as cur:
            with cur.copy(
                "COPY influencers (id, handle, name, email, payout_email, created_at, "
                "updated_at) FROM STDIN"
            ) as cp:
                inf_ids = [new_id("inf") for _ in range(args.influencers)]
                for i, inf in enumerate(inf_ids):
                    handle = f"creator{i:06d}"
                    cp.write_row(
                        (
                            inf,
                            handle,
                            f"Creator {i}",
                            f"{handle}@example.com",
                            None,
                            created,
                            created,
                        )
                    )
            with cur.copy(
                "COPY partnerships (id, campaign_id, influencer_id, commission_rules, "
                "created_at) FROM STDIN"
            ) as cp:
                for i, inf in enumerate(inf_ids):
                    own = i % 20 == 19
                    pid = new_id("prt")
                    partners.append(
                        Partner(pid, inf, OWN_TERMS if own else CAMPAIGN_TERMS, [], weights[i])
                    )
                    cp.write_row((pid, campaign_id, inf, own_rules if own else None, created))
            with cur.copy(
                "COPY links (id, code, partnership_id, campaign_id, influencer_id, "
                "destination, platform, status, created_at, updated_at) FROM STDIN"
            ) as cp:
                for i, p in enumerate(partners):
                    for k, platform in enumerate(
                        ("instagram", "tiktok") if i % 5 == 4 else ("instagram",)
                    ):
                        lid = new_id("lnk")
                        p.links.append(lid)
                        cp.write_row(
                            (
                                lid,
                                f"c{i:06d}{k}",
                                p.pid,
                                campaign_id,
                                p.influencer_id,
                                f"https://shop.example/p/{i}",
                                platform,
                                "active",
                                created,
                                created,
                            )
                        )
        conn.commit()
        with service_database(pg_url) as db, db.engine.begin() as sa_conn:
            # The month's clicks partition (and the next month's), as the worker makes them.
            made = ensure_partitions(sa_conn, [start.date(), next_start.date()])
        note(f"clicks partitions created: {', '.join(made) or '(already there)'}")

        copier = Copier(
            conn,
            {
                "conversions": CONVERSION_COLUMNS,
                "conversion_events": EVENT_COLUMNS,
                "commission_lines": LINE_COLUMNS,
                "clicks": CLICK_COLUMNS,
            },
        )
        ids = {p: id_maker(p, created) for p in ("cnv", "evt", "cml")}
        per_partner = draw_counts(len(partners), args.conversions, weights, rng)
        extra = draw_counts(len(partners), args.conversions // 100, weights, rng)
        order_no = itertools.count(1_000_000_000)
        note(f"seeding {args.conversions:,} orders (+{sum(extra):,} in the next month)")
        for p, n_month, n_next in zip(partners, per_partner, extra, strict=True):
            for m_start, m_end, n, counted in (
                (start, end, n_month, True),
                (next_start, frozen - timedelta(days=2), n_next, False),
            ):
                if not n:
                    continue
                net, recorded = _orders(
                    copier, ids, order_no, rng, p, campaign_id, m_start, m_end, n, hold, frozen
                )
                if counted:
                    p.net, p.recorded = net, recorded
        copier.flush()
        conn.commit()

        note(f"seeding {args.clicks:,} clicks (+{args.clicks // 100:,} in the next month)")
        link_weights = [p.weight / len(p.links) for p in partners for _ in p.links]
        link_owner = [p for p in partners for _ in p.links]
        link_ids = [lid for p in partners for lid in p.links]
        for m_start, m_end, n, counted in (
            (start, end, args.clicks, True),
            (next_start, frozen - timedelta(days=2), args.clicks // 100, False),
        ):
            counts = draw_counts(len(link_ids), n, link_weights, rng)
            for lid, owner, count in zip(link_ids, link_owner, counts, strict=True):
                unique = _clicks(copier, rng, lid, m_start, m_end, count)
                if counted:
                    owner.clicks += unique
            copier.flush()
            conn.commit()
        counts = copier.counts

    note("VACUUM ANALYZE and CHECKPOINT")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("VACUUM (FULL) statement_daily, statement_orders, tiered_sales_daily")
        conn.execute("VACUUM (ANALYZE)")
        conn.execute("CHECKPOINT")
    return Seeded(campaign_id, partners, counts, time.perf_counter() - started, per_partner)


@contextlib.contextmanager
def service_database(pg_url: str) -> Iterator[Database]:
    """The service's ``Database`` on ``pg_url``, disposed of afterwards."""
    db = Database(sa_url(pg_url))
    try:
        yield db
    finally:
        db.dispose()


def _orders(
    copier: Copier,
    ids: dict[str, Iterator[str]],
    order_no: Iterator[int],
    rng: random.Random,
    p: Partner,
    campaign_id: str,
    m_start: datetime,
    m_end: datetime,
    n: int,
    hold: timedelta,
    frozen: datetime,
) -> tuple[int, int]:
    """One partnership's orders of one month, their sale lines and their refunds, as
    the service writes them. Returns (net sales, tiered lines' sum)."""
    span_us = int((m_end - m_start).total_seconds() * 1_000_000)
    times = sorted(rng.randrange(span_us) for _ in range(n))
    rules_json = p.terms.rules_json()[0]
    refunds: list[tuple[datetime, int, str, int, str, str, datetime]] = []
    net_now = 0  # the month's net sales so far, as month_to_date() would read them
    net_final, recorded = 0, 0
    link = p.links[0]
    for t_us in times:
        occurred = m_start + timedelta(microseconds=t_us)
        while refunds and refunds[0][0] <= occurred:
            net_now -= heapq.heappop(refunds)[1]
        amount = int(math.exp(rng.uniform(math.log(1_000), math.log(40_000))))
        tax = div_half_even(amount * 20, 100)
        cid = next(ids["cnv"])
        order_id = str(next(order_no))
        before = max(net_now, 0)
        x1000 = tiered_x1000(before + amount, p.terms.tiers) - tiered_x1000(before, p.terms.tiers)
        line_amount = div_half_even(x1000, 1000)
        net_now += amount
        roll = rng.random()
        refunded, status, kind = 0, "open", None
        if roll < 0.01:
            refunded, status, kind = amount, "cancelled", "cancel"
        elif roll < 0.03:
            refunded, status, kind = amount, "refunded", "refund"
        elif roll < 0.05:
            refunded = max(1, int(amount * rng.uniform(0.1, 0.9)))
            status, kind = "partially_refunded", "refund"
        if status != "cancelled":
            net_final += amount - refunded
        received = occurred + timedelta(seconds=2)
        copier.add(
            "conversions",
            (
                cid,
                "shopify",
                order_id,
                occurred,
                received,
                CURRENCY,
                amount,
                amount + tax + 490,
                refunded,
                tax,
                False,
                status,
                "[]",
                "utm",
                p.pid,
                campaign_id,
                p.influencer_id,
                link,
                "{}",
            ),
        )
        line_id = next(ids["cml"])
        rule = json.dumps(rules_json)
        due = occurred + hold
        copier.add(
            "commission_lines",
            (
                line_id,
                f"sale:{cid}:0",
                p.influencer_id,
                campaign_id,
                p.pid,
                cid,
                None,
                None,
                "sale",
                rule,
                amount,
                line_amount,
                CURRENCY,
                "pending",
                occurred,
                due,
                received,
                "sale",
                0,
                before,
            ),
        )
        recorded += line_amount
        if kind is None:
            continue
        # The refund or cancel, a few days later (never after the frozen clock).
        happened = min(occurred + timedelta(hours=rng.uniform(1, 240)), frozen - timedelta(hours=1))
        heapq.heappush(refunds, (happened, refunded, cid, amount, order_id, line_id, due))
        eid = next(ids["evt"])
        copier.add(
            "conversion_events",
            (
                eid,
                "shopify",
                order_id,
                kind,
                f"{kind}-{order_id}",
                cid,
                "attributable",
                format_amount(refunded, CURRENCY),
                CURRENCY,
                refunded,
                happened,
                happened,
                happened,
                "{}",
            ),
        )
        # engine.reversal_rows: the refunded share of the line, rounded half-even;
        # due with the line it reverses (not paid yet).
        reversed_amount = -div_half_even(line_amount * refunded, amount)
        if reversed_amount:
            copier.add(
                "commission_lines",
                (
                    next(ids["cml"]),
                    f"reversal:{eid}:{line_id}",
                    p.influencer_id,
                    campaign_id,
                    p.pid,
                    cid,
                    eid,
                    line_id,
                    "reversal",
                    rule,
                    refunded,
                    reversed_amount,
                    CURRENCY,
                    "pending",
                    happened,
                    due,
                    happened,
                    "reversal",
                    0,
                    before,
                ),
            )
            recorded += reversed_amount
    return net_final, recorded


def _clicks(
    copier: Copier, rng: random.Random, link_id: str, m_start: datetime, m_end: datetime, n: int
) -> int:
    """``n`` clicks on one link in [m_start, m_end); returns how many count for cpc."""
    span_us = int((m_end - m_start).total_seconds() * 1_000_000)
    human_reason = bot_reason(BROWSER_UA)
    robot_reason = bot_reason(BOT_UA)
    seen: list[str] = []
    counted = 0
    for _ in range(n):
        occurred = m_start + timedelta(microseconds=rng.randrange(span_us))
        roll = rng.random()
        ip = rng.randbytes(32).hex()
        if roll < 0.08:  # a crawler: never unique as the redirect writes it, but 1 in 50
            # is stored unique (as a direct write would) so the is_bot filter is exercised
            ua, is_bot, reason, unique, outcome = (
                BOT_UA,
                True,
                robot_reason,
                roll < 0.0016,
                "redirect",
            )
        elif roll < 0.11:  # the link was paused: sent to the fallback, never unique
            ua, is_bot, reason, unique, outcome = BROWSER_UA, False, human_reason, False, "fallback"
        elif roll < 0.33 and seen:  # the same visitor again within the window
            ua, is_bot, reason, unique, outcome = BROWSER_UA, False, human_reason, False, "redirect"
            ip = rng.choice(seen)
        else:
            ua, is_bot, reason, unique, outcome = BROWSER_UA, False, human_reason, True, "redirect"
            if len(seen) < 64:
                seen.append(ip)
        counted += unique and not is_bot and outcome == "redirect"
        click_id = base64.urlsafe_b64encode(rng.randbytes(12)).decode()
        copier.add(
            "clicks",
            (
                click_id,
                link_id,
                occurred,
                ip,
                ua,
                "https://l.instagram.com/",
                "DE",
                is_bot,
                reason,
                unique,
                outcome,
                # 1 in 20 came from a QR code (drawn from the same roll: the data set
                # is otherwise the one it was before clicks had a source).
                "qr" if int(roll * 1000) % 20 == 0 else "link",
            ),
        )
    return counted


# --- the measured child ----------------------------------------------------------------


_TABLES = re.compile(r"\b(?:FROM|JOIN)\s+(\w+)")


def label_of(statement: str) -> str:
    """A short name for a statement: its kind, tables and aggregate (the settlement
    code changes; this does not depend on it)."""
    s = " ".join(statement.split())
    if s.startswith("INSERT INTO"):
        return f"INSERT {s.split()[2]}"
    if "pg_try_advisory_xact_lock" in s:
        return "SELECT pg_try_advisory_xact_lock (the settle lock)"
    if not s.startswith("SELECT") or " FROM " not in s:
        return s[:60]
    body = re.split(r" WHERE | GROUP BY | ORDER BY | LIMIT ", s.split(" FROM ", 1)[-1])[0]
    tables = " x ".join(_TABLES.findall("FROM " + body))
    first = s[len("SELECT ") :].split(",")[0]
    agg = re.match(r"(min|max|count|sum)\(", first)
    what = f"{agg.group(1)}() " if agg else ""
    group = " GROUP BY" if " GROUP BY " in s else ""
    return f"SELECT {what}{tables}{group}"[:70]


def child_main(url: str, month: str, frozen_iso: str, explain: bool) -> None:
    """Runs in a fresh interpreter: settle ``month`` and commit; JSON on stdout."""
    from sqlalchemy import event, text

    from service import clock
    from service.commissions.settlement import settle

    clock.set_frozen(datetime.fromisoformat(frozen_iso))
    db = Database(url)
    stats: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    slowest: dict[str, tuple[float, str, Any]] = {}
    pending: list[float] = []

    @event.listens_for(db.engine, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, statement: str, params: Any, ctx: Any, many: Any) -> None:
        pending.append(time.perf_counter())

    @event.listens_for(db.engine, "after_cursor_execute")
    def _after(conn: Any, cursor: Any, statement: str, params: Any, ctx: Any, many: Any) -> None:
        took = time.perf_counter() - pending.pop()
        label = label_of(statement)
        stats[label][0] += 1
        stats[label][1] += took
        if took > slowest.get(label, (-1.0, "", None))[0]:
            slowest[label] = (took, statement, params)

    session = db.sessions()
    backend = session.scalar(text("SELECT pg_backend_pid()"))
    temp_before = session.execute(
        text(
            "SELECT temp_files, temp_bytes FROM pg_stat_database WHERE datname = current_database()"
        )
    ).one()
    stats.clear()
    rss_before = status_kb(os.getpid(), "VmRSS")
    hwm_before = status_kb(os.getpid(), "VmHWM")
    t0 = time.perf_counter()
    done = settle(session, month, "UTC")
    t1 = time.perf_counter()
    session.commit()
    t2 = time.perf_counter()
    measured = {k: {"n": v[0], "s": v[1]} for k, v in stats.items()}
    session.execute(text("SELECT pg_stat_force_next_flush()"))
    session.commit()
    result: dict[str, Any] = {
        "settle_s": t1 - t0,
        "commit_s": t2 - t1,
        "months": done.months,
        "true_ups": done.true_ups,
        "cpc": done.cpc,
        "rss_before_kb": rss_before,  # after imports and the connection, before settle()
        "hwm_before_kb": hwm_before,
        "hwm_kb": status_kb(os.getpid(), "VmHWM"),  # the peak, settle() and commit included
        "ru_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,  # see the docstring
        "backend_hwm_kb": status_kb(backend, "VmHWM"),
        "statements": measured,
    }
    with db.engine.connect() as conn:
        after = conn.execute(
            text(
                "SELECT temp_files, temp_bytes FROM pg_stat_database "
                "WHERE datname = current_database()"
            )
        ).one()
        # pg_stat_database is updated when a backend reports; the settle backend has
        # committed, so its counts are in after a moment.
        result["temp_files"] = after[0] - temp_before[0]
        result["temp_bytes"] = after[1] - temp_before[1]
        if explain:
            plans = {}
            for label, (_took, statement, params) in sorted(
                slowest.items(), key=lambda kv: -kv[1][0]
            ):
                if not statement.lstrip().upper().startswith("SELECT") or _took < 0.05:
                    continue
                rows = conn.exec_driver_sql(
                    "EXPLAIN (ANALYZE, BUFFERS, SETTINGS) " + statement, params
                ).all()
                plans[label] = {
                    "sql": statement,
                    "params": repr(params),
                    "plan": [r[0] for r in rows],
                }
            result["explain"] = plans
    session.close()
    db.dispose()
    print("@@RESULT@@" + json.dumps(result, default=str), flush=True)


@dataclass
class Run:
    label: str
    wall_s: float  # the child process, start to exit
    wait4_maxrss_kb: int  # ru_maxrss of that child (os.wait4): inflated by the parent's
    result: dict[str, Any]

    @property
    def peak_kb(self) -> int:
        """The child's own peak RSS (VmHWM), settle() and its commit included."""
        return int(self.result["hwm_kb"])


def run_child(label: str, url: str, month: str, explain: bool) -> Run:
    argv = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        url,
        month,
        frozen_moment(month).isoformat(),
    ]
    if explain:
        argv.append("--explain")
    note(f"{label}: settle({month!r}) in a fresh process")
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise BenchError(f"the settle process failed ({proc.returncode}):\n{out[-3000:]}")
    marker = out.rfind("@@RESULT@@")
    if marker < 0:
        raise BenchError(f"the settle process printed no result:\n{out[-3000:]}")
    result = json.loads(out[marker + len("@@RESULT@@") :])
    return Run(label, wall, usage.ru_maxrss, result)


# --- checks ------------------------------------------------------------------------------


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def check(pg_url: str, args: argparse.Namespace, seeded: Seeded, runs: list[Run]) -> list[Check]:
    start, end = period_bounds(args.month, "UTC")
    by_pid = {p.pid: p for p in seeded.partners}
    link_owner = {lid: p.pid for p in seeded.partners for lid in p.links}
    checks: list[Check] = []
    with psycopg.connect(pg_url) as conn:
        # Net sales per partnership, from the orders (as the service defines them: in
        # the campaign's currency, with a tiered sale line not rejected).
        net_sql = dict(
            conn.execute(
                "SELECT c.partnership_id, sum(c.amount_minor - c.refunded_minor) "
                "FROM conversions c WHERE c.occurred_at >= %s AND c.occurred_at < %s "
                "AND c.status <> 'cancelled' AND c.currency = %s AND EXISTS ("
                "  SELECT 1 FROM commission_lines s WHERE s.conversion_id = c.id "
                "  AND s.kind = 'sale' AND s.status <> 'rejected' "
                "  AND s.rule->>'type' = 'tiered_percent') "
                "GROUP BY c.partnership_id",
                (start, end, CURRENCY),
            ).fetchall()
        )
        # Everything on the ledger for the month's tiered commission: the month's orders'
        # sale and reversal lines, and the true-ups of that month.
        ledger = dict(
            conn.execute(
                "SELECT l.partnership_id, sum(l.amount_minor) FROM commission_lines l "
                "LEFT JOIN conversions c ON c.id = l.conversion_id "
                "WHERE l.rule->>'type' = 'tiered_percent' AND l.status <> 'rejected' AND ("
                "  (l.kind IN ('sale', 'reversal') AND c.occurred_at >= %s "
                "   AND c.occurred_at < %s) "
                "  OR (l.kind = 'true_up' AND l.month = %s)) "
                "GROUP BY l.partnership_id",
                (start, end, args.month),
            ).fetchall()
        )
        true_up_keys = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE idempotency_key = "
            "'true_up:' || partnership_id || ':0:' || %s || ':0') "
            "FROM commission_lines WHERE kind = 'true_up'",
            (args.month,),
        ).fetchone()
        # Clicks per link straight from the month's partition, mapped to partnerships
        # here (not the service's join).
        clicks_sql: Counter[str] = Counter()
        for link_id, n in conn.execute(
            "SELECT link_id, count(*) FROM clicks WHERE occurred_at >= %s AND occurred_at < %s "
            "AND is_unique AND NOT is_bot AND outcome = 'redirect' GROUP BY link_id",
            (start, end),
        ):
            clicks_sql[link_owner[link_id]] += n
        cpc_lines = conn.execute(
            "SELECT partnership_id, amount_minor, clicks, rule->>'amount', "
            "idempotency_key, occurred_at, due_at FROM commission_lines "
            "WHERE kind = 'cpc' AND month = %s",
            (args.month,),
        ).fetchall()

    # Tiered: every partnership, against SQL and against the seeder.
    bad_formula, bad_net = [], []
    expected_true_ups = 0
    for p in seeded.partners:
        net = int(net_sql.get(p.pid, 0))
        want = formula(net, p.terms)
        have = int(ledger.get(p.pid, 0))
        if have != want:
            bad_formula.append(f"{p.pid}: ledger {have}, formula {want} (net {net})")
        if net != p.net:
            bad_net.append(f"{p.pid}: SQL net {net}, seeded net {p.net}")
        expected_true_ups += formula(p.net, p.terms) != p.recorded
    checks.append(
        Check(
            "tiered: month's lines = brackets(net sales), half-even, every partnership",
            not bad_formula,
            f"{len(seeded.partners) - len(bad_formula):,}/{len(seeded.partners):,} match"
            + (f"; e.g. {bad_formula[0]}" if bad_formula else ""),
        )
    )
    checks.append(
        Check(
            "tiered: net sales in SQL = net sales the seeder generated",
            not bad_net,
            f"{len(bad_net)} differ" + (f"; e.g. {bad_net[0]}" if bad_net else ""),
        )
    )
    first = runs[0].result
    checks.append(
        Check(
            "true_up lines written = partnerships whose seeded lines missed the formula",
            first["true_ups"] == expected_true_ups,
            f"written {first['true_ups']:,}, expected {expected_true_ups:,}",
        )
    )
    checks.append(
        Check(
            "true_up keys are true_up:<partnership>:0:<month>:0",
            true_up_keys is not None and true_up_keys[0] == true_up_keys[1] == first["true_ups"],
            f"{true_up_keys[1] if true_up_keys else 0:,} of {first['true_ups']:,} well-formed",
        )
    )

    # CPC: each line = clicks x rate; one line per partnership with clicks.
    last_instant = end - timedelta(microseconds=1)
    bad_cpc = []
    lines_per: Counter[str] = Counter()
    for pid, amount, clicks_text, rate_text, key, occurred, due in cpc_lines:
        p = by_pid[pid]
        lines_per[pid] += 1
        want = clicks_sql[pid] * p.terms.cpc_minor
        if (
            amount != want
            or int(clicks_text) != clicks_sql[pid]
            or rate_text != format_amount(p.terms.cpc_minor, CURRENCY)
            or key != f"cpc:{pid}:1:{args.month}:0"
            or occurred != last_instant
            or due != last_instant
        ):
            bad_cpc.append(f"{pid}: {amount} for {clicks_text} clicks, want {want} ({key})")
    with_clicks = {pid for pid, n in clicks_sql.items() if n}
    missing = sorted(with_clicks - set(lines_per))
    extra = sorted(pid for pid in lines_per if pid not in with_clicks or lines_per[pid] > 1)
    checks.append(
        Check(
            "cpc: each line = unique non-bot redirected clicks x rate (at the last instant)",
            not bad_cpc,
            f"{len(cpc_lines) - len(bad_cpc):,}/{len(cpc_lines):,} match"
            + (f"; e.g. {bad_cpc[0]}" if bad_cpc else ""),
        )
    )
    checks.append(
        Check(
            "cpc: one line per partnership with clicks, none without",
            not missing and not extra and first["cpc"] == len(with_clicks),
            f"{len(with_clicks):,} partnerships with clicks, {len(cpc_lines):,} lines, "
            f"{len(missing)} missing, {len(extra)} extra",
        )
    )
    bad_clicks = [p.pid for p in seeded.partners if clicks_sql[p.pid] != p.clicks]
    checks.append(
        Check(
            "cpc: clicks counted in SQL = clicks the seeder generated",
            not bad_clicks,
            f"{len(bad_clicks)} partnerships differ",
        )
    )
    for run in runs[1:]:
        written = run.result["true_ups"] + run.result["cpc"]
        checks.append(
            Check(f"{run.label}: writes nothing (idempotent)", written == 0, f"{written} lines")
        )
    return checks


# --- report ------------------------------------------------------------------------------


def pg_settings(conn: psycopg.Connection) -> list[tuple[str, str]]:
    out = []
    for name in SETTINGS:
        row = conn.execute(f"SHOW {name}").fetchone()
        out.append((name, str(row[0]) if row else "?"))
    return out


def sizes(pg_url: str, month: str) -> list[tuple[str, str, str]]:
    year, number = parse_period(month)
    partition = f"clicks_{year:04d}_{number:02d}"
    out = []
    with psycopg.connect(pg_url) as conn:
        for name in ("conversions", "conversion_events", "commission_lines", partition):
            rows, size = conn.execute(
                f"SELECT (SELECT count(*) FROM {name}), "
                "pg_size_pretty(pg_total_relation_size(%s::regclass))",
                (name,),
            ).fetchone() or (0, "?")
            out.append((name, f"{rows:,}", size))
    return out


def report(args: argparse.Namespace, seeded: Seeded, runs: list[Run], checks: list[Check]) -> None:
    print()
    print("settle() runs (each in a fresh process; peak RSS = VmHWM of that process)")
    rows = []
    for run in runs:
        r = run.result
        rows.append(
            [
                run.label,
                f"{r['settle_s']:.2f}",
                f"{r['commit_s']:.3f}",
                f"{run.wall_s:.2f}",
                f"{run.peak_kb / 1024:.0f}",
                f"{(r['rss_before_kb'] or 0) / 1024:.0f}",
                f"{r['true_ups']:,}",
                f"{r['cpc']:,}",
                f"{r['temp_bytes'] / 2**20:.0f}",
            ]
        )
    print(
        table(
            [
                "run",
                "settle s",
                "commit s",
                "process s",
                "peak RSS MB",
                "RSS before MB",
                "true_up lines",
                "cpc lines",
                "PG temp MB",
            ],
            rows,
        )
    )
    print(
        "(settle s: settle() alone; process s: the child from start to exit, imports and "
        "--explain included; RSS before: after imports and connecting; PG temp: temporary "
        "files PostgreSQL wrote during the run)"
    )
    print(
        "ru_maxrss of each child (os.wait4), not used: "
        + ", ".join(f"{run.wait4_maxrss_kb / 1024:.0f} MB" for run in runs)
        + " — Linux carries this (large) parent's high-water mark into a child it spawns"
    )
    print(f"months settled: {', '.join(runs[0].result['months'])}")
    for run in runs:
        print()
        print(f"{run.label}: time per kind of statement (cursor.execute, fetch included)")
        stmts = sorted(run.result["statements"].items(), key=lambda kv: -kv[1]["s"])
        in_sql = sum(v["s"] for _, v in stmts)
        rows = [[k, f"{v['n']:,}", f"{v['s']:.2f}"] for k, v in stmts]
        rows.append(["(all SQL)", "", f"{in_sql:.2f}"])
        rows.append(
            ["(Python outside cursor.execute)", "", f"{run.result['settle_s'] - in_sql:.2f}"]
        )
        print(table(["statement", "count", "seconds"], rows))
        hwm = run.result.get("backend_hwm_kb")
        if hwm:
            print(
                f"PostgreSQL backend peak RSS (VmHWM, shared buffers it touched included): "
                f"{hwm / 1024:.0f} MB; temp files {run.result['temp_files']}"
            )
    for run in runs:
        for label, plan in (run.result.get("explain") or {}).items():
            print()
            print(f"EXPLAIN (ANALYZE, BUFFERS) — {label} ({run.label})")
            print(plan["sql"])
            print(f"params: {plan['params']}")
            print("\n".join(plan["plan"]))

    print()
    print("checks")
    print(
        table(
            ["", "check", "detail"], [["ok" if c.ok else "FAIL", c.name, c.detail] for c in checks]
        )
    )
    first = runs[0]
    print()
    print("targets (first run, the one that writes the lines)")
    print(
        table(
            ["target", "measured", ""],
            [
                [
                    f"settle() under {TARGET_SECONDS:.0f} s",
                    f"{first.result['settle_s'] + first.result['commit_s']:.2f} s (with commit)",
                    "met"
                    if first.result["settle_s"] + first.result["commit_s"] < TARGET_SECONDS
                    else "NOT MET",
                ],
                [
                    f"peak memory under {TARGET_MB:.0f} MB",
                    f"{first.peak_kb / 1024:.0f} MB",
                    "met" if first.peak_kb / 1024 < TARGET_MB else "NOT MET",
                ],
            ],
        )
    )


def code_version() -> str:
    """HEAD, and whether service/ differs from it (the code measured is the working tree)."""

    def git(*argv: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(REPO), *argv], capture_output=True, text=True, check=False
        )
        return done.stdout

    dirty = git("status", "--porcelain", "--untracked-files=no", "--", "service", "migrations")
    changed = " ".join(line[3:] for line in dirty.splitlines() if line.strip())
    return f"HEAD {git('rev-parse', '--short', 'HEAD').strip()}" + (
        f", modified: {changed}" if changed else ""
    )


def prev_period(month: str) -> str:
    year, number = parse_period(month)
    return f"{year - (number == 1):04d}-{(number - 2) % 12 + 1:02d}"


def frozen_moment(month: str) -> datetime:
    """The clock during settlement: 24 days after the month's end."""
    _start, end = period_bounds(month, "UTC")
    return end + timedelta(days=24)


def sa_url(pg_url: str) -> str:
    return re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", pg_url)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("--conversions", type=int, default=1_000_000)
    p.add_argument("--influencers", type=int, default=5_000)
    p.add_argument("--clicks", type=int, default=2_000_000)
    p.add_argument("--month", default="2026-10", help="the month settled (YYYY-MM)")
    p.add_argument("--hold-days", type=int, default=7, help="the campaign's hold_days")
    p.add_argument("--skew", type=float, default=0.8, help="Zipf exponent over influencers")
    p.add_argument("--seed", type=int, default=5, help="random seed of the data")
    p.add_argument("--runs", type=int, default=2, help="settle() runs after the seed (>= 2)")
    p.add_argument("--dsn", default=DEFAULT_DSN, help="an admin connection (any database)")
    p.add_argument("--database", default=DEFAULT_DB)
    p.add_argument("--keep", action="store_true", help="keep the database at the end")
    p.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the slow SELECTs")
    p.add_argument(
        "--capped",
        action="store_true",
        help="give the campaign a monthly cap per influencer that is never reached "
        "(measures the caps' bookkeeping; nothing is cut, so the checks still hold)",
    )
    args = p.parse_args(argv)
    if not args.database.startswith("afftrack_bench_"):
        p.error("--database must start with afftrack_bench_ (it is dropped)")
    if args.runs < 2:
        p.error("--runs must be at least 2")
    parse_period(args.month)
    return args


def main() -> int:
    if len(sys.argv) >= 5 and sys.argv[1] == "--child":
        child_main(sys.argv[2], sys.argv[3], sys.argv[4], "--explain" in sys.argv[5:])
        return 0
    args = parse_args()
    print(
        f"commissions bench: {args.conversions:,} orders, {args.influencers:,} influencers, "
        f"{args.clicks:,} clicks in {args.month}"
        f"{'; campaign capped (never reached)' if args.capped else ''}; "
        f"{os.cpu_count()} CPUs ({cpu_model()}); "
        f"{datetime.now(UTC).isoformat(timespec='seconds')}; {code_version()}",
        flush=True,
    )
    with psycopg.connect(args.dsn, autocommit=True) as conn:
        settings = pg_settings(conn)
    print("PostgreSQL: " + ", ".join(f"{k}={v}" for k, v in settings), flush=True)
    pg_url = ""
    code = 1
    try:
        note(f"recreating database {args.database} and migrating it to head")
        pg_url = recreate_pg_database(args.dsn, args.database)
        upgrade(sa_url(pg_url))
        seeded = seed(pg_url, args)
        print(f"seeded in {seeded.seconds:.1f} s (not the figure)", flush=True)
        orders = sorted(seeded.orders)
        clicks = sorted(p.clicks for p in seeded.partners)
        print(
            f"orders per partnership in {args.month}: min {orders[0]:,}, median "
            f"{orders[len(orders) // 2]:,}, max {orders[-1]:,}; cpc clicks per partnership: "
            f"min {clicks[0]:,}, median {clicks[len(clicks) // 2]:,}, max {clicks[-1]:,}"
        )
        print(table(["table", "rows", "size"], [list(r) for r in sizes(pg_url, args.month)]))
        runs = [
            run_child(
                f"run {i + 1}", sa_url(pg_url), args.month, args.explain and i == args.runs - 1
            )
            for i in range(args.runs)
        ]
        checks = check(pg_url, args, seeded, runs)
        report(args, seeded, runs, checks)
        code = 0 if all(c.ok for c in checks) else 2
        if code:
            shout("a check failed: the figures above are not to be quoted")
    except BenchError as exc:
        shout(str(exc))
        code = 1
    except KeyboardInterrupt:
        code = 130
    finally:
        if pg_url and not args.keep:
            with contextlib.suppress(psycopg.Error):
                drop_pg_database(args.dsn, args.database)
        elif pg_url:
            note(f"kept database {args.database}")
    return code


if __name__ == "__main__":
    sys.exit(main())
