"""Sign-in links, portal sessions and the record of both; the influencer's requests to
change their payout e-mail (docs/portal.md).

Only a SHA-256 of a link's token or of a session's cookie value is stored: the table
alone opens nothing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, UTCDateTime, new_id, utcnow


class PortalInvite(Base):
    """A one-time sign-in link for one influencer: refused once ``used_at``,
    ``revoked_at`` or ``expires_at`` is passed."""

    __tablename__ = "portal_invites"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("pin"))
    influencer_id: Mapped[str] = mapped_column(ForeignKey("influencers.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Who asked for it: an API key's id, ``cli``, or ``influencer`` (a link by e-mail).
    created_by: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PortalSession(Base):
    """A signed-in influencer: the cookie's value hashed, open until ``expires_at`` or
    ``ended_at`` (signed out or revoked)."""

    __tablename__ = "portal_sessions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("pss"))
    influencer_id: Mapped[str] = mapped_column(ForeignKey("influencers.id"), index=True)
    invite_id: Mapped[str | None] = mapped_column(ForeignKey("portal_invites.id"))
    cookie_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The page's language at sign-in, then as chosen (the influencer's mails follow the
    # latest session's); null before it was recorded.
    language: Mapped[str | None] = mapped_column(String(5))
    # SHA-256 of the Sign in form's CSRF token the session was opened with: the same
    # form pressed again at once (a double click) opens a session again (ADR).
    form_hash: Mapped[str | None] = mapped_column(String(64))


class PortalEvent(Base):
    """One thing that happened at the portal's door: ``kind`` (``service.portal.access
    .EVENT_KINDS``), about ``influencer_id`` (null: a link nobody's, an unknown address),
    done by ``actor`` (an API key's id, ``cli``, or ``influencer``), with ``reason`` (why
    a link was refused, why a mail was not sent) and the client address keyed-hashed."""

    __tablename__ = "portal_events"
    __table_args__ = (
        Index("ix_portal_events_influencer_id_id", "influencer_id", "id"),
        # The new-link limits count the events of a kind in the last hour.
        Index("ix_portal_events_kind_at", "kind", "at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("pev"))
    influencer_id: Mapped[str | None] = mapped_column(ForeignKey("influencers.id"))
    kind: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(String(200))
    address_hash: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PayoutChangeRequest(Base):
    """The influencer asking, at the portal, for their payout e-mail to become ``email``.

    ``requested`` until the brand confirms it (the influencer's ``payout_email`` becomes
    ``email``) or declines it (with a ``reason``), or the influencer withdraws it or asks
    for another address (``withdrawn``). At most one is ``requested`` per influencer (a
    partial unique index). ``decided_by``: an API key's id, or ``portal:<influencer id>``
    for the influencer's own withdrawal."""

    __tablename__ = "payout_change_requests"
    __audit__ = "payout_change_request"
    __table_args__ = (
        Index("ix_payout_change_requests_influencer_id_id", "influencer_id", "id"),
        Index(
            "uq_payout_change_requests_one_open",
            "influencer_id",
            unique=True,
            postgresql_where=text("status = 'requested'"),
            sqlite_where=text("status = 'requested'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("pcr"))
    influencer_id: Mapped[str] = mapped_column(ForeignKey("influencers.id"))
    email: Mapped[str] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(10), default="requested")
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(String(1000))

    def audit_subject(self) -> tuple[str, str]:
        return "influencer", self.influencer_id
