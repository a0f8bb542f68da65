"""Claiming a form's one-time token before making what the form makes, and marking what
it made.

A create form carries a token of its own (``service.forms.ONCE``). The view claims it
for the key that sent the form before making anything: the first claim inserts the row
and makes; the same token again (a double click, a browser re-sending, Back and send)
finds the row and answers what the first made, making nothing. A twin sent at the same
moment waits on the primary key until the first commits (PostgreSQL; SQLite serialises
writers), then finds it. The claim is part of the making's transaction: a refused form
rolls it back with everything else, so the corrected form may use the same token.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.db import insert_ignore, table_of, utcnow
from service.submissions.models import FormSubmission


@dataclass(frozen=True)
class Made:
    """What an earlier submission of a token made: a ``kind`` and its id (``None``: the
    claim was committed without a mark)."""

    kind: str
    id: str | None


def claim(session: Session, key_id: str, token: str, kind: str) -> Made | None:
    """Claim ``token`` for a form making a ``kind``, sent with the key ``key_id``:
    ``None`` when claimed now (make it, then :func:`mark` it before committing), else
    what the token's earlier submission made."""
    claimed = insert_ignore(
        session,
        table_of(FormSubmission),
        {"key_id": key_id, "token": token, "kind": kind, "created_at": utcnow()},
        ("key_id", "token"),
        returning=FormSubmission.token,
    )
    if claimed:
        return None
    earlier = session.execute(
        select(FormSubmission.kind, FormSubmission.made_id).where(
            FormSubmission.key_id == key_id, FormSubmission.token == token
        )
    ).one()
    return Made(earlier.kind, earlier.made_id)


def mark(session: Session, key_id: str, token: str, made_id: str) -> None:
    """Record that the submission claimed by ``key_id`` with ``token`` made ``made_id``
    (in the claim's transaction, before it commits)."""
    session.execute(
        update(FormSubmission)
        .where(FormSubmission.key_id == key_id, FormSubmission.token == token)
        .values(made_id=made_id)
    )
