"""The language of the portal's pages: Flask-Babel with a locale selector, reading the
catalogues under ``translations/`` (docs/portal.md "Languages")."""

from __future__ import annotations

from flask import Flask, request
from flask_babel import Babel

from service.portal.language import CATALOGUES, DEFAULT, SUPPORTED

__all__ = ["COOKIE", "DEFAULT", "SUPPORTED", "init_app", "select_locale"]
COOKIE = "afftrack_lang"


def select_locale() -> str:
    """The ``afftrack_lang`` cookie when it names a supported language, else the best
    match of the browser's Accept-Language, else English."""
    chosen = request.cookies.get(COOKIE, "").strip().lower()
    if chosen in SUPPORTED:
        return chosen
    return request.accept_languages.best_match(SUPPORTED) or DEFAULT


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(CATALOGUES))
    Babel(app, locale_selector=select_locale)
