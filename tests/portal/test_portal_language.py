"""The language a portal page is written in: the afftrack_lang cookie, else the
browser's Accept-Language, else English."""

from __future__ import annotations

from flask import Flask


def _lang(app: Flask, cookie: str | None = None, accept: str | None = None) -> str:
    client = app.test_client()
    if cookie is not None:
        client.set_cookie("afftrack_lang", cookie, path="/")
    headers = {"Accept-Language": accept} if accept else {}
    html = client.get("/portal/new-link", headers=headers).text
    return html.split('<html lang="', 1)[1].split('"', 1)[0]


def test_the_cookie_wins_then_the_browsers_languages_then_english(sqlite_app: Flask) -> None:
    assert _lang(sqlite_app) == "en"
    assert _lang(sqlite_app, accept="de-DE, fr;q=0.8, sv;q=0.5") == "fr"
    assert _lang(sqlite_app, accept="de-DE") == "en"
    assert _lang(sqlite_app, cookie="sv", accept="fr") == "sv"
    assert _lang(sqlite_app, cookie="xx", accept="fr") == "fr"
