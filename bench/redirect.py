"""Redirect throughput: afftrack's GET /r/<code> against nginx, a raw WSGI app and a naive one.

    .venv/bin/python bench/redirect.py [--targets afftrack,nginx,raw,naive] [--runs 3]
        [--duration 10] [--connections 32] [--json out.json] [--worker-class sync] ...

Protocol: each server pinned to CPU 0 (``taskset -c 0``), wrk pinned to CPU 1
(``taskset -c 1 wrk -t1 -c32 -d10s --latency URL``), a ~2 s warm-up first, then 3 runs;
the run with the median req/s is reported with its p50 and p99. Worker RSS is read from
/proc after the runs. Any non-2xx/3xx response or socket error is shouted about and makes
the script exit with status 2. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import psycopg
import redis
from _harness import (
    BROWSER_UA,
    BenchError,
    Server,
    WrkRun,
    affinity_of,
    base_env,
    children_of,
    connections_per_process,
    cpu_by_process,
    drain_time_wait,
    free_port,
    interference,
    loadavg,
    machine_facts,
    median_run,
    memory_of,
    note,
    probe_until_ok,
    run_wrk,
    shout,
    start_server,
    table,
    tcp_counters,
    wait_idle,
    wait_port,
)
from psycopg import sql

REPO = Path(__file__).resolve().parent.parent
TARGETS = ("afftrack", "nginx", "raw", "naive")
CLICK_STREAM = "afftrack:clicks"  # service.config.Settings.click_stream default
RAW_STREAM = "bench:raw:clicks"
BENCH_CODE = "bench01"  # the code raw and naive serve
# Same shape as the Location afftrack answers for the demo link (UTM merged).
SEEDED_DESTINATION = (
    "https://shop.example.com/spring?ref=bio&utm_source=instagram&utm_medium=influencer"
    "&utm_campaign=demo-spring&utm_content=anna.styles"
)
NGINX_LOCATION = "https://shop.example/p?utm_source=instagram"
# A phone's in-app browser: a human to afftrack's bot filter, so the click takes the
# full path (uniqueness SET NX + XADD). wrk sends no User-Agent at all by default, which
# afftrack classifies as a bot ("empty_user_agent") and records without the SET NX.
DEFAULT_UA = BROWSER_UA
NOISY_SHARE = 0.05  # foreign CPU-seconds per second of run above which a run is "noisy"
REDIS_LOCK = "bench:redirect:lock"  # makes the test suite's fixture skip this db index
TEST_LOCK = "afftrack:test-run-lock"  # the test suite's fixture holds this db index


@dataclass
class Options:
    targets: list[str]
    runs: int
    duration: int
    warmup: int
    connections: int
    json_path: Path | None
    workers: int | None
    threads: int | None
    worker_class: str | None
    max_requests: int | None
    with_worker: bool
    prom_multiproc: bool
    user_agent: str | None
    server_cpu: int
    client_cpu: int
    pg_admin_url: str
    database: str
    redis_base: str
    redis_db: int
    keep_logs: bool
    afftrack_rev: str | None
    idle_clients: int = 0
    query: str = ""  # appended to afftrack's short URL, e.g. "qr=1" (a QR code's scan)
    # Where afftrack's code (and its gunicorn settings) comes from: the repository's
    # working tree, or a `git archive` of --afftrack-rev in the temp dir.
    src: Path = REPO
    src_label: str = "working tree"

    @property
    def gunicorn_conf(self) -> Path:
        """The packaged settings (older revisions kept them in deploy/gunicorn.conf.py)."""
        packaged = self.src / "service" / "gunicorn_conf.py"
        return packaged if packaged.exists() else self.src / "deploy" / "gunicorn.conf.py"


@dataclass
class Spec:
    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path = REPO


@dataclass
class Launch:
    """How to start one target and what it must answer."""

    servers: list[Spec]  # [0] is the one that serves
    path: str
    expect_location: str
    after: Callable[[], dict[str, Any]] = lambda: {}


@dataclass
class Result:
    target: str
    ok: bool = False
    failure: str | None = None
    command: list[str] = field(default_factory=list)
    location: str | None = None
    worker_class: str | None = None
    warmup: WrkRun | None = None
    runs: list[WrkRun] = field(default_factory=list)
    memory: list[dict[str, Any]] = field(default_factory=list)
    worker_restarts: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    loadavg_before: str = ""

    @property
    def median(self) -> WrkRun | None:
        return median_run(self.runs) if self.runs else None

    @property
    def errored_runs(self) -> list[WrkRun]:
        return [r for r in ([self.warmup] if self.warmup else []) + self.runs if r.errors]

    def workers_rss_mb(self) -> list[float]:
        return [
            m["rss_kb"] / 1024
            for m in self.memory
            if m["role"] == "worker" and m["rss_kb"] is not None
        ]

    def to_json(self) -> dict[str, Any]:
        med = self.median
        return {
            "target": self.target,
            "ok": self.ok,
            "failure": self.failure,
            "command": self.command,
            "location": self.location,
            "worker_class": self.worker_class,
            "loadavg_before": self.loadavg_before,
            "warmup": self.warmup.to_json() if self.warmup else None,
            "runs": [r.to_json() for r in self.runs],
            "median_run": self.runs.index(med) if med else None,
            "memory": self.memory,
            "worker_restarts_during_measurement": self.worker_restarts,
            **self.extra,
        }


# --- setup ---------------------------------------------------------------------------


def afftrack_cli() -> list[str]:
    script = Path(sys.executable).parent / "afftrack"
    if script.exists():
        return [str(script)]
    found = shutil.which("afftrack")
    if found is None:
        raise BenchError("the afftrack command is not installed next to this Python")
    return [found]


def recreate_database(opts: Options) -> str:
    """Drop and create the benchmark database; its SQLAlchemy-free URL."""
    with psycopg.connect(opts.pg_admin_url, autocommit=True) as conn:
        name = sql.Identifier(opts.database)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
    return opts.pg_admin_url.rsplit("/", 1)[0] + "/" + opts.database


def claim_redis(opts: Options) -> redis.Redis:
    """Flush our db index, unless the test suite is using it right now."""
    client = redis.Redis.from_url(f"{opts.redis_base}/{opts.redis_db}")
    if client.exists(TEST_LOCK):
        raise BenchError(
            f"Redis db {opts.redis_db} is in use by a test run ({TEST_LOCK}); "
            "pick another with --redis-db"
        )
    client.flushdb()
    client.set(REDIS_LOCK, "1", ex=3600)
    return client


def gunicorn_argv(opts: Options, port: int, app: str) -> list[str]:
    argv = [
        "taskset",
        "-c",
        str(opts.server_cpu),
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        str(opts.gunicorn_conf),
        "--bind",
        f"127.0.0.1:{port}",
    ]
    if opts.worker_class:
        argv += ["-k", opts.worker_class]
    if opts.workers:
        argv += ["-w", str(opts.workers)]
    threads = opts.threads
    if threads is None and opts.worker_class == "sync":
        # The config sets threads=4, and gunicorn silently turns "sync" with threads > 1
        # into gthread; one thread is what "sync" means.
        threads = 1
    if threads:
        argv += ["--threads", str(threads)]
    return [*argv, app]


GUNICORN_KNOBS = ("worker_class", "workers", "threads", "max_requests", "max_requests_jitter",
                  "keepalive", "preload_app")  # fmt: skip


def gunicorn_settings(opts: Options, env: dict[str, str]) -> dict[str, Any]:
    """What the gunicorn settings set under ``env`` on the server's CPU, with the CLI
    overrides applied: the settings a run actually had, even if the config changes."""
    code = (
        "import json, runpy, sys; ns = runpy.run_path(sys.argv[1]); "
        f"print(json.dumps({{k: ns.get(k) for k in {GUNICORN_KNOBS!r}}}))"
    )
    argv = ["taskset", "-c", str(opts.server_cpu), sys.executable, "-c", code]
    out: dict[str, Any] = json.loads(_run([*argv, str(opts.gunicorn_conf)], env))
    if opts.worker_class:
        out["worker_class"] = opts.worker_class
    if opts.workers:
        out["workers"] = opts.workers
    threads = opts.threads or (1 if opts.worker_class == "sync" else None)
    if threads:
        out["threads"] = threads
    return out


def gunicorn_env(opts: Options) -> dict[str, str]:
    env = base_env()
    if opts.max_requests is not None:
        env["GUNICORN_MAX_REQUESTS"] = str(opts.max_requests)
    return env


def seed_afftrack(opts: Options, db_url: str, tmp: Path) -> tuple[dict[str, str], str]:
    """Migrate, run ``afftrack demo``; the env to serve with and one demo link's code."""
    env = gunicorn_env(opts)
    env.update(
        DATABASE_URL=db_url,
        REDIS_URL=f"{opts.redis_base}/{opts.redis_db}",
        # Random per run: the config refuses its public dev defaults with PostgreSQL.
        AFFTRACK_HASHIDS_SALT=secrets.token_hex(16),
        AFFTRACK_IP_HASH_KEY=secrets.token_hex(16),
    )
    if opts.src != REPO:
        # Ahead of the editable install's finder, which only runs after sys.path.
        env["PYTHONPATH"] = str(opts.src)
    cli = afftrack_cli()
    _run([*cli, "db", "upgrade"], env, cwd=opts.src)
    demo = _run([*cli, "demo"], env, cwd=opts.src)
    if opts.prom_multiproc:  # as deployed; after seeding, so it starts empty
        prom = tmp / "prometheus"
        prom.mkdir(exist_ok=True)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(prom)
    # Lines like "  anna.styles  http://127.0.0.1:8000/r/<code>  (instagram) ..." (the
    # first line holds an API key: never echoed).
    codes = re.findall(r"/r/([A-Za-z0-9_-]+)", demo)
    if not codes:
        raise BenchError("afftrack demo printed no /r/<code> URL")
    return env, codes[0]


def _run(argv: list[str], env: dict[str, str], cwd: Path = REPO, timeout: float = 120) -> str:
    done = subprocess.run(
        argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise BenchError(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def nginx_conf(tmp: Path, port: int) -> Path:
    conf = tmp / "nginx.conf"
    conf.write_text(
        f"""daemon off;
master_process on;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location /r/ {{ return 302 {NGINX_LOCATION}; }}
    }}
}}
"""
    )
    return conf


def plan(target: str, opts: Options, port: int, tmp: Path, state: dict[str, Any]) -> Launch:
    """Seed what ``target`` needs; how to start it."""
    if target == "afftrack":
        env, code = seed_afftrack(opts, state["db_url"], tmp)
        servers = [Spec("afftrack", gunicorn_argv(opts, port, "service.wsgi:app"), env, opts.src)]
        if opts.with_worker:
            worker = ["taskset", "-c", str(opts.server_cpu), *afftrack_cli(), "worker"]
            servers.append(Spec("click-worker", worker, env, opts.src))
        rds: redis.Redis = state["redis"]

        def after() -> dict[str, Any]:
            out: dict[str, Any] = {"stream": CLICK_STREAM, "stream_xlen": rds.xlen(CLICK_STREAM)}
            # Proof the clicks took the human path (not the bot one) with our User-Agent.
            for _id, fields in rds.xrevrange(CLICK_STREAM, count=1):
                for name in ("is_bot", "bot_reason", "is_unique", "source"):
                    value = fields.get(name.encode())
                    out[f"last_click_{name}"] = value.decode() if value is not None else None
            if opts.with_worker:
                with psycopg.connect(state["db_url"]) as conn:
                    row = conn.execute("SELECT count(*) FROM clicks").fetchone()
                    out["clicks_rows"] = row[0] if row else None
            return out

        path = f"/r/{code}" + (f"?{opts.query}" if opts.query else "")
        return Launch(servers, path, "https://shop.example.com/spring?ref=bio", after)
    if target == "nginx":
        ntmp = tmp / "nginx"
        ntmp.mkdir(exist_ok=True)
        conf = nginx_conf(ntmp, port)
        argv = [
            "taskset",
            "-c",
            str(opts.server_cpu),
            "nginx",
            "-c",
            str(conf),
            "-p",
            str(ntmp),
            "-e",
            str(ntmp / "error.log"),
        ]
        return Launch([Spec("nginx", argv, base_env())], f"/r/{BENCH_CODE}", NGINX_LOCATION)
    if target == "raw":
        rds = state["redis"]
        rds.set(f"bench:link:{BENCH_CODE}", SEEDED_DESTINATION)
        env = gunicorn_env(opts)
        env.update(BENCH_REDIS_URL=f"{opts.redis_base}/{opts.redis_db}", BENCH_STREAM=RAW_STREAM)
        return Launch(
            [Spec("raw", gunicorn_argv(opts, port, "bench.raw_wsgi:app"), env)],
            f"/r/{BENCH_CODE}",
            SEEDED_DESTINATION,
            lambda: {"stream": RAW_STREAM, "stream_xlen": rds.xlen(RAW_STREAM)},
        )
    if target == "naive":
        env = gunicorn_env(opts)
        env["BENCH_DATABASE_URL"] = state["db_url"].replace(
            "postgresql://", "postgresql+psycopg://", 1
        )
        _run(
            [
                sys.executable,
                str(REPO / "bench" / "naive_app.py"),
                "seed",
                BENCH_CODE,
                SEEDED_DESTINATION,
            ],
            env,
        )

        def count() -> dict[str, Any]:
            out = _run([sys.executable, str(REPO / "bench" / "naive_app.py"), "count"], env)
            return {"naive_clicks_rows": int(out.strip())}

        return Launch(
            [Spec("naive", gunicorn_argv(opts, port, "bench.naive_app:app"), env)],
            f"/r/{BENCH_CODE}",
            SEEDED_DESTINATION,
            count,
        )
    raise BenchError(f"unknown target {target!r}")


# --- one target ----------------------------------------------------------------------


@contextlib.contextmanager
def running(launch: Launch, tmp: Path) -> Iterator[list[Server]]:
    """Start every server of ``launch``; stop them all however the block ends."""
    started: list[Server] = []
    try:
        for spec in launch.servers:
            log_path = tmp / f"{spec.name}.log"
            started.append(
                start_server(spec.name, spec.argv, env=spec.env, cwd=spec.cwd, log_path=log_path)
            )
        yield started
    finally:
        for server in reversed(started):
            server.stop()


def bench_target(target: str, opts: Options, tmp: Path, state: dict[str, Any]) -> Result:
    result = Result(target)
    port = free_port()
    ttmp = tmp / target
    ttmp.mkdir()
    note(f"{target}: seeding")
    launch = plan(target, opts, port, ttmp, state)
    if target != "nginx":
        result.extra["gunicorn"] = gunicorn_settings(opts, launch.servers[0].env)
    code_before = code_fingerprint(opts) if target == "afftrack" else None
    result.command = launch.servers[0].argv
    url = f"http://127.0.0.1:{port}{launch.path}"
    with running(launch, ttmp) as servers:
        main = servers[0]
        wait_port(main, port)
        first = probe_until_ok(main, port, launch.path, opts.user_agent)
        result.location = first.location
        if first.status != 302 or not (first.location or "").startswith(launch.expect_location):
            raise BenchError(
                f"{target}: GET {launch.path} answered {first.status} "
                f"Location={first.location!r}, expected 302 to {launch.expect_location}…\n"
                f"{main.log_tail()}"
            )
        if not wait_idle(main.pid):
            shout(f"{target}: server still busy 20 s after start; measuring anyway")
        for server in servers:
            if not server.alive():
                raise BenchError(f"{server.name} died:\n{server.log_tail()}")
        result.worker_class = _worker_class(main)
        if opts.worker_class and result.worker_class and result.worker_class != opts.worker_class:
            shout(
                f"{target}: asked for worker class {opts.worker_class}, "
                f"gunicorn is using {result.worker_class}"
            )
        result.loadavg_before = loadavg()
        note(f"{target}: warm-up {opts.warmup}s  {url}  (load {result.loadavg_before})")
        result.warmup = wrk(url, opts, f"{target} warm-up", opts.warmup, servers)
        boots_before = main.log_text().count("Booting worker with pid")
        for i in range(1, opts.runs + 1):
            run = wrk(url, opts, f"{target} run {i}/{opts.runs}", opts.duration, servers)
            result.runs.append(run)
            note(
                f"{target} run {i}: {run.rps:,.0f} req/s  p50 {run.latency_ms['50']:.2f} ms  "
                f"p99 {run.latency_ms['99']:.2f} ms  errors {run.errors}"
            )
        if "gunicorn" in " ".join(main.argv):
            result.worker_restarts = main.log_text().count("Booting worker with pid") - boots_before
            if result.worker_restarts:
                note(
                    f"{target}: {result.worker_restarts} worker restart(s) during the runs "
                    "(max_requests recycling)"
                )
        result.memory = _memory(servers)
        for server in servers:
            if not server.alive():
                raise BenchError(f"{server.name} died during the runs:\n{server.log_tail()}")
        # Give the server a moment to finish what wrk left in flight, then count.
        time.sleep(0.5)
        result.extra.update(launch.after())
        served = 1 + result.warmup.requests + sum(r.requests for r in result.runs)
        result.extra["requests_counted_by_wrk_incl_warmup"] = served
    if code_before is not None:
        result.extra["service_code_sha256"] = code_before[:16]
        if code_fingerprint(opts) != code_before:
            result.extra["service_code_changed_during_runs"] = True
            shout(
                f"{target}: service/ or the gunicorn settings changed on disk during the "
                "runs; workers recycled by max_requests may have loaded the new code"
            )
    result.ok = True
    return result


def code_fingerprint(opts: Options) -> str:
    """sha256 of the code afftrack workers import (as it is on disk now)."""
    digest = hashlib.sha256()
    for path in sorted({*(opts.src / "service").rglob("*.py"), opts.gunicorn_conf}):
        digest.update(str(path.relative_to(opts.src)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def wrk(url: str, opts: Options, label: str, duration: int, servers: list[Server]) -> WrkRun:
    time_wait = drain_time_wait()
    before = cpu_by_process()
    tcp_before = tcp_counters()
    # Which worker holds wrk's keep-alive connections, sampled half-way through.
    spread: dict[int, int] = {}
    port = int(url.split(":")[2].split("/")[0])
    sampler = threading.Timer(
        duration / 2,
        lambda: spread.update(connections_per_process(port, server_pids(servers[0]))),
    )
    sampler.daemon = True
    sampler.start()
    # Connections a browser opened (a preconnect, a slow phone) and has not sent a request
    # on yet: a gthread worker parks them in its poller; a sync worker blocks on each.
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(opts.idle_clients)]
    try:
        run = run_wrk(
            url,
            label=label,
            duration=duration,
            connections=opts.connections,
            cpu=opts.client_cpu,
            user_agent=opts.user_agent,
        )
    finally:
        sampler.cancel()
        for sock in idle:
            sock.close()
    ours = {pid for server in servers for pid in (server.pid, *children_of(server.pid))}
    noise = interference(before, cpu_by_process(), ours)
    run.noise = {
        "postgres_redis_cpu_s": round(noise.backing_s, 2),
        "kernel_threads_cpu_s": round(noise.kernel_s, 2),
        "foreign_cpu_s": round(noise.foreign_s, 2),
        "top_foreign": [(comm, round(sec, 2)) for comm, sec in noise.top_foreign],
    }
    run.noise["time_wait_sockets_at_start"] = time_wait
    run.noise["connections_per_process_midrun"] = spread
    tcp = {k: v - tcp_before.get(k, 0) for k, v in tcp_counters().items()}
    run.noise["tcp"] = tcp
    if tcp.get("TCPSynRetrans") or tcp.get("ListenOverflows"):
        note(
            f"!! {label}: {tcp.get('TCPSynRetrans', 0)} SYN retransmissions, "
            f"{tcp.get('ListenOverflows', 0)} listen queue overflows (each costs >= 1 s)"
        )
    run.noise["noisy"] = noise.foreign_s > NOISY_SHARE * duration
    if run.noise["noisy"]:
        note(
            f"!! {label}: other processes used {noise.foreign_s:.1f} CPU-s during the run "
            f"({', '.join(f'{c} {t:.1f}s' for c, t in noise.top_foreign)}): figures are noisy"
        )
    if run.errors:
        shout(
            f"{label}: {run.non_2xx_3xx} non-2xx/3xx responses, socket errors "
            f"{run.socket_errors} — these figures are NOT clean"
        )
    return run


def server_pids(server: Server) -> list[int]:
    """The server and its direct children (gunicorn or nginx workers)."""
    return [server.pid, *children_of(server.pid)]


def _worker_class(server: Server) -> str | None:
    m = re.search(r"Using worker: (\S+)", server.log_text())
    return m.group(1) if m else None


def _memory(servers: list[Server]) -> list[dict[str, Any]]:
    out = []
    for server in servers:
        master = memory_of(server.pid, "master" if children_of(server.pid) else "process")
        rows = [master] + [memory_of(pid, "worker") for pid in children_of(server.pid)]
        for row in rows:
            out.append({"server": server.name, "affinity": affinity_of(row.pid), **vars(row)})
    return out


# --- report --------------------------------------------------------------------------


def report(results: list[Result], facts: dict[str, str], opts: Options) -> str:
    lines = ["", "Machine"]
    lines += [f"  {k:<17} {v}" for k, v in facts.items()]
    ua = repr(opts.user_agent) if opts.user_agent else "(none)"
    lines += [
        "",
        f"Protocol: server on CPU {opts.server_cpu}, wrk on CPU {opts.client_cpu} "
        f"(-t1 -c{opts.connections} -d{opts.duration}s --latency, User-Agent {ua}); "
        f"{opts.warmup}s warm-up; {opts.runs} runs, median by req/s.",
        f"afftrack code: {opts.src_label}",
        "Gunicorn: -c service/gunicorn_conf.py"
        + (f" -k {opts.worker_class}" if opts.worker_class else "")
        + (f" -w {opts.workers}" if opts.workers else "")
        + (f" --threads {opts.threads}" if opts.threads else "")
        + (f"; GUNICORN_MAX_REQUESTS={opts.max_requests}" if opts.max_requests is not None else "")
        + ("; afftrack click worker running" if opts.with_worker else ""),
        "",
    ]
    headers = [
        "target",
        "req/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "worker RSS MB",
        "total RSS MB",
        "class",
        "other CPU s",
        "req/s of each run",
    ]
    rows = []
    for res in results:
        med = res.median
        if med is None:
            rows.append([res.target, "FAILED", *["-"] * 7, (res.failure or "").splitlines()[0]])
            continue
        rss = res.workers_rss_mb()
        total = sum(m["rss_kb"] or 0 for m in res.memory) / 1024
        errors = str(med.errors) + (" !" if res.errored_runs else "")
        rows.append(
            [
                res.target,
                f"{med.rps:,.0f}",
                f"{med.latency_ms['50']:.2f}",
                f"{med.latency_ms['99']:.2f}",
                errors,
                f"{len(rss)} x {sum(rss) / len(rss):.1f}" if rss else "-",
                f"{total:.1f}",
                res.worker_class or "-",
                f"{med.noise.get('foreign_cpu_s', 0):.1f}",
                " ".join(f"{r.rps:,.0f}" + ("~" if r.noise.get("noisy") else "") for r in res.runs),
            ]
        )
    lines.append(table(headers, rows))
    lines.append(
        "(median run; errors = non-2xx/3xx + socket errors, '!' if any run had some; "
        "worker RSS = VmRSS after the runs, count x mean; total includes the master; "
        "other CPU s = CPU-seconds used during the median run by processes other than "
        "the server, wrk, PostgreSQL, Redis and kernel threads; '~' marks a noisy run)"
    )
    by = {r.target: r.median for r in results if r.median}
    if "afftrack" in by and len(by) > 1:
        lines += ["", "afftrack relative to:"]
        mine = by["afftrack"]
        assert mine is not None
        for other in ("nginx", "raw", "naive"):
            theirs = by.get(other)
            if theirs is None:
                continue
            lines.append(
                f"  afftrack/{other:<6} req/s {mine.rps / theirs.rps:6.3f}   "
                f"p50 {mine.latency_ms['50'] / theirs.latency_ms['50']:6.2f}x   "
                f"p99 {mine.latency_ms['99'] / theirs.latency_ms['99']:6.2f}x"
            )
    lines.append("")
    for res in results:
        bits = [f"{k}={v}" for k, v in res.extra.items() if k != "gunicorn"]
        if "gunicorn" in res.extra:
            knobs = " ".join(f"{k}={v}" for k, v in res.extra["gunicorn"].items())
            lines.append(f"{res.target}: gunicorn settings in effect: {knobs}")
        if res.worker_restarts:
            bits.append(f"worker_restarts_during_runs={res.worker_restarts}")
        if bits:
            lines.append(f"{res.target}: " + ", ".join(bits))
        med = res.median
        if med is not None and any(med.noise.get("connections_per_process_midrun", {}).values()):
            spread = med.noise["connections_per_process_midrun"]
            held = sorted((n for n in spread.values() if n), reverse=True)
            lines.append(
                f"{res.target}: wrk's connections per server process, half-way through the "
                f"median run: {' + '.join(map(str, held)) or '0'} "
                f"({sum(1 for n in spread.values() if n)} of {len(spread)} processes)"
            )
        if res.memory:
            rss = ", ".join(
                f"{m['server']} {m['role']} {m['pid']} {(m['rss_kb'] or 0) / 1024:.1f}"
                for m in res.memory
            )
            lines.append(f"{res.target}: RSS MB after the runs: {rss}")
        if res.location:
            lines.append(f"{res.target}: Location {res.location}")
    for res in results:
        for run in [*([res.warmup] if res.warmup else []), *res.runs]:
            if run.noise.get("noisy"):
                lines.append(
                    f"~~ noisy: {run.label}: other processes used "
                    f"{run.noise['foreign_cpu_s']:.1f} CPU-s {run.noise['top_foreign'][:2]}"
                )
    for res in results:
        for run in res.errored_runs:
            lines.append(
                f"!!! {run.label}: {run.non_2xx_3xx} non-2xx/3xx, socket errors {run.socket_errors}"
            )
        if res.failure:
            lines.append(f"!!! {res.target} FAILED: {res.failure.splitlines()[0]}")
    return "\n".join(lines)


# --- main ----------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> Options:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--targets", default=",".join(TARGETS), help="comma-separated subset")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--duration", type=int, default=10, help="seconds per run")
    p.add_argument("--warmup", type=int, default=2, help="seconds of warm-up (discarded)")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--json", type=Path, help="write every run here")
    g = p.add_argument_group("gunicorn (afftrack, raw, naive): passed after -c, so they win")
    g.add_argument("--workers", type=int, help="-w (default: the config's, 3 on one CPU)")
    g.add_argument("--threads", type=int, help="--threads (default: the config's 4; 1 for sync)")
    g.add_argument("--worker-class", help="-k, e.g. sync (default: the config's gthread)")
    g.add_argument(
        "--max-requests",
        type=int,
        help="GUNICORN_MAX_REQUESTS (default: the config's 10000; 0 = off)",
    )
    a = p.add_argument_group("afftrack")
    a.add_argument(
        "--with-worker",
        action="store_true",
        help="also run `afftrack worker` (on the server CPU) during the runs",
    )
    a.add_argument(
        "--no-prometheus-multiproc",
        dest="prom_multiproc",
        action="store_false",
        help="leave PROMETHEUS_MULTIPROC_DIR unset (production sets it)",
    )
    p.add_argument(
        "--user-agent", default=DEFAULT_UA, help="User-Agent wrk sends ('' = none, as bare wrk)"
    )
    p.add_argument("--server-cpu", type=int, default=0)
    p.add_argument("--client-cpu", type=int, default=1)
    p.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    p.add_argument("--database", default="afftrack_bench", help="dropped and recreated")
    p.add_argument("--redis-base", default="redis://127.0.0.1:6379")
    p.add_argument("--redis-db", type=int, default=1, help="flushed at start and end")
    a.add_argument(
        "--afftrack-rev",
        help="benchmark afftrack at this git revision (a `git archive` in the temp dir, "
        "which also supplies service/gunicorn_conf.py) instead of the working tree",
    )
    a.add_argument(
        "--query",
        default="",
        help="query string added to the short URL afftrack is asked for (qr=1: a QR scan)",
    )
    p.add_argument("--keep-logs", action="store_true", help="keep the temp dir with server logs")
    p.add_argument(
        "--idle-clients",
        type=int,
        default=0,
        help="extra connections opened before each run that never send a request",
    )
    ns = p.parse_args(argv)
    targets = [t.strip() for t in ns.targets.split(",") if t.strip()]
    unknown = sorted(set(targets) - set(TARGETS))
    if unknown or not targets:
        p.error(f"--targets: unknown {unknown}; choose from {','.join(TARGETS)}")
    if ns.runs < 1 or ns.duration < 1 or ns.connections < 1 or ns.warmup < 0:
        p.error("--runs, --duration and --connections must be positive")
    return Options(
        targets=targets,
        runs=ns.runs,
        duration=ns.duration,
        warmup=ns.warmup,
        connections=ns.connections,
        json_path=ns.json,
        workers=ns.workers,
        threads=ns.threads,
        worker_class=ns.worker_class,
        max_requests=ns.max_requests,
        with_worker=ns.with_worker,
        prom_multiproc=ns.prom_multiproc,
        user_agent=ns.user_agent or None,
        server_cpu=ns.server_cpu,
        client_cpu=ns.client_cpu,
        pg_admin_url=ns.pg_admin_url,
        database=ns.database,
        redis_base=ns.redis_base,
        redis_db=ns.redis_db,
        keep_logs=ns.keep_logs,
        afftrack_rev=ns.afftrack_rev,
        idle_clients=ns.idle_clients,
        query=ns.query,
    )


def preflight(opts: Options) -> None:
    cpus = os.sched_getaffinity(0)
    for cpu in (opts.server_cpu, opts.client_cpu):
        if cpu not in cpus:
            raise BenchError(f"CPU {cpu} is not available (have {sorted(cpus)})")
    if opts.server_cpu == opts.client_cpu:
        raise BenchError("the server and wrk must run on different CPUs")
    needed = ["taskset", "wrk"] + (["nginx"] if "nginx" in opts.targets else [])
    missing = [tool for tool in needed if shutil.which(tool) is None]
    if missing:
        raise BenchError(f"missing tools: {', '.join(missing)}")


def export_rev(opts: Options, tmp: Path) -> None:
    """``git archive`` the revision into ``tmp/src`` (the working tree is not touched)."""
    sha = _run(
        ["git", "-C", str(REPO), "rev-parse", "--verify", f"{opts.afftrack_rev}^{{commit}}"],
        base_env(),
    ).strip()
    src = tmp / "src"
    src.mkdir()
    tar = tmp / "src.tar"
    _run(["git", "-C", str(REPO), "archive", "--format=tar", "-o", str(tar), sha], base_env())
    with tarfile.open(tar) as archive:
        archive.extractall(src, filter="data")
    tar.unlink()
    opts.src = src
    opts.src_label = f"git archive of {opts.afftrack_rev} ({sha[:12]})"
    note(f"afftrack from {opts.src_label}")


def _sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    signal.signal(signal.SIGTERM, _sigterm)
    # Even when started in the background, where the shell ignores SIGINT for us.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    preflight(opts)
    facts = machine_facts(REPO)  # before pinning: nproc counts the CPUs we may use
    # The harness (its /proc sampling, seeding commands) stays off the server's CPU.
    os.sched_setaffinity(0, {opts.client_cpu})
    print("Machine: " + "; ".join(f"{k} {v}" for k, v in facts.items()), flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="afftrack-bench-"))
    if opts.afftrack_rev:
        export_rev(opts, tmp)
    else:
        dirty = facts["git_modified"]
        opts.src_label = f"working tree of {REPO} (HEAD {facts['git_rev']}, modified: {dirty})"
    facts["afftrack_source"] = opts.src_label
    results: list[Result] = []
    state: dict[str, Any] = {}
    failed = False
    try:
        if {"afftrack", "naive"} & set(opts.targets):
            note(f"recreating database {opts.database}")
            state["db_url"] = recreate_database(opts)
        if {"afftrack", "raw"} & set(opts.targets):
            state["redis"] = claim_redis(opts)
        for target in opts.targets:
            try:
                results.append(bench_target(target, opts, tmp, state))
            except BenchError as exc:
                failed = True
                shout(f"{target} FAILED: {exc}")
                results.append(Result(target, failure=str(exc)))
    except KeyboardInterrupt:
        shout("interrupted: servers stopped, no report")
        return 130
    finally:
        rds = state.get("redis")
        if rds is not None:
            with contextlib.suppress(redis.RedisError):
                rds.flushdb()
        if opts.keep_logs or failed:
            note(f"server logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(report(results, facts, opts), flush=True)
    if opts.json_path:
        opts.json_path.write_text(
            json.dumps(
                {
                    "machine": facts,
                    "options": {
                        k: str(v) if isinstance(v, Path) else v for k, v in vars(opts).items()
                    },
                    "results": [r.to_json() for r in results],
                },
                indent=2,
            )
            + "\n"
        )
        note(f"wrote {opts.json_path}")
    if failed:
        return 1
    return 2 if any(r.errored_runs for r in results) else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        shout(str(exc))
        sys.exit(1)
