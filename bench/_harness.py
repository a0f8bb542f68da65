"""Shared helpers for the benchmarks: servers, wrk, /proc readings, tables, and a client
that walks a site's pages and times them.

Nothing here knows about afftrack; the benches (``redirect.py``, ``pages.py``,
``portal.py``, ...) put the pieces together.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from html import unescape
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

CLK_TCK = os.sysconf("SC_CLK_TCK")

# A phone browser inside Instagram: afftrack takes the human path for it (wrk and the
# load generators would otherwise be classified as bots).
BROWSER_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 Instagram 330.0.0.0.0"
)
# Inherited variables that would change what is measured.
SCRUBBED_ENV = (
    "GUNICORN_",
    "AFFTRACK_",
    "DATABASE_URL",
    "REDIS_URL",
    "PROMETHEUS_",
    "BENCH_",
    "FORWARDED_ALLOW_IPS",
    "WEB_CONCURRENCY",
)


def base_env() -> dict[str, str]:
    """This process's environment without anything that would change what is measured."""
    return {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED_ENV)}


class BenchError(RuntimeError):
    """Something that makes the figures meaningless: stop and say why."""


def shout(message: str) -> None:
    """A warning nobody can miss (stderr, framed)."""
    bar = "!" * 78
    print(f"\n{bar}\n!!! {message}\n{bar}", file=sys.stderr, flush=True)


def note(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --- ports and servers ---------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


@dataclass
class Server:
    """A process (and its process group) started by us; ``stop`` ends the whole group."""

    name: str
    argv: list[str]
    log_path: Path
    proc: subprocess.Popen[bytes]
    _log: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM to the group, then SIGKILL after ``grace`` seconds. Idempotent."""
        try:
            pgid = os.getpgid(self.proc.pid)
        except ProcessLookupError:
            pgid = None
        if pgid is not None and pgid == self.proc.pid:  # our own session: safe to signal
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                note(f"{self.name}: still running {grace:.0f}s after SIGTERM, killing")
            # Children (gunicorn workers) may outlive the master for a moment.
            deadline = time.monotonic() + grace
            while _group_alive(pgid) and time.monotonic() < deadline:
                time.sleep(0.1)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start_server(
    name: str,
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    log_path: Path,
) -> Server:
    """Start ``argv`` in a new session (its own process group), output to ``log_path``."""
    log = open(log_path, "ab")  # noqa: SIM115 - closed by Server.stop
    proc = subprocess.Popen(
        list(argv),
        env=dict(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return Server(name=name, argv=list(argv), log_path=log_path, proc=proc, _log=log)


def wait_port(server: Server, port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.alive():
            raise BenchError(
                f"{server.name} exited with {server.proc.returncode} before listening; "
                f"log tail:\n{server.log_tail()}"
            )
        if port_open(port):
            return
        time.sleep(0.05)
    raise BenchError(
        f"{server.name} did not listen on {port} within {timeout:.0f}s; "
        f"log tail:\n{server.log_tail()}"
    )


@dataclass
class Probe:
    status: int
    location: str | None


def probe(port: int, path: str, user_agent: str | None, timeout: float = 10.0) -> Probe:
    """One GET, not following redirects."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"User-Agent": user_agent} if user_agent else {}
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        resp.read()
        return Probe(resp.status, resp.getheader("Location"))
    finally:
        conn.close()


def probe_until_ok(
    server: Server, port: int, path: str, user_agent: str | None, timeout: float = 30.0
) -> Probe:
    """Retry a GET until the server answers at all (workers may still be booting)."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if not server.alive():
            raise BenchError(f"{server.name} died; log tail:\n{server.log_tail()}")
        try:
            return probe(port, path, user_agent)
        except (OSError, http.client.HTTPException) as exc:
            last = exc
            time.sleep(0.1)
    raise BenchError(f"{server.name} never answered GET {path}: {last!r}")


# --- /proc ---------------------------------------------------------------------------


def children_of(pid: int) -> list[int]:
    """Direct children of ``pid`` (scans /proc; works without CONFIG_PROC_CHILDREN)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...; comm may hold spaces and parentheses.
        fields = stat[stat.rfind(")") + 2 :].split()
        if int(fields[1]) == pid:
            out.append(int(entry.name))
    return sorted(out)


def status_kb(pid: int | None, key: str) -> int | None:
    """A ``/proc/<pid>/status`` figure in kB (``VmRSS``, ``VmHWM``), None if unknown."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _pss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def proc_cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


@dataclass
class ProcMemory:
    pid: int
    role: str
    rss_kb: int | None
    pss_kb: int | None
    cmdline: str


def memory_of(pid: int, role: str) -> ProcMemory:
    return ProcMemory(pid, role, status_kb(pid, "VmRSS"), _pss_kb(pid), proc_cmdline(pid))


def cpu_ticks(pids: Iterable[int]) -> int:
    """utime + stime of ``pids`` (clock ticks); vanished processes count 0."""
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])
    return total


PF_KTHREAD = 0x00200000


def cpu_by_process() -> dict[int, tuple[str, int]]:
    """Every process's ``(comm, utime + stime ticks)``; kernel threads' comm is "[kernel]"."""
    out: dict[int, tuple[str, int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.find("(") + 1 : stat.rfind(")")]
        fields = stat[stat.rfind(")") + 2 :].split()
        if int(fields[6]) & PF_KTHREAD:
            comm = "[kernel]"
        out[int(entry.name)] = (comm, int(fields[11]) + int(fields[12]))
    return out


BACKING_SERVICES = ("postgres", "redis-server")


@dataclass
class Interference:
    """CPU seconds other processes used during a run (ours and wrk excluded)."""

    backing_s: float  # PostgreSQL and Redis: part of the workload for some targets
    kernel_s: float  # kernel threads (block I/O, reclaim): partly caused by the workload
    foreign_s: float  # every other process: noise
    top_foreign: list[tuple[str, float]]


def interference(
    before: dict[int, tuple[str, int]], after: dict[int, tuple[str, int]], ours: set[int]
) -> Interference:
    backing = kernel = 0
    foreign: dict[str, int] = {}
    for pid, (comm, ticks) in after.items():
        if pid in ours or comm == "wrk" or pid == os.getpid():
            continue
        used = ticks - before[pid][1] if pid in before else ticks
        if used <= 0:
            continue
        if comm.startswith(BACKING_SERVICES):
            backing += used
        elif comm == "[kernel]":
            kernel += used
        else:
            foreign[comm] = foreign.get(comm, 0) + used
    top = sorted(foreign.items(), key=lambda kv: -kv[1])[:3]
    return Interference(
        backing_s=backing / CLK_TCK,
        kernel_s=kernel / CLK_TCK,
        foreign_s=sum(foreign.values()) / CLK_TCK,
        top_foreign=[(comm, ticks / CLK_TCK) for comm, ticks in top],
    )


def wait_idle(root: int, timeout: float = 20.0, window: float = 0.5) -> bool:
    """Wait until ``root`` and its children burn < 5 % of a CPU over ``window`` seconds:
    boot finished (imports, app factory) before any load is offered. False on timeout."""
    deadline = time.monotonic() + timeout
    budget = max(1, int(CLK_TCK * window * 0.05))
    while time.monotonic() < deadline:
        pids = [root, *children_of(root)]
        before = cpu_ticks(pids)
        time.sleep(window)
        if cpu_ticks(pids) - before <= budget:
            return True
    return False


def time_wait_sockets() -> int:
    """TCP sockets in TIME_WAIT (IPv4 and IPv6)."""
    count = 0
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(name) as f:
            next(f, None)
            count += sum(1 for line in f if line.split()[3] == "06")
    return count


def ephemeral_ports() -> int:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    except (OSError, ValueError):
        return 28232
    return int(high) - int(low) + 1


def drain_time_wait(share: float = 0.3, timeout: float = 70.0) -> int:
    """Wait (up to ``timeout``) until TIME_WAIT sockets hold less than ``share`` of the
    ephemeral ports; the count when done.

    A server that closes every connection (gunicorn's sync worker) leaves one TIME_WAIT
    socket per request; once they cover the port range, loopback port reuse makes some
    connects wait for a SYN retransmission (~1 s), which wrk reports as latency."""
    limit = int(ephemeral_ports() * share)
    count = time_wait_sockets()
    if count < limit:
        return count
    note(f"{count} sockets in TIME_WAIT (limit {limit}); waiting for them to expire")
    deadline = time.monotonic() + timeout
    while count >= limit and time.monotonic() < deadline:
        time.sleep(1)
        count = time_wait_sockets()
    return count


def connections_per_process(port: int, pids: Iterable[int]) -> dict[int, int]:
    """How many ESTABLISHED connections to local ``port`` each of ``pids`` holds."""
    inodes: set[str] = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(name) as f:
            next(f, None)
            for line in f:
                parts = line.split()
                if parts[3] == "01" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(parts[9])
    out: dict[int, int] = {}
    for pid in pids:
        count = 0
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    link = os.readlink(fd)
                    if link.startswith("socket:[") and link[8:-1] in inodes:
                        count += 1
        out[pid] = count
    return out


TCP_COUNTERS = ("TCPSynRetrans", "ListenOverflows", "ListenDrops", "TWRecycled")


def tcp_counters() -> dict[str, int]:
    """The system-wide TcpExt counters that explain ~1 s latencies on loopback."""
    try:
        lines = Path("/proc/net/netstat").read_text().splitlines()
    except OSError:
        return {}
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            table = dict(zip(names.split()[1:], values.split()[1:], strict=False))
            return {k: int(table[k]) for k in TCP_COUNTERS if k in table}
    return {}


def affinity_of(pid: int) -> str:
    try:
        return ",".join(str(c) for c in sorted(os.sched_getaffinity(pid)))
    except OSError:
        return "?"


# --- wrk -----------------------------------------------------------------------------

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_TIME = r"([0-9.]+)(us|ms|s|m|h)"


def to_ms(value: str, unit: str) -> float:
    return float(value) * _UNITS_MS[unit]


@dataclass
class WrkRun:
    label: str
    rps: float
    requests: int
    seconds: float
    latency_ms: dict[str, float]  # "avg", "max", "50", "75", "90", "99"
    non_2xx_3xx: int
    socket_errors: dict[str, int]  # connect, read, write, timeout
    command: list[str]
    output: str = field(repr=False)
    # CPU other processes used meanwhile (see interference()); filled in by the caller.
    noise: dict[str, Any] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        return self.non_2xx_3xx + sum(self.socket_errors.values())

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["errors"] = self.errors
        return out


def parse_wrk(output: str, label: str, command: list[str]) -> WrkRun:
    """The figures of ``wrk --latency`` output; raises BenchError if any is missing."""

    def need(pattern: str) -> re.Match[str]:
        m = re.search(pattern, output, re.MULTILINE)
        if m is None:
            raise BenchError(f"wrk output has no match for {pattern!r}:\n{output}")
        return m

    latency: dict[str, float] = {}
    m = need(rf"^\s*Latency\s+{_TIME}\s+\S+\s+{_TIME}")
    latency["avg"] = to_ms(m.group(1), m.group(2))
    latency["max"] = to_ms(m.group(3), m.group(4))
    for pct in ("50", "75", "90", "99"):
        m = need(rf"^\s*{pct}(?:\.0+)?%\s+{_TIME}\s*$")
        latency[pct] = to_ms(m.group(1), m.group(2))
    m = need(r"^\s*(\d+) requests in ([0-9.]+)(us|ms|s|m|h)")
    requests = int(m.group(1))
    seconds = to_ms(m.group(2), m.group(3)) / 1000.0
    rps = float(need(r"^Requests/sec:\s+([0-9.]+)").group(1))
    sock = {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    m2 = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if m2:
        sock = dict(zip(sock, (int(g) for g in m2.groups()), strict=True))
    m3 = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return WrkRun(
        label=label,
        rps=rps,
        requests=requests,
        seconds=seconds,
        latency_ms=latency,
        non_2xx_3xx=int(m3.group(1)) if m3 else 0,
        socket_errors=sock,
        command=command,
        output=output,
    )


def run_wrk(
    url: str,
    *,
    label: str,
    duration: float,
    connections: int,
    cpu: int,
    user_agent: str | None,
) -> WrkRun:
    """``taskset -c CPU wrk -t1 -cN -dDs --latency [-H User-Agent] URL``, parsed."""
    command = [
        "taskset",
        "-c",
        str(cpu),
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{duration:g}s",
        "--latency",
    ]
    if user_agent:
        command += ["-H", f"User-Agent: {user_agent}"]
    command.append(url)
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=duration + 60, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"wrk did not finish: {' '.join(command)}") from exc
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse_wrk(done.stdout, label, command)


def median_run(runs: Sequence[WrkRun]) -> WrkRun:
    """The median run by req/s (the lower middle one for an even count)."""
    ordered = sorted(runs, key=lambda r: r.rps)
    return ordered[(len(ordered) - 1) // 2]


# --- machine facts -------------------------------------------------------------------


def _first_line(argv: Sequence[str]) -> str:
    if shutil.which(argv[0]) is None:
        return "missing"
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = (done.stdout + done.stderr).strip()
    return text.splitlines()[0] if text else "?"


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "?"


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def machine_facts(repo: Path) -> dict[str, str]:
    wrk = _first_line(["wrk", "--version"])
    wrk = wrk.split(" Copyright")[0]
    dirty = subprocess.run(
        ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split("\n")
    return {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "nproc": _first_line(["nproc"]),
        "cpu_model": cpu_model(),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "wrk": wrk,
        "nginx": _first_line(["nginx", "-v"]).removeprefix("nginx version: "),
        "postgres": _first_line(["psql", "--version"]),
        "redis": _first_line(["redis-server", "--version"]),
        "loadavg_at_start": loadavg(),
        "git_rev": _first_line(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"]),
        "git_modified": " ".join(line[3:] for line in dirty if line.strip()) or "(clean)",
    }


# --- tables --------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain text table, numbers right-aligned."""
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]

    def fmt(cells: Sequence[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            numeric = bool(re.match(r"^[-0-9.,x/ !~]+$", cell)) and i > 0
            out.append(cell.rjust(widths[i]) if numeric else cell.ljust(widths[i]))
        return "  ".join(out).rstrip()

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(headers), sep, *(fmt(r) for r in rows)])


def summary(values: Sequence[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.0f}"
    return f"{min(values):.0f}..{max(values):.0f} (sd {statistics.stdev(values):.0f})"


# --- latency samples, PostgreSQL scratch databases, commands (used by webhooks.py) -----


def percentile(ordered: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (0 < q <= 100) of already sorted values."""
    if not ordered:
        return float("nan")
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n * q / 100), at least 1
    return ordered[min(len(ordered), int(rank)) - 1]


def recreate_pg_database(admin_url: str, name: str) -> str:
    """Drop (forcing out any session) and create ``name``; its URL, next to ``admin_url``."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        ident = sql.Identifier(name)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(ident))
    return admin_url.rsplit("/", 1)[0] + "/" + name


def drop_pg_database(admin_url: str, name: str) -> None:
    """Drop ``name`` if it exists, forcing out any session still connected."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        ident = sql.Identifier(name)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))


def run_checked(
    argv: Sequence[str], env: Mapping[str, str], cwd: Path, timeout: float = 120
) -> str:
    """Run a command to completion; its stdout, or BenchError with its stderr."""
    try:
        done = subprocess.run(
            list(argv),
            env=dict(env),
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"{' '.join(argv)} did not finish within {timeout:.0f}s") from exc
    if done.returncode != 0:
        raise BenchError(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


# --- pages: one client walking a site and timing its pages (pages.py, portal.py) -------

WARMUP = 2  # untimed requests before a page's timed ones
# A page's shape: its path with ids (``pc_0123…``, ``cmp_0123…``, ``key_0123…``) and
# months replaced.
_ID = re.compile(r"/[a-z]{2,4}_[0-9a-z]{20,}")
_MONTH = re.compile(r"/\d{4}-\d{2}(?=/|$)")
_SERVER_TIMING = re.compile(r"app;dur=([0-9.]+)")


def shape(path: str, *, keep_query: bool = False) -> str:
    """``path`` with ids and months replaced (``/dashboard/influencers/<id>``); a query
    string dropped, or kept as ``?…`` (``/portal/results?…``: another shape)."""
    parts = urlsplit(path)
    out = _MONTH.sub("/<month>", _ID.sub("/<id>", parts.path))
    return out + ("?…" if keep_query and parts.query else "")


@dataclass
class Page:
    """A page's timed requests: the server's own time and the client's wall time (ms),
    and the last body it answered."""

    path: str
    label: str = ""
    server_ms: list[float] = field(default_factory=list)
    wall_ms: list[float] = field(default_factory=list)
    body: bytes = b""


class Browser:
    """One kept-alive connection holding the site's cookies, as a browser does."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, body: str | None = None
    ) -> tuple[int, bytes, dict[str, str], float]:
        """One request (``body`` a urlencoded form); status, body, headers (lower-case
        names) and the wall time in ms from sending it to the body read."""
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        self.conn.request(method, path, body=body, headers=headers)
        resp = self.conn.getresponse()
        data = resp.read()
        wall = (time.perf_counter() - started) * 1000
        for name, value in resp.getheaders():
            if name.lower() == "set-cookie":
                key, _, val = value.split(";")[0].partition("=")
                self.cookies[key] = val
        found = {k.lower(): v for k, v in resp.getheaders()}
        return resp.status, data, found, wall

    def close(self) -> None:
        self.conn.close()


def form_field(page: bytes, name: str) -> str:
    """The value of the form field ``name`` in an HTML page (a form's hidden token)."""
    return page.decode().split(f'name="{name}" value="', 1)[1].split('"', 1)[0]


def server_ms(headers: Mapping[str, str]) -> float:
    """The server's own time (ms): the ``Server-Timing: app;dur=`` header's."""
    found = _SERVER_TIMING.search(headers.get("server-timing", ""))
    if not found:
        raise BenchError("the page sent no Server-Timing header")
    return float(found.group(1))


def walk(
    browser: Browser,
    start: str,
    skip: re.Pattern[str],
    *,
    per_shape: int = 1,
    max_pages: int | None = None,
    keep_query: bool = False,
) -> list[str]:
    """The pages reachable from ``start`` by links under it, breadth first: at most
    ``per_shape`` of each :func:`shape` and ``max_pages`` in all. A link ``skip`` matches
    is not followed; an answer other than HTML (a download) is not a page; an answer
    other than 200 stops the walk."""
    links = re.compile(rf'href="({re.escape(start)}[^"#]*)"')
    seen: set[str] = set()
    per: dict[str, int] = {}
    queue = deque([start])
    found: list[str] = []
    while queue and (max_pages is None or len(found) < max_pages):
        path = queue.popleft()
        if path in seen:
            continue
        seen.add(path)
        key = shape(path, keep_query=keep_query)
        if per.get(key, 0) >= per_shape:
            continue
        status, body, headers, _ = browser.request("GET", path)
        if status != 200:
            raise BenchError(f"GET {path} answered {status}")
        if "text/html" not in headers.get("content-type", ""):
            continue  # a download (a template, an export): not a page
        per[key] = per.get(key, 0) + 1
        found.append(path)
        for href in links.findall(body.decode()):
            href = unescape(href)
            if not skip.search(href) and href not in seen:
                queue.append(href)
    return found


def measure(browser: Browser, path: str, n: int, label: str = "") -> Page:
    """GET ``path`` :data:`WARMUP` times, then ``n`` timed times, one after another."""
    page = Page(path, label)
    for i in range(WARMUP + n):
        status, body, headers, wall = browser.request("GET", path)
        if status != 200:
            raise BenchError(f"GET {path} answered {status}")
        if i >= WARMUP:
            page.server_ms.append(server_ms(headers))
            page.wall_ms.append(wall)
        page.body = body
    return page
