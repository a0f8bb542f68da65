"""`afftrack portal invite` and `afftrack portal revoke`, and the mail settings."""

from __future__ import annotations

import pytest

from service.config import ConfigError, from_env
from tests.support.app import Api
from tests.support.mail import Inbox, link_in, path_of
from tests.support.portal import kinds, signed_in


def test_the_cli_prints_a_link_to_copy_and_it_signs_in(api: Api) -> None:
    anna = api.create_influencer("anna")
    result = api.app.test_cli_runner().invoke(args=["portal", "invite", "--handle", "anna"])
    assert result.exit_code == 0, result.output
    *head, link = result.output.strip().splitlines()
    assert "not mailed" in head[0]
    signed_in(api, path_of(link))
    assert kinds(api, anna["id"]) == ["invited", "signed_in"]
    first = api.get(f"/api/v1/influencers/{anna['id']}/portal-events").json["items"][0]
    assert first["actor"] == "cli"


def test_the_cli_mails_the_link_when_mail_is_set_up(mailing_api: Api, smtp_server: Inbox) -> None:
    mailing_api.create_influencer("anna")
    result = mailing_api.app.test_cli_runner().invoke(args=["portal", "invite", "--handle", "anna"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("mailed to anna@example.com")
    (mail,) = smtp_server.wait(1)
    assert link_in(mail) == result.output.strip().splitlines()[-1]


def test_the_cli_revokes_links_and_sessions(api: Api) -> None:
    api.create_influencer("anna")
    runner = api.app.test_cli_runner()
    link = runner.invoke(args=["portal", "invite", "--handle", "anna"]).output.split()[-1]
    signed_in(api, path_of(link))
    runner.invoke(args=["portal", "invite", "--handle", "anna"])
    result = runner.invoke(args=["portal", "revoke", "--handle", "anna"])
    assert result.exit_code == 0, result.output
    assert "1 sign-in link(s) and 1 portal session(s) ended" in result.output
    assert api.client.get("/portal/").status_code == 302


def test_the_cli_names_an_unknown_handle(api: Api) -> None:
    for command in ("invite", "revoke"):
        result = api.app.test_cli_runner().invoke(args=["portal", command, "--handle", "nobody"])
        assert result.exit_code == 1
        assert "no influencer has the handle 'nobody'" in result.output
    assert api.rows("portal_events") == 0


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"AFFTRACK_SMTP_URL": "http://mail.example"}, "smtp:// or smtps://"),
        ({"AFFTRACK_SMTP_URL": "smtp://"}, "names no host"),
        ({"AFFTRACK_SMTP_URL": "smtp://mail.example:25?tls=1"}, "only ?starttls=true"),
        ({"AFFTRACK_SMTP_URL": "smtps://mail.example?starttls=true"}, "TLS already"),
        ({"AFFTRACK_SMTP_URL": "smtp://mail.example"}, "AFFTRACK_MAIL_FROM"),
        ({"AFFTRACK_PORTAL_INVITE_DAYS": "0"}, "1 to 90"),
        ({"AFFTRACK_PORTAL_INVITE_DAYS": "a week"}, "whole number"),
        ({"AFFTRACK_PORTAL_SESSION_HOURS": "0"}, "AFFTRACK_PORTAL_SESSION_HOURS"),
    ],
)
def test_mail_and_portal_settings_are_checked_at_start(env: dict[str, str], words: str) -> None:
    with pytest.raises(ConfigError, match=None) as refused:
        from_env(env)
    assert words in str(refused.value)


def test_the_smtp_password_is_kept_out_of_the_log() -> None:
    settings = from_env(
        {
            "AFFTRACK_SMTP_URL": "smtp://mailer:s3cret@mail.example:587?starttls=true",
            "AFFTRACK_MAIL_FROM": "afftrack@brand.example",
        }
    )
    assert "s3cret" not in str(settings.redacted())
