"""The influencer's payout e-mail: asking at the portal for it to change, the brand
confirming or declining, and the history both sides read (docs/portal.md).

A request changes nothing until the brand confirms it: a stolen portal session cannot
redirect money. At most one request is open per influencer: asking for another address
withdraws the open one, asking again for the same address is the same request (ADR
"posts and payout e-mail requests from the portal"). Confirming sets the influencer's
``payout_email`` through the influencers service, so the audit trail records the change
and the key that made it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service import clock, mail
from service.config import Settings
from service.db import Database, advisory_lock
from service.errors import N_, Conflict, InvalidInput, NotFound, Words
from service.influencers.models import Influencer
from service.influencers.service import change_influencer, get_influencer
from service.mail import Message
from service.paging import DEFAULT_LIMIT, Page, paginate
from service.portal import language
from service.portal.access import INFLUENCER, language_of, record
from service.portal.models import PayoutChangeRequest

STATUSES = ("requested", "confirmed", "declined", "withdrawn")
# Why a request was closed without the brand (its ``reason``, read on both sides).
REPLACED = N_("replaced by a request for another address")
WITHDRAWN = N_("withdrawn by the influencer")
NOTICE = "payout e-mail change notice"
# The refusals the influencer reads on the payout page (``Words``: the portal writes
# them in the page's language; the API and the dashboard in English).
SAME_ADDRESS = N_("This is your payout e-mail already.")
BUSY = N_("Another change is being saved; try again in a moment.")
AT_ONCE = N_("Another request was made at the same moment; reload the page to see it.")
CLOSED = {
    "confirmed": N_("This request is closed: it was confirmed already."),
    "declined": N_("This request is closed: it was declined."),
    "withdrawn": N_(
        "This request is closed: the influencer withdrew it or asked for another address."
    ),
}


def _same(a: str | None, b: str | None) -> bool:
    return (a or "").strip().lower() == (b or "").strip().lower()


def open_request(
    session: Session, influencer_id: str, *, lock: bool = False
) -> PayoutChangeRequest | None:
    """The influencer's open request; ``lock``: locked FOR UPDATE (read afresh), so that
    a brand's confirm or decline committed meanwhile is seen, never overwritten."""
    stmt = select(PayoutChangeRequest).where(
        PayoutChangeRequest.influencer_id == influencer_id,
        PayoutChangeRequest.status == "requested",
    )
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return session.scalar(stmt)


def history(session: Session, influencer_id: str, count: int = 20) -> list[PayoutChangeRequest]:
    """The influencer's latest ``count`` requests, newest first (both sides' pages)."""
    return list(
        session.scalars(
            select(PayoutChangeRequest)
            .where(PayoutChangeRequest.influencer_id == influencer_id)
            .order_by(PayoutChangeRequest.id.desc())
            .limit(count)
        )
    )


def list_requests(
    session: Session, influencer_id: str, cursor: str | None, limit: int = DEFAULT_LIMIT
) -> Page[PayoutChangeRequest]:
    """An influencer's requests, oldest first (ids sort by time), paged (the API)."""
    stmt = select(PayoutChangeRequest).where(PayoutChangeRequest.influencer_id == influencer_id)
    return paginate(session, stmt, PayoutChangeRequest.id, cursor, limit)


def _close(row: PayoutChangeRequest, status: str, actor: str, reason: str | None) -> None:
    row.status = status
    row.decided_at = clock.now_utc()
    row.decided_by = actor
    row.reason = reason


@dataclass(frozen=True)
class Requested:
    """The open request, and whether this call made it (False: it was open already)."""

    request: PayoutChangeRequest
    made: bool


def request_change(session: Session, influencer_id: str, email: str, actor: str) -> Requested:
    """Ask for the payout e-mail of ``influencer_id`` to become ``email`` (already a
    valid address). The address it is now is refused (422); the address of the open
    request is that request again; another address withdraws the open request. The
    caller commits."""
    _lock(session, influencer_id)
    influencer = get_influencer(session, influencer_id)
    email = email.strip()
    if _same(email, influencer.payout_email):
        raise InvalidInput(
            "the address is the payout e-mail already",
            fields={"email": [SAME_ADDRESS]},
        )
    current = open_request(session, influencer_id, lock=True)
    if current is not None and _same(current.email, email):
        return Requested(current, made=False)
    if current is not None:
        _close(current, "withdrawn", actor, REPLACED)
        session.flush()
    row = PayoutChangeRequest(
        influencer_id=influencer_id,
        email=email,
        status="requested",
        requested_at=clock.now_utc(),
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError:  # another request was opened at the same moment
        session.rollback()
        raise Conflict(AT_ONCE, code="busy") from None
    return Requested(row, made=True)


def _lock(session: Session, influencer_id: str) -> None:
    """One change of an influencer's payout requests at a time (asking, withdrawing,
    confirming, declining)."""
    if not advisory_lock(session, f"afftrack:payout-request:{influencer_id}"):
        raise Conflict(BUSY, code="busy")


def _of(session: Session, request_id: str, influencer_id: str | None) -> PayoutChangeRequest:
    """The request, locked (with its influencer's lock taken first, as ``request_change``
    takes it)."""
    owner = session.scalar(
        select(PayoutChangeRequest.influencer_id).where(PayoutChangeRequest.id == request_id)
    )
    if owner is None or (influencer_id is not None and owner != influencer_id):
        raise NotFound(f"no payout e-mail request {request_id!r}")
    _lock(session, owner)
    row = session.scalar(
        select(PayoutChangeRequest)
        .where(PayoutChangeRequest.id == request_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if row is None or (influencer_id is not None and row.influencer_id != influencer_id):
        raise NotFound(f"no payout e-mail request {request_id!r}")
    return row


def _refuse_closed(row: PayoutChangeRequest) -> None:
    raise Conflict(CLOSED[row.status], code=f"request_{row.status}")


def reason_words(reason: str | None) -> str | None:
    """A closed request's ``reason`` as the influencer reads it: ours as ``Words`` (the
    row holds their English), the brand's own as written."""
    ours: dict[str, Words] = {REPLACED: REPLACED, WITHDRAWN: WITHDRAWN}
    return ours.get(reason, reason) if reason is not None else None


def withdraw(
    session: Session, influencer_id: str, request_id: str, actor: str
) -> PayoutChangeRequest:
    """The influencer takes back their open request (again: no change). The caller
    commits."""
    row = _of(session, request_id, influencer_id)
    if row.status == "withdrawn":
        return row
    if row.status != "requested":
        _refuse_closed(row)
    _close(row, "withdrawn", actor, WITHDRAWN)
    session.flush()
    return row


def confirm(
    session: Session, request_id: str, actor: str, influencer_id: str | None = None
) -> PayoutChangeRequest:
    """The brand confirms: the influencer's payout e-mail becomes the address asked for.
    Confirming again changes nothing; a closed request is refused (409). The caller
    commits."""
    row = _of(session, request_id, influencer_id)
    if row.status == "confirmed":
        return row
    if row.status != "requested":
        _refuse_closed(row)
    influencer = get_influencer(session, row.influencer_id)
    change_influencer(session, influencer, {"payout_email": row.email})
    _close(row, "confirmed", actor, None)
    session.flush()
    return row


def decline(
    session: Session, request_id: str, reason: str, actor: str, influencer_id: str | None = None
) -> PayoutChangeRequest:
    """The brand declines, saying why; the payout e-mail stays. Declining again changes
    nothing; a closed request is refused (409). The caller commits."""
    row = _of(session, request_id, influencer_id)
    if row.status == "declined":
        return row
    if row.status != "requested":
        _refuse_closed(row)
    _close(row, "declined", actor, reason)
    session.flush()
    return row


# the notice --------------------------------------------------------------------------


def notice_addresses(influencer: Influencer) -> list[str]:
    """Where the notice of a request goes: the payout e-mail on file and the contact
    e-mail, each once (never the address asked for)."""
    found: list[str] = []
    for address in (influencer.payout_email, influencer.email):
        if address and not any(_same(address, a) for a in found):
            found.append(address)
    return found


def notice(influencer: Influencer, row: PayoutChangeRequest, to: str, lang: str) -> Message:
    """The notice of a request, in ``lang`` (``access.language_of``)."""
    _ = language.translations(lang).gettext
    return Message(
        to=to,
        subject=_("A change of your payout e-mail was requested"),
        body=(
            _("Hello %(name)s,") % {"name": influencer.name}
            + "\n\n"
            + _(
                "Someone signed in to your partner portal asked for your payouts to go to "
                "%(email)s from now on."
            )
            % {"email": row.email}
            + "\n\n"
            + _(
                "Nothing changes until the brand confirms it. If this was you, there is "
                "nothing to do. If it was not, tell the brand at once: they will decline the "
                "request and can end every portal session of yours."
            )
            + "\n"
        ),
    )


@dataclass(frozen=True)
class Notified:
    """To whom the notice went, and the failures in words."""

    sent: list[str]
    failed: list[str]


def mail_notice(db: Database, settings: Settings, request_id: str) -> Notified:
    """Mail the notice of request ``request_id`` to the influencer's addresses on file
    when mail is set up, and record each mail in the portal's record. Run after the
    request is committed: a mail that fails loses no request."""
    if not settings.smtp_url or not settings.mail_from:
        return Notified([], [])
    with db.read_session() as s:
        row = s.get(PayoutChangeRequest, request_id)
        if row is None:
            return Notified([], [])
        influencer = get_influencer(s, row.influencer_id)
        lang = language_of(s, influencer.id)
        messages = [notice(influencer, row, to, lang) for to in notice_addresses(influencer)]
        influencer_id = influencer.id
    sent, failed = [], []
    for message in messages:
        try:
            mail.send(settings.smtp_url, settings.mail_from, message)
        except mail.MailError as exc:
            failed.append(str(exc))
            kind, reason = "mail_failed", f"{NOTICE}: {exc}"
        else:
            sent.append(message.to)
            kind, reason = "mailed", NOTICE
        with db.session() as s:
            record(
                s,
                kind,
                influencer_id=influencer_id,
                actor=INFLUENCER,
                address_hash=None,
                reason=reason,
            )
    return Notified(sent, failed)
