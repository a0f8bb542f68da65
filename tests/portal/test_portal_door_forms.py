"""The portal's door as a browser meets it: Sign in pressed twice, the forms of a door
page while signed in, and the client address the record hashes behind a trusted proxy
(docs/portal.md)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import text

from service.portal import access
from tests.portal.story import db, settings
from tests.support.app import Api
from tests.support.dashboard_session import csrf, log_in
from tests.support.portal import COOKIE, invite, invite_path, kinds, session_cookie, signed_in


def test_sign_in_pressed_twice_signs_in_even_if_the_first_answer_was_lost(api: Api) -> None:
    anna = api.create_influencer("anna")
    path = invite_path(api, anna["id"])
    page = api.client.get(path)
    token = csrf(page.text)
    first = api.client.post(path, data={"csrf": token})
    assert first.status_code == 303
    # The browser dropped the first answer (and its cookie) for the second press.
    api.client.delete_cookie(COOKIE, path="/portal")
    second = api.client.post(path, data={"csrf": token})
    assert second.status_code == 303, second.text
    assert second.headers["Location"].endswith("/portal/")
    assert "Signed in as @anna" in api.client.get("/portal/").text
    assert kinds(api, anna["id"]) == ["invited", "signed_in", "signed_in"]
    # One browser, one session: the first one's session is ended.
    with db(api).engine.connect() as conn:
        open_sessions = conn.execute(
            text("SELECT count(*) FROM portal_sessions WHERE ended_at IS NULL")
        ).scalar_one()
    assert open_sessions == 1


def test_another_browser_with_a_used_link_is_refused_at_once(api: Api) -> None:
    anna = api.create_influencer("anna")
    path = invite_path(api, anna["id"])
    other = api.app.test_client()
    other_page = other.get(path)
    signed_in(api, path)
    pressed = other.post(path, data={"csrf": csrf(other_page.text)})
    assert pressed.status_code == 410
    assert "has been used already" in pressed.text


def test_a_second_press_a_minute_later_is_refused(api: Api, frozen: Any) -> None:
    anna = api.create_influencer("anna")
    path = invite_path(api, anna["id"])
    token = csrf(api.client.get(path).text)
    assert api.client.post(path, data={"csrf": token}).status_code == 303
    api.client.delete_cookie(COOKIE, path="/portal")
    frozen.advance(timedelta(seconds=access.REPEAT_SECONDS + 1))
    assert api.client.post(path, data={"csrf": token}).status_code == 410


def test_the_sign_in_button_is_disabled_once_pressed_by_the_pages_script(api: Api) -> None:
    anna = api.create_influencer("anna")
    page = api.client.get(invite_path(api, anna["id"])).text
    assert "data-once" in page
    assert 'src="/portal/static/portal.js"' in page
    script = api.client.get("/portal/static/portal.js", buffered=True)
    assert script.status_code == 200
    assert "form[data-once]" in script.text
    script.close()


def _sign_out_with(api: Api, html: str) -> Any:
    return api.client.post("/portal/sign-out", data={"csrf": csrf(html)})


def test_signed_in_the_door_pages_forms_carry_the_sessions_token(api: Api) -> None:
    anna = api.create_influencer("anna")
    signed_in(api, invite_path(api, anna["id"]))
    unused = invite_path(api, anna["id"])
    used = invite_path(api, anna["id"])
    other = api.app.test_client()
    other_page = other.get(used)
    assert other.post(used, data={"csrf": csrf(other_page.text)}).status_code == 303
    pages: list[Callable[[], Any]] = [
        lambda: api.client.get("/portal/new-link"),
        lambda: api.client.get(unused),
        lambda: api.client.get(used),  # the refused page (410)
    ]
    for open_page in pages:
        page = open_page()
        assert page.status_code in (200, 410)
        assert 'id="sign-out"' in page.text
        language = api.client.post(
            "/portal/language",
            data={"csrf": csrf(page.text), "lang": "sv", "next": "/portal/new-link"},
        )
        assert language.status_code == 303, language.text
    # The sign-in page's own form still works signed in, and so does Sign out.
    page = api.client.get(unused)
    assert api.client.post(unused, data={"csrf": csrf(page.text)}).status_code == 303
    page = api.client.get("/portal/new-link")
    assert _sign_out_with(api, page.text).status_code == 303
    assert api.client.get("/portal/").status_code == 302
    assert kinds(api, anna["id"])[-1] == "signed_out"


def test_the_record_hashes_the_address_a_trusted_proxy_names(
    build_pg_api: Callable[..., Api],
) -> None:
    api = build_pg_api(trusted_proxies=1)
    proxied = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "203.0.113.9"}
    anna = api.create_influencer("anna")
    sent = api.post(f"/api/v1/influencers/{anna['id']}/portal-invites", environ_base=proxied)
    assert sent.status_code == 201
    path = sent.json["sign_in_url"].split("go.example.test", 1)[1]
    page = api.client.get(path, environ_base=proxied)
    signed = api.client.post(path, data={"csrf": csrf(page.text)}, environ_base=proxied)
    assert signed.status_code == 303
    session_cookie(api)
    log_in(api, "write")
    board = api.client.get(f"/dashboard/influencers/{anna['id']}", environ_base=proxied)
    revoked = api.client.post(
        f"/dashboard/influencers/{anna['id']}/portal-access/revoke",
        data={"csrf": csrf(board.text)},
        environ_base=proxied,
    )
    assert revoked.status_code == 303
    invite(api, anna["id"])  # not through the proxy: the loopback address
    key = settings(api).ip_hash_key
    client, proxy = access.hash_address(key, "203.0.113.9"), access.hash_address(key, "10.0.0.2")
    with db(api).engine.connect() as conn:
        seen = conn.execute(text("SELECT kind, address_hash FROM portal_events ORDER BY id")).all()
    assert [tuple(r) for r in seen] == [
        ("invited", client),
        ("signed_in", client),
        ("revoked", client),
        ("invited", access.hash_address(key, "127.0.0.1")),
    ]
    assert proxy not in {h for _, h in seen}
