"""Monthly commission export: summary and detail of a month of ~1,000,000 lines.

    python bench/exports.py [--influencers 20000] [--conversions 952000] [--clicks 20000]
        [--month 2026-10] [--explain] [--profile] [--keep]
        [--dsn postgresql://postgres@127.0.0.1:5432/postgres]

Drops and recreates ``afftrack_bench_exports`` (``--database``) and seeds it with the
seeder of ``bench/commissions.py`` (imported, not copied): one EUR campaign with a
three-bracket ``tiered_percent`` rule and a ``cpc`` rule, one partnership per influencer,
N orders in the month (Zipf-like over the influencers), their sale lines, 5 % refunded
or cancelled with their reversal lines, a few clicks. ``--hold-days`` defaults to 0 here,
so every line of the month's orders is due in the month: ~1.05 lines per order, about
1,000,000 lines with the default 952,000 orders.

Then, each in a fresh Python process (the clock frozen 24 days after the month's end;
peak RSS = that process's own ``VmHWM``, read from ``/proc/self/status``: ``ru_maxrss``
carries the parent's high-water mark across fork and exec), ``service.exports.service.build``
is timed writing its chunks to a temporary file, for the summary CSV, the detail CSV and
the detail JSON:

* of the **open** month (not closed yet: the export also computes the settlement
  preview, ``settlement.projected_lines``, and the carry-forward lines);
* then ``service.exports.service.close`` and its commit (timed on their own);
* then of the **closed** month.

Once per state the real CLI (``afftrack export commissions --month M --detail --out F``,
``DATABASE_URL`` set, real clock) runs too; its peak RSS is its ``VmHWM`` polled from
``/proc/<pid>/status`` every 20 ms until it exits.

Checks (the figures are not to be quoted if one fails): the detail files hold as many
rows as the ledger has lines in the statement (SQL over ``commission_lines``), plus, for
the open month, the lines closing then wrote; the summary has one row per influencer and
currency group, and its ``net_payable`` total equals the SQL sum; the open month's files
and the closed month's are the same (the summary byte for byte, the detail row by row but
for the status); the CLI's file is byte-identical to the in-process one.

``--explain`` prints EXPLAIN (ANALYZE, BUFFERS) of the detail query (closed month);
``--profile`` runs the closed month's detail CSV once more under ``py-spy record`` and
prints the top frames. The database is dropped at the end unless ``--keep``.

Exit status: 0 when every check passed (targets are reported, not enforced), 2 when a
check failed, 1 when the benchmark could not run.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from _harness import (
    BenchError,
    cpu_model,
    drop_pg_database,
    note,
    recreate_pg_database,
    shout,
    status_kb,
)
from _harness import table as text_table

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from service.periods import parse_period, period_bounds  # noqa: E402

if "--child" not in sys.argv[1:2]:
    # The parent only: the measured child imports no more than the export needs.
    from commissions import code_version, frozen_moment, pg_settings, sa_url, seed

    from service.migrate import upgrade

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_DB = "afftrack_bench_exports"
TARGETS = {"summary": 5.0, "detail": 20.0}  # seconds
TARGET_MB = 200.0
KINDS = ("summary-csv", "detail-csv", "detail-json")


# --- the measured child ----------------------------------------------------------------


def child_main(url: str, month: str, frozen_iso: str, kind: str, out: str, explain: bool) -> None:
    """Runs in a fresh interpreter: one export (or the close) of ``month``; JSON on stdout."""
    from sqlalchemy import event, text

    from service import clock
    from service.db import Database
    from service.exports import service as exports

    clock.set_frozen(datetime.fromisoformat(frozen_iso))
    db = Database(url)
    statements: list[tuple[str, Any]] = []

    @event.listens_for(db.engine, "before_cursor_execute")
    def _seen(conn: Any, cursor: Any, statement: str, params: Any, ctx: Any, many: Any) -> None:
        statements.append((statement, params))

    session = db.sessions()
    session.scalar(text("SELECT 1"))  # connected before the clock starts
    rss_before = status_kb(os.getpid(), "VmRSS")
    result: dict[str, Any] = {"kind": kind, "rss_before_kb": rss_before}
    t0 = time.perf_counter()
    if kind == "close":
        export = exports.close(session, month, "UTC")
        t1 = time.perf_counter()
        session.commit()
        t2 = time.perf_counter()
        result.update(
            seconds=t1 - t0,
            commit_s=t2 - t1,
            line_count=export.line_count,
            checksum=export.checksum,
            totals=export.totals,
        )
    else:
        detail = kind.startswith("detail")
        fmt = kind.split("-")[1]
        first = None
        written = 0
        with open(out, "wb") as sink:
            built = exports.build(session, month, fmt=fmt, detail=detail, zone="UTC")
            for chunk in built.chunks:
                if first is None:
                    first = time.perf_counter() - t0
                sink.write(chunk)
                written += len(chunk)
        result.update(seconds=time.perf_counter() - t0, first_chunk_s=first, bytes=written)
    result["hwm_kb"] = status_kb(os.getpid(), "VmHWM")
    result["statements"] = len(statements)
    session.rollback()
    if explain:
        from service.exports import statement

        sel = statement.select_period(session, month, "UTC")
        sql, params = statement.formatted_statement(session, sel, "csv")
        session.rollback()
        with db.engine.connect() as conn:
            conn.exec_driver_sql("SET jit = off")  # as the export does
            rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, SETTINGS) " + sql, params)
            plan = [r[0] for r in rows]
        result["explain"] = {"sql": sql, "params": repr(params), "plan": plan}
    session.close()
    db.dispose()
    print("@@RESULT@@" + json.dumps(result, default=str), flush=True)


# --- runs -----------------------------------------------------------------------------


@dataclass
class Run:
    state: str  # open / closed
    kind: str  # summary-csv, detail-csv, detail-json, close, cli detail-csv
    wall_s: float  # the process, start to exit (imports included)
    seconds: float  # build() to the last chunk written (or close())
    peak_kb: int
    bytes: int = 0
    rows: int | None = None
    path: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def target(self) -> float | None:
        if self.kind == "close":
            return None
        return TARGETS["detail" if "detail" in self.kind else "summary"]


def run_child(state: str, kind: str, url: str, month: str, out: str, explain: bool) -> Run:
    argv = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        url,
        month,
        frozen_moment(month).isoformat(),
        kind,
        out,
    ]
    if explain:
        argv.append("--explain")
    note(f"{state} month: {kind} in a fresh process")
    t0 = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.PIPE, text=True, check=False)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise BenchError(f"the {kind} child failed ({done.returncode})")
    payload = done.stdout.rsplit("@@RESULT@@", 1)[-1]
    res = json.loads(payload)
    return Run(
        state,
        kind,
        wall,
        res["seconds"],
        int(res["hwm_kb"]),
        int(res.get("bytes") or 0),
        path=None if kind == "close" else out,
        extra=res,
    )


def run_cli(state: str, pg_url: str, month: str, out: str) -> Run:
    """``afftrack export commissions --month M --detail --out F``, its VmHWM polled."""
    exe = shutil.which("afftrack", path=str(Path(sys.executable).parent)) or shutil.which(
        "afftrack"
    )
    if exe is None:
        raise BenchError("the afftrack command is not installed in this environment")
    env = {
        **os.environ,
        "DATABASE_URL": sa_url(pg_url),
        "AFFTRACK_HASHIDS_SALT": "bench-exports-salt",
        "AFFTRACK_IP_HASH_KEY": "bench-exports-ip-key",
        "AFFTRACK_TIMEZONE": "UTC",
    }
    argv = [exe, "export", "commissions", "--month", month, "--detail", "--out", out]
    note(f"{state} month: {' '.join(argv[1:])} (the real CLI)")
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, status_kb(proc.pid, "VmHWM") or 0)
        time.sleep(0.02)
    wall = time.perf_counter() - t0
    _out, err = proc.communicate()
    if proc.returncode != 0:
        raise BenchError(f"afftrack export failed ({proc.returncode}):\n{err.decode()}")
    return Run(state, "cli detail-csv", wall, wall, peak, Path(out).stat().st_size, path=out)


# --- the ledger, seen by SQL ----------------------------------------------------------


@dataclass
class Ledger:
    lines: int
    groups: int
    net_payable_minor: int  # sum over groups of max(group sum, 0)
    sum_minor: int  # plain sum of the lines


def ledger(pg_url: str, month: str, closed: bool) -> Ledger:
    _start, end = period_bounds(month, "UTC")
    now = frozen_moment(month)
    if closed:
        where = "export_id = (SELECT id FROM exports WHERE period = %(p)s)"
    else:
        where = (
            "status = 'pending' AND export_id IS NULL AND due_at < %(end)s AND due_at <= %(now)s"
        )
    with psycopg.connect(pg_url) as conn:
        row = conn.execute(
            f"SELECT count(*), count(DISTINCT (influencer_id, currency)), "
            f"coalesce(sum(amount_minor), 0) FROM commission_lines WHERE {where}",
            {"p": month, "end": end, "now": now},
        ).fetchone()
        net = conn.execute(
            f"SELECT coalesce(sum(greatest(s, 0)), 0) FROM (SELECT sum(amount_minor) AS s "
            f"FROM commission_lines WHERE {where} GROUP BY influencer_id, currency) g",
            {"p": month, "end": end, "now": now},
        ).fetchone()
    assert row is not None and net is not None
    return Ledger(int(row[0]), int(row[1]), int(net[0]), int(row[2]))


def count_rows(run: Run) -> None:
    """Rows of the file (the header aside), and the summary's net_payable total."""
    assert run.path is not None
    data = Path(run.path).read_bytes()
    if run.kind.endswith("json"):
        run.rows = data.count(b'"line_id":')
        return
    reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
    header = next(reader)
    if run.kind == "summary-csv":
        col = header.index("net_payable")
        total, rows = Decimal(0), 0
        for r in reader:
            total += Decimal(r[col])
            rows += 1
        run.rows = rows
        run.extra["net_payable_total"] = str(total)
    else:
        run.rows = sum(1 for _ in reader)


@dataclass
class Check:
    what: str
    ok: bool
    detail: str


# --- main -----------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("--influencers", type=int, default=20_000)
    p.add_argument(
        "--conversions", type=int, default=952_000, help="orders in the month (~1.05 lines each)"
    )
    p.add_argument("--clicks", type=int, default=20_000, help="clicks (not what is measured)")
    p.add_argument("--month", default="2026-10", help="the month exported (YYYY-MM)")
    p.add_argument("--hold-days", type=int, default=0, help="the campaign's hold_days")
    p.add_argument("--skew", type=float, default=0.8, help="Zipf exponent over influencers")
    p.add_argument("--seed", type=int, default=6, help="random seed of the data")
    p.add_argument("--dsn", default=DEFAULT_DSN, help="an admin connection (any database)")
    p.add_argument("--database", default=DEFAULT_DB)
    p.add_argument("--keep", action="store_true", help="keep the database at the end")
    p.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the detail query")
    p.add_argument("--profile", action="store_true", help="py-spy the closed detail CSV")
    p.add_argument("--no-cli", action="store_true", help="skip the runs through the CLI")
    args = p.parse_args()
    if not args.database.startswith("afftrack_bench_"):
        p.error("--database must start with afftrack_bench_ (it is dropped)")
    parse_period(args.month)
    args.capped = False  # what commissions.seed() reads
    return args


def mb(kb: int | None) -> str:
    return "-" if kb is None else f"{kb / 1024:.0f}"


def report(runs: list[Run], checks: list[Check]) -> None:
    rows = []
    for r in runs:
        target = r.target
        verdict = "-"
        if target is not None:
            ok_t, ok_m = r.seconds < target, r.peak_kb / 1024 < TARGET_MB
            verdict = f"{'pass' if ok_t else 'FAIL'} time, {'pass' if ok_m else 'FAIL'} RSS"
        rows.append(
            [
                r.state,
                r.kind,
                f"{r.seconds:.2f}",
                f"{r.wall_s:.2f}",
                mb(r.peak_kb),
                f"{r.bytes / 1e6:.1f}" if r.bytes else "-",
                f"{r.rows:,}" if r.rows is not None else "-",
                f"{target:.0f} s / {TARGET_MB:.0f} MB" if target else "-",
                verdict,
            ]
        )
    print()
    print(
        text_table(
            ["month", "export", "seconds", "process s", "peak MB", "MB out", "rows", "target",
             "verdict"],
            rows,
        )
    )  # fmt: skip
    print(
        "(seconds: build() until the last chunk is written, or close() for close; the CLI "
        "row: the whole command. process s: the child from start to exit, imports included. "
        "peak MB: the process's VmHWM.)"
    )
    print()
    for c in checks:
        print(f"  {'ok  ' if c.ok else 'FAIL'} {c.what}: {c.detail}")


def main() -> int:
    if len(sys.argv) >= 7 and sys.argv[1] == "--child":
        child_main(*sys.argv[2:7], explain="--explain" in sys.argv[7:])
        return 0
    args = parse_args()
    print(
        f"exports bench: {args.conversions:,} orders, {args.influencers:,} influencers in "
        f"{args.month} (hold {args.hold_days} d); {os.cpu_count()} CPUs ({cpu_model()}); "
        f"{datetime.now(UTC).isoformat(timespec='seconds')}; {code_version()}",
        flush=True,
    )
    with psycopg.connect(args.dsn, autocommit=True) as conn:
        print("PostgreSQL: " + ", ".join(f"{k}={v}" for k, v in pg_settings(conn)), flush=True)
    pg_url = ""
    code = 1
    tmp = Path(tempfile.mkdtemp(prefix="afftrack-bench-exports-"))
    try:
        note(f"recreating database {args.database} and migrating it to head")
        pg_url = recreate_pg_database(args.dsn, args.database)
        upgrade(sa_url(pg_url))
        seeded = seed(pg_url, args)
        print(f"seeded in {seeded.seconds:.1f} s (not the figure)", flush=True)
        url = sa_url(pg_url)
        before = ledger(pg_url, args.month, closed=False)
        print(
            f"open month in the ledger: {before.lines:,} lines, {before.groups:,} influencer/"
            f"currency groups, sum {before.sum_minor / 100:,.2f} EUR",
            flush=True,
        )
        runs: list[Run] = []
        for kind in KINDS:
            runs.append(run_child("open", kind, url, args.month, str(tmp / f"open.{kind}"), False))
        if not args.no_cli:
            runs.append(run_cli("open", pg_url, args.month, str(tmp / "open.cli.csv")))
        runs.append(run_child("open", "close", url, args.month, "-", False))
        after = ledger(pg_url, args.month, closed=True)
        print(
            f"closed month in the ledger: {after.lines:,} lines, {after.groups:,} groups, "
            f"sum {after.sum_minor / 100:,.2f} EUR",
            flush=True,
        )
        for kind in KINDS:
            explain = args.explain and kind == "detail-csv"
            runs.append(
                run_child("closed", kind, url, args.month, str(tmp / f"closed.{kind}"), explain)
            )
        if not args.no_cli:
            runs.append(run_cli("closed", pg_url, args.month, str(tmp / "closed.cli.csv")))
        for r in runs:
            if r.path is not None:
                count_rows(r)
        checks = check(runs, before, after)
        report(runs, checks)
        for r in runs:
            if "explain" in r.extra:
                print(f"\nEXPLAIN (ANALYZE, BUFFERS) of the detail query ({r.state} month):")
                print(r.extra["explain"]["sql"])
                print(r.extra["explain"]["params"])
                print("\n".join(r.extra["explain"]["plan"]))
        if args.profile:
            profile(url, args.month, tmp)
        code = 0 if all(c.ok for c in checks) else 2
        if code:
            shout("a check failed: the figures above are not to be quoted")
    except BenchError as exc:
        shout(str(exc))
        code = 1
    except KeyboardInterrupt:
        code = 130
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if pg_url and not args.keep:
            with contextlib.suppress(psycopg.Error):
                drop_pg_database(args.dsn, args.database)
        elif pg_url:
            note(f"kept database {args.database}")
    return code


def _same_but_status(kind: str, open_path: Path, closed_path: Path) -> tuple[bool, str]:
    """The preview and the closed file: the same bytes for the summary; for the detail
    the same rows in the same order, but for the status (approved, then paid)."""
    if kind == "summary-csv":
        return open_path.read_bytes() == closed_path.read_bytes(), "byte for byte"
    if kind == "detail-json":
        status = re.compile(rb'"status":"(approved|paid)"')
        return (
            status.sub(b'"status":"?"', open_path.read_bytes())
            == status.sub(b'"status":"?"', closed_path.read_bytes())
        ), "byte for byte but the status"
    with open_path.open(newline="") as a, closed_path.open(newline="") as b:
        rows_a, rows_b = csv.reader(a), csv.reader(b)
        header = next(rows_a)
        if header != next(rows_b):
            return False, "headers differ"
        at = header.index("status")
        for row_a, row_b in itertools.zip_longest(rows_a, rows_b):
            if row_a is None or row_b is None:
                return False, "row counts differ"
            if row_a[:at] + row_a[at + 1 :] != row_b[:at] + row_b[at + 1 :]:
                return False, f"first difference at line {row_a[0]}"
    return True, "row by row but the status"


def check(runs: list[Run], before: Ledger, after: Ledger) -> list[Check]:
    by = {(r.state, r.kind): r for r in runs}
    out: list[Check] = []
    written = after.lines - before.lines  # what close added to the statement
    for state, led in (("open", before), ("closed", after)):
        expect = led.lines + (written if state == "open" else 0)
        for kind in ("detail-csv", "detail-json", "cli detail-csv"):
            r = by.get((state, kind))
            if r is None:
                continue
            out.append(
                Check(
                    f"{state} {kind} rows = ledger lines"
                    + (" + lines close wrote" if state == "open" else ""),
                    r.rows == expect,
                    f"{r.rows:,} vs {led.lines:,}" + (f" + {written:,}" if state == "open" else ""),
                )
            )
        s = by[(state, "summary-csv")]
        groups = after.groups if state == "open" else led.groups
        out.append(
            Check(
                f"{state} summary rows = influencer/currency groups",
                s.rows == groups,
                f"{s.rows:,} vs {groups:,} (ledger {led.groups:,} before close)"
                if state == "open"
                else f"{s.rows:,} vs {groups:,}",
            )
        )
        total = Decimal(s.extra["net_payable_total"])
        sql_total = Decimal(after.sum_minor) / 100
        out.append(
            Check(
                f"{state} summary net_payable total = SQL sum of the closed statement",
                total == sql_total,
                f"{total} vs {sql_total} (open ledger alone, negatives at 0: "
                f"{Decimal(before.net_payable_minor) / 100})",
            )
        )
    for kind in KINDS:
        a, b = by[("open", kind)], by[("closed", kind)]
        if a.path and b.path:
            same, how = _same_but_status(kind, Path(a.path), Path(b.path))
            out.append(Check(f"open and closed {kind} agree ({how})", same, f"{a.rows:,} rows"))
    for state in ("open", "closed"):
        cli, own = by.get((state, "cli detail-csv")), by[(state, "detail-csv")]
        if cli is None or cli.path is None or own.path is None:
            continue
        same = Path(cli.path).read_bytes() == Path(own.path).read_bytes()
        out.append(Check(f"{state} CLI file = build() file", same, f"{cli.bytes:,} B"))
    close = by[("open", "close")]
    out.append(
        Check(
            "close's line_count = lines of the closed statement",
            close.extra["line_count"] == after.lines,
            f"{close.extra['line_count']:,} vs {after.lines:,}",
        )
    )
    return out


def profile(url: str, month: str, tmp: Path) -> None:
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        shout("py-spy is not installed: no profile")
        return
    folded = tmp / "detail.folded"
    argv = [
        spy, "record", "--rate", "200", "--format", "raw", "--output", str(folded), "--",
        sys.executable, str(Path(__file__).resolve()), "--child", url, month,
        frozen_moment(month).isoformat(), "detail-csv", str(tmp / "profiled.csv"),
    ]  # fmt: skip
    note("closed month: detail-csv under py-spy")
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    if not folded.exists():
        shout("py-spy wrote no profile (ptrace not permitted?)")
        return
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in folded.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        count = int(n)
        total += count
        frames = stack.split(";")
        own[frames[-1]] += count
        for f in set(frames):
            inclusive[f] += count
    print(f"\npy-spy, detail CSV of the closed month: {total} samples")
    print("  self time (top 15):")
    for f, n in own.most_common(15):
        print(f"    {100 * n / total:5.1f} %  {f}")
    print("  inclusive, service/ frames (top 15):")
    shown = [(f, n) for f, n in inclusive.most_common() if "service/" in f][:15]
    for f, n in shown:
        print(f"    {100 * n / total:5.1f} %  {f}")


if __name__ == "__main__":
    sys.exit(main())
