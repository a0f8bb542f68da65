from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, JSONType, UTCDateTime, new_id


class Export(Base):
    """A closed monthly commission statement. Exists only once the month is closed."""

    __tablename__ = "exports"
    __audit__ = "export"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("exp"))
    period: Mapped[str] = mapped_column(String(7), unique=True)
    checksum: Mapped[str] = mapped_column(String(64))
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    line_count: Mapped[int] = mapped_column(Integer)
    totals: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
