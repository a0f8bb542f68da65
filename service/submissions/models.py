from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, UTCDateTime, utcnow


class FormSubmission(Base):
    """A form sent with the one-time token ``token`` by the API key ``key_id``: it makes
    a ``kind`` (the table of what it makes), ``made_id`` once made. Claimed before
    anything is made, in the same transaction: a refused form leaves no row."""

    __tablename__ = "form_submissions"

    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), primary_key=True)
    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    made_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
