"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, apps that mail
through it (``mailing_api``), and reading the sign-in link out of a mail."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from service.app import create_app
from service.migrate import upgrade
from tests.support.app import Api, make_settings
from tests.support.servers import free_port
from tests.support.waiting import wait_for

LINK = re.compile(r"https?://\S+/portal/sign-in/[A-Za-z0-9_-]{43}")


@dataclass
class Inbox:
    """Every message the server took: its envelope recipients and the parsed mail."""

    url: str
    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mail = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), mail))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def wait(self, count: int = 1, timeout: float = 10.0) -> list[EmailMessage]:
        wait_for(lambda: len(self.messages) >= count, timeout, f"{count} mail(s)")
        return [mail for _, mail in self.messages]


def link_in(mail: EmailMessage) -> str:
    body = mail.get_body(("plain",))
    assert body is not None
    found = LINK.search(body.get_content())
    assert found, "no sign-in link in the mail"
    return found.group(0)


def path_of(url: str) -> str:
    """The link's path, for the test client (the host is the tests' public URL)."""
    return "/portal/" + url.split("/portal/", 1)[1]


@pytest.fixture
def smtp_server() -> Iterator[Inbox]:
    """An SMTP server on 127.0.0.1; ``.url`` is its AFFTRACK_SMTP_URL."""
    port = free_port()
    inbox = Inbox(url=f"smtp://127.0.0.1:{port}")
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def mailing_api(
    backend: str,
    smtp_server: Inbox,
    build_pg_api: Callable[..., Api],
    tmp_path: Path,
    frozen: Any,
) -> Iterator[Api]:
    """``api`` on ``backend`` with AFFTRACK_SMTP_URL set to the loopback server."""
    mail = {"smtp_url": smtp_server.url, "mail_from": "afftrack@brand.example"}
    if backend == "pg":
        yield build_pg_api(**mail)
        return
    url = f"sqlite:///{tmp_path / 'mailing.db'}"
    upgrade(url)
    app = create_app(make_settings(url, **mail), TESTING=True)
    yield Api(app, app.test_client())
    app.extensions["afftrack"].db.dispose()
