"""Per-request access to the app's services: the database session, settings, Redis."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import current_app, g
from sqlalchemy.orm import Session

from service.db import act_as

if TYPE_CHECKING:
    from service.app import Services
    from service.config import Settings


def services() -> Services:
    svc: Services = current_app.extensions["afftrack"]
    return svc


def settings() -> Settings:
    return services().settings


def session() -> Session:
    """The request's session; committed by the view, closed at teardown."""
    if "db_session" not in g:
        g.db_session = services().db.sessions()
        # Whose changes these are (the audit trail): the key the request was made with.
        act_as(g.db_session, g.get("actor"))
    s: Session = g.db_session
    return s


def close_session(_exc: BaseException | None = None) -> None:
    s = g.pop("db_session", None)
    if s is not None:
        s.close()
