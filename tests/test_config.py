"""Settings come from the environment and are validated at start-up."""

from __future__ import annotations

import pytest

from service.config import ConfigError, from_env


def test_defaults_are_the_embedded_sqlite():
    settings = from_env({})
    assert settings.is_sqlite and settings.redis_url is None
    assert settings.click_param == "aff_click" and settings.trusted_proxies == 0


def test_postgres_url_uses_psycopg3():
    settings = from_env(
        {
            "DATABASE_URL": "postgres://u:p@db/x",
            "AFFTRACK_HASHIDS_SALT": "s",
            "AFFTRACK_IP_HASH_KEY": "k",
        }
    )
    assert settings.database_url == "postgresql+psycopg://u:p@db/x"


@pytest.mark.parametrize(
    "env",
    [
        {"AFFTRACK_TRUSTED_PROXIES": "two"},
        {"AFFTRACK_TRUSTED_PROXIES": "-1"},
        {"AFFTRACK_TIMEZONE": "Mars/Base"},
        {"AFFTRACK_CLICK_PARAM": "a b"},
        {"AFFTRACK_PUBLIC_URL": "ftp://x"},
        {"AFFTRACK_LOG_LEVEL": "loud"},
        # the public development salt and key are refused with a real database
        {"DATABASE_URL": "postgresql://db/x"},
        {"DATABASE_URL": "postgresql://db/x", "AFFTRACK_HASHIDS_SALT": "s"},
    ],
)
def test_bad_settings_refuse_to_start(env):
    with pytest.raises(ConfigError):
        from_env(env)


def test_redacted_hides_secrets():
    settings = from_env(
        {
            "DATABASE_URL": "postgresql://user:hunter2@db/x",
            "AFFTRACK_HASHIDS_SALT": "salty",
            "AFFTRACK_IP_HASH_KEY": "keyy",
            "AFFTRACK_WEBHOOK_SECRET": "whsec",
        }
    )
    text = repr(settings.redacted())
    for secret in ("hunter2", "salty", "keyy", "whsec"):
        assert secret not in text
