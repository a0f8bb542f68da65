"""Throwaway Redis and PostgreSQL servers for fault-injection tests.

Each helper runs a real server of its own on a free port of 127.0.0.1, in a temporary
directory, so a test can stop, crash, pause and restart it without touching the shared
servers the rest of the suite uses (PostgreSQL on 5432, Redis on 6379)::

    def test_survives_a_redis_outage(redis_server, pg_cluster):
        app_url = pg_cluster.create_database("outage")  # a SQLAlchemy URL
        client = redis_server.client()
        ...
        redis_server.stop()    # SIGTERM: clients get ConnectionError
        redis_server.start()   # same port: clients reconnect
        redis_server.pause()   # SIGSTOP: connections hang until socket_timeout
        pg_cluster.stop("immediate")  # a crash: WAL recovery on the next start()

``RedisServer`` and ``PostgresCluster`` are context managers: leaving the block (or
``close()``) stops the server and removes its directory. Whatever a test leaves running
is cleaned up by the fixtures, and by an atexit hook as a last resort. Tests are skipped
(not failed) when ``redis-server`` or the PostgreSQL binaries cannot be found; set
``AFFTRACK_TEST_PG_BIN`` to the directory holding ``initdb`` and ``postgres`` to choose
a version.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import random
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import psycopg
import pytest
import redis as redis_lib
from psycopg import sql
from redis.backoff import NoBackoff
from redis.retry import Retry

HOST = "127.0.0.1"
POLL = 0.02  # seconds between readiness probes

_live: set[RedisServer | PostgresCluster] = set()
_ports_handed_out: set[int] = set()


class ServerError(RuntimeError):
    """A throwaway server would not start or stop; the message ends with its log."""


# helpers ---------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port of 127.0.0.1 nobody listens on, not yet handed out by this process.

    Chosen below the kernel's ephemeral range, so that an outgoing connection cannot
    take it while a stopped server is waiting to be restarted on it.
    """
    low = 32768
    with contextlib.suppress(OSError, ValueError, IndexError):
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    first = max(1025, low - 15000)
    rng = random.SystemRandom()
    for _ in range(100):
        port = rng.randint(first, low - 1) if low - 1 > first else 0
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((HOST, port))  # no SO_REUSEADDR: ports in TIME_WAIT are refused too
            except OSError:
                continue
            port = sock.getsockname()[1]
        if port not in _ports_handed_out:
            _ports_handed_out.add(port)
            return port
    raise ServerError("no free TCP port found on 127.0.0.1")


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _tail(path: Path, limit: int = 4000) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(no log: {exc})"
    return text if len(text) <= limit else "…" + text[-limit:]


def _signal(pid: int, sig: int, group: bool = False) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def _reap(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        return False
    return True


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (Linux /proc), e.g. a postmaster's backends."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ..." where comm may contain spaces and parentheses
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1 and fields[1] == str(pid):
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie has exited; only its parent's wait() is missing
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _wait_gone(pids: Sequence[int], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while any(_alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL)
    return True


def _run(cmd: Sequence[str], timeout: float, **kwargs: Any) -> tuple[int, str]:
    """Run to completion (bounded); the whole process group is killed on timeout."""
    with subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        **kwargs,
    ) as proc:
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _signal(proc.pid, signal.SIGKILL, group=True)
            out, _ = proc.communicate()
            return -1, f"timed out after {timeout}s\n" + out.decode(errors="replace")
    return proc.returncode, out.decode(errors="replace")


@atexit.register
def close_all() -> None:
    """Stop every server still running and remove its directory (last-resort cleanup)."""
    for server in list(_live):
        with contextlib.suppress(Exception):
            server.close()


# Redis -----------------------------------------------------------------------------------


class RedisServer:
    """A ``redis-server`` of its own on 127.0.0.1, without persistence.

    Not started by the constructor: use ``with RedisServer() as server`` or ``start()``.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        extra_args: Sequence[str] = (),
        startup_timeout: float = 10.0,
        binary: str | None = None,
    ) -> None:
        found = binary or shutil.which("redis-server")
        if not found:
            pytest.skip("redis-server not found on PATH")
        self.binary: str = found
        self._auto_port = port is None
        self.port: int = port or free_port()
        self.extra_args = list(extra_args)
        self.startup_timeout = startup_timeout
        self.directory = Path(tempfile.mkdtemp(prefix="afftrack-redis-"))
        self.log_path = self.directory / "redis.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._paused = False
        self._starts = 0
        self._closed = False
        _live.add(self)

    # addresses
    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def client(self, **kwargs: Any) -> redis_lib.Redis:
        """A client of this server (close it). Unlike redis-py's default it does not
        retry, so a fault shows at once; pass ``retry=`` to change that."""
        kwargs.setdefault("retry", Retry(NoBackoff(), 0))
        kwargs.setdefault("socket_timeout", 2.0)
        kwargs.setdefault("socket_connect_timeout", 2.0)
        return redis_lib.Redis.from_url(self.url, **kwargs)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.running and self._proc else None

    @property
    def running(self) -> bool:
        """The process exists (it may be paused)."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def paused(self) -> bool:
        return self.running and self._paused

    def log(self) -> str:
        return _tail(self.log_path, limit=100_000)

    # lifecycle
    def start(self) -> RedisServer:
        """Start (or restart, on the same port) and wait until it answers PING."""
        if self._closed:
            raise ServerError("this RedisServer was closed; make a new one")
        if self.running:
            return self
        for attempt in range(3):
            try:
                self._spawn_and_wait()
                break
            except ServerError as exc:
                # Another process took the port between free_port() and now: pick another,
                # but only before the first successful start (restarts keep their port).
                in_use = "Address already in use" in str(exc)
                if not (in_use and self._auto_port and self._starts == 0 and attempt < 2):
                    raise
                self.port = free_port()
        self._starts += 1
        return self

    def _spawn_and_wait(self) -> None:
        cmd = [
            self.binary,
            "--port", str(self.port),
            "--bind", HOST,
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.directory),
            "--daemonize", "no",
            "--logfile", "",
            *self.extra_args,
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            log.write(f"--- afftrack test: {shlex.join(cmd)}\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.directory,
            )
        self._paused = False
        try:
            self._wait_ready(self._proc)
        except BaseException:
            self.kill()
            raise

    def _wait_ready(self, proc: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if proc.poll() is not None:
                raise ServerError(
                    f"redis-server on port {self.port} exited with {proc.returncode} while"
                    f" starting; log {self.log_path}:\n{_tail(self.log_path)}"
                )
            if self._answers_as_itself(proc.pid):
                return
            if time.monotonic() > deadline:
                raise ServerError(
                    f"redis-server on port {self.port} did not answer PING within"
                    f" {self.startup_timeout}s; log {self.log_path}:\n{_tail(self.log_path)}"
                )
            time.sleep(POLL)

    def _answers_as_itself(self, pid: int) -> bool:
        """Answered, by our process, with its data loaded. Something else on the port
        makes our redis-server exit with "Address already in use", which start() then
        reports (or retries). A restart with an append-only file answers INFO while it is
        still loading it, and every other command with a LOADING error: not ready yet."""
        try:
            with socket.create_connection((HOST, self.port), timeout=0.5) as sock:
                sock.sendall(b"INFO\r\n")  # the default sections: server and persistence
                data = b""
                while b"\r\n" not in data or len(data) < _bulk_length(data):
                    chunk = sock.recv(65536)
                    if not chunk:
                        return False
                    data += chunk
        except OSError:
            return False
        match = re.search(rb"process_id:(\d+)", data)
        loading = re.search(rb"^loading:(\d+)", data, re.MULTILINE)
        return bool(match) and int(match.group(1)) == pid and (not loading or loading[1] == b"0")

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds. Idempotent; works while paused."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            _signal(proc.pid, signal.SIGTERM, group=True)
            if self._paused:
                _signal(proc.pid, signal.SIGCONT, group=True)
            if not _reap(proc, timeout):
                _signal(proc.pid, signal.SIGKILL, group=True)
                _reap(proc, 5.0)
        self._proc = None
        self._paused = False

    def kill(self) -> None:
        """SIGKILL: a crash. Clients see their connections reset. Idempotent."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            _signal(proc.pid, signal.SIGKILL, group=True)
            _reap(proc, 5.0)
        self._proc = None
        self._paused = False

    def pause(self) -> None:
        """SIGSTOP: a hung Redis. The kernel still accepts connections, nothing answers."""
        if not self.running or self._proc is None:
            raise ServerError("redis-server is not running")
        _signal(self._proc.pid, signal.SIGSTOP, group=True)
        self._paused = True

    def resume(self) -> None:
        """SIGCONT: answers whatever was queued while paused."""
        if self._proc is not None and self._proc.poll() is None:
            _signal(self._proc.pid, signal.SIGCONT, group=True)
        self._paused = False

    def close(self) -> None:
        """Stop and remove the directory. Idempotent."""
        try:
            self.stop()
        finally:
            self._closed = True
            shutil.rmtree(self.directory, ignore_errors=True)
            _live.discard(self)

    def __enter__(self) -> RedisServer:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "paused" if self.paused else "running" if self.running else "stopped"
        return f"<RedisServer {self.url} {state}>"


def _bulk_length(data: bytes) -> int:
    """Bytes a complete RESP reply starting with ``data`` takes (best effort)."""
    header, _, _ = data.partition(b"\r\n")
    if header.startswith(b"$") and header[1:].isdigit():
        return len(header) + 2 + int(header[1:]) + 2
    return len(header) + 2


# PostgreSQL ------------------------------------------------------------------------------

PG_USER = "postgres"
StopMode = Literal["smart", "fast", "immediate"]
_STOP_SIGNALS = {"smart": signal.SIGTERM, "fast": signal.SIGINT, "immediate": signal.SIGQUIT}

DEFAULT_PG_SETTINGS: dict[str, str] = {
    # throwaway data: never wait for the disk
    "fsync": "off",
    "full_page_writes": "off",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    # small and quiet
    "shared_buffers": "16MB",
    "max_connections": "40",
    "huge_pages": "off",
    "autovacuum": "off",
    "jit": "off",
    "log_min_messages": "warning",
    "log_checkpoints": "off",
    # synchronous_commit stays on: a commit is written to the WAL (not fsynced) before it
    # returns, so committed rows survive stop("immediate") via crash recovery.
}


def _pg_bin_dir() -> Path | None:
    wanted = os.environ.get("AFFTRACK_TEST_PG_BIN")
    candidates = [Path(wanted)] if wanted else []
    if not wanted:
        versions = Path("/usr/lib/postgresql").glob("*/bin")
        candidates += sorted(versions, key=lambda p: _version_key(p.parent.name), reverse=True)
        on_path = shutil.which("initdb")
        if on_path:
            candidates.append(Path(on_path).parent)
    for directory in candidates:
        if (directory / "initdb").is_file() and (directory / "postgres").is_file():
            return directory
    return None


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", name)) or (0,)


def _as_postgres_prefix() -> list[str] | None:
    """How to run a command as the ``postgres`` OS user: [] when not root (the server runs
    as ourselves), runuser, else su; None when impossible."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(PG_USER)
    except KeyError:
        return None
    search = os.pathsep.join([os.environ.get("PATH", os.defpath), "/usr/sbin", "/sbin", "/bin"])
    runuser = shutil.which("runuser", path=search)
    if runuser:
        return [runuser, "-u", PG_USER, "--"]
    su = shutil.which("su", path=search)
    if su:
        return [su, PG_USER, "-s", "/bin/sh", "-c"]  # followed by ONE shell-quoted string
    return None


def _others_can_enter(directory: Path) -> bool:
    path = directory.resolve()
    for part in [path, *path.parents]:
        try:
            if not part.stat().st_mode & 0o001:
                return False
        except OSError:
            return False
    return True


class PostgresCluster:
    """A throwaway PostgreSQL cluster: initdb'd into a temporary directory on the first
    ``start()``, listening on 127.0.0.1 at a port of its own, trust auth, user postgres.

    Not started by the constructor: use ``with PostgresCluster() as cluster`` or ``start()``.
    As root, initdb and postgres run as the ``postgres`` OS user (runuser, else su).
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        settings: dict[str, str] | None = None,
        startup_timeout: float = 20.0,
    ) -> None:
        bin_dir = _pg_bin_dir()
        if bin_dir is None:
            pytest.skip(
                "PostgreSQL server binaries (initdb, postgres) not found; set AFFTRACK_TEST_PG_BIN"
            )
        prefix = _as_postgres_prefix()
        if prefix is None:
            pytest.skip("running as root but cannot run commands as the postgres OS user")
        self.bin_dir: Path = bin_dir
        self._prefix: list[str] = prefix
        self._auto_port = port is None
        self.port: int = port or free_port()
        self._starts = 0
        self.settings = {**DEFAULT_PG_SETTINGS, **(settings or {})}
        self.startup_timeout = startup_timeout

        parent = Path(tempfile.gettempdir())
        if prefix and not _others_can_enter(parent):
            parent = Path("/tmp")  # the postgres user must be able to reach the directory
        self.base_dir = Path(tempfile.mkdtemp(prefix="afftrack-pg-", dir=parent))
        if prefix:
            entry = pwd.getpwnam(PG_USER)
            os.chown(self.base_dir, entry.pw_uid, entry.pw_gid)
        self.data_dir = self.base_dir / "data"
        self.socket_dir = self.base_dir
        self.log_path = self.base_dir / "postgres.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._postmaster_pid: int | None = None
        self._closed = False
        _live.add(self)

    # addresses
    def url_for(self, database: str = "postgres", *, driver: bool = True) -> str:
        """SQLAlchemy URL (``postgresql+psycopg://``), or a libpq URI with ``driver=False``."""
        scheme = "postgresql+psycopg" if driver else "postgresql"
        return f"{scheme}://{PG_USER}@{HOST}:{self.port}/{quote(database, safe='')}"

    @property
    def url(self) -> str:
        return self.url_for("postgres")

    @property
    def dsn(self) -> str:
        """The libpq URI of the ``postgres`` database, for ``psycopg.connect``."""
        return self.url_for("postgres", driver=False)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The postmaster's pid."""
        return self._postmaster_pid if self.running else None

    def log(self) -> str:
        return _tail(self.log_path, limit=100_000)

    def create_database(self, name: str) -> str:
        """CREATE DATABASE ``name``; returns its SQLAlchemy URL."""
        with psycopg.connect(self.dsn, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url_for(name)

    # lifecycle
    def _as_postgres(self, argv: Sequence[str]) -> list[str]:
        if self._prefix and self._prefix[-1] == "-c":  # su: one shell command line
            return [*self._prefix, "exec " + shlex.join(argv)]
        return [*self._prefix, *argv]

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        return env

    def _initdb(self) -> None:
        cmd = self._as_postgres(
            [
                str(self.bin_dir / "initdb"),
                "-D", str(self.data_dir),
                "-A", "trust",
                "-U", PG_USER,
                "-E", "UTF8",
                "--no-locale",
                "--no-sync",
            ]
        )  # fmt: skip
        code, output = _run(cmd, timeout=60, cwd=self.base_dir, env=self._env())
        if code != 0:
            raise ServerError(f"initdb failed ({code}): {shlex.join(cmd)}\n{output[-4000:]}")

    def start(self) -> PostgresCluster:
        """Start (initdb first if needed; restarts keep port and data) and wait until it
        accepts connections."""
        if self._closed:
            raise ServerError("this PostgresCluster was closed; make a new one")
        if self.running:
            return self
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        for attempt in range(3):
            try:
                self._spawn_and_wait()
                break
            except ServerError as exc:
                # another process took the port: pick another, before the first start only
                in_use = "Address already in use" in str(exc)
                if not (in_use and self._auto_port and self._starts == 0 and attempt < 2):
                    raise
                self.port = free_port()
        self._starts += 1
        return self

    def _spawn_and_wait(self) -> None:
        options = {
            **self.settings,
            "port": str(self.port),
            "listen_addresses": HOST,
            "unix_socket_directories": str(self.socket_dir),
        }
        argv = [str(self.bin_dir / "postgres"), "-D", str(self.data_dir)]
        for key, value in options.items():
            argv += ["-c", f"{key}={value}"]
        cmd = self._as_postgres(argv)
        with self.log_path.open("ab") as log:
            log.write(f"--- afftrack test: {shlex.join(cmd)}\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.base_dir,
                env=self._env(),
            )
        self._postmaster_pid = None
        try:
            self._wait_ready(self._proc)
        except BaseException:
            self.kill()
            raise

    def _wait_ready(self, proc: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + self.startup_timeout
        last_error: Exception | None = None
        while True:
            if proc.poll() is not None:
                raise ServerError(
                    f"postgres on port {self.port} exited with {proc.returncode} while"
                    f" starting; log {self.log_path}:\n{_tail(self.log_path)}"
                )
            try:
                with psycopg.connect(self.dsn, connect_timeout=2) as conn:
                    row = conn.execute("SHOW data_directory").fetchone()
                # another server on the port makes ours exit ("Address already in use")
                if row is not None and Path(row[0]).resolve() == self.data_dir.resolve():
                    self._postmaster_pid = self._read_postmaster_pid()
                    return
            except psycopg.OperationalError as exc:
                last_error = exc
            if time.monotonic() > deadline:
                raise ServerError(
                    f"postgres on port {self.port} did not accept connections within"
                    f" {self.startup_timeout}s (last error: {last_error});"
                    f" log {self.log_path}:\n{_tail(self.log_path)}"
                )
            time.sleep(POLL)

    def _read_postmaster_pid(self) -> int:
        assert self._proc is not None
        if not self._prefix:  # not root: Popen started postgres itself
            return self._proc.pid
        pid = self._pid_from_file()
        if pid is None or pid not in _children(self._proc.pid):
            raise ServerError(f"postmaster.pid in {self.data_dir} names {pid}, not our postgres")
        return pid

    def stop(self, mode: StopMode = "fast", timeout: float = 10.0) -> None:
        """Shut down: "fast" (SIGINT: roll back, checkpoint), "immediate" (SIGQUIT: no
        checkpoint, so the next start() runs crash recovery; simulates a crash) or "smart"
        (SIGTERM: waits for clients to leave). Escalates to SIGKILL after ``timeout``
        seconds. Idempotent."""
        if mode not in _STOP_SIGNALS:
            raise ValueError(f"mode must be one of {sorted(_STOP_SIGNALS)}, not {mode!r}")
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            if self._postmaster_pid is not None:
                _signal(self._postmaster_pid, _STOP_SIGNALS[mode])
            else:  # it never became ready: its pid file may not be there yet
                _signal(proc.pid, _STOP_SIGNALS[mode], group=True)
            if not _reap(proc, timeout):
                self.kill()
                return
        self._proc = None
        self._postmaster_pid = None

    def kill(self) -> None:
        """SIGKILL to the postmaster and every backend: a hard crash (like the OOM killer
        on the whole cluster). The next start() runs crash recovery. Idempotent."""
        proc = self._proc
        if proc is None:
            return
        postmaster = self._postmaster_pid or self._pid_from_file()
        victims = [postmaster, *_children(postmaster)] if postmaster else []
        for pid in victims:
            _signal(pid, signal.SIGKILL)
        # runuser/su reaps the postmaster and exits by itself; killing it first would leave
        # the postmaster a zombie of pid 1 (which may never reap it) that looks alive to
        # the next postmaster's lock-file check
        if not _reap(proc, 5.0):
            _signal(proc.pid, signal.SIGKILL, group=True)
            _reap(proc, 5.0)
        # backends lead sessions of their own: wait until they are gone, or a restart
        # finds the old shared memory still attached
        _wait_gone(victims, 5.0)
        if postmaster and not _alive(postmaster) and self._pid_from_file() == postmaster:
            (self.data_dir / "postmaster.pid").unlink(missing_ok=True)  # stale lock
        self._proc = None
        self._postmaster_pid = None

    def _pid_from_file(self) -> int | None:
        with contextlib.suppress(OSError, ValueError):
            return int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        return None

    def close(self) -> None:
        """Stop (immediately: the data is thrown away) and remove the directory."""
        try:
            self.stop("immediate", timeout=5.0)
        finally:
            self._closed = True
            shutil.rmtree(self.base_dir, ignore_errors=True)
            _live.discard(self)

    def __enter__(self) -> PostgresCluster:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<PostgresCluster {self.url} {'running' if self.running else 'stopped'}>"


# fixtures --------------------------------------------------------------------------------
# Registered for every test under the names redis_server and pg_cluster: tests/conftest.py
# lists this module in pytest_plugins.


@pytest.fixture(name="redis_server")
def redis_server_fixture() -> Iterator[RedisServer]:
    """A running Redis of this test's own; stopped and removed after it."""
    with RedisServer() as server:
        yield server


@pytest.fixture(name="pg_cluster")
def pg_cluster_fixture() -> Iterator[PostgresCluster]:
    """A running, freshly initdb'd PostgreSQL cluster of this test's own (about half a
    second to make); stopped and removed after it."""
    with PostgresCluster() as cluster:
        yield cluster
