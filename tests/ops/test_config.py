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
            "AFFTRACK_HASHIDS_SALT": "a-salt-of-this-test",
            "AFFTRACK_IP_HASH_KEY": "a-key-of-this-test",
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
        {"DATABASE_URL": "postgresql://db/x", "AFFTRACK_HASHIDS_SALT": "a-salt-of-this-test"},
        {"DATABASE_URL": "mysql://db/x"},
    ],
)
def test_bad_settings_refuse_to_start(env):
    with pytest.raises(ConfigError):
        from_env(env)


def test_redacted_hides_secrets():
    settings = from_env(
        {
            "DATABASE_URL": "postgresql://user:hunter2@db/x",
            "AFFTRACK_HASHIDS_SALT": "salty-salt",
            "AFFTRACK_IP_HASH_KEY": "key-of-keys",
            "AFFTRACK_WEBHOOK_SECRET": "whsec",
        }
    )
    text = repr(settings.redacted())
    for secret in ("hunter2", "salty-salt", "key-of-keys", "whsec"):
        assert secret not in text


def test_missing_weak_or_placeholder_secrets_are_named_together_with_how_to_make_them():
    postgres = {"DATABASE_URL": "postgresql://db/x"}
    with pytest.raises(ConfigError) as missing:
        from_env(postgres)
    assert "AFFTRACK_HASHIDS_SALT is not set; AFFTRACK_IP_HASH_KEY is not set" in str(missing.value)
    assert "secrets.token_urlsafe(32)" in str(missing.value)
    with pytest.raises(ConfigError) as weak:
        from_env(
            {
                **postgres,
                "AFFTRACK_HASHIDS_SALT": "x",
                "AFFTRACK_IP_HASH_KEY": "CHANGE-ME-random-key",
            }
        )
    assert "AFFTRACK_HASHIDS_SALT is shorter than 8 characters" in str(weak.value)
    assert "AFFTRACK_IP_HASH_KEY is still the example's placeholder" in str(weak.value)


def test_a_database_url_of_another_kind_is_refused_in_a_sentence():
    with pytest.raises(ConfigError, match="must be a postgresql:// or sqlite:/// URL, not mysql:"):
        from_env({"DATABASE_URL": "mysql://db/x"})
