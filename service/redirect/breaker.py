"""A circuit breaker for the redirect's Redis calls that never serialises them.

(pybreaker, tried first, holds one lock for the whole duration of every call: under
gunicorn's threads that made each process's Redis round trips run one at a time, which
a profile showed: docs/BENCHMARKS.md#the-redirect, "What got the redirect there".)

Closed: calls go through; ``fail_max`` failures in a row open it. Open: calls are
refused without touching Redis for ``reset_timeout`` seconds. Then half-open: one
request at a time tries Redis; success closes the breaker, failure opens it again.
"""

from __future__ import annotations

import threading
import time

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


class Breaker:
    def __init__(self, fail_max: int = 2, reset_timeout: float = 5.0) -> None:
        self.fail_max = fail_max
        self.reset_timeout = reset_timeout
        self._failures = 0
        self._opened_at: float | None = None
        self._trial = False
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return CLOSED
        if time.monotonic() - self._opened_at < self.reset_timeout:
            return OPEN
        return HALF_OPEN

    @property
    def tripped(self) -> bool:
        """Open or half-open: Redis failed and has not answered since."""
        return self._opened_at is not None

    def allow(self) -> bool:
        """Whether this request may use Redis (the common case costs one attribute read)."""
        opened_at = self._opened_at
        if opened_at is None:
            return True
        if time.monotonic() - opened_at < self.reset_timeout:
            return False
        with self._lock:  # half-open: one trial at a time
            if self._trial:
                return False
            self._trial = True
            return True

    def success(self) -> None:
        if self._failures or self._opened_at is not None:
            with self._lock:
                self._failures = 0
                self._opened_at = None
                self._trial = False

    def failure(self) -> None:
        with self._lock:
            self._failures += 1
            self._trial = False
            if self._failures >= self.fail_max or self._opened_at is not None:
                self._opened_at = time.monotonic()

    def release(self) -> None:
        """The call ended without telling about Redis (an unexpected error): let the
        next request make the half-open trial instead."""
        if self._trial:
            with self._lock:
                self._trial = False

    def close(self) -> None:
        """Close it by hand (an operator, or a test that does not want to wait)."""
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._trial = False
