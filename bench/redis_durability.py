"""Redis durability: how many acknowledged clicks a crash of Redis loses, per setting.

    .venv/bin/python bench/redis_durability.py [--configs rdb,everysec,always,replica,replica-wait]
        [--rates 2000,max] [--runs 5] [--clients 4] [--kill-after 2-4]
        [--kill-at random|fsync-pending] [--json out.json]
    .venv/bin/python bench/redis_durability.py --cost [--cost-clients 1,4,16]
        [--cost-seconds 5] [--runs 5] [--configs everysec,always,none]

Every run starts throwaway ``redis-server`` processes of its own (127.0.0.1, free ports,
a temporary directory each; the shared Redis on 6379 is never touched), caches one link
the way afftrack does and has ``--clients`` processes call the real redirect script
(``service.redirect.cache.FOLLOW_LUA``: uniqueness key, XADD of the click to the stream)
at ``--rate`` calls/s in all (``max``: as fast as they can). Every click id Redis
acknowledged is recorded. After a random 2-4 s (``--kill-after``) the primary gets
SIGKILL, mid-load; then

* without a replica, it is restarted from the same directory with the same settings and
  the stream is read back;
* with a replica (``replicaof``, asynchronous), the replica's stream is read: what a
  failover to it would keep. ``replica-wait`` also sends ``WAIT 1 <--wait-ms>`` after
  each script in the same pipeline, as a web process could.

``--kill-at fsync-pending`` picks the worst moment for ``everysec`` instead: after the
random delay it polls ``INFO persistence`` until a background fsync of the AOF is running
and Redis holds new writes back in its buffer meanwhile (it postpones the write() for up
to 2 s while an fsync runs, and answers the clients anyway), then kills. Other settings
are killed at the random moment.

Lost = acknowledged click ids missing from the stream read back. No worker drains the
stream, so this is the upper bound: a worker that keeps up has already committed most
clicks of the last second to PostgreSQL. SIGKILL kills the process, not the machine: the
operating system's page cache survives, so a file written but not yet fsynced is kept.
A power loss is not simulated here.

Configurations (the primary's settings; ``--save`` left at Redis's default unless said):

  rdb           appendonly no (snapshots only: save 3600 1 300 100 60 10000)
  everysec      appendonly yes, appendfsync everysec
  always        appendonly yes, appendfsync always
  replica       primary as everysec + one replica, asynchronous replication
  replica-wait  the same, each call followed by WAIT 1 <--wait-ms> in one pipeline

Prints one line per run and a summary table (medians over runs; ops/s and latency per
call are measured up to the kill). ``--cost`` crashes nothing: for each client count it
runs the configurations one after the other (``none``: no persistence at all), flat out
for ``--cost-seconds``, ``--runs`` rounds, and prints calls/s, latency per call, the
redis-server's CPU time per call and each round's calls/s relative to the first config.
The clients are Python processes on the same machine, so "flat out" is what they manage
on the CPUs left, not Redis's limit. Exit status 0, 1 if a server could not be started.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import itertools
import json
import multiprocessing as mp
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from multiprocessing.synchronize import Event
from pathlib import Path

import redis as redis_lib
from redis.backoff import NoBackoff
from redis.retry import Retry

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service.clicks.identity import visitor_keys
from service.clicks.recorder import UNIQUE_WINDOW, ClickRecord
from service.redirect.cache import FOLLOW_LUA, generation_key, link_key
from service.redirect.resolver import Target

HOST = "127.0.0.1"
STREAM = "afftrack:clicks"
CODE = "BenchDurab1"
IP_KEY = "bench-durability-ip-key"
WINDOW = str(int(UNIQUE_WINDOW.total_seconds()))
UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 Instagram 334.0.4.32.98"
)
TARGET = Target(
    link_id="4711",
    head="https://shop.example/products/serum?utm_source=afftrack&utm_medium=influencer"
    "&utm_campaign=spring&utm_content=anna&aff_click=",
    tail="",
    fallback_url="https://shop.example/",
    active=True,
    ends_on="",
)
CONFIGS: dict[str, list[str]] = {
    "none": ["--appendonly", "no", "--save", ""],
    "rdb": ["--appendonly", "no"],
    "everysec": ["--appendonly", "yes", "--appendfsync", "everysec"],
    "always": ["--appendonly", "yes", "--appendfsync", "always"],
    "replica": ["--appendonly", "yes", "--appendfsync", "everysec"],
    "replica-wait": ["--appendonly", "yes", "--appendfsync", "everysec"],
}
COST = "everysec,always,none"  # --cost compares these, everysec the reference
START_TIMEOUT = 30.0  # seconds for a server to answer PING (an AOF or RDB loaded)


class BenchError(RuntimeError):
    pass


# servers ---------------------------------------------------------------------------------


def free_port() -> int:
    """A free port of 127.0.0.1 below the ephemeral range, so that no outgoing connection
    takes it while a killed server waits to be restarted on it."""
    low = 32768
    with contextlib.suppress(OSError, ValueError, IndexError):
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for _ in range(100):
        port = random.randint(max(1025, low - 15000), low - 1)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((HOST, port))
            except OSError:
                continue
        if port not in _handed_out:
            _handed_out.add(port)
            return port
    raise BenchError("no free port on 127.0.0.1")


_handed_out: set[int] = set()


class Server:
    """One redis-server in a directory of its own; restartable there, on its port."""

    live: set[Server] = set()

    def __init__(self, binary: str, args: list[str], name: str) -> None:
        self.binary = binary
        self.args = args
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix=f"afftrack-durability-{name}-"))
        self.proc: subprocess.Popen[bytes] | None = None
        Server.live.add(self)

    def start(self) -> Server:
        cmd = [
            self.binary,
            "--port", str(self.port),
            "--bind", HOST,
            "--dir", str(self.dir),
            "--daemonize", "no",
            "--logfile", "redis.log",
            "--protected-mode", "yes",
            *self.args,
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            cmd,
            cwd=self.dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in the terminal reaches the script only
        )
        deadline = time.monotonic() + START_TIMEOUT
        probe = self.client(socket_timeout=1.0)
        try:
            while True:
                if self.proc.poll() is not None:
                    raise BenchError(f"redis-server exited while starting:\n{self.log()}")
                with contextlib.suppress(redis_lib.RedisError):
                    if probe.ping():  # answers LOADING (an error) until its data is loaded
                        return self
                if time.monotonic() > deadline:
                    raise BenchError(f"redis-server not ready in {START_TIMEOUT}s:\n{self.log()}")
                time.sleep(0.02)
        finally:
            probe.close()

    def client(self, **kwargs: object) -> redis_lib.Redis:
        kwargs.setdefault("socket_timeout", 3.0)
        return redis_lib.Redis(
            host=HOST,
            port=self.port,
            decode_responses=True,
            retry=Retry(NoBackoff(), 0),  # a crash shows at once; nothing is resent
            socket_connect_timeout=2.0,
            **kwargs,
        )

    def kill(self) -> None:
        """SIGKILL: the process dies at once; the machine and its page cache do not."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return (self.dir / "redis.log").read_text(errors="replace")[-3000:]
        return "(no log)"

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
        Server.live.discard(self)


@atexit.register
def close_all() -> None:
    for server in list(Server.live):
        with contextlib.suppress(Exception):
            server.close()


def wait_replica_synced(primary: redis_lib.Redis, replica: redis_lib.Redis) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        info = replica.info("replication")
        if info.get("master_link_status") == "up":
            offset = primary.info("replication")["master_repl_offset"]
            if int(info.get("slave_repl_offset", -1)) >= offset:
                return
        time.sleep(0.02)
    raise BenchError("the replica did not sync within 30 s")


# load ------------------------------------------------------------------------------------


@dataclass
class Run:
    config: str
    rate: str
    clients: int
    kill_after_s: float
    unwritten_bytes: int = -1  # --kill-at fsync-pending: the AOF buffer held back at the kill
    acknowledged: int = 0
    lost: int = 0
    unacknowledged_kept: int = 0  # in flight at the kill: kept although never acknowledged
    confirmed_lost: int = -1  # replica-wait: lost among those WAIT confirmed (-1: n/a)
    unconfirmed: int = 0  # replica-wait: acknowledged but WAIT returned 0
    ops_s: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    stream_after: int = 0
    errors: list[str] = field(default_factory=list)


class Load:
    """``clients`` processes (one connection each, as gunicorn workers have) calling
    FOLLOW_LUA at ``rate`` calls/s in all (None: each as fast as it can)."""

    def __init__(
        self, server: Server, sha: str, clients: int, rate: float | None, wait_ms: int | None
    ) -> None:
        ctx = mp.get_context("fork")
        self.stop = ctx.Event()
        self.dir = Path(tempfile.mkdtemp(prefix="afftrack-durability-load-"))
        self.first_call = time.perf_counter() + 0.2  # CLOCK_MONOTONIC: one clock for all
        self.procs = [
            ctx.Process(
                target=_client,
                args=(n, clients, server.port, sha, rate, wait_ms, self.first_call, self.stop,
                      self.dir / f"{n}.json"),
                daemon=True,
            )
            for n in range(clients)
        ]  # fmt: skip
        self.acked: set[str] = set()
        self.confirmed: set[str] = set()
        self.latency_ns: list[int] = []
        self.last_ack = 0.0
        self.errors: set[str] = set()

    def start(self) -> None:
        for proc in self.procs:
            proc.start()

    def join(self) -> None:
        """Stop the clients and collect what they recorded."""
        self.stop.set()
        try:
            for proc in self.procs:
                proc.join(15)
                if proc.is_alive():
                    proc.kill()
                    raise BenchError("a client process did not stop within 15 s")
                if proc.exitcode != 0:
                    raise BenchError(f"a client process exited with {proc.exitcode}")
            for path in sorted(self.dir.glob("*.json")):
                got = json.loads(path.read_text())
                self.acked.update(got["acked"])
                self.confirmed.update(got["confirmed"])
                self.latency_ns += got["latency_ns"]
                self.last_ack = max(self.last_ack, got["last_ack"])
                self.errors.update(got["errors"])
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def _client(
    n: int,
    clients: int,
    port: int,
    sha: str,
    rate: float | None,
    wait_ms: int | None,
    first_call: float,
    stop: Event,
    out: Path,
) -> None:
    """One client process: calls the script until the server dies or ``stop`` is set,
    then writes the click ids acknowledged (and their latencies) to ``out``."""
    r = redis_lib.Redis(
        host=HOST,
        port=port,
        decode_responses=True,
        retry=Retry(NoBackoff(), 0),  # a crash shows at once; nothing is resent
        socket_timeout=3.0,
        socket_connect_timeout=2.0,
    )
    keys = [link_key(CODE), STREAM, generation_key(CODE)]
    acked: list[str] = []
    confirmed: list[str] = []
    latency: list[int] = []
    errors: list[str] = []
    last_ack = 0.0
    today = datetime.now(UTC).date()
    try:
        for i in itertools.count():
            if stop.is_set():
                break
            # Click i of this client is click i * clients + n of the whole schedule.
            due = first_call if rate is None else first_call + (i * clients + n) / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            address = f"10.{n}.{i >> 8 & 255}.{i & 255}"
            ip_today, _, seen_today, seen_yesterday = visitor_keys(IP_KEY, address, UA, today)
            click = ClickRecord(
                id=secrets.token_urlsafe(12),  # as the redirect's new_click_id()
                link_id="",
                occurred_at=datetime.now(UTC),
                ip_hash=ip_today,
                user_agent=UA,
                referrer="https://l.instagram.com/" if i % 2 else None,
                country="DE" if i % 3 else None,
                is_bot=False,
                bot_reason=None,
                outcome="",
            )
            args = [today.isoformat(), "0", seen_today, seen_yesterday, WINDOW]
            args += click.stream_fields()
            started = time.perf_counter_ns()
            if wait_ms is None:
                answer = r.evalsha(sha, 3, *keys, *args)
                replicas = 0
            else:
                pipe = r.pipeline(transaction=False)
                pipe.evalsha(sha, 3, *keys, *args)
                pipe.execute_command("WAIT", 1, wait_ms)
                answer, replicas = pipe.execute()
            latency.append(time.perf_counter_ns() - started)
            if answer[0] != "redirect":
                errors.append(f"the script answered {answer!r}")
                break
            acked.append(click.id)
            if replicas:
                confirmed.append(click.id)
            last_ack = time.perf_counter()
    except redis_lib.RedisError as exc:  # the kill, normally
        errors.append(type(exc).__name__)
    finally:
        r.close()
        out.write_text(
            json.dumps(
                {
                    "acked": acked,
                    "confirmed": confirmed,
                    "latency_ns": latency,
                    "last_ack": last_ack,
                    "errors": errors,
                }
            )
        )


def wait_for_pending_fsync(server: Server, timeout: float = 10.0) -> int:
    """Poll until a background fsync of the AOF is running and Redis holds writes back
    in its buffer meanwhile (``everysec`` postpones the write() while an fsync runs, and
    answers the clients anyway); return that buffer's size. 0 if it never happens."""
    r = server.client(socket_timeout=1.0)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            info = r.info("persistence")
            if info["aof_pending_bio_fsync"] and info["aof_buffer_length"]:
                return int(info["aof_buffer_length"])
        return 0
    finally:
        r.close()


def stream_click_ids(r: redis_lib.Redis) -> set[str]:
    ids: set[str] = set()
    start = "-"
    while True:
        page = r.xrange(STREAM, min=start, count=10_000)
        if not page:
            return ids
        ids.update(fields["id"] for _, fields in page)
        start = "(" + page[-1][0]


def percentile(sorted_values: list[int], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, int(q * len(sorted_values)))
    return sorted_values[index] / 1e6


def run_once(binary: str, config: str, rate: str, args: argparse.Namespace) -> Run:
    kill_after = random.uniform(*args.kill_after)
    result = Run(config, rate, args.clients, round(kill_after, 3))
    replicated = config.startswith("replica")
    primary = Server(binary, [*CONFIGS[config], "--repl-diskless-sync-delay", "0"], "primary")
    replica: Server | None = None
    try:
        primary.start()
        p = primary.client()
        if replicated:
            replica = Server(
                binary,
                [*CONFIGS[config], "--replicaof", HOST, str(primary.port)],
                "replica",
            ).start()
        p.hset(link_key(CODE), mapping=TARGET.to_fields())
        sha = p.script_load(FOLLOW_LUA)
        if replica is not None:
            follower = replica.client()
            wait_replica_synced(p, follower)
            follower.close()
        p.close()

        load = Load(
            primary,
            sha,
            args.clients,
            None if rate == "max" else float(rate),
            args.wait_ms if config == "replica-wait" else None,
        )
        load.start()
        time.sleep(kill_after)
        if args.kill_at == "fsync-pending" and "everysec" in CONFIGS[config]:
            result.unwritten_bytes = wait_for_pending_fsync(primary)
        primary.kill()
        killed_at = time.perf_counter()
        load.join()

        acked, confirmed = load.acked, load.confirmed
        if replica is not None:
            time.sleep(0.5)  # let the replica apply whatever reached its socket
            survivor = replica.client()
        else:
            primary.start()  # same directory, same settings: loads the AOF or RDB
            survivor = primary.client()
        kept = stream_click_ids(survivor)
        survivor.close()

        latencies = sorted(load.latency_ns)
        last = load.last_ack or killed_at
        result.acknowledged = len(acked)
        result.lost = len(acked - kept)
        result.unacknowledged_kept = len(kept - acked)
        if config == "replica-wait":
            result.confirmed_lost = len(confirmed - kept)
            result.unconfirmed = len(acked - confirmed)
        result.stream_after = len(kept)
        result.ops_s = len(acked) / max(1e-9, last - load.first_call)
        result.p50_ms = percentile(latencies, 0.50)
        result.p99_ms = percentile(latencies, 0.99)
        result.errors = sorted(set(load.errors))
        return result
    finally:
        if replica is not None:
            replica.close()
        primary.close()


def cost_once(binary: str, config: str, clients: int, seconds: float) -> dict[str, float]:
    """Calls/s and latency per call for ``seconds`` flat out, no crash."""
    server = Server(binary, CONFIGS[config], config)
    try:
        server.start()
        r = server.client()
        r.hset(link_key(CODE), mapping=TARGET.to_fields())
        sha = r.script_load(FOLLOW_LUA)
        r.close()
        load = Load(server, sha, clients, None, None)
        assert server.proc is not None
        cpu_before = cpu_seconds(server.proc.pid)
        load.start()
        time.sleep(seconds)
        load.join()
        cpu = cpu_seconds(server.proc.pid) - cpu_before
        if load.errors:
            raise BenchError(f"{config}: {sorted(load.errors)}")
        latencies = sorted(load.latency_ns)
        return {
            "ops_s": len(load.acked) / max(1e-9, load.last_ack - load.first_call),
            "p50_ms": percentile(latencies, 0.50),
            "p99_ms": percentile(latencies, 0.99),
            "server_cpu_us": cpu * 1e6 / max(1, len(load.acked)),
        }
    finally:
        server.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its threads so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cost(binary: str, args: argparse.Namespace) -> list[dict[str, object]]:
    """Each client count: the configs one after the other, ``--runs`` rounds."""
    if args.configs is None:
        args.configs = COST if args.cost else ",".join(c for c in CONFIGS if c != "none")
    configs = [c for c in args.configs.split(",") if c]
    results: list[dict[str, object]] = []
    for clients in (int(c) for c in args.cost_clients.split(",")):
        for n in range(args.runs):
            for config in configs:
                got = cost_once(binary, config, clients, args.cost_seconds)
                results.append({"config": config, "clients": clients, "round": n, **got})
                print(
                    f"{config:>9} clients={clients:>2} round {n + 1}: {got['ops_s']:,.0f} ops/s"
                    f" p50={got['p50_ms']:.3f}ms p99={got['p99_ms']:.3f}ms"
                    f" redis-server CPU {got['server_cpu_us']:.0f} us/call",
                    flush=True,
                )
    print()
    print(
        "| clients | config | ops/s | p50 ms | p99 ms | redis-server CPU µs/call"
        " | ops/s vs the first config (per round) |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|")
    for clients in dict.fromkeys(r["clients"] for r in results):
        mine = [r for r in results if r["clients"] == clients]
        base = {r["round"]: r["ops_s"] for r in mine if r["config"] == configs[0]}
        for config in configs:
            rows = [r for r in mine if r["config"] == config]
            ratio = statistics.median(r["ops_s"] / base[r["round"]] for r in rows)
            print(
                f"| {clients} | {config}"
                f" | {statistics.median(r['ops_s'] for r in rows):,.0f}"
                f" | {statistics.median(r['p50_ms'] for r in rows):.3f}"
                f" | {statistics.median(r['p99_ms'] for r in rows):.3f}"
                f" | {statistics.median(r['server_cpu_us'] for r in rows):.0f}"
                f" | {ratio:.2f} |"
            )
    return results


# report ----------------------------------------------------------------------------------


def summarize(runs: list[Run]) -> None:
    print()
    print(
        "| config | rate | runs | acknowledged (median) | lost min / median / max"
        " | lost % (median) | ops/s | p50 ms | p99 ms |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    groups: dict[tuple[str, str], list[Run]] = {}
    for run in runs:
        groups.setdefault((run.config, run.rate), []).append(run)
    for (config, rate), group in groups.items():
        lost = sorted(r.lost for r in group)
        pct = statistics.median(100 * r.lost / max(1, r.acknowledged) for r in group)
        extra = ""
        if config == "replica-wait":
            extra = f" (WAIT-confirmed lost: max {max(r.confirmed_lost for r in group)})"
        print(
            f"| {config}{extra} | {rate} | {len(group)}"
            f" | {statistics.median(r.acknowledged for r in group):,.0f}"
            f" | {lost[0]:,} / {statistics.median(lost):,.0f} / {lost[-1]:,}"
            f" | {pct:.2f} %"
            f" | {statistics.median(r.ops_s for r in group):,.0f}"
            f" | {statistics.median(r.p50_ms for r in group):.3f}"
            f" | {statistics.median(r.p99_ms for r in group):.3f} |"
        )


def fsync_latency_ms(samples: int = 200) -> tuple[float, float]:
    """p50 and p99 of appending 300 bytes and fdatasync()ing, in the temporary directory
    the servers use: what each ``appendfsync always`` write waits for at least."""
    times: list[int] = []
    with tempfile.TemporaryDirectory(prefix="afftrack-durability-fsync-") as directory:
        fd = os.open(Path(directory) / "probe", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            for _ in range(samples):
                started = time.perf_counter_ns()
                os.write(fd, b"x" * 300)
                os.fdatasync(fd)
                times.append(time.perf_counter_ns() - started)
        finally:
            os.close(fd)
    times.sort()
    return percentile(times, 0.5), percentile(times, 0.99)


def parse_range(text: str) -> tuple[float, float]:
    low, _, high = text.partition("-")
    return float(low), float(high or low)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument(
        "--configs", help=f"of {', '.join(CONFIGS)} (default: all but none; --cost: {COST})"
    )
    parser.add_argument(
        "--cost", action="store_true", help="no crash: ops/s and latency, configs alternating"
    )
    parser.add_argument("--cost-clients", default="1,4,16", help="--cost: client counts")
    parser.add_argument("--cost-seconds", type=float, default=5.0, help="--cost: per round")
    parser.add_argument("--rates", default="2000,max", help="calls/s in all, or max")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--clients", type=int, default=4, help="client processes, one connection each"
    )
    parser.add_argument("--kill-after", type=parse_range, default=(2.0, 4.0), help="s, a-b")
    parser.add_argument(
        "--kill-at",
        choices=["random", "fsync-pending"],
        default="random",
        help="fsync-pending: after --kill-after, wait until an everysec primary holds back"
        " writes while its background fsync runs, and kill it then (the worst moment)",
    )
    parser.add_argument("--wait-ms", type=int, default=50, help="WAIT timeout (replica-wait)")
    parser.add_argument("--redis-server", default=shutil.which("redis-server"))
    parser.add_argument("--json", type=Path, help="write every run here")
    args = parser.parse_args()
    if not args.redis_server:
        print("redis-server not found on PATH (--redis-server)", file=sys.stderr)
        return 1
    if args.configs is None:
        args.configs = COST if args.cost else ",".join(c for c in CONFIGS if c != "none")
    configs = [c for c in args.configs.split(",") if c]
    unknown = set(configs) - set(CONFIGS)
    if unknown:
        parser.error(f"unknown configs {sorted(unknown)}; known: {', '.join(CONFIGS)}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))

    version = subprocess.run(
        [args.redis_server, "--version"], capture_output=True, text=True, timeout=10
    ).stdout.strip()
    print(f"{version}; {os.cpu_count()} CPUs; {args.clients} client processes; kill after"
          f" {args.kill_after[0]}-{args.kill_after[1]} s; {args.runs} runs each"
          if not args.cost else f"{version}; {os.cpu_count()} CPUs; --cost,"
          f" {args.cost_seconds} s per round, {args.runs} rounds")  # fmt: skip
    fsync_p50, fsync_p99 = fsync_latency_ms()
    print(
        f"temporary directory {tempfile.gettempdir()}: write + fdatasync p50"
        f" {fsync_p50:.3f} ms, p99 {fsync_p99:.3f} ms"
    )
    runs: list[Run] = []
    try:
        if args.cost:
            results = cost(args.redis_server, args)
            if args.json:
                args.json.write_text(json.dumps(results, indent=1))
            return 0
        for config in configs:
            for rate in args.rates.split(","):
                for n in range(args.runs):
                    run = run_once(args.redis_server, config, rate, args)
                    runs.append(run)
                    wait = ""
                    if config == "replica-wait":
                        wait = f" confirmed-lost={run.confirmed_lost} unconfirmed={run.unconfirmed}"
                    if run.unwritten_bytes >= 0:
                        wait += f" held-back={run.unwritten_bytes:,}B"
                    print(
                        f"{config:>12} rate={rate:>5} run {n + 1}: killed at"
                        f" {run.kill_after_s:.2f}s acked={run.acknowledged:,}"
                        f" lost={run.lost:,} kept-unacked={run.unacknowledged_kept}{wait}"
                        f" {run.ops_s:,.0f} ops/s p50={run.p50_ms:.3f}ms"
                        f" p99={run.p99_ms:.3f}ms {' '.join(run.errors)}",
                        flush=True,
                    )
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        close_all()
        if args.json:
            args.json.write_text(json.dumps([asdict(r) for r in runs], indent=1))
    summarize(runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
