"""How long after Redis comes back each gunicorn worker process takes the one-round-trip path again.

    .venv/bin/python bench/breaker_recovery.py [--workers 2] [--threads 4] [--rate 200]
        [--outage 3] [--rounds 5] [--fault stop|kill] [--keep]

Runs afftrack as in production (tests/support/load.py: its own redis-server, append-only, and
PostgreSQL cluster; ``afftrack serve`` with ``--workers`` gunicorn processes; no click
worker, the stream just grows) under steady redirect traffic (``--rate`` requests a
second, a new connection each, so every process gets its share), then, ``--rounds``
times: Redis stopped (SIGTERM, or SIGKILL with ``--fault kill``) for ``--outage``
seconds, started again, and watched for 5 s.

"Redis back" is the moment the restarted redis-server first answered (tests/support/servers.py
polls it every 20 ms: up to 20 ms late). Per process, three figures after it:

* ``logged``: the process's "redis answers again; redirects use it" log line (its
  background probe closed the breaker), read from the web log, to which a gunicorn
  config of the bench's own adds the pid and the epoch time of each line;
* ``first queued``: its first click appended to the stream (``afftrack_clicks_queued_total``
  grew), from the process's own prometheus multiprocess file, polled every 10 ms;
* ``last fallback``: its last redirect served without Redis
  (``afftrack_redirect_redis_fallbacks_total`` grew), same way — after it, every
  redirect of that process went through Redis — and how many fell back after Redis
  was back.

From the clients' side (all processes together, by the click ids in the stream, which
no worker empties here): of the requests sent after Redis was back, the first whose
click went through the stream, the last whose did not, and how many did not.

A process can also close its breaker without the log line (a half-open trial after 5 s,
or a click the database refused being put into Redis): then ``logged`` is "-" and the
counter figures still say when it resumed. Prints a table per round and the maxima.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from prometheus_client.mmap_dict import MmapedDict  # noqa: E402

from tests.support.load import STREAM, Load, Stack  # noqa: E402

LOGGED = "redis answers again; redirects use it"
FALLBACKS = "afftrack_redirect_redis_fallbacks_total"
QUEUED = "afftrack_clicks_queued_total"
FAULTS = {"stop": "stopped (SIGTERM)", "kill": "killed (SIGKILL)"}
WATCH_S = 5.0
POLL_S = 0.01

# Gunicorn settings: the packaged ones, and each log record gets the process id and the
# epoch time (the JSON logs carry neither).
GUNICORN_CONFIG = """
from service.gunicorn_conf import *  # noqa: F403
from service import gunicorn_conf as _packaged


def post_worker_init(worker):
    import logging
    import os

    class _Stamp(logging.Filter):
        def filter(self, record):
            record.pid = os.getpid()
            record.epoch = record.created
            return True

    for handler in logging.getLogger().handlers:
        handler.addFilter(_Stamp())
    _packaged.post_worker_init(worker)
"""


def counters(directory: Path) -> dict[int, dict[str, float]]:
    """pid → {counter name: value}, from every process's multiprocess counter file."""
    found: dict[int, dict[str, float]] = {}
    for path in directory.glob("counter_*.db"):
        try:
            pid = int(path.stem.split("_", 1)[1])
            mapped = MmapedDict(str(path), read_mode=True)
        except (ValueError, OSError):
            continue
        try:
            values = found.setdefault(pid, {})
            for key, value, *_ in mapped.read_all_values():
                name = json.loads(key)[1]
                if name in (FALLBACKS, QUEUED):
                    values[name] = values.get(name, 0.0) + value
        finally:
            mapped.close()
    return found


@dataclass
class Process:
    first_queued: float | None = None  # epoch
    last_fallback: float | None = None
    fallbacks_after: float = 0.0
    logged: float | None = None
    active: bool = False  # served redirects during the round (the master never does)


@dataclass
class Round:
    number: int
    stopped: float  # epoch
    back: float  # epoch: the restarted Redis answered
    processes: dict[int, Process] = field(default_factory=dict)


def watch(stack: Stack, rnd: Round, until: float) -> None:
    """Poll every process's counters from Redis's stop until ``until`` (epoch)."""
    previous = counters(stack.metrics_dir)
    while time.time() < until:
        time.sleep(POLL_S)
        now = time.time()
        current = counters(stack.metrics_dir)
        for pid, values in current.items():
            before = previous.get(pid, {})
            process = rnd.processes.setdefault(pid, Process())
            grew_fallback = values.get(FALLBACKS, 0.0) - before.get(FALLBACKS, 0.0)
            grew_queued = values.get(QUEUED, 0.0) - before.get(QUEUED, 0.0)
            if grew_fallback > 0 or grew_queued > 0:
                process.active = True
            if rnd.back and now > rnd.back:
                if grew_queued > 0 and process.first_queued is None:
                    process.first_queued = now
                if grew_fallback > 0:
                    process.last_fallback = now
                    process.fallbacks_after += grew_fallback
        previous = current


def logged_lines(stack: Stack, since: float) -> dict[int, float]:
    """pid → epoch of its first "redis answers again" line after ``since``."""
    assert stack.web is not None
    first: dict[int, float] = {}
    for record in stack.web.log_records():
        if record.get("message") == LOGGED and "pid" in record:
            at = float(record["epoch"])
            if at >= since:
                first.setdefault(int(record["pid"]), at)
    return first


def stream_ids(stack: Stack) -> set[str]:
    """Click ids of every entry in the stream (no worker runs: it holds every click)."""
    client = stack.redis_client()
    try:
        ids = set()
        last = "-"
        while True:
            entries = client.xrange(STREAM, min=last, count=10_000)
            if last != "-":
                entries = entries[1:]
            if not entries:
                return ids
            ids.update(fields["id"] for _eid, fields in entries)
            last = entries[-1][0]
    finally:
        client.close()


def ms(value: float | None, since: float) -> str:
    return "-" if value is None else f"{(value - since) * 1000:.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per process")
    parser.add_argument("--rate", type=float, default=200.0, help="requests a second")
    parser.add_argument("--outage", type=float, default=3.0, help="seconds Redis is down")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--fault", choices=("stop", "kill"), default="stop")
    parser.add_argument("--keep", action="store_true", help="keep the logs directory")
    args = parser.parse_args()

    directory = Path(tempfile.mkdtemp(prefix="afftrack-breaker-"))
    config = directory / "gunicorn_bench.py"
    config.write_text(GUNICORN_CONFIG)
    rounds: list[Round] = []
    with Stack(directory, web_workers=args.workers, threads=args.threads) as stack:
        stack.gunicorn_config = config
        codes = [link["code"] for link in stack.seed(12)]
        stack.start_web()
        print(
            f"afftrack serve: {args.workers} processes x {args.threads} threads; load "
            f"{args.rate:.0f} req/s; Redis {FAULTS[args.fault]} for {args.outage:.1f} s, "
            f"{args.rounds} rounds; logs in {directory}",
            flush=True,
        )
        with Load(stack.web_port, codes, rate=args.rate) as load:
            load.wait_replies(int(args.rate * 2))
            for number in range(1, args.rounds + 1):
                rnd = Round(number, time.time(), 0.0)
                watcher = threading.Thread(
                    target=watch, args=(stack, rnd, rnd.stopped + args.outage + WATCH_S + 3)
                )
                watcher.start()
                if args.fault == "kill":
                    stack.redis.kill()
                else:
                    stack.redis.stop()
                time.sleep(args.outage)
                stack.redis.start()
                rnd.back = time.time()
                watcher.join()
                for pid, at in logged_lines(stack, rnd.stopped).items():
                    rnd.processes.setdefault(pid, Process()).logged = at
                rounds.append(rnd)
                report(rnd)
                time.sleep(1.0)
        statuses = load.statuses()
        print(f"load: {len(load.snapshot())} requests, statuses {dict(statuses)}")
        streamed = stream_ids(stack)
    print("\nfrom the clients' side (all processes), per round: of the requests sent after Redis")
    print("answered, the first whose click went through the stream, the last whose did not,")
    print("and how many did not")
    for rnd in rounds:
        after = [
            r
            for r in load.snapshot()
            if r.click_id
            and load.started_epoch + r.at >= rnd.back
            and load.started_epoch + r.at < rnd.back + WATCH_S
        ]
        missed = [r for r in after if r.click_id not in streamed]
        last = max((load.started_epoch + r.at for r in missed), default=None)
        first = min(
            (load.started_epoch + r.at for r in after if r.click_id in streamed), default=None
        )
        waits = sorted(r.seconds for r in after) or [0.0]
        print(
            f"  round {rnd.number}: first through Redis sent at {ms(first, rnd.back)} ms,"
            f" last not at {ms(last, rnd.back)} ms;"
            f" {len(missed)} of {len(after)}; answered in median"
            f" {waits[len(waits) // 2] * 1000:.0f} ms, max {waits[-1] * 1000:.0f} ms"
        )
    summarise(rounds)
    if not args.keep:
        import shutil

        shutil.rmtree(directory, ignore_errors=True)
    return 0


def report(rnd: Round) -> None:
    print(f"\nround {rnd.number}: Redis back {rnd.back - rnd.stopped:.2f} s after it was stopped")
    print(f"  {'pid':>7}  {'logged ms':>9}  {'first queued ms':>15}  {'last fallback ms':>16}  "
          f"{'fallbacks after':>15}")  # fmt: skip
    for pid, process in sorted(rnd.processes.items()):
        if not process.active:
            continue
        print(
            f"  {pid:>7}  {ms(process.logged, rnd.back):>9}  "
            f"{ms(process.first_queued, rnd.back):>15}  "
            f"{ms(process.last_fallback, rnd.back):>16}  {process.fallbacks_after:>15.0f}",
            flush=True,
        )


def summarise(rounds: list[Round]) -> None:
    def figures(pick: str) -> list[float]:
        values = []
        for rnd in rounds:
            for process in rnd.processes.values():
                at = getattr(process, pick) if process.active else None
                if at is not None:
                    values.append((at - rnd.back) * 1000)
        return values

    print("\nover every round and process (ms after Redis answered again):")
    for pick, label in (
        ("logged", "breaker closed by the probe (log line)"),
        ("first_queued", "first click through Redis"),
        ("last_fallback", "last redirect without Redis"),
    ):
        values = sorted(figures(pick))
        if values:
            median = values[len(values) // 2]
            print(f"  {label:<40} n={len(values):<3} median {median:6.0f}  max {values[-1]:6.0f}")
        else:
            print(f"  {label:<40} none")
    missing = sum(
        1
        for rnd in rounds
        for p in rnd.processes.values()
        if p.logged is None and p.fallbacks_after
    )
    if missing:
        print(f"  ({missing} process-rounds fell back after Redis was back without the log line)")


if __name__ == "__main__":
    sys.exit(main())
