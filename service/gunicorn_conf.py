"""Gunicorn settings for afftrack, shipped inside the package (read by ``afftrack serve``).

``afftrack serve`` runs::

    gunicorn -c python:service.gunicorn_conf --bind HOST:PORT service.wsgi:app

so ``bind`` below is only the fallback for running gunicorn by hand. Every knob can be
changed through the environment; nothing secret lives here. To replace these settings
with a file of your own, point ``AFFTRACK_GUNICORN_CONFIG`` at it (``deploy/gunicorn.conf.py``
is an example that starts from these and changes one thing).

| variable                  | default                | setting             |
|---------------------------|------------------------|---------------------|
| AFFTRACK_BIND             | 127.0.0.1:8000         | bind                |
| GUNICORN_WORKERS          | min(2 * cpus + 1, 8)   | workers             |
| GUNICORN_THREADS          | 4                      | threads (gthread)   |
| GUNICORN_TIMEOUT          | 30                     | timeout             |
| GUNICORN_GRACEFUL_TIMEOUT | 30                     | graceful_timeout    |
| GUNICORN_KEEPALIVE        | 5                      | keepalive           |
| GUNICORN_MAX_REQUESTS     | 1000000 (0: off)       | max_requests        |
| GUNICORN_LOGLEVEL         | info                   | loglevel            |
| GUNICORN_ACCESSLOG        | unset: off             | accesslog ("-" on)  |
| FORWARDED_ALLOW_IPS       | 127.0.0.1,::1          | forwarded_allow_ips |
| GUNICORN_CONTROL_SOCKET   | unset: no socket       | control_socket      |
| PROMETHEUS_MULTIPROC_DIR  | unset                  | see the hooks below |
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gunicorn import glogging

if TYPE_CHECKING:
    from gunicorn.arbiter import Arbiter
    from gunicorn.workers.base import Worker


def _env_int(name: str, default: int, minimum: int = 0) -> int:
    """An integer from the environment, failing loudly at start-up on a bad value."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise SystemExit(f"{name} must be at least {minimum}, got {value}")
    return value


def _cpu_count() -> int:
    """CPUs this process may run on (respects a container's cpuset, unlike cpu_count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# --- Server socket -------------------------------------------------------------------
bind = os.environ.get("AFFTRACK_BIND", "127.0.0.1:8000")

# --- Workers -------------------------------------------------------------------------
# gthread rather than sync: link-in-bio traffic arrives from mobile browsers that hold
# keep-alive connections open, and each such connection would pin a whole sync worker.
# Capped at 8 processes: each holds its own database pool and Redis connection, and past
# that more threads are cheaper than more processes (raise GUNICORN_WORKERS if profiling
# says otherwise). On Kubernetes, CPU limits are not visible as a cpuset, so set
# GUNICORN_WORKERS explicitly to match the pod's CPU request.
worker_class = "gthread"
workers = _env_int("GUNICORN_WORKERS", min(2 * _cpu_count() + 1, 8), minimum=1)
threads = _env_int("GUNICORN_THREADS", 4, minimum=1)

timeout = _env_int("GUNICORN_TIMEOUT", 30, minimum=1)
graceful_timeout = _env_int("GUNICORN_GRACEFUL_TIMEOUT", 30, minimum=1)
keepalive = _env_int("GUNICORN_KEEPALIVE", 5, minimum=0)

# Recycle workers now and then so a slow leak can never grow without bound; the jitter
# keeps all workers from restarting at the same moment. A million, not the usual ten
# thousand: a redirect worker serves thousands of requests a second, and a restart
# re-imports the app; what recycling at 10,000 cost is in
# docs/BENCHMARKS.md#choosing-the-gunicorn-worker-class.
max_requests = _env_int("GUNICORN_MAX_REQUESTS", 1_000_000, minimum=0)
max_requests_jitter = max_requests // 10

# Not preloading: every worker builds its own app, database engine and Redis client
# after the fork, so no connection is ever shared between processes.
preload_app = False

# Worker heartbeat files: a tmpfs avoids stalls when /tmp sits on a slow or overlay disk
# (and keeps working under a read-only root filesystem). Falls back to the default
# temporary directory where /dev/shm is missing.
_shm = "/dev/shm"  # noqa: S108 - a tmpfs, used only for gunicorn's heartbeat files
worker_tmp_dir = _shm if os.path.isdir(_shm) and os.access(_shm, os.W_OK) else None

# --- Proxies -------------------------------------------------------------------------
# Addresses whose X-Forwarded-Proto/-For gunicorn believes (it decides wsgi.url_scheme).
# Behind a load balancer set this to its addresses (or "*" if only it can reach the pods).
# The client address used for click hashing is governed by AFFTRACK_TRUSTED_PROXIES.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# --- Logging -------------------------------------------------------------------------
# The app writes its own structured JSON request logs, so gunicorn's access log is off
# unless asked for (GUNICORN_ACCESSLOG=- writes it to stdout).
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
errorlog = "-"

# A portal sign-in link carries its one-time token in the path (docs/portal.md): an
# access log writes the link with the token masked, wherever it shows (the request line,
# the path, a header such as the Referer).
_SIGN_IN_TOKEN = re.compile(r"(/portal/sign-in/)[^/?#\s\"]+")


def masked(text: str) -> str:
    """``text`` with any portal sign-in token in it replaced by ``<token>``."""
    return _SIGN_IN_TOKEN.sub(r"\1<token>", text)


class AccessLog(glogging.Logger):  # type: ignore[misc]  # gunicorn ships no types
    """gunicorn's logger, its access log lines written without sign-in tokens."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        return {k: masked(v) if isinstance(v, str) else v for k, v in atoms.items()}


logger_class = AccessLog
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
capture_output = False

proc_name = "afftrack"

# --- Control socket (gunicorn 25.1+; older releases ignore these names) --------------
# Off unless GUNICORN_CONTROL_SOCKET names a path: the default lives in $HOME, which is
# read-only or missing in the container, and runtime worker changes belong to the
# orchestrator, not to a socket inside the pod.
_control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "").strip()
control_socket_disable = not _control_socket
if _control_socket:
    control_socket = _control_socket


# --- Prometheus multiprocess mode ----------------------------------------------------
# With several workers each process keeps its own counters; prometheus_client's
# multiprocess mode writes them to files in PROMETHEUS_MULTIPROC_DIR, and /metrics adds
# them up (service/metrics.py). The directory must start empty (stale files from an
# earlier run would inflate counters) and must hear about workers that exit. It must
# also exist before anything imports the metrics: `afftrack serve` loads the app before
# it execs gunicorn, i.e. before on_starting runs, so containers mount a fresh tmpfs or
# emptyDir there; the mkdir below only covers running gunicorn by hand.


def _multiproc_dir() -> Path | None:
    raw = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    return Path(raw) if raw else None


def on_starting(server: Arbiter) -> None:
    """Master start-up, before any worker forks: prepare the metrics directory."""
    directory = _multiproc_dir()
    if directory is None:
        return
    directory.mkdir(parents=True, exist_ok=True)
    stale = list(directory.glob("*.db"))
    for path in stale:
        path.unlink(missing_ok=True)
    server.log.info(
        "prometheus multiprocess dir %s ready (%d stale file(s) removed)", directory, len(stale)
    )


def child_exit(server: Arbiter, worker: Worker) -> None:
    """A worker has exited (in the master): drop its live gauges from the aggregate."""
    if _multiproc_dir() is None:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker: Worker) -> None:
    """The app is loaded: move everything it allocated so far out of the garbage
    collector's sight, so collections during requests only walk request garbage."""
    import gc

    gc.freeze()
