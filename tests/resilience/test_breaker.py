"""The redirect's circuit breaker (service/redirect/breaker.py)."""

from __future__ import annotations

import threading
import time

from service.redirect.breaker import CLOSED, HALF_OPEN, OPEN, Breaker


def test_two_failures_in_a_row_open_it_and_a_success_in_between_resets():
    b = Breaker(fail_max=2, reset_timeout=60)
    b.failure()
    assert b.state == CLOSED and b.allow()
    b.success()
    b.failure()
    assert b.state == CLOSED  # not two in a row
    b.failure()
    assert b.state == OPEN
    assert not b.allow() and not b.allow()


def test_after_the_reset_timeout_one_trial_at_a_time():
    b = Breaker(fail_max=1, reset_timeout=0.05)
    b.failure()
    assert not b.allow()
    time.sleep(0.06)
    assert b.state == HALF_OPEN
    assert b.allow()  # the trial
    assert not b.allow()  # others keep skipping Redis meanwhile
    b.failure()  # the trial failed: open again, for a full timeout
    assert b.state == OPEN and not b.allow()
    time.sleep(0.06)
    assert b.allow()
    b.success()
    assert b.state == CLOSED and b.allow() and b.allow()


def test_calls_are_not_serialised_while_closed():
    # Every thread must get through allow() while the others are "inside" a call.
    b = Breaker()
    inside = threading.Barrier(8, timeout=5)
    passed = []

    def request() -> None:
        if b.allow():
            inside.wait()  # all eight at once, or BrokenBarrierError
            passed.append(1)
            b.success()

    threads = [threading.Thread(target=request) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(passed) == 8


def test_close_by_hand():
    b = Breaker(fail_max=1, reset_timeout=60)
    b.failure()
    assert b.state == OPEN
    b.close()
    assert b.state == CLOSED and b.allow()


def test_an_unexpected_error_in_the_trial_does_not_keep_the_breaker_half_open():
    b = Breaker(fail_max=1, reset_timeout=0.01)
    b.failure()
    time.sleep(0.02)
    assert b.allow()  # the trial...
    b.release()  # ...ended with neither success nor failure (a bug, a 500)
    assert b.allow()  # the next request may try again
