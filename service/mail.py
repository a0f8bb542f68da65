"""Outgoing mail: one plain-text message at a time over SMTP (stdlib smtplib).

``AFFTRACK_SMTP_URL`` says where and how (docs/portal.md):

* ``smtp://host:port`` — plain SMTP (port 25 unless given);
* ``smtp://host:587?starttls=true`` — upgraded with STARTTLS before logging in;
* ``smtps://host:465`` — TLS from the first byte (port 465 unless given);

with ``user:password@`` before the host when the server wants a login (percent-encode
``@`` or ``:`` in them). ``AFFTRACK_MAIL_FROM`` is the sender. Without a URL nothing is
mailed: callers show the text for copying instead.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import parse_qs, unquote, urlsplit

SCHEMES = {"smtp": 25, "smtps": 465}
TIMEOUT_SECONDS = 10.0
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


class MailError(Exception):
    """A message that was not handed to the server, with why in plain words."""


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    tls: bool  # smtps: TLS from the start
    starttls: bool
    user: str | None
    password: str | None


def parse_smtp_url(url: str) -> SmtpTarget:
    """The server ``url`` names; ValueError, in words, for one that names none."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ValueError("AFFTRACK_SMTP_URL must start with smtp:// or smtps://")
    if not parts.hostname:
        raise ValueError("AFFTRACK_SMTP_URL names no host (smtp://host:port)")
    try:
        port = parts.port or SCHEMES[parts.scheme]
    except ValueError:
        raise ValueError("AFFTRACK_SMTP_URL has a port that is not a number") from None
    query = parse_qs(parts.query)
    unknown = set(query) - {"starttls"}
    if unknown:
        raise ValueError(f"AFFTRACK_SMTP_URL takes only ?starttls=true, not {sorted(unknown)}")
    flag = (query.get("starttls") or ["false"])[-1].lower()
    if flag not in _TRUE | _FALSE:
        raise ValueError("AFFTRACK_SMTP_URL's starttls must be true or false")
    starttls = flag in _TRUE
    if starttls and parts.scheme == "smtps":
        raise ValueError("AFFTRACK_SMTP_URL: smtps:// is TLS already; starttls is for smtp://")
    return SmtpTarget(
        host=parts.hostname,
        port=port,
        tls=parts.scheme == "smtps",
        starttls=starttls,
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


@dataclass(frozen=True)
class Message:
    to: str
    subject: str
    body: str


def send(url: str, sender: str, message: Message) -> None:
    """Hand ``message`` to the server at ``url``; MailError when it is not taken."""
    target = parse_smtp_url(url)
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = message.to
    mail["Subject"] = message.subject
    mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    mail.set_content(message.body)
    try:
        smtp: smtplib.SMTP
        if target.tls:
            smtp = smtplib.SMTP_SSL(
                target.host,
                target.port,
                timeout=TIMEOUT_SECONDS,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(target.host, target.port, timeout=TIMEOUT_SECONDS)
        with smtp:
            if target.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if target.user:
                smtp.login(target.user, target.password or "")
            smtp.send_message(mail)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(_why(exc)) from exc


def _why(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return "the mail server refused the login"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "the mail server refused the address"
    if isinstance(exc, smtplib.SMTPException):
        return f"the mail server refused the message ({type(exc).__name__})"
    if isinstance(exc, TimeoutError):
        return "the mail server did not answer in time"
    return f"the mail server could not be reached ({type(exc).__name__})"
