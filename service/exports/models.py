from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, Integer, String
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


class StatementDaily(Base):
    """The lines a statement takes, summed per export, influencer, currency and UTC day
    of ``due_at``: ``export_key`` is '' for the lines no export has taken (pending),
    else the export that paid them. ``orders`` counts each order (a conversion's sale
    lines) once per export key, influencer and currency, on the earliest due day of
    its sale lines there (:class:`StatementOrder`), so summing the days before any
    moment counts each order once.

    Kept by the database as lines are written, paid or rejected (triggers on
    ``commission_lines``, migration 0024), in the writing transaction: an open month's
    summary reads these days, and the lines of at most one day.
    """

    __tablename__ = "statement_daily"

    export_key: Mapped[str] = mapped_column(String(40), primary_key=True)
    influencer_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    gross_minor: Mapped[int] = mapped_column(BigInteger)
    reversals_minor: Mapped[int] = mapped_column(BigInteger)
    adjustments_minor: Mapped[int] = mapped_column(BigInteger)
    carried_minor: Mapped[int] = mapped_column(BigInteger)
    lines: Mapped[int] = mapped_column(BigInteger)
    orders: Mapped[int] = mapped_column(BigInteger)


class StatementOrder(Base):
    """The day on which :class:`StatementDaily` counts an order in a statement group
    (kept by the same triggers; a row while the order has a sale line there)."""

    __tablename__ = "statement_orders"

    conversion_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    export_key: Mapped[str] = mapped_column(String(40), primary_key=True)
    influencer_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    day: Mapped[date] = mapped_column(Date)
