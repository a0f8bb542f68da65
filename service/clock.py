"""The one place that asks the system for the time.

Everything in afftrack that needs "now" calls :func:`now_utc`. Tests freeze it with
:func:`freeze` (or the ``frozen_clock`` fixture) so that hold periods, signature
tolerances and month boundaries can be exercised deterministically.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

_lock = threading.Lock()
_frozen: datetime | None = None


def now_utc() -> datetime:
    """The current time, timezone-aware in UTC."""
    frozen = _frozen
    if frozen is not None:
        return frozen
    return datetime.now(UTC)


def set_frozen(moment: datetime | None) -> None:
    """Freeze the clock at ``moment`` (aware), or unfreeze it with ``None``."""
    global _frozen
    if moment is not None and moment.tzinfo is None:
        raise ValueError("the clock only accepts timezone-aware datetimes")
    with _lock:
        _frozen = moment.astimezone(UTC) if moment is not None else None


def advance(delta: timedelta) -> datetime:
    """Move a frozen clock forward and return the new time."""
    if _frozen is None:
        raise RuntimeError("the clock is not frozen")
    set_frozen(_frozen + delta)
    return now_utc()


@contextmanager
def freeze(moment: datetime) -> Iterator[None]:
    """Freeze the clock for the duration of a ``with`` block."""
    previous = _frozen
    set_frozen(moment)
    try:
        yield
    finally:
        set_frozen(previous)
