"""Recording and listing the audit trail.

A session knows who is acting (``service.db.act_as``: the API and the dashboard name the request's
key, the command line names itself); after each flush of such a session, every new,
changed or deleted row of an audited model (``Base.__audit__``) is written to
``audit_entries`` in the same transaction, so a change and its record commit or roll
back together. Sessions with no actor — webhooks, the click worker, settlement — record
nothing: they are the machine's work, told by the ledger itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import event, insert, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from service.audit.models import AuditEntry
from service.db import ACTOR, Base, new_id, table_of, utcnow

CLI_ACTOR = "cli"
# Bookkeeping columns every row has; they tell nothing a person changed.
_UNTOLD = frozenset({"id", "created_at", "updated_at"})


def watch(sessions: sessionmaker[Session]) -> None:
    """Write the audit entries of every flush of these sessions that has an actor."""

    def after_flush(session: Session, _context: object) -> None:
        actor = session.info.get(ACTOR)
        if actor is None:
            return
        at = utcnow()
        rows = [
            {"id": new_id("aud"), "at": at, "actor": actor, **entry} for entry in _entries(session)
        ]
        if rows:
            session.connection().execute(insert(table_of(AuditEntry)), rows)

    event.listen(sessions, "after_flush", after_flush)


def _entries(session: Session) -> Iterable[dict[str, Any]]:
    for action, objects in (
        ("created", session.new),
        ("changed", session.dirty),
        ("deleted", session.deleted),
    ):
        for obj in objects:
            if not isinstance(obj, Base) or obj.__audit__ is None:
                continue
            subject = obj.audit_subject()
            if subject is None:
                continue
            changes = _changes(obj, action)
            if action == "changed" and all(before == after for before, after in changes.values()):
                continue  # nothing changed (a part's names are recorded unchanged)
            yield {
                "subject_type": subject[0],
                "subject_id": subject[1],
                "kind": obj.__audit__,
                "action": action,
                "changes": changes,
            }


def _changes(obj: Base, action: str) -> dict[str, Any]:
    """Field → [before, after]; only ``after`` for a new row, only ``before`` for a
    deleted one."""
    state = inspect(obj)
    out: dict[str, Any] = {}
    for attr in state.mapper.column_attrs:
        if attr.key in _UNTOLD:
            continue
        if action == "created":
            out[attr.key] = [None, _plain(getattr(obj, attr.key))]
        elif action == "deleted":
            out[attr.key] = [_plain(getattr(obj, attr.key)), None]
        else:
            history = state.attrs[attr.key].history
            if not history.has_changes():
                if attr.key in obj.__audit_names__:  # unchanged; says which part this is
                    value = _plain(getattr(obj, attr.key))
                    out[attr.key] = [value, value]
                continue
            before = history.deleted[0] if history.deleted else None
            after = history.added[0] if history.added else None
            if before != after:
                out[attr.key] = [_plain(before), _plain(after)]
    return out


def _plain(value: Any) -> Any:
    """A value as JSON can hold it: dates and times in ISO 8601, decimals as strings."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def entries_for(session: Session, subject_type: str, subject_id: str) -> list[AuditEntry]:
    """An object's audit list, newest first."""
    stmt = (
        select(AuditEntry)
        .where(AuditEntry.subject_type == subject_type, AuditEntry.subject_id == subject_id)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    )
    return list(session.scalars(stmt))
