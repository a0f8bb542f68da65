"""Counting what an app sends to its database: every SQL statement, every pooled
connection taken and every COMMIT, through SQLAlchemy events on the app's engine."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from sqlalchemy import event


@dataclass
class QueryCount:
    statements: list[str] = field(default_factory=list)
    checkouts: int = 0
    commits: list[str] = field(default_factory=list)


@contextmanager
def count_queries(app: Flask) -> Iterator[QueryCount]:
    """What the app's engine does inside the ``with``: its statements, checkouts, commits."""
    engine = app.extensions["afftrack"].db.engine
    seen = QueryCount()

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        seen.statements.append(statement)

    def on_checkout(*_args: Any) -> None:
        seen.checkouts += 1

    def on_commit(_conn: Any) -> None:
        seen.commits.append("COMMIT")

    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(engine.pool, "checkout", on_checkout)
    event.listen(engine, "commit", on_commit)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        event.remove(engine.pool, "checkout", on_checkout)
        event.remove(engine, "commit", on_commit)
