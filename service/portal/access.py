"""The portal's door: invitations, signing in with a one-time link, portal sessions,
revoking them, a new link by e-mail, and the record of each (docs/portal.md).

A link's token and a session's cookie value are ``secrets.token_urlsafe(32)``; only
their SHA-256 is stored. A link is refused once used, revoked or expired; a session
ends at its ``expires_at``, at sign-out or when the brand revokes access. Every step is
an event: what, about whom, by whom, when, and the client address keyed-hashed (the
clicks' ``ip_hash`` under ``AFFTRACK_IP_HASH_KEY``), never the address itself.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from service import clock, mail
from service.clicks.identity import ip_hash
from service.config import Settings
from service.db import Database, advisory_lock, new_id
from service.influencers.models import Influencer
from service.influencers.service import get_influencer
from service.mail import Message
from service.paging import DEFAULT_LIMIT, Page, paginate
from service.portal import language
from service.portal.models import PortalEvent, PortalInvite, PortalSession

# Who did it, besides an API key's id: the CLI, or the influencer at the portal.
CLI = "cli"
INFLUENCER = "influencer"
# The audit trail's actor of a change the influencer makes at the portal (a post, a
# payout e-mail request): ``portal:<influencer id>``.
PORTAL_ACTOR = "portal:"


def portal_actor(influencer_id: str) -> str:
    return PORTAL_ACTOR + influencer_id


EVENT_KINDS = (
    "invited",
    "mailed",
    "mail_failed",
    "signed_in",
    "link_refused",
    "link_requested",
    "signed_out",
    "revoked",
)
# Why a link was refused (the event's reason and the page's words).
REFUSALS = ("used", "expired", "revoked", "unknown")
# A new link by e-mail: at most this many links sent to one influencer in an hour,
# requests from one client address, and requests in all (ADR "portal new-link limits").
LINKS_PER_HOUR = 3
REQUESTS_PER_ADDRESS = 10
REQUESTS_PER_HOUR = 200
# Why a link asked for was not sent (the event's reason).
TOO_MANY_LINKS = "not sent: too many links in the hour"
TOO_MANY_FROM_ADDRESS = "not sent: too many requests from this address in the hour"
TOO_MANY_IN_ALL = "not sent: too many requests at the portal in the hour"
NO_MAIL = "not sent: no mail server is set up (AFFTRACK_SMTP_URL)"
ACCESS_REVOKED = "not sent: the brand revoked this influencer's access"
# A Sign in form sent again this soon after it took its link opens a session again.
REPEAT_SECONDS = 60
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def hash_address(key: str, address: str | None) -> str | None:
    """The client address as the portal's record keeps it: the clicks' keyed daily hash."""
    if not address:
        return None
    return ip_hash(key, address, clock.now_utc().date())


_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"  # the alphabet of service.db.new_id
_id_lock = threading.Lock()
_last_id = ""


def _event_id() -> str:
    """``new_id("pev")``, but always after the last one this process made: the events
    of one request (or of a frozen clock's millisecond) keep the order they happened in."""
    global _last_id
    with _id_lock:
        made = new_id("pev")
        if made <= _last_id:
            digits = list(_last_id)
            i = len(digits) - 1
            while digits[i] == _CROCKFORD[-1]:
                digits[i] = _CROCKFORD[0]
                i -= 1
            digits[i] = _CROCKFORD[_CROCKFORD.index(digits[i]) + 1]
            made = "".join(digits)
        _last_id = made
        return made


def record(
    session: Session,
    kind: str,
    *,
    influencer_id: str | None,
    actor: str,
    address_hash: str | None,
    reason: str | None = None,
) -> PortalEvent:
    assert kind in EVENT_KINDS, kind
    event = PortalEvent(
        id=_event_id(),
        influencer_id=influencer_id,
        kind=kind,
        actor=actor,
        reason=reason[:200] if reason else None,
        address_hash=address_hash,
        at=clock.now_utc(),
    )
    session.add(event)
    session.flush()
    return event


# invitations ---------------------------------------------------------------------


def invite(
    session: Session,
    influencer: Influencer,
    *,
    days: int,
    actor: str,
    address_hash: str | None,
) -> tuple[PortalInvite, str]:
    """A new one-time link for ``influencer`` valid ``days``: the row and its token
    (returned once, never stored). Earlier links stay valid until used or expired."""
    token = secrets.token_urlsafe(32)
    now = clock.now_utc()
    row = PortalInvite(
        influencer_id=influencer.id,
        token_hash=digest(token),
        created_by=actor,
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    session.add(row)
    session.flush()
    record(session, "invited", influencer_id=influencer.id, actor=actor, address_hash=address_hash)
    return row, token


def sign_in_url(public_url: str, token: str) -> str:
    return f"{public_url}/portal/sign-in/{token}"


def invitation(influencer: Influencer, url: str, expires_at: datetime, lang: str) -> Message:
    """The mail that carries a sign-in link, in ``lang`` (``language_of``)."""
    _ = language.translations(lang).gettext
    until = f"{expires_at:%Y-%m-%d %H:%M} UTC"
    return Message(
        to=influencer.email,
        subject=_("Your sign-in link to the partner portal"),
        body=(
            _("Hello %(name)s,") % {"name": influencer.name}
            + "\n\n"
            + _(
                "Open this link to sign in to the partner portal, where you can follow your "
                "links, codes and earnings:"
            )
            + f"\n\n{url}\n\n"
            + _(
                "The link works once, until %(until)s. If it has expired, ask for a new one "
                "on the portal's sign-in page with this e-mail address."
            )
            % {"until": until}
            + "\n\n"
            + _("If you did not expect this mail, you can ignore it.")
            + "\n"
        ),
    )


def language_of(session: Session, influencer_id: str) -> str:
    """The language the influencer last used the portal in (their latest session's),
    else English: what their mails are written in."""
    found = session.scalar(
        select(PortalSession.language)
        .where(
            PortalSession.influencer_id == influencer_id,
            PortalSession.language.is_not(None),
        )
        .order_by(PortalSession.created_at.desc(), PortalSession.id.desc())
        .limit(1)
    )
    return language.known(found)


def set_language(session: Session, cookie: str | None, lang: str) -> bool:
    """Remember ``lang`` as the language of the open session of ``cookie`` (chosen on
    a page); False when there is none open."""
    row = live_session(session, cookie)
    if row is None:
        return False
    row.language = language.known(lang)
    return True


# signing in ------------------------------------------------------------------------


@dataclass(frozen=True)
class SignIn:
    """A link taken: the new session's cookie value (returned once) and its row."""

    cookie: str
    portal_session: PortalSession


@dataclass(frozen=True)
class Refused:
    """A link refused: ``reason`` is one of ``REFUSALS``."""

    reason: str


def check_link(session: Session, token: str) -> PortalInvite | Refused:
    """The invitation ``token`` opens, or why it opens nothing (changes nothing: a page
    showing the Sign in button reads this)."""
    if not _TOKEN.fullmatch(token):
        return Refused("unknown")
    row = session.scalar(select(PortalInvite).where(PortalInvite.token_hash == digest(token)))
    if row is None:
        return Refused("unknown")
    if row.revoked_at is not None:
        return Refused("revoked")
    if row.used_at is not None:
        return Refused("used")
    if row.expires_at <= clock.now_utc():
        return Refused("expired")
    return row


def sign_in(
    session: Session,
    token: str,
    *,
    hours: int,
    address_hash: str | None,
    lang: str | None = None,
    form: str | None = None,
) -> SignIn | Refused:
    """Take the link ``token`` (once) and open a new session for its influencer, in the
    language ``lang`` the page was written in; or record why it was refused. ``form``:
    the Sign in form's CSRF token; the same form sent again within ``REPEAT_SECONDS`` of
    the link's use (a double click whose first answer the browser dropped) opens a
    session again instead of being refused. The caller commits either way."""
    found = check_link(session, token)
    if isinstance(found, Refused) and found.reason == "used" and form:
        again = _repeat(session, token, form, hours=hours, address_hash=address_hash)
        if again is not None:
            return again
    if isinstance(found, Refused):
        influencer_id = None
        if found.reason != "unknown":
            influencer_id = session.scalar(
                select(PortalInvite.influencer_id).where(PortalInvite.token_hash == digest(token))
            )
        record(
            session,
            "link_refused",
            influencer_id=influencer_id,
            actor=INFLUENCER,
            address_hash=address_hash,
            reason=found.reason,
        )
        return found
    now = clock.now_utc()
    # Taken in one statement: of two sign-ins racing with the same link, one wins.
    taken = session.execute(
        update(PortalInvite)
        .where(
            PortalInvite.id == found.id,
            PortalInvite.used_at.is_(None),
            PortalInvite.revoked_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        if form:
            again = _repeat(session, token, form, hours=hours, address_hash=address_hash)
            if again is not None:
                return again
        record(
            session,
            "link_refused",
            influencer_id=found.influencer_id,
            actor=INFLUENCER,
            address_hash=address_hash,
            reason="used",
        )
        return Refused("used")
    cookie, row = open_session(session, found.influencer_id, found.id, hours=hours, lang=lang)
    row.form_hash = digest(form) if form else None
    record(
        session,
        "signed_in",
        influencer_id=found.influencer_id,
        actor=INFLUENCER,
        address_hash=address_hash,
    )
    return SignIn(cookie, row)


def _repeat(
    session: Session, token: str, form: str, *, hours: int, address_hash: str | None
) -> SignIn | None:
    """The same Sign in form pressed again within ``REPEAT_SECONDS`` of the link's use:
    the session it opened ends and a new one opens (the browser may never have received
    the first one's cookie). None when this is not such a repeat."""
    now = clock.now_utc()
    earlier = session.scalar(
        select(PortalSession)
        .join(PortalInvite, PortalInvite.id == PortalSession.invite_id)
        .where(
            PortalInvite.token_hash == digest(token),
            PortalInvite.used_at > now - timedelta(seconds=REPEAT_SECONDS),
            PortalInvite.revoked_at.is_(None),
            PortalSession.form_hash == digest(form),
            PortalSession.ended_at.is_(None),
            PortalSession.expires_at > now,
        )
        .order_by(PortalSession.id.desc())
        .limit(1)
    )
    if earlier is None:
        return None
    earlier.ended_at = now
    cookie, row = open_session(
        session, earlier.influencer_id, earlier.invite_id, hours=hours, lang=earlier.language
    )
    row.form_hash = earlier.form_hash
    record(
        session,
        "signed_in",
        influencer_id=earlier.influencer_id,
        actor=INFLUENCER,
        address_hash=address_hash,
        reason="the same Sign in form again",
    )
    return SignIn(cookie, row)


def open_session(
    session: Session,
    influencer_id: str,
    invite_id: str | None,
    *,
    hours: int,
    lang: str | None = None,
) -> tuple[str, PortalSession]:
    """A brand-new session (a new random value: nothing the browser sent before is
    promoted to a session)."""
    cookie = secrets.token_urlsafe(32)
    now = clock.now_utc()
    row = PortalSession(
        influencer_id=influencer_id,
        invite_id=invite_id,
        cookie_hash=digest(cookie),
        created_at=now,
        expires_at=now + timedelta(hours=hours),
        language=language.known(lang) if lang else None,
    )
    session.add(row)
    session.flush()
    return cookie, row


def live_session(session: Session, cookie: str | None) -> PortalSession | None:
    """The open session ``cookie`` belongs to, or None (ended, expired, unknown)."""
    if not cookie or not _TOKEN.fullmatch(cookie):
        return None
    row = session.scalar(select(PortalSession).where(PortalSession.cookie_hash == digest(cookie)))
    if row is None or row.ended_at is not None or row.expires_at <= clock.now_utc():
        return None
    return row


def sign_out(session: Session, cookie: str | None, *, address_hash: str | None) -> bool:
    """End the session of ``cookie``; False when there was none open."""
    row = live_session(session, cookie)
    if row is None:
        return False
    row.ended_at = clock.now_utc()
    record(
        session,
        "signed_out",
        influencer_id=row.influencer_id,
        actor=INFLUENCER,
        address_hash=address_hash,
    )
    return True


# revoking --------------------------------------------------------------------------


@dataclass(frozen=True)
class Revoked:
    links: int
    sessions: int


def revoke_all(
    session: Session, influencer: Influencer, *, actor: str, address_hash: str | None
) -> Revoked:
    """End every unused link and every open session of ``influencer`` now; no link is
    sent by e-mail until the brand invites them again (``access_revoked``). Repeating it
    ends nothing more (and is recorded again)."""
    now = clock.now_utc()
    links = session.execute(
        update(PortalInvite)
        .where(
            PortalInvite.influencer_id == influencer.id,
            PortalInvite.used_at.is_(None),
            PortalInvite.revoked_at.is_(None),
            PortalInvite.expires_at > now,
        )
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    sessions = session.execute(
        update(PortalSession)
        .where(
            PortalSession.influencer_id == influencer.id,
            PortalSession.ended_at.is_(None),
            PortalSession.expires_at > now,
        )
        .values(ended_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    done = Revoked(int(links), int(sessions))
    record(
        session,
        "revoked",
        influencer_id=influencer.id,
        actor=actor,
        address_hash=address_hash,
        reason=f"{done.links} link(s), {done.sessions} session(s) ended",
    )
    return done


# a new link by e-mail ----------------------------------------------------------------


@dataclass(frozen=True)
class NewLink:
    """A link to mail to ``influencer`` (the token returned once)."""

    influencer: Influencer
    invite: PortalInvite
    token: str


def request_link(
    session: Session,
    email: str,
    *,
    days: int,
    address_hash: str | None,
    can_mail: bool = True,
) -> list[NewLink]:
    """New links for the influencers whose address on file is ``email`` (compared
    without case), each to be mailed to that address only. None is made while too many
    were asked for in the hour (``LINKS_PER_HOUR`` sent to one influencer,
    ``REQUESTS_PER_ADDRESS`` from one client address, ``REQUESTS_PER_HOUR`` in all),
    without mail (``can_mail`` false), for an unknown address or an influencer whose
    access the brand revoked. The record says so, never naming the address asked for;
    a refusal repeated within the hour is recorded once (ADR "portal new-link limits")."""
    since = clock.now_utc() - timedelta(hours=1)
    requested = (
        select(func.count())
        .select_from(PortalEvent)
        .where(PortalEvent.kind == "link_requested", PortalEvent.at > since)
    )
    if (session.scalar(requested) or 0) >= REQUESTS_PER_HOUR:
        _refuse_once(session, None, None, TOO_MANY_IN_ALL, since)
        return []
    if address_hash is not None:
        from_there = requested.where(PortalEvent.address_hash == address_hash)
        if (session.scalar(from_there) or 0) >= REQUESTS_PER_ADDRESS:
            _refuse_once(session, None, address_hash, TOO_MANY_FROM_ADDRESS, since)
            return []
    if not can_mail:
        _refuse_once(session, None, None, NO_MAIL, since)
        return []
    wanted = email.strip().lower()
    found = list(
        session.scalars(
            select(Influencer).where(func.lower(Influencer.email) == wanted).order_by(Influencer.id)
        )
    )
    if not found:
        record(
            session,
            "link_requested",
            influencer_id=None,
            actor=INFLUENCER,
            address_hash=address_hash,
            reason="no influencer has this address",
        )
        return []
    links = []
    for influencer in found:
        # One request per influencer at a time, so that two at once cannot both pass.
        if not advisory_lock(session, f"afftrack:portal-link:{influencer.id}"):
            continue  # the other request, being handled, is recorded; this one adds nothing
        if access_revoked(session, influencer.id):
            _refuse_once(session, influencer.id, address_hash, ACCESS_REVOKED, since)
            continue
        sent = session.scalar(
            select(func.count())
            .select_from(PortalInvite)
            .where(
                PortalInvite.influencer_id == influencer.id,
                PortalInvite.created_by == INFLUENCER,
                PortalInvite.created_at > since,
            )
        )
        if (sent or 0) >= LINKS_PER_HOUR:
            _refuse_once(session, influencer.id, address_hash, TOO_MANY_LINKS, since)
            continue
        record(
            session,
            "link_requested",
            influencer_id=influencer.id,
            actor=INFLUENCER,
            address_hash=address_hash,
        )
        row, token = invite(
            session, influencer, days=days, actor=INFLUENCER, address_hash=address_hash
        )
        links.append(NewLink(influencer, row, token))
    return links


def _refuse_once(
    session: Session,
    influencer_id: str | None,
    address_hash: str | None,
    reason: str,
    since: datetime,
) -> None:
    """Record that a new link was not sent for ``reason``, unless the same refusal (of
    the same influencer, or from the same address when no influencer is named) is in
    the record since ``since``: a flood of requests adds one row an hour."""
    same = select(PortalEvent.id).where(
        PortalEvent.kind == "link_requested",
        PortalEvent.at > since,
        PortalEvent.reason == reason,
    )
    if influencer_id is not None:
        same = same.where(PortalEvent.influencer_id == influencer_id)
    elif reason == TOO_MANY_FROM_ADDRESS:
        same = same.where(PortalEvent.address_hash == address_hash)
    if session.scalar(same.limit(1)) is not None:
        return
    record(
        session,
        "link_requested",
        influencer_id=influencer_id,
        actor=INFLUENCER,
        address_hash=address_hash,
        reason=reason,
    )


def access_revoked(session: Session, influencer_id: str) -> bool:
    """Whether the brand revoked the influencer's access and has not invited them since
    (their latest ``revoked`` event is after their latest invitation by the brand): no
    link is sent to them by e-mail meanwhile."""
    revoked = session.scalar(
        select(func.max(PortalEvent.id)).where(
            PortalEvent.influencer_id == influencer_id, PortalEvent.kind == "revoked"
        )
    )
    if revoked is None:
        return False
    invited = session.scalar(
        select(func.max(PortalEvent.id)).where(
            PortalEvent.influencer_id == influencer_id,
            PortalEvent.kind == "invited",
            PortalEvent.actor != INFLUENCER,
        )
    )
    return invited is None or invited < revoked


# the record --------------------------------------------------------------------------


def list_events(
    session: Session, influencer_id: str, cursor: str | None, limit: int = DEFAULT_LIMIT
) -> Page[PortalEvent]:
    """An influencer's events, oldest first (ids sort by time), paged."""
    stmt = select(PortalEvent).where(PortalEvent.influencer_id == influencer_id)
    return paginate(session, stmt, PortalEvent.id, cursor, limit)


def last_events(session: Session, influencer_id: str, count: int = 10) -> list[PortalEvent]:
    """An influencer's latest ``count`` events, newest first (the dashboard's list)."""
    return list(
        session.scalars(
            select(PortalEvent)
            .where(PortalEvent.influencer_id == influencer_id)
            .order_by(PortalEvent.id.desc())
            .limit(count)
        )
    )


# mailing ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Mailed:
    """Whether the link went out by mail, and if not, why (in words)."""

    mailed: bool
    reason: str | None = None


def mail_link(
    session: Session,
    message: Message,
    *,
    smtp_url: str | None,
    sender: str | None,
    influencer_id: str,
    actor: str,
) -> Mailed:
    """Send ``message`` when mail is set up, and record what happened. Called after the
    invitation is committed: a mail that fails loses no link."""
    if not smtp_url or not sender:
        return Mailed(False, "no mail server is set up (AFFTRACK_SMTP_URL)")
    try:
        mail.send(smtp_url, sender, message)
    except mail.MailError as exc:
        record(
            session,
            "mail_failed",
            influencer_id=influencer_id,
            actor=actor,
            address_hash=None,
            reason=str(exc),
        )
        return Mailed(False, str(exc))
    record(session, "mailed", influencer_id=influencer_id, actor=actor, address_hash=None)
    return Mailed(True)


@dataclass(frozen=True)
class Invitation:
    """A link made for ``email``'s owner: its URL (shown once), when it ends, and
    whether it was mailed."""

    url: str
    expires_at: datetime
    email: str
    mailed: Mailed


def invite_and_mail(
    db: Database, settings: Settings, influencer_id: str, *, actor: str, address_hash: str | None
) -> Invitation:
    """Make a link and commit it, then mail it when mail is set up (in a transaction
    of its own: a mail that fails, or a slow server, loses and holds up nothing)."""
    with db.session() as s:
        influencer = get_influencer(s, influencer_id)
        row, token = invite(
            s, influencer, days=settings.portal_invite_days, actor=actor, address_hash=address_hash
        )
        url = sign_in_url(settings.public_url, token)
        message = invitation(influencer, url, row.expires_at, language_of(s, influencer.id))
        expires_at = row.expires_at
    with db.session() as s:
        sent = mail_link(
            s,
            message,
            smtp_url=settings.smtp_url,
            sender=settings.mail_from,
            influencer_id=influencer_id,
            actor=actor,
        )
    return Invitation(url=url, expires_at=expires_at, email=message.to, mailed=sent)
