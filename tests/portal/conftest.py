"""Apps of the portal's tests that mail through the loopback SMTP server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from service.app import create_app
from service.migrate import upgrade
from tests.support.app import Api, make_settings
from tests.support.mail import Inbox


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
