from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, NamedTuple

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, JSONType, UTCDateTime, new_id, utcnow
from service.vocabulary import CAPS


class LineKind(StrEnum):
    """What a line is, as a statement counts it (docs/product.md §6)."""

    SALE = "sale"
    REVERSAL = "reversal"
    CPC = "cpc"
    PER_POST = "per_post"
    TRUE_UP = "true_up"
    ADJUSTMENT = "adjustment"


class LineStatus(StrEnum):
    """A line's stored status. ``approved`` is never stored: it is shown for a pending
    line that is due (:func:`service.commissions.ledger.status_of`)."""

    PENDING = "pending"
    PAID = "paid"
    REJECTED = "rejected"


# The status shown for a pending line that is due.
APPROVED = "approved"


# The kinds a statement counts as earned (its gross); the others are reversals and
# adjustments.
GROSS_KINDS = (LineKind.SALE, LineKind.CPC, LineKind.PER_POST, LineKind.TRUE_UP)


class LinePurpose(StrEnum):
    """What a line is for: its kind, or for an adjustment, which one. Lines were once
    told apart by their idempotency key's prefix; migration 0010 backfilled this from
    those prefixes."""

    SALE = "sale"
    REVERSAL = "reversal"
    CPC = "cpc"
    PER_POST = "per_post"
    TRUE_UP = "true_up"
    ADJUSTMENT = "adjustment"  # a manual adjustment: a reason and the key that made it
    REJECTION = "rejection"  # the zero-sum record of a rejection (reverses_line_id: the line)
    CARRY_OUT = "carry_out"  # brings a negative balance to zero in its statement
    CARRY_IN = "carry_in"  # the same balance, due in the next month (reverses_line_id: out)


def one_of(column: str, values: Iterable[str]) -> str:
    """A CHECK constraint's text: ``column`` holds one of ``values``."""
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


class Worked(NamedTuple):
    """One fact a line records of how its amount was worked out: the column that holds
    it, the key it is shown under inside the line's ``rule`` (API, statements, exports),
    whether it is an amount (shown as a decimal in the line's currency), and the column
    whose presence shows it, null included (``beside``; else: shown when not null)."""

    column: str
    key: str
    amount: bool = False
    beside: str | None = None

    def shown(self, line: Any) -> bool:
        """Whether ``line`` shows this fact."""
        return getattr(line, self.beside or self.column) is not None


# How a line's amount was worked out, beside the rule it was written under (``rule``
# holds the rule alone: type, rate, amount, tiers). Migration 0012 moved these out of
# ``rule``, where they were decimal strings.
WORKING = (
    Worked("rule_index", "index"),  # which of the partnership's rules
    Worked("cut_minor", "cut", amount=True),  # what a cap cut off (a reversal: its share)
    Worked("cap", "cap", beside="cut_minor"),  # the cap that cut it (null: giving back)
    Worked("before_minor", "before", amount=True),  # a tiered sale: the month so far
    Worked("month", "month"),  # a settlement line: the month it settles
    Worked("clicks", "clicks"),  # a cpc line: the clicks it pays for
    Worked("sales_minor", "sales", amount=True),  # a true-up: the month's net sales
    Worked("recorded_minor", "recorded", amount=True),  # a true-up: what the month held
    Worked("withheld_minor", "withheld", amount=True),  # a settlement: what caps withhold
)


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkedOut:
    """The :data:`WORKING` columns of a line held in memory rather than read as a ledger
    row (a planned settlement line, a statement's line)."""

    rule_index: int | None = None
    cut_minor: int | None = None
    cap: str | None = None
    before_minor: int | None = None
    month: str | None = None
    clicks: int | None = None
    sales_minor: int | None = None
    recorded_minor: int | None = None
    withheld_minor: int | None = None


# Lines whose ``cut`` may be negative: it gives back what a cap cut off before.
GIVES_BACK = (LineKind.REVERSAL, LineKind.TRUE_UP, LineKind.CPC)


class CommissionLine(Base):
    """One append-only ledger entry.

    Amounts are never updated; only ``status``/``export_id`` change, to record payment
    or rejection. ``recorded_at`` is when it was written, ``occurred_at`` when the
    event behind it happened, ``due_at`` when it becomes payable.
    """

    __tablename__ = "commission_lines"
    # Month-end settlement reads a month's true_up and cpc lines by kind.
    __table_args__ = (
        Index("ix_commission_lines_kind_occurred_at", "kind", "occurred_at"),
        CheckConstraint(one_of("kind", LineKind), name="kind"),
        CheckConstraint(one_of("status", LineStatus), name="status"),
        CheckConstraint(one_of("purpose", LinePurpose), name="purpose"),
        CheckConstraint(one_of("cap", CAPS), name="cap"),
        CheckConstraint(f"cut_minor >= 0 OR {one_of('kind', GIVES_BACK)}", name="cut"),
        CheckConstraint("before_minor >= 0 AND clicks >= 0", name="working"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("cml"))
    # What makes a retried write land once: e.g. "sale:<conversion>:<rule index>".
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    influencer_id: Mapped[str] = mapped_column(ForeignKey("influencers.id"), index=True)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"), index=True)
    partnership_id: Mapped[str | None] = mapped_column(ForeignKey("partnerships.id"))
    conversion_id: Mapped[str | None] = mapped_column(ForeignKey("conversions.id"), index=True)
    event_id: Mapped[str | None] = mapped_column(ForeignKey("conversion_events.id"))
    deliverable_id: Mapped[str | None] = mapped_column(ForeignKey("deliverables.id"))
    reverses_line_id: Mapped[str | None] = mapped_column(
        ForeignKey("commission_lines.id"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    purpose: Mapped[str] = mapped_column(String(20))
    rule: Mapped[dict[str, Any] | None] = mapped_column(JSONType)  # the rule alone
    # How the amount was worked out (WORKING): typed, each NULL where it does not apply.
    rule_index: Mapped[int | None] = mapped_column(BigInteger)
    cut_minor: Mapped[int | None] = mapped_column(BigInteger)
    cap: Mapped[str | None] = mapped_column(String(20))
    before_minor: Mapped[int | None] = mapped_column(BigInteger)
    month: Mapped[str | None] = mapped_column(String(7))
    clicks: Mapped[int | None] = mapped_column(BigInteger)
    sales_minor: Mapped[int | None] = mapped_column(BigInteger)
    recorded_minor: Mapped[int | None] = mapped_column(BigInteger)
    withheld_minor: Mapped[int | None] = mapped_column(BigInteger)
    basis_minor: Mapped[int | None] = mapped_column(BigInteger)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(10), default=LineStatus.PENDING)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    export_id: Mapped[str | None] = mapped_column(ForeignKey("exports.id"), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    created_by_key_id: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id"))


class _CommissionCounts:
    campaign_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    influencer_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    link_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    lines: Mapped[int] = mapped_column(BigInteger)
    amount_minor: Mapped[int] = mapped_column(BigInteger)


class CommissionDaily(_CommissionCounts, Base):
    """The ledger per campaign, influencer, link and UTC day of the line, as reports
    count it: ``lines`` the lines not rejected and ``amount_minor`` their sum, per
    currency. ``link_id`` is the link of the line's order, ``""`` for a line without
    one (adjustment, cpc, per-post, true-up, or an order attributed by promo code).

    Kept by the database (triggers on ``commission_lines``, migration 0008): lines are
    added as they are written and taken off when rejected; the ledger's other columns
    never change (the append-only trigger), so nothing else can move a line.
    """

    __tablename__ = "commission_daily"


class CommissionMonthly(_CommissionCounts, Base):
    """``CommissionDaily`` summed per UTC month (``day`` is the month's first day), kept
    by the same triggers, for the whole months of a report's range."""

    __tablename__ = "commission_monthly"


class TieredSalesDaily(Base):
    """What a tiered rule's month is worked out from, per partnership, rule and UTC day
    of the order: the net sales of the orders of its sale lines (amount less refunds, 0
    once cancelled), the amount its sale and reversal lines record and what caps cut off
    them, and the latest due and recorded times among those lines. Counts the lines not
    rejected, under a tiered rule, in the campaign's currency (the true-up's, see
    :func:`service.commissions.settlement.true_up_gaps`).

    Kept by the database in the writing transaction (triggers on ``commission_lines``
    and ``conversions``, migration 0024); a rejection recomputes its day.
    """

    __tablename__ = "tiered_sales_daily"

    partnership_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    rule_index: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    sales_minor: Mapped[int] = mapped_column(BigInteger)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    cut_minor: Mapped[int] = mapped_column(BigInteger)
    due_max: Mapped[datetime | None] = mapped_column(UTCDateTime)
    changed_max: Mapped[datetime | None] = mapped_column(UTCDateTime)
