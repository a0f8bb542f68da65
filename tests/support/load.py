"""afftrack as it runs in production, under steady load, for fault tests and benchmarks.

A :class:`Stack` is one afftrack of its own: a redis-server (append-only, fsync'd, so a
Redis *restart* keeps the stream: we test afftrack, not Redis persistence) and a
PostgreSQL cluster from tests/support/servers.py, the real web server (``afftrack serve``:
gunicorn, two worker processes) and the real click worker (``afftrack worker``) as
subprocesses, each in a process group of its own so that it can be SIGKILLed whole.
:class:`Load` sends steady redirect traffic to it from a few threads — a new connection
per request (so both gunicorn processes answer every link), a phone browser's User-Agent,
a different visitor address each time (X-Forwarded-For, ``AFFTRACK_TRUSTED_PROXIES=1``),
never following the redirect — and records every answer with the click id its
``Location`` carries. :meth:`Stack.stored` then says what the clicks table holds.

Every wait is bounded; :meth:`Stack.close` (a context manager's exit) kills whatever is
still running and removes the servers' directories.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
import redis as redis_lib

from tests.support.app import AFFTRACK
from tests.support.servers import PostgresCluster, RedisServer, free_port
from tests.support.waiting import wait_for

UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 Instagram 330.0.0.0.0"
)
STREAM = "afftrack:load:clicks"


# --- processes --------------------------------------------------------------------------


class Process:
    """A subprocess in a session (process group) of its own, its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log_path = log
        with log.open("ab") as out:
            out.write(f"--- {name}: {' '.join(argv)}\n".encode())
            out.flush()
            self.proc = subprocess.Popen(
                argv,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def group(self) -> list[int]:
        """Every live process of its group (gunicorn's master and workers)."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                fields = stat[stat.rfind(")") + 2 :].split()
                if fields[0] != "Z" and int(fields[2]) == self.pid:  # state, ppid, pgrp
                    found.append(int(entry.name))
        return found

    def kill(self) -> None:
        """SIGKILL the whole group at once: nothing gets to clean up. Idempotent."""
        self._signal_group(signal.SIGKILL)
        self._reap(10.0)

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM to the group, SIGKILL whatever is left after ``grace`` s. Idempotent."""
        self._signal_group(signal.SIGTERM)
        if not self._reap(grace):
            self.kill()

    def _signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    def _reap(self, timeout: float) -> bool:
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        deadline = time.monotonic() + timeout  # workers may outlive the master briefly
        while self.group():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_records(self) -> list[dict[str, Any]]:
        """The JSON log lines it wrote (gunicorn's own lines are not JSON: skipped)."""
        records = []
        for line in self.log().splitlines():
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    records.append(json.loads(line))
        return records


# --- the stack --------------------------------------------------------------------------


class Stack:
    """Redis, PostgreSQL, ``afftrack serve`` and ``afftrack worker``, all of its own."""

    def __init__(self, directory: Path, *, web_workers: int = 2, threads: int = 4) -> None:
        self.directory = directory
        self.spool_dir = directory / "spool"
        self.metrics_dir = directory / "metrics"
        self.redis = RedisServer(extra_args=["--appendonly", "yes", "--appendfsync", "always"])
        self.pg = PostgresCluster()
        self.web: Process | None = None
        self.worker: Process | None = None
        self.web_port = free_port()
        self.web_workers = web_workers
        self.threads = threads
        self.logs: list[Process] = []  # every process started, for their logs
        self.gunicorn_config: Path | None = None
        self.database_url = ""

    # lifecycle
    def __enter__(self) -> Stack:
        try:
            self.redis.start()
            self.pg.start()
            self.database_url = self.pg.create_database("afftrack")
            from service.migrate import upgrade

            upgrade(self.database_url)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for process in (self.web, self.worker):
            if process is not None:
                with contextlib.suppress(Exception):
                    process.kill()
        self.redis.close()
        self.pg.close()

    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AFFTRACK_", "PROMETHEUS", "GUNICORN_", "DATABASE_URL"))
            and k not in ("REDIS_URL", "FORWARDED_ALLOW_IPS", "WEB_CONCURRENCY")
        }
        env.update(
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis.url,
            AFFTRACK_CLICK_STREAM=STREAM,
            AFFTRACK_HASHIDS_SALT="load-test-salt",
            AFFTRACK_IP_HASH_KEY="load-test-ip-key",
            AFFTRACK_PUBLIC_URL=f"http://127.0.0.1:{self.web_port}",
            AFFTRACK_SPOOL_DIR=str(self.spool_dir),
            AFFTRACK_TRUSTED_PROXIES="1",
            AFFTRACK_LOG_LEVEL="INFO",
            PROMETHEUS_MULTIPROC_DIR=str(self.metrics_dir),
            GUNICORN_WORKERS=str(self.web_workers),
            GUNICORN_THREADS=str(self.threads),
            GUNICORN_GRACEFUL_TIMEOUT="5",
            GUNICORN_LOGLEVEL="info",
        )
        if self.gunicorn_config is not None:
            env["AFFTRACK_GUNICORN_CONFIG"] = str(self.gunicorn_config)
        return env

    def seed(self, links: int) -> list[dict[str, Any]]:
        """``links`` live links (one campaign, one influencer each), made through the
        API of an app of the test's own on the same database."""
        from service.app import create_app
        from tests.support.app import Api, make_settings

        settings = make_settings(
            self.database_url,
            self.redis.url,
            click_stream=STREAM,
            spool_dir=str(self.directory / "seed-spool"),
        )
        app = create_app(settings, TESTING=True)
        svc = app.extensions["afftrack"]
        try:
            api = Api(app, app.test_client())
            made = []
            for n in range(links):
                influencer = api.create_influencer(f"load{n:03d}")
                campaign = api.create_campaign(f"load-{n:03d}", starts_on="2024-01-01")
                api.add_partner(campaign["id"], influencer["id"])
                made.append(api.create_link(campaign["id"], influencer["id"]))
            return made
        finally:
            svc.mover.stop()
            if svc.redis is not None:
                svc.redis.close()
            svc.db.dispose()

    # the web server
    def start_web(
        self, *, ready: bool = True, timeout: float = 40.0, gunicorn: bool = False
    ) -> Process:
        """``afftrack serve`` (its log: web.log); with ``ready``, waits for /healthz.
        With ``gunicorn``, the command serve execs, without serve's checks first (serve
        refuses to start while the database cannot be asked for its schema revision)."""
        assert self.web is None or not self.web.alive(), "the web server is running"
        if gunicorn:
            conf = str(self.gunicorn_config or "python:service.gunicorn_conf")
            argv = [sys.executable, "-m", "gunicorn", "-c", conf]
            argv += ["--bind", f"127.0.0.1:{self.web_port}", "service.wsgi:app"]
        else:
            argv = [AFFTRACK, "serve", "--port", str(self.web_port)]
        self.web = Process("web", argv, self.env(), self.directory / "web.log")
        self.logs.append(self.web)
        if ready:
            self.wait_web(timeout)
        return self.web

    def wait_web(self, timeout: float = 40.0) -> None:
        """Until /healthz answers and every gunicorn worker has booted."""
        web = self.web
        assert web is not None

        def up() -> bool:
            assert web.alive(), f"the web server exited:\n{web.log()[-4000:]}"
            booted = web.log().count("Booting worker with pid")
            return booted >= self.web_workers and self.get("/healthz")[0] == 200

        wait_for(up, timeout, "the web server", poll=0.1)

    def kill_web(self) -> None:
        """SIGKILL gunicorn's master and workers at once (the process group)."""
        assert self.web is not None
        members = self.web.group()
        assert len(members) >= 1 + self.web_workers, members
        self.web.kill()
        assert not self.web.group()

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.web_port, timeout=timeout)
        try:
            conn.request("GET", path, headers={"User-Agent": UA})
            response = conn.getresponse()
            return response.status, response.read().decode(errors="replace")
        except OSError:
            return 0, ""
        finally:
            conn.close()

    def metric(self, name: str) -> float:
        """A metric summed over the web processes (PROMETHEUS_MULTIPROC_DIR)."""
        status, body = self.get("/metrics")
        assert status == 200, (status, body[:500])
        values = [
            float(m.group(1))
            for m in re.finditer(rf"^{re.escape(name)} (\S+)$", body, re.MULTILINE)
        ]
        assert values, f"{name} not in /metrics"
        return sum(values)

    # the worker
    def start_worker(self) -> Process:
        env = self.env()
        env["AFFTRACK_LOG_LEVEL"] = "INFO"
        self.worker = Process("worker", [AFFTRACK, "worker"], env, self.directory / "worker.log")
        self.logs.append(self.worker)
        wait_for(
            lambda: "reading" in self.worker.log() or not self.worker.alive(),  # type: ignore[union-attr]
            30,
            "the worker to start",
        )
        assert self.worker.alive(), self.worker.log()[-4000:]
        return self.worker

    # what was kept
    def redis_client(self) -> redis_lib.Redis:
        return self.redis.client(decode_responses=True)

    def stored(self) -> Counter[str]:
        """Click id → rows of it in the clicks table."""
        with psycopg.connect(self.pg.url_for("afftrack", driver=False), connect_timeout=5) as c:
            rows = c.execute("SELECT id, count(*) FROM clicks GROUP BY id").fetchall()
        return Counter({click_id: int(n) for click_id, n in rows})

    def spooled(self) -> int:
        """Clicks waiting in the spool directory (every process's files)."""
        from service.spool import Spool

        return Spool(self.spool_dir, "clicks").status().records

    def stream_left(self) -> tuple[int, int]:
        """(entries in the stream, entries read but not acknowledged)."""
        client = self.redis_client()
        try:
            length = int(client.xlen(STREAM))
            try:
                groups = client.xinfo_groups(STREAM)
            except redis_lib.ResponseError:
                groups = []
            return length, sum(int(g["pending"]) for g in groups)
        finally:
            client.close()

    def entries_added(self) -> int:
        """Every entry ever appended to the stream (Redis 7: XINFO STREAM entries-added)."""
        client = self.redis_client()
        try:
            return int(client.xinfo_stream(STREAM)["entries-added"])
        except redis_lib.ResponseError:  # no stream yet
            return 0
        finally:
            client.close()

    def settled(self, expected: set[str]) -> bool:
        """Every expected click stored, nothing left in the spool, the stream empty."""
        try:
            stored = self.stored()
        except psycopg.Error:
            return False
        if not expected <= stored.keys():
            return False
        return self.spooled() == 0 and self.stream_left() == (0, 0)

    def lost_in_logs(self) -> list[dict[str, Any]]:
        """Log records of any process saying something was lost."""
        return [
            record
            for process in self.logs
            for record in process.log_records()
            if "lost" in str(record.get("message", ""))
        ]


# --- load ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reply:
    at: float  # seconds since the load started, when the request was sent
    code: str
    status: int  # 0: no answer (refused, reset, timed out)
    click_id: str | None = None
    error: str | None = None
    seconds: float = 0.0  # until the answer (or the error)


class Load:
    """Steady GET /r/<code> traffic: ``rate`` requests a second in all, from ``threads``
    threads, each request on a new connection, the codes taken in turn."""

    def __init__(
        self, port: int, codes: list[str], *, rate: float = 150.0, threads: int = 6
    ) -> None:
        self.port = port
        self.codes = codes
        self.rate = rate
        self.threads = threads
        self.replies: list[Reply] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []
        self._started = 0.0
        self.started_epoch = 0.0  # time.time() when it started: Reply.at + this is epoch
        self._sent = 0

    def __enter__(self) -> Load:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._started = time.monotonic()
        self.started_epoch = time.time()
        for n in range(self.threads):
            thread = threading.Thread(target=self._run, args=(n,), name=f"load-{n}", daemon=True)
            thread.start()
            self._workers.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._workers:
            thread.join(timeout=15)
        assert not any(t.is_alive() for t in self._workers), "a load thread did not stop"

    def now(self) -> float:
        return time.monotonic() - self._started

    def _run(self, n: int) -> None:
        interval = self.threads / self.rate
        due = time.monotonic() + interval * n / self.threads
        while not self._stop.is_set():
            delay = due - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            due = max(due + interval, time.monotonic() - interval)  # never a burst
            with self._lock:
                number = self._sent
                self._sent += 1
            reply = self._follow(number)
            with self._lock:
                self.replies.append(reply)

    def _follow(self, number: int) -> Reply:
        code = self.codes[number % len(self.codes)]
        address = f"10.{number // 62500 % 250}.{number // 250 % 250}.{number % 250 + 1}"
        at = self.now()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(
                "GET",
                f"/r/{code}",
                headers={"User-Agent": UA, "X-Forwarded-For": address, "Connection": "close"},
            )
            response = conn.getresponse()
            response.read()
            click_id = None
            if response.status == 302:
                query = parse_qs(urlsplit(response.getheader("Location", "")).query)
                click_id = query.get("aff_click", [None])[0]
            return Reply(at, code, response.status, click_id, seconds=self.now() - at)
        except (OSError, http.client.HTTPException) as exc:
            return Reply(at, code, 0, error=type(exc).__name__, seconds=self.now() - at)
        finally:
            conn.close()

    # reading the replies
    def snapshot(self) -> list[Reply]:
        with self._lock:
            return list(self.replies)

    def wait_replies(self, count: int, timeout: float = 30.0) -> None:
        wait_for(lambda: len(self.snapshot()) >= count, timeout, f"{count} replies")

    def click_ids(self) -> list[str]:
        return [r.click_id for r in self.snapshot() if r.status == 302 and r.click_id]

    def statuses(self) -> Counter[int]:
        return Counter(r.status for r in self.snapshot())


def summary(load: Load) -> str:
    """A line for a failure message: statuses, and the first few odd replies."""
    replies = load.snapshot()
    odd = [r for r in replies if r.status != 302][:10]
    return f"{len(replies)} replies {dict(Counter(r.status for r in replies))}; first odd: {odd}"
