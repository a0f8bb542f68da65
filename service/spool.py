"""A local, append-only spool for what neither Redis nor the database can take right now.

A click answered with a 302, or a verified webhook answered with a 2xx, must not be lost
because both stores are down at that moment: it is appended here first, and moved on
once a store answers again (docs/product.md §2 "When Redis or PostgreSQL stumble").

Layout: ``<directory>/<kind>-<ns>-<pid>-<n>.spool``, one JSON record per line, each with
``"at"`` (epoch seconds, the order records are applied in). A process appends to a file
of its own, holding the file's ``flock`` for the length of one append. A drainer — the
same process, another one, or the worker — takes every file it can lock, applies the
records of all of them merged by ``at`` (each file in its own order), and deletes each
file once it is applied. An appender that finds its file locked by a drainer, or already
deleted, starts a new file, so an append never waits for a drain and nothing is appended
to a file that is gone. One drainer at a time per kind and directory (a lock file), so
records are applied in order even when several processes want to drain.

Progress within a file is kept in ``<file>.done`` (records applied so far), so a drainer
killed half way resumes after them. A record applied twice is harmless anyway: every
record carries its own id and every target ignores a repeat.

Durability (``AFFTRACK_SPOOL_FSYNC``): ``always`` (the default) calls ``fdatasync`` after
each append, before the answer is sent — the record survives a power cut. ``never``
leaves it to the kernel: it survives the process being killed (the data is in the page
cache the moment ``write`` returns) but not the machine going down.
docs/BENCHMARKS.md#spool has what each costs.
"""

from __future__ import annotations

import contextlib
import fcntl
import heapq
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service import clock

log = logging.getLogger(__name__)

SUFFIX = ".spool"
DONE_SUFFIX = ".done"
# A process starts a new file once its own reaches this size, and a drain takes at most
# this many files a round: a long outage's spool drains in bounded memory.
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_FILES_PER_ROUND = 8
# How long a drain waits for an append in progress (a write and its fsync) to finish
# before it leaves that file to its next round.
APPEND_WAIT_S = 0.05

Record = dict[str, Any]


class SpoolError(OSError):
    """The spool could not keep a record (the directory is not writable, the disk full)."""


@dataclass(frozen=True)
class SpoolStatus:
    records: int  # waiting to be applied, across every file of this kind
    files: int
    oldest_age_seconds: float  # age of the oldest waiting record (0 when empty)

    def as_dict(self) -> dict[str, int | float]:
        return {
            "records": self.records,
            "files": self.files,
            "oldest_age_seconds": self.oldest_age_seconds,
        }


def check_directory(directory: Path) -> None:
    """Create ``directory`` if needed and prove it writable (raises :class:`SpoolError`)."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / f".probe-{os.getpid()}-{threading.get_ident()}-{time.time_ns()}"
        probe.write_bytes(b"")
        probe.unlink(missing_ok=True)
    except OSError as exc:
        raise SpoolError(exc.errno, f"cannot write to {directory}: {exc.strerror}") from None


class Spool:
    """The spool files of one ``kind`` (``clicks``, ``webhooks``) in ``directory``."""

    def __init__(self, directory: Path, kind: str, *, fsync: bool = True) -> None:
        self.directory = Path(directory)
        self.kind = kind
        self.fsync = fsync
        self._lock = threading.Lock()  # one append at a time in this process
        self._drain_lock = threading.Lock()  # one drain at a time in this process
        self._fd: int | None = None
        self._pid = os.getpid()
        self._count = 0
        # Whether the last append failed (a full disk, say): readiness reports it.
        self.failing = False
        # name → (bytes already counted, newlines in them): files only grow, so a status
        # reads only what was appended since it last looked.
        self._counted: dict[str, tuple[int, int]] = {}

    # --- appending ---------------------------------------------------------------------

    def append(self, record: Record) -> None:
        """Keep ``record`` (a JSON object with ``"at"``) durably, per the fsync policy."""
        line = (json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
        with self._lock:
            try:
                self._append(line)
            except SpoolError:
                self.failing = True
                raise
            except OSError as exc:  # (a lock or stat the system refused)
                self.failing = True
                raise SpoolError(exc.errno, f"the {self.kind} spool: {exc.strerror}") from None
            self.failing = False

    def _append(self, line: bytes) -> None:
        for _ in range(5):
            fd = self._own_file()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # a drainer holds it: leave the file to it
                self._drop_own_file()
                continue
            try:
                if os.fstat(fd).st_nlink == 0:  # drained and deleted meanwhile
                    self._drop_own_file()
                    continue
                size = self._write(fd, line)
            finally:
                # (``_drop_own_file`` may have closed it already: that unlocked it.)
                if fd == self._fd:
                    fcntl.flock(fd, fcntl.LOCK_UN)
            if size >= MAX_FILE_BYTES:
                self._drop_own_file()  # the next record starts a new file
            return
        raise SpoolError(0, f"could not append to the {self.kind} spool in {self.directory}")

    def _write(self, fd: int, line: bytes) -> int:
        """Append ``line`` whole or not at all; the file's size after it."""
        start = os.lseek(fd, 0, os.SEEK_END)
        try:
            view = memoryview(line)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            if self.fsync:
                os.fdatasync(fd)
        except OSError as exc:
            # Never leave half a record for the next one to be glued to.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
            raise SpoolError(exc.errno, f"the {self.kind} spool: {exc.strerror}") from None
        return start + len(line)

    def _own_file(self) -> int:
        if self._fd is not None and self._pid == os.getpid():
            return self._fd
        self._fd = None  # (a forked child never writes to its parent's file)
        self._pid = os.getpid()
        self._count += 1
        name = f"{self.kind}-{time.time_ns():020d}-{self._pid}-{self._count}{SUFFIX}"
        fd = None
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            # Made under a name no drainer looks at, and locked before it gets its own:
            # else a drainer could take (and delete) the empty file before its first
            # record, again and again, and the append would give up.
            hidden = self.directory / f".{name}.new"
            fd = os.open(
                hidden,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC,
                0o600,
            )
            fcntl.flock(fd, fcntl.LOCK_EX)  # (append's own flock then holds at once)
            os.rename(hidden, self.directory / name)
            if self.fsync:  # the new name itself must survive a power cut
                dir_fd = os.open(self.directory, os.O_RDONLY)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)
        except OSError as exc:
            if fd is not None:
                os.close(fd)
            raise SpoolError(exc.errno, f"the {self.kind} spool: {exc.strerror}") from None
        self._fd = fd
        return fd

    def _drop_own_file(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def close(self) -> None:
        with self._lock:
            self._drop_own_file()

    # --- looking ---------------------------------------------------------------------

    def files(self) -> list[Path]:
        """This kind's spool files, oldest first."""
        try:
            names = os.listdir(self.directory)
        except OSError:  # missing, not a directory, unreadable: nothing to find there
            return []
        prefix = self.kind + "-"
        return [
            self.directory / n for n in sorted(names) if n.startswith(prefix) and n.endswith(SUFFIX)
        ]

    def waiting(self) -> bool:
        """Whether anything of this kind may be waiting (one directory listing)."""
        return bool(self.files())

    def status(self, now: float | None = None) -> SpoolStatus:
        """How many records wait, in how many files, and the oldest one's age (from each
        file's first waiting record). Reads only what was appended since the last call
        and each file's first waiting line, so a large spool costs little to watch."""
        records, files, first = 0, 0, None
        counted: dict[str, tuple[int, int]] = {}
        for path in self.files():
            try:
                lines = self._lines_in(path, counted)
            except FileNotFoundError:
                continue
            done = _done_count(path)
            if lines <= done:
                continue
            files += 1
            records += lines - done
            at = _first_waiting_at(path, done)
            if at is not None and (first is None or at < first):
                first = at
        self._counted = counted  # (forgets files gone since)
        now = clock.now_utc().timestamp() if now is None else now  # ("at" is on it too)
        age = round(max(0.0, now - first), 3) if first is not None else 0.0
        return SpoolStatus(records, files, age)

    def _lines_in(self, path: Path, counted: dict[str, tuple[int, int]]) -> int:
        size, lines = self._counted.get(path.name, (0, 0))
        with open(path, "rb") as f:
            f.seek(size)
            more = f.read()
        whole = more.rfind(b"\n") + 1  # (a record being written is counted once whole)
        counted[path.name] = (size + whole, lines + more.count(b"\n", 0, whole))
        return counted[path.name][1]

    def records(self) -> Iterator[Record]:
        """Every waiting record, in the order a drain applies them (read only)."""
        readers = []
        for path in self.files():
            try:
                readers.append(_records_of(path, path.read_bytes(), _done_count(path)))
            except FileNotFoundError:
                continue
        for _order, record in heapq.merge(*readers, key=lambda item: item[0]):
            if record is not None:  # (an unreadable line: a drain skips it too)
                yield record

    # --- draining --------------------------------------------------------------------

    def drain(self, apply: Callable[[list[Record]], None], *, batch: int = 500) -> int:
        """Apply every waiting record with ``apply`` (a batch at a time, oldest first),
        deleting each file once all of its records are applied. Returns how many were
        applied; 0 straight away if another drain of this kind is running. An error
        from ``apply`` stops the drain (what was applied stays applied) and is raised."""
        if not self._drain_lock.acquire(blocking=False):
            return 0
        try:
            lock_fd = self._directory_lock()
            if lock_fd is None:
                return 0
            try:
                applied = 0
                while True:
                    held = self._take_files()
                    if not held:
                        return applied
                    try:
                        applied += _apply_merged(held, apply, batch)
                    finally:
                        for taken in held:
                            taken.release()
            finally:
                os.close(lock_fd)  # (closing releases the flock)
        finally:
            self._drain_lock.release()

    def _directory_lock(self) -> int | None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.directory / f".{self.kind}.drain.lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise SpoolError(exc.errno, f"the {self.kind} spool: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    def _take_files(self) -> list[_Taken]:
        """Lock the oldest files of this kind (at most MAX_FILES_PER_ROUND), waiting a
        moment for an append in progress to end; one still busy after that is left to
        the next round."""
        held: list[_Taken] = []
        for path in self.files():
            if len(held) >= MAX_FILES_PER_ROUND:
                break
            try:
                fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            if not _lock_soon(fd) or os.fstat(fd).st_nlink == 0:
                os.close(fd)
                continue
            held.append(_Taken(path, fd))
        return held


def _lock_soon(fd: int) -> bool:
    deadline = time.monotonic() + APPEND_WAIT_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.002)


def _first_waiting_at(path: Path, done: int) -> float | None:
    """The "at" of the first record of ``path`` not yet applied."""
    try:
        with open(path, "rb") as f:
            for number, raw in enumerate(f):
                if number == done:
                    return float(json.loads(raw)["at"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return None


class _Taken:
    """A spool file this drainer holds the lock of."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.fd = fd
        self.done = _done_count(path)
        with os.fdopen(os.dup(fd), "rb") as f:
            self.data = f.read()
        self.total = self.data.count(b"\n")

    def advance(self, count: int) -> None:
        self.done += count
        done_path = self.path.with_name(self.path.name + DONE_SUFFIX)
        if self.done >= self.total:
            # All applied: gone now, not at the end of the drain, so that a drainer
            # killed in a later batch does not leave this file to be applied again.
            self.path.unlink(missing_ok=True)
            done_path.unlink(missing_ok=True)
            return
        # Not fsynced: losing it only means applying some records twice, harmlessly.
        tmp = done_path.with_name(done_path.name + ".tmp")
        tmp.write_text(str(self.done))
        os.replace(tmp, done_path)

    def release(self) -> None:
        try:
            if self.done >= self.total:
                self.path.unlink(missing_ok=True)
                self.path.with_name(self.path.name + DONE_SUFFIX).unlink(missing_ok=True)
        finally:
            os.close(self.fd)  # releases the flock


def _done_count(path: Path) -> int:
    try:
        return int(path.with_name(path.name + DONE_SUFFIX).read_text() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def _records_of(
    path: Path, data: bytes, skip: int
) -> Iterator[tuple[tuple[float, str, int], Record]]:
    """``((at, file, line), record)`` for each whole record after the first ``skip``."""
    lines = data.split(b"\n")
    del lines[-1]  # what follows the last newline: empty, or a record cut short
    for number, raw in enumerate(lines):
        if number < skip:
            continue
        try:
            record = json.loads(raw)
            at = float(record["at"])
        except (ValueError, KeyError, TypeError):
            log.error("unreadable spool record skipped", extra={"file": path.name, "line": number})
            record, at = None, 0.0
        yield (at, path.name, number), record


def _apply_merged(held: Sequence[_Taken], apply: Callable[[list[Record]], None], batch: int) -> int:
    """Apply the records of ``held`` merged by time, a batch at a time; each batch's
    records are counted as done, per file, once ``apply`` returns."""
    merged = heapq.merge(*(_tagged(taken) for taken in held), key=lambda item: item[0][0])
    applied = 0
    chunk: list[Record] = []
    owners: list[_Taken] = []

    def flush() -> None:
        nonlocal applied
        real = [r for r in chunk if r is not None]
        if real:
            apply(real)
        counts: dict[int, int] = {}
        for owner in owners:
            counts[id(owner)] = counts.get(id(owner), 0) + 1
        for taken in held:
            if id(taken) in counts:
                taken.advance(counts[id(taken)])
        applied += len(real)
        chunk.clear()
        owners.clear()

    for (_order, record), taken in merged:
        chunk.append(record)
        owners.append(taken)
        if len(chunk) >= batch:
            flush()
    if chunk:
        flush()
    return applied


def _tagged(taken: _Taken) -> Iterator[tuple[tuple[tuple[float, str, int], Record], _Taken]]:
    for item in _records_of(taken.path, taken.data, taken.done):
        yield item, taken


class Mover:
    """One thread per process that keeps moving spooled records on while any remain.

    Each job is called every ``interval`` seconds and returns whether it still has work
    (records waiting, or a store it is waiting for); the thread ends once every job has
    had nothing to do for ``idle_exit`` seconds, and :meth:`wake` starts it again. So a
    healthy process runs no thread at all, and a process left behind by a test ends.
    A job's exception is logged and the job is retried on the next round.
    """

    def __init__(self, *, interval: float = 0.2, idle_exit: float = 30.0) -> None:
        self.interval = interval
        self.idle_exit = idle_exit
        self._jobs: list[tuple[str, Callable[[], bool]]] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._woken = threading.Event()
        self._stopped = False
        self._failures = 0
        self._warned_at = -1e9
        self._poked = False

    def add(self, name: str, job: Callable[[], bool]) -> None:
        self._jobs.append((name, job))

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def wake(self) -> None:
        """Make sure the thread runs (cheap when it does: callers may call it per request)."""
        self._poked = True  # (a thread about to end sees it and stays)
        if self._stopped:
            return
        # Looked at under the lock: a thread that has just decided to end (it did not
        # see ``_poked``) but not yet cleared ``_thread`` would otherwise be missed.
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="afftrack-spool", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopped = True
        self._woken.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def run_once(self) -> bool:
        """Every job once; whether any still has work."""
        busy = False
        failed = False
        for name, job in self._jobs:
            try:
                busy = job() or busy
            except Exception as exc:
                busy = failed = True
                if time.monotonic() - self._warned_at > 30:  # a line a while, not a flood
                    self._warned_at = time.monotonic()
                    log.warning(
                        "spool job failed; retrying",
                        extra={"job": name, "error_type": type(exc).__name__},
                    )
        self._failures = self._failures + 1 if failed else 0
        return busy

    def _run(self) -> None:
        quiet_since = time.monotonic()
        while not self._stopped:
            self._woken.clear()
            self._poked = False
            if self.run_once():
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > self.idle_exit:
                with self._lock:  # (a wake() from now on starts a new thread)
                    if not self._poked:
                        self._thread = None
                        return
            # Failing again and again (the stores still down): back off to 2 s.
            self._woken.wait(min(self.interval * 2 ** min(self._failures, 4), 2.0))
