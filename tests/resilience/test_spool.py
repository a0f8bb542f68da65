"""The local spool (service/spool.py): a click answered with a 302, or a webhook answered
with a 2xx, that neither Redis nor the database took is appended to a file of the
process's own and applied later — every record, once, oldest first — by whichever
process drains; and the Mover thread that keeps draining while anything waits.

Real files in a temporary directory throughout. Where the behaviour is about processes
(flock between appenders and drainers, a drainer killed half way, a forked child, a
file-size limit), the other side is a real process, started with 'spawn' (or os.fork
where forking is the point). Waits are bounded and generous; nothing is timed.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import multiprocessing
import os
import resource
import signal
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import service.spool as spool_module
from service.spool import Mover, Record, Spool, SpoolError, SpoolStatus, check_directory

KIND = "clicks"
BOUND = 60.0  # seconds: the generous bound on anything that happens "eventually"
SPAWN = multiprocessing.get_context("spawn")


def rec(rid: str, at: float, **extra: Any) -> Record:
    return {"at": at, "id": rid, **extra}


def eventually(predicate: Callable[[], bool], what: str, timeout: float = BOUND) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.005)


class Applied:
    """An ``apply`` that keeps every batch it is given."""

    def __init__(self) -> None:
        self.batches: list[list[Record]] = []

    def __call__(self, records: list[Record]) -> None:
        self.batches.append(list(records))

    @property
    def records(self) -> list[Record]:
        return [record for batch in self.batches for record in batch]

    @property
    def ids(self) -> list[str]:
        return [record["id"] for record in self.records]


def leftovers(directory: Path) -> list[str]:
    """What is in the spool directory besides the drainers' lock files."""
    return sorted(name for name in os.listdir(directory) if not name.endswith(".drain.lock"))


def newest_file(spool: Spool) -> Path:
    """The newest file of ``spool``'s kind: the one it appends to, when it made the last."""
    return spool.files()[-1]


def read_results(path: Path) -> list[list[Any]]:
    """The lines a child's ``apply`` wrote: ``[batch number, id]`` each."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def children() -> Iterator[list[multiprocessing.process.BaseProcess]]:
    """Processes a test starts; any still alive at the end is killed."""
    started: list[multiprocessing.process.BaseProcess] = []
    yield started
    for process in started:
        if process.is_alive():
            process.kill()
        process.join(BOUND)


def start(
    children: list[multiprocessing.process.BaseProcess], target: Callable[..., None], *args: Any
) -> multiprocessing.process.BaseProcess:
    process = SPAWN.Process(target=target, args=args, daemon=True)
    process.start()
    children.append(process)
    return process


def finish(process: multiprocessing.process.BaseProcess) -> None:
    process.join(BOUND)
    assert not process.is_alive(), "a child did not finish"
    assert process.exitcode == 0, f"a child failed (exit code {process.exitcode})"


# --- what the child processes run (module level: 'spawn' imports them by name) ------------


def _write_results(path: str, batch_number: int, records: list[Record]) -> None:
    """One write per batch, appended: what this ``apply`` applied, in order."""
    data = "".join(json.dumps([batch_number, r["id"]]) + "\n" for r in records).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _append_records(
    directory: str, name: str, count: int, go: EventType | None, pause_every: int
) -> None:
    """Append ``count`` records ``<name>-<seq>`` stamped with the wall clock."""
    spool = Spool(Path(directory), KIND, fsync=False)
    if go is not None:
        go.wait(BOUND)
    for seq in range(count):
        spool.append({"at": time.time(), "id": f"{name}-{seq}", "by": name, "seq": seq})
        if pause_every and seq % pause_every == 0:
            time.sleep(0.001)  # let the others and the drainers in
    spool.close()


def _drain_and_stall(
    directory: str,
    results: str,
    batch: int,
    stall_at: int,
    ready: EventType,
    go: EventType | None,
) -> None:
    """Drain, writing what each batch applied; at batch ``stall_at`` (once written) say
    so and wait for ``go`` — or, without one, until killed."""
    number = 0

    def apply(records: list[Record]) -> None:
        nonlocal number
        number += 1
        _write_results(results, number, records)
        if number == stall_at:
            ready.set()
            if go is None:
                time.sleep(BOUND * 10)
            else:
                go.wait(BOUND)

    applied = Spool(Path(directory), KIND).drain(apply, batch=batch)
    Path(results + ".returned").write_text(str(applied))


def _drain_until(directory: str, results: str, ready: EventType, stop: EventType) -> None:
    """Drain again and again until ``stop``, writing what was applied."""
    spool = Spool(Path(directory), KIND)
    ready.set()

    def apply(records: list[Record]) -> None:
        _write_results(results, 0, records)
        time.sleep(0.001)  # hold the files a moment: appenders find them locked

    while not stop.is_set():
        spool.drain(apply, batch=7)
        time.sleep(0.001)


def _append_under_a_file_size_limit(directory: str, limit: int, result: str) -> None:
    """Append until the file-size limit refuses a record, then lift the limit and append
    once more; what happened goes to ``result``."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG from write() instead of a signal
    _soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    spool = Spool(Path(directory), KIND, fsync=True)
    kept: list[str] = []
    refused: list[Any] = []
    for i in range(10):
        try:
            spool.append(rec(f"r{i}", float(i), pad="x" * 100))
        except SpoolError as exc:
            refused = [exc.errno, str(exc)]
            break
        kept.append(f"r{i}")
    [path] = spool.files()
    size_after_refusal = path.stat().st_size
    resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
    spool.append(rec("after", 50.0))
    Path(result).write_text(
        json.dumps({"kept": kept, "refused": refused, "size_after_refusal": size_after_refusal})
    )


# --- appending and draining ----------------------------------------------------------------


def test_a_drain_applies_every_record_once_in_time_order_across_files_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    a, b, c = (Spool(tmp_path, KIND, fsync=False) for _ in range(3))
    for at in (1, 4, 7, 10):
        a.append(rec(f"a{at}", at))
    for at in (2, 5, 8):
        b.append(rec(f"b{at}", at))
    for at in (3, 6, 9, 11):
        c.append(rec(f"c{at}", at))
    assert len(a.files()) == 3  # one file per appender

    applied = Applied()
    assert a.drain(applied, batch=4) == 11

    assert [r["at"] for r in applied.records] == list(range(1, 12))
    assert [len(batch) for batch in applied.batches] == [4, 4, 3]
    assert leftovers(tmp_path) == []
    nothing = Applied()
    assert b.drain(nothing) == 0
    assert nothing.batches == []


def test_a_file_keeps_its_own_order_even_when_its_times_go_backwards(tmp_path: Path) -> None:
    stepped_back, other = Spool(tmp_path, KIND), Spool(tmp_path, KIND)
    stepped_back.append(rec("x5", 5.0))
    stepped_back.append(rec("x1", 1.0))  # the clock stepped back between two clicks
    other.append(rec("y3", 3.0))

    applied = Applied()
    other.drain(applied)

    assert applied.ids == ["y3", "x5", "x1"]


def test_records_of_several_appending_processes_are_applied_once_merged_by_time(
    tmp_path: Path, children: list[multiprocessing.process.BaseProcess]
) -> None:
    go = SPAWN.Event()
    appenders = [start(children, _append_records, str(tmp_path), n, 60, go, 5) for n in "pqr"]
    go.set()
    for process in appenders:
        finish(process)
    assert len(Spool(tmp_path, KIND).files()) == 3

    applied = Applied()
    assert Spool(tmp_path, KIND).drain(applied, batch=25) == 180

    ats = [r["at"] for r in applied.records]
    assert ats == sorted(ats)
    assert sorted(applied.ids) == sorted(f"{n}-{seq}" for n in "pqr" for seq in range(60))
    for name in "pqr":
        assert [r["seq"] for r in applied.records if r["by"] == name] == list(range(60))
    assert leftovers(tmp_path) == []


def test_a_record_comes_back_as_it_was_appended(tmp_path: Path) -> None:
    record = rec(
        "u1",
        1733550000.123456,
        referrer="https://example.com/a?b=1&c=\u00e9",
        user_agent='Mozilla "quoted"\nsecond line\u2028and a separator',
        country=None,
        is_bot=False,
        nested={"list": [1, 2.5, "three"]},
    )
    spool = Spool(tmp_path, KIND)
    spool.append(record)

    assert list(spool.records()) == [record]
    applied = Applied()
    spool.drain(applied)
    assert applied.records == [record]


def test_an_appender_appends_to_a_new_file_once_its_file_is_drained(tmp_path: Path) -> None:
    spool = Spool(tmp_path, KIND)
    spool.append(rec("r1", 1.0))
    first = newest_file(spool)
    applied = Applied()
    spool.drain(applied)
    assert not first.exists()

    spool.append(rec("r2", 2.0))

    assert newest_file(spool) != first
    spool.drain(applied)
    assert applied.ids == ["r1", "r2"]


def test_kinds_in_one_directory_are_kept_and_drained_apart(tmp_path: Path) -> None:
    clicks, seen = Spool(tmp_path, "clicks"), Spool(tmp_path, "seen")
    clicks.append(rec("c1", 1.0))
    seen.append(rec("s1", 2.0))

    applied = Applied()
    assert seen.drain(applied) == 1

    assert applied.ids == ["s1"]
    assert clicks.status(now=10.0) == SpoolStatus(records=1, files=1, oldest_age_seconds=9.0)


# --- an apply that fails ----------------------------------------------------------------------


@pytest.mark.parametrize("applied_before_failing", [0, 1, 2])
def test_a_drain_whose_apply_fails_half_way_repeats_only_the_batch_that_failed(
    tmp_path: Path, applied_before_failing: int
) -> None:
    """What a returned batch applied is never applied again; the batch whose ``apply``
    raised is handed over again whole (so whatever that ``apply`` did of it before
    raising is done twice: harmless, since every target ignores a repeated id)."""
    a, b = Spool(tmp_path, KIND), Spool(tmp_path, KIND)
    for at in range(1, 11):
        (a if at % 2 else b).append(rec(f"r{at}", float(at)))

    applied: list[str] = []
    batches = 0

    def fails_in_the_third_batch(records: list[Record]) -> None:
        nonlocal batches
        batches += 1
        for index, record in enumerate(records):
            if batches == 3 and index == applied_before_failing:
                raise ConnectionError("the store went away")
            applied.append(record["id"])

    with pytest.raises(ConnectionError):
        a.drain(fails_in_the_third_batch, batch=3)
    assert a.status(now=100.0) == SpoolStatus(records=4, files=2, oldest_age_seconds=93.0)

    again = Applied()
    assert b.drain(again, batch=3) == 4

    assert again.ids == ["r7", "r8", "r9", "r10"]
    repeated = [f"r{at}" for at in range(7, 7 + applied_before_failing)]
    assert Counter(applied + again.ids) == Counter([f"r{at}" for at in range(1, 11)] + repeated)
    assert leftovers(tmp_path) == []


def test_records_appended_after_a_failed_drain_follow_the_rest(tmp_path: Path) -> None:
    spool = Spool(tmp_path, KIND)
    for at in range(1, 6):
        spool.append(rec(f"r{at}", float(at)))
    applied = Applied()

    def fails_second(records: list[Record]) -> None:
        if len(applied.batches) == 1:
            raise ConnectionError("down")
        applied(records)

    with pytest.raises(ConnectionError):
        spool.drain(fails_second, batch=2)
    file = newest_file(spool)
    spool.append(rec("r6", 6.0))  # to the same, half-applied file
    assert newest_file(spool) == file

    spool.drain(applied, batch=2)

    assert applied.ids == ["r1", "r2", "r3", "r4", "r5", "r6"]
    assert leftovers(tmp_path) == []


# --- a drainer killed half way ----------------------------------------------------------------


@pytest.mark.parametrize("killed_in_batch", [1, 3, 6])
def test_a_drainer_killed_half_way_is_resumed_and_repeats_at_most_its_batch_in_flight(
    tmp_path: Path, children: list[multiprocessing.process.BaseProcess], killed_in_batch: int
) -> None:
    # Three files whose records interleave; the first is done within the first batch,
    # the third's records are spread over the whole drain. Batches of 3: six of them.
    spool_dir = tmp_path / "spool"
    early, middle, spread = (Spool(spool_dir, KIND) for _ in range(3))
    for at in (1.0, 2.0, 3.0):
        early.append(rec(f"e{at:g}", at))
    for at in range(4, 14):
        middle.append(rec(f"m{at}", float(at)))
    for at in (3.5, 8.5, 14.0):
        spread.append(rec(f"s{at:g}", at))
    everything = [r["id"] for r in early.records()]
    assert len(everything) == 16

    results = tmp_path / "applied-by-the-killed-drainer"
    ready = SPAWN.Event()
    drainer = start(
        children, _drain_and_stall, str(spool_dir), str(results), 3, killed_in_batch, ready, None
    )
    assert ready.wait(BOUND), "the drainer never got to its batch"
    os.kill(drainer.pid, signal.SIGKILL)
    drainer.join(BOUND)
    assert drainer.exitcode == -signal.SIGKILL

    by_the_killed = read_results(results)
    in_flight = [rid for number, rid in by_the_killed if number == killed_in_batch]
    assert in_flight  # it did apply its batch before it was killed
    done_before = len(by_the_killed) - len(in_flight)

    resumed = Applied()
    assert Spool(spool_dir, KIND).drain(resumed, batch=3) == 16 - done_before

    assert resumed.ids[: len(in_flight)] == in_flight  # the batch in flight comes first
    applied = [rid for _number, rid in by_the_killed] + resumed.ids
    assert Counter(applied) == Counter(everything + in_flight)
    assert leftovers(spool_dir) == []


# --- one drainer at a time; appenders never wait for it -----------------------------------


def test_a_second_drain_while_another_process_drains_returns_0_at_once(
    tmp_path: Path, children: list[multiprocessing.process.BaseProcess]
) -> None:
    spool = Spool(tmp_path, KIND)
    for at in range(1, 5):
        spool.append(rec(f"r{at}", float(at)))
    other_kind = Spool(tmp_path, "seen")
    other_kind.append(rec("s1", 1.0))
    results = tmp_path / "applied"
    ready, go = SPAWN.Event(), SPAWN.Event()
    drainer = start(children, _drain_and_stall, str(tmp_path), str(results), 2, 1, ready, go)
    assert ready.wait(BOUND)

    second = Applied()
    assert Spool(tmp_path, KIND).drain(second) == 0
    assert spool.drain(second) == 0
    assert second.batches == []
    seen = Applied()
    assert other_kind.drain(seen) == 1  # another kind is not held up
    assert seen.ids == ["s1"]

    go.set()
    finish(drainer)
    assert [rid for _n, rid in read_results(results)] == ["r1", "r2", "r3", "r4"]
    assert Path(str(results) + ".returned").read_text() == "4"
    assert leftovers(tmp_path) == ["applied", "applied.returned"]


def test_a_second_drain_in_the_same_process_returns_0_at_once(tmp_path: Path) -> None:
    spool = Spool(tmp_path, KIND)
    spool.append(rec("r1", 1.0))
    inside, release = threading.Event(), threading.Event()
    first = Applied()

    def slow(records: list[Record]) -> None:
        inside.set()
        release.wait(BOUND)
        first(records)

    drained: list[int] = []
    thread = threading.Thread(target=lambda: drained.append(spool.drain(slow)))
    thread.start()
    try:
        assert inside.wait(BOUND)
        second = Applied()
        assert spool.drain(second) == 0  # the same Spool
        assert Spool(tmp_path, KIND).drain(second) == 0  # another one, same directory
        assert second.batches == []
    finally:
        release.set()
        thread.join(BOUND)
    assert drained == [1]
    assert first.ids == ["r1"]


def test_an_appender_whose_file_is_being_drained_starts_a_new_file_and_loses_nothing(
    tmp_path: Path, children: list[multiprocessing.process.BaseProcess]
) -> None:
    spool = Spool(tmp_path, KIND)
    spool.append(rec("r1", 1.0))
    spool.append(rec("r2", 2.0))
    held = newest_file(spool)
    results = tmp_path / "applied"
    ready, go = SPAWN.Event(), SPAWN.Event()
    drainer = start(children, _drain_and_stall, str(tmp_path), str(results), 10, 1, ready, go)
    assert ready.wait(BOUND)  # the drainer holds the file

    spool.append(rec("r3", 3.0))  # does not wait for it

    assert newest_file(spool) != held
    assert held.read_bytes().count(b"\n") == 2  # nothing was added to the held file
    go.set()
    finish(drainer)
    assert [rid for _n, rid in read_results(results)] == ["r1", "r2", "r3"]
    assert not held.exists()

    spool.append(rec("r4", 4.0))  # its file was drained and deleted meanwhile
    applied = Applied()
    assert spool.drain(applied) == 1
    assert applied.ids == ["r4"]
    assert leftovers(tmp_path) == ["applied", "applied.returned"]


def test_a_drain_at_any_moment_of_an_append_neither_fails_it_nor_loses_its_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A drainer that looks at the directory right after an appender made its new file
    (before its first record) must not take that file from under it: else an appender
    racing a busy drainer runs out of new files and its record is lost."""
    spool, drainer = Spool(tmp_path, KIND), Spool(tmp_path, KIND)
    applied = Applied()
    real_flock = fcntl.flock
    inside = False

    def a_drain_first(fd: int, operation: int) -> None:
        nonlocal inside
        if not inside:  # (the drain's own locking goes straight through)
            inside = True
            try:
                drainer.drain(applied)
            finally:
                inside = False
        real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", a_drain_first)
    for n in range(1, 4):
        spool.append(rec(f"r{n}", float(n)))
    monkeypatch.undo()

    drainer.drain(applied)
    assert applied.ids == ["r1", "r2", "r3"]
    assert leftovers(tmp_path) == []


def test_appenders_and_drainers_in_several_processes_apply_every_record_exactly_once(
    tmp_path: Path, children: list[multiprocessing.process.BaseProcess]
) -> None:
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    results = tmp_path / "applied"
    go, stop = SPAWN.Event(), SPAWN.Event()
    count = 300
    looping = [SPAWN.Event() for _ in "12"]
    drainers = [
        start(children, _drain_until, str(spool_dir), str(results), ready, stop)
        for ready in looping
    ]
    appenders = [
        start(children, _append_records, str(spool_dir), n, count, go, 3) for n in ("p", "q", "r")
    ]
    assert all(ready.wait(BOUND) for ready in looping)
    go.set()
    for process in appenders:
        finish(process)
    stop.set()
    for process in drainers:
        finish(process)
    last = Spool(spool_dir, KIND).drain(lambda records: _write_results(str(results), 0, records))

    applied = [rid for _n, rid in read_results(results)]
    expected = [f"{n}-{seq}" for n in "pqr" for seq in range(count)]
    assert Counter(applied) == Counter(expected)  # every record, exactly once
    for name in "pqr":  # and each process's records in the order it appended them
        mine = [int(rid.split("-")[1]) for rid in applied if rid.startswith(name + "-")]
        assert mine == list(range(count))
    assert last < len(expected)  # (the drainers did take part while appends went on)
    assert leftovers(spool_dir) == []


# --- what a drain cannot read -------------------------------------------------------------


def test_a_record_cut_short_at_the_end_of_a_file_is_not_applied_and_the_rest_are(
    tmp_path: Path,
) -> None:
    torn, whole = Spool(tmp_path, KIND), Spool(tmp_path, KIND)
    torn.append(rec("t1", 1.0))
    torn.append(rec("t2", 3.0))
    torn_file = newest_file(torn)
    whole.append(rec("w1", 2.0))
    whole.append(rec("w2", 4.0))
    with torn_file.open("ab") as f:
        f.write(b'{"at":5.0,"id":"t3","refer')  # the process died half way through a write

    assert torn.status(now=10.0) == SpoolStatus(records=4, files=2, oldest_age_seconds=9.0)
    assert [r["id"] for r in torn.records()] == ["t1", "w1", "t2", "w2"]
    applied = Applied()
    assert torn.drain(applied) == 4

    assert applied.ids == ["t1", "w1", "t2", "w2"]
    assert leftovers(tmp_path) == []


def test_an_unreadable_line_in_the_middle_is_skipped_and_logged_and_the_rest_applied(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = Spool(tmp_path, KIND)
    spool.append(rec("r1", 1.0))
    file = newest_file(spool)
    garbage = [b"not json", b'{"id":"no time"}', b"[1,2]", b"null", b'{"at":"soon"}', b"\xff\xfe"]
    with file.open("ab") as f:
        f.write(b"".join(line + b"\n" for line in garbage))
    spool.append(rec("r2", 2.0))

    assert [r["id"] for r in spool.records()] == ["r1", "r2"]
    caplog.clear()
    applied = Applied()
    with caplog.at_level(logging.ERROR, logger="service.spool"):
        assert spool.drain(applied, batch=3) == 2

    assert applied.ids == ["r1", "r2"]
    skipped = [r for r in caplog.records if r.getMessage() == "unreadable spool record skipped"]
    assert [(r.file, r.line) for r in skipped] == [  # type: ignore[attr-defined]
        (file.name, line) for line in range(1, 1 + len(garbage))
    ]
    assert leftovers(tmp_path) == []


# --- status ------------------------------------------------------------------------------------


def test_status_counts_the_waiting_records_their_files_and_the_oldest_age(tmp_path: Path) -> None:
    directory = tmp_path / "not yet made"
    spool = Spool(directory, KIND)
    assert spool.status(now=500.0) == SpoolStatus(records=0, files=0, oldest_age_seconds=0.0)
    assert not spool.waiting()

    a, b = Spool(directory, KIND), Spool(directory, KIND)
    a.append(rec("a1", 100.0))
    a.append(rec("a2", 110.0))
    b.append(rec("b1", 90.5))
    b.append(rec("b2", 120.0))
    b.append(rec("b3", 130.0))
    Spool(directory, "seen").append(rec("s1", 1.0))  # another kind: not counted

    status = spool.status(now=200.0)
    assert status == SpoolStatus(records=5, files=2, oldest_age_seconds=109.5)
    assert status.as_dict() == {"records": 5, "files": 2, "oldest_age_seconds": 109.5}
    assert spool.status(now=50.0).oldest_age_seconds == 0.0  # (a clock behind: never negative)
    assert spool.waiting()

    def fails_second(records: list[Record]) -> None:
        if records[0]["id"] != "b1":
            raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        spool.drain(fails_second, batch=2)  # b1 and a1 applied, a2 and b2 not

    assert sorted(p.name for p in directory.glob("*.done")) == sorted(
        p.name + ".done" for p in spool.files()
    )
    assert spool.status(now=200.0) == SpoolStatus(records=3, files=2, oldest_age_seconds=90.0)
    assert [r["id"] for r in spool.records()] == ["a2", "b2", "b3"]

    spool.drain(Applied())
    assert spool.status(now=200.0) == SpoolStatus(records=0, files=0, oldest_age_seconds=0.0)
    assert not spool.waiting()


# --- durability and failing writes -----------------------------------------------------------


def _count_syncs(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Wrap os.fdatasync and os.fsync (still calling them): what each was called on."""
    calls: dict[str, list[str]] = {"fdatasync": [], "fsync": []}
    for name in calls:
        real = getattr(os, name)

        def counted(fd: int, _real: Any = real, _name: str = name) -> None:
            calls[_name].append(os.readlink(f"/proc/self/fd/{fd}"))
            _real(fd)

        monkeypatch.setattr(os, name, counted)
    return calls


def test_with_fsync_each_append_is_flushed_to_disk_before_it_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _count_syncs(monkeypatch)
    spool = Spool(tmp_path, KIND, fsync=True)

    for n in range(1, 4):
        spool.append(rec(f"r{n}", float(n)))
        assert len(calls["fdatasync"]) == n

    assert calls["fdatasync"] == [os.path.realpath(newest_file(spool))] * 3
    assert calls["fsync"] == [os.path.realpath(tmp_path)]  # the new file's name, once


def test_without_fsync_an_append_leaves_flushing_to_the_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _count_syncs(monkeypatch)
    spool = Spool(tmp_path, KIND, fsync=False)

    for n in range(1, 4):
        spool.append(rec(f"r{n}", float(n)))

    assert calls == {"fdatasync": [], "fsync": []}
    applied = Applied()
    spool.drain(applied)  # (still kept)
    assert applied.ids == ["r1", "r2", "r3"]


def test_a_write_the_disk_refuses_raises_spool_error_and_leaves_no_half_record(
    tmp_path: Path, children: list[multiprocessing.process.BaseProcess]
) -> None:
    line = len(json.dumps(rec("r0", 0.0, pad="x" * 100), separators=(",", ":"))) + 1
    limit = 7 * line + line // 2  # the eighth record fits only half way
    result = tmp_path / "result.json"
    spool_dir = tmp_path / "spool"
    finish(start(children, _append_under_a_file_size_limit, str(spool_dir), limit, str(result)))

    outcome = json.loads(result.read_text())
    assert outcome["kept"] == [f"r{i}" for i in range(7)]
    assert outcome["refused"][0] == errno.EFBIG
    assert "the clicks spool" in outcome["refused"][1]
    assert outcome["size_after_refusal"] == 7 * line  # the half written record is gone
    [file] = Spool(spool_dir, KIND).files()
    assert file.read_bytes().endswith(b"\n")
    applied = Applied()
    Spool(spool_dir, KIND).drain(applied)
    assert applied.ids == [*outcome["kept"], "after"]


def test_a_spool_whose_directory_cannot_be_made_raises_spool_error(tmp_path: Path) -> None:
    (tmp_path / "a file").write_text("")
    spool = Spool(tmp_path / "a file" / "spool", KIND)

    with pytest.raises(SpoolError) as appending:
        spool.append(rec("r1", 1.0))
    assert appending.value.errno == errno.ENOTDIR
    assert "clicks spool" in str(appending.value)
    with pytest.raises(SpoolError):
        spool.drain(Applied())
    assert spool.status() == SpoolStatus(records=0, files=0, oldest_age_seconds=0.0)


def test_a_forked_child_appends_to_a_file_of_its_own(tmp_path: Path) -> None:
    spool = Spool(tmp_path, KIND)
    spool.append(rec("parent-1", 1.0))
    parents = newest_file(spool)

    pid = os.fork()
    if pid == 0:  # the child: append once, and leave without running anything of pytest's
        code = 1
        try:
            spool.append(rec("child-1", 2.0))
            code = 0
        finally:
            os._exit(code)
    _pid, wait_status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(wait_status) == 0
    spool.append(rec("parent-2", 3.0))

    assert [json.loads(x)["id"] for x in parents.read_text().splitlines()] == [
        "parent-1",
        "parent-2",
    ]
    [childs] = [p for p in spool.files() if p != parents]
    assert f"-{pid}-" in childs.name
    assert [json.loads(x)["id"] for x in childs.read_text().splitlines()] == ["child-1"]
    applied = Applied()
    spool.drain(applied)
    assert applied.ids == ["parent-1", "child-1", "parent-2"]


# --- check_directory ---------------------------------------------------------------------------


def test_check_directory_makes_a_missing_directory_and_leaves_nothing_in_it(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "state" / "afftrack" / "spool"

    check_directory(directory)

    assert directory.is_dir()
    assert os.listdir(directory) == []


def test_check_directory_says_which_directory_it_cannot_use(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a regular file")
    directory = tmp_path / "taken" / "spool"

    with pytest.raises(SpoolError) as raised:
        check_directory(directory)

    assert raised.value.errno == errno.ENOTDIR
    assert f"cannot write to {directory}" in str(raised.value)


# --- the Mover -------------------------------------------------------------------------------


class Job:
    """A Mover job: busy for its first ``busy`` calls (raising for the first ``raising``
    of those instead), idle after, unless ``busy_forever``."""

    def __init__(self, busy: int = 0, raising: int = 0, busy_forever: bool = False) -> None:
        self.busy, self.raising, self.busy_forever = busy, raising, busy_forever
        self.calls = 0
        self.threads: set[tuple[int, str, bool]] = set()

    def __call__(self) -> bool:
        self.calls += 1
        thread = threading.current_thread()
        self.threads.add((thread.ident or 0, thread.name, thread.daemon))
        if self.calls <= self.raising:
            raise ConnectionError("the store is still down")
        return self.busy_forever or self.calls <= self.busy


def test_the_mover_runs_its_jobs_while_they_have_work_then_ends() -> None:
    mover = Mover(interval=0.005, idle_exit=0.05)
    job, other = Job(busy=5), Job()
    mover.add("clicks", job)
    mover.add("webhooks", other)
    assert not mover.running

    mover.wake()
    eventually(lambda: job.calls > 5 and not mover.running, "the mover ended")

    assert other.calls == job.calls  # every job, every round
    [(_ident, name, daemon)] = job.threads
    assert (name, daemon) == ("afftrack-spool", True)


def test_wake_starts_an_ended_mover_again_and_keeps_one_thread_while_it_runs() -> None:
    mover = Mover(interval=0.005, idle_exit=0.05)
    job = Job(busy=3)
    mover.add("clicks", job)
    mover.wake()
    eventually(lambda: job.calls > 3 and not mover.running, "the mover ended")
    ended_after = job.calls

    job.busy_forever = True
    for _ in range(50):
        mover.wake()
    eventually(lambda: job.calls > ended_after + 5, "the woken mover ran the job again")
    assert mover.running
    job.busy_forever = False
    eventually(lambda: not mover.running, "the mover ended again")

    assert len({ident for ident, _name, _daemon in job.threads}) <= 2  # one per run


def test_a_job_that_raises_is_retried_and_does_not_end_the_mover(
    caplog: pytest.LogCaptureFixture,
) -> None:
    mover = Mover(interval=0.001, idle_exit=0.05)
    failing, other = Job(raising=4), Job()
    mover.add("clicks", failing)
    mover.add("webhooks", other)

    with caplog.at_level(logging.WARNING, logger="service.spool"):
        mover.wake()
        eventually(lambda: failing.calls > 4 and not mover.running, "the mover recovered")

    assert other.calls == failing.calls  # the others ran every round all along
    warnings = [r for r in caplog.records if r.getMessage() == "spool job failed; retrying"]
    assert len(warnings) == 1  # a line a while, not one per failure
    assert (warnings[0].job, warnings[0].error_type) == ("clicks", "ConnectionError")  # type: ignore[attr-defined]


def test_stop_ends_the_mover_and_wake_does_not_start_it_again() -> None:
    mover = Mover(interval=0.005, idle_exit=float("inf"))
    job = Job(busy_forever=True)
    mover.add("clicks", job)
    mover.wake()
    eventually(lambda: job.calls > 2, "the mover ran")

    mover.stop()

    assert not mover.running
    mover.wake()
    assert not mover.running


def test_a_wake_that_comes_as_the_mover_decides_to_end_starts_it_again() -> None:
    """The thread ends only when nobody woke it since its last round; a wake() landing
    between its "nobody did" and its leaving must still get a thread running."""

    class Racing(Mover):
        # Reads of ``_poked`` by the mover's thread while ``race`` is set: the thread is
        # deciding whether to end; another thread calls wake() right then.
        race = threading.Event()
        woke = threading.Event()

        @property
        def _poked(self) -> bool:
            value = self.__dict__["_poked_value"]
            if self.race.is_set() and threading.current_thread() is self.__dict__.get("_thread"):
                self.race.clear()
                threading.Thread(target=lambda: (self.wake(), self.woke.set())).start()
                self.woke.wait(0.5)  # (a wake() that waits for the decision may not return)
            return value

        @_poked.setter
        def _poked(self, value: bool) -> None:
            self.__dict__["_poked_value"] = value

    mover = Racing(interval=0.001, idle_exit=0.01)
    job = Job()
    mover.add("clicks", job)
    mover.race.set()
    mover.wake()

    eventually(lambda: not mover.race.is_set(), "the mover came to its decision")
    eventually(lambda: mover.woke.is_set(), "the wake() returned")
    calls = job.calls
    eventually(lambda: job.calls > calls, "a mover ran after the wake()", timeout=10)


# --- a property: any interleaving of appends and failing drains ------------------------------

OPERATIONS = st.lists(
    st.one_of(
        # append: to which of three spools, and how far its clock moves on (0: a tie)
        st.tuples(st.just("append"), st.integers(0, 2), st.integers(0, 3)),
        # close: that spool's next append starts a new file
        st.tuples(st.just("close"), st.integers(0, 2), st.just(0)),
        # drain: batch size; the record of this drain at which apply fails (None: never)
        st.tuples(st.just("drain"), st.integers(1, 4), st.none() | st.integers(0, 10)),
    ),
    max_size=40,
)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations=OPERATIONS, atomic=st.booleans())
def test_any_interleaving_of_appends_and_failing_drains_applies_each_record(
    operations: list[tuple[str, int, int | None]], atomic: bool
) -> None:
    """Whatever the interleaving: every appended record is applied; a record is applied
    again only when it was in a batch whose apply raised (and that apply had got to it);
    each drain hands records over oldest first; status counts what is not yet done."""
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        spools = [Spool(directory, KIND, fsync=False) for _ in range(3)]
        clocks = [0, 0, 0]
        appended: list[str] = []
        applied: list[str] = []
        repeated_expected: list[str] = []
        done: set[str] = set()

        def drain(batch: int, fail_at: int | None) -> None:
            seen: list[Record] = []

            def apply(records: list[Record]) -> None:
                got: list[str] = []
                for record in records:
                    seen.append(record)
                    if fail_at is not None and len(seen) > fail_at:
                        if not atomic:
                            applied.extend(got)
                            repeated_expected.extend(got)
                        raise ConnectionError("down")
                    got.append(record["id"])
                applied.extend(got)
                done.update(got)

            with contextlib.suppress(ConnectionError):
                spools[0].drain(apply, batch=batch)
            ats = [r["at"] for r in seen]
            assert ats == sorted(ats)  # oldest first within the drain
            for index in range(3):
                mine = [r["seq"] for r in seen if r["spool"] == index]
                assert mine == sorted(mine)
            waiting = len(set(appended) - done)
            assert spools[1].status(now=1e6).records == waiting
            if not waiting:
                assert leftovers(directory) == []

        for operation, index, argument in operations:
            if operation == "append":
                clocks[index] += argument  # type: ignore[operator]
                rid = f"{index}-{len(appended)}"
                spools[index].append(
                    {"at": float(clocks[index]), "id": rid, "spool": index, "seq": len(appended)}
                )
                appended.append(rid)
            elif operation == "close":
                spools[index].close()
            else:
                drain(index, argument)
        drain(3, None)

        assert Counter(applied) == Counter(appended + repeated_expected)
        assert leftovers(directory) == []


# --- a long outage's spool ---------------------------------------------------------------------


def test_a_long_outage_fills_bounded_files_and_a_drain_takes_a_few_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spool_module, "MAX_FILE_BYTES", 300)
    monkeypatch.setattr(spool_module, "MAX_FILES_PER_ROUND", 3)
    spool = Spool(tmp_path, KIND, fsync=False)
    for n in range(200):
        spool.append(rec(f"r{n:03d}", float(n)))
    files = spool.files()
    assert len(files) > 10
    assert all(path.stat().st_size < 300 + 40 for path in files)  # one record past it
    assert spool.status(now=500.0) == SpoolStatus(200, len(files), 500.0)

    taken: list[int] = []
    real_take = Spool._take_files

    def counting(self: Spool) -> list[Any]:
        held = real_take(self)
        taken.append(len(held))
        return held

    monkeypatch.setattr(Spool, "_take_files", counting)
    applied = Applied()
    assert spool.drain(applied, batch=50) == 200
    assert applied.ids == [f"r{n:03d}" for n in range(200)]  # oldest first, each once
    assert max(taken) == 3 and taken[-1] == 0
    assert spool.status(now=500.0) == SpoolStatus(0, 0, 0.0)


def test_an_append_that_fails_marks_the_spool_failing_until_one_succeeds(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    spool = Spool(blocker / "spool", KIND)
    with pytest.raises(SpoolError):
        spool.append(rec("x", 1.0))
    assert spool.failing
    spool.directory = tmp_path / "spool"
    spool.append(rec("y", 2.0))
    assert not spool.failing
