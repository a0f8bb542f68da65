"""Settings from the environment (docs/product.md §9), validated once at start-up."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from service.mail import parse_smtp_url

FSYNC_POLICIES = ("always", "never")  # service/spool.py says what each keeps


class ConfigError(ValueError):
    """A setting that afftrack cannot start with."""


DEFAULT_SQLITE_FILE = "afftrack.db"
# Where `afftrack serve` listens unless told otherwise (--host, --port), and so the
# public base of short URLs unless AFFTRACK_PUBLIC_URL says another.
SERVE_HOST = "127.0.0.1"
SERVE_PORT = 8000
DEFAULT_PUBLIC_URL = f"http://{SERVE_HOST}:{SERVE_PORT}"
DATABASE_SCHEMES = ("sqlite:", "postgresql:", "postgresql+psycopg:")
MIN_SECRET_LENGTH = 8
# Fine for the embedded demo; refused with a real database (see Settings.__post_init__).
# How long a portal sign-in link and a portal session may be made to last at most.
MAX_INVITE_DAYS = 90
MAX_SESSION_HOURS = 24 * 30
DEV_DEFAULTS = {"hashids_salt": "afftrack-dev-salt", "ip_hash_key": "afftrack-dev-ip-key"}


@dataclass(frozen=True)
class Settings:
    database_url: str = field(
        default_factory=lambda: f"sqlite:///{Path.cwd() / DEFAULT_SQLITE_FILE}"
    )
    redis_url: str | None = None
    public_url: str = DEFAULT_PUBLIC_URL
    hashids_salt: str = "afftrack-dev-salt"
    ip_hash_key: str = "afftrack-dev-ip-key"
    click_param: str = "aff_click"
    shopify_secret: str | None = None
    woocommerce_secret: str | None = None
    stripe_secret: str | None = None
    webhook_secret: str | None = None
    timezone: str = "UTC"
    trusted_proxies: int = 0
    # Signs the dashboard's session cookie; derived from ip_hash_key when not set.
    secret_key: str | None = None
    # Operational knobs (in docs/product.md §9 too).
    click_stream: str = "afftrack:clicks"
    log_level: str = "INFO"
    # Where clicks and webhook deliveries wait when neither Redis nor the database takes
    # them (service/spool.py); None: the default below.
    spool_dir: str | None = None
    spool_fsync: str = "always"
    # The influencer portal (docs/portal.md): where invitations are mailed from and how
    # long a sign-in link and a portal session last.
    smtp_url: str | None = None
    mail_from: str | None = None
    portal_invite_days: int = 7
    portal_session_hours: int = 12

    def __post_init__(self) -> None:
        if self.trusted_proxies < 0:
            raise ConfigError("AFFTRACK_TRUSTED_PROXIES must be 0 or more")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"AFFTRACK_TIMEZONE {self.timezone!r} is not a known zone") from None
        if not self.click_param or not self.click_param.replace("_", "").isalnum():
            raise ConfigError("AFFTRACK_CLICK_PARAM must be a simple query parameter name")
        if not self.public_url.startswith(("http://", "https://")):
            raise ConfigError("AFFTRACK_PUBLIC_URL must be an http(s) URL")
        if self.log_level.upper() not in logging.getLevelNamesMapping():
            raise ConfigError(
                f"AFFTRACK_LOG_LEVEL {self.log_level!r} is not a level "
                "(DEBUG, INFO, WARNING, ERROR or CRITICAL)"
            )
        if self.spool_fsync not in FSYNC_POLICIES:
            raise ConfigError(
                f"AFFTRACK_SPOOL_FSYNC must be {' or '.join(FSYNC_POLICIES)}, "
                f"not {self.spool_fsync!r}"
            )
        object.__setattr__(self, "public_url", self.public_url.rstrip("/"))
        self._check_portal()
        if not self.database_url.startswith(DATABASE_SCHEMES):
            scheme = self.database_url.partition(":")[0]
            raise ConfigError(
                f"DATABASE_URL must be a postgresql:// or sqlite:/// URL, not {scheme}:"
            )
        if not self.is_sqlite:
            self._check_secrets()

    def _check_portal(self) -> None:
        if not 1 <= self.portal_invite_days <= MAX_INVITE_DAYS:
            raise ConfigError(
                f"AFFTRACK_PORTAL_INVITE_DAYS must be 1 to {MAX_INVITE_DAYS} (days a sign-in "
                "link stays valid)"
            )
        if not 1 <= self.portal_session_hours <= MAX_SESSION_HOURS:
            raise ConfigError(
                f"AFFTRACK_PORTAL_SESSION_HOURS must be 1 to {MAX_SESSION_HOURS} (hours a "
                "portal session lasts)"
            )
        if self.smtp_url:
            try:
                parse_smtp_url(self.smtp_url)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
            if not self.mail_from or "@" not in self.mail_from:
                raise ConfigError(
                    "AFFTRACK_SMTP_URL is set, so AFFTRACK_MAIL_FROM must be the sender's "
                    "address (such as afftrack@brand.example)"
                )

    @property
    def mails(self) -> bool:
        """Whether afftrack sends mail (``AFFTRACK_SMTP_URL`` is set)."""
        return bool(self.smtp_url)

    def _check_secrets(self) -> None:
        """The development defaults are public; a real deployment sets its own, all named
        in one message, with how to make one."""
        wrong = []
        for name, var in (
            ("hashids_salt", "AFFTRACK_HASHIDS_SALT"),
            ("ip_hash_key", "AFFTRACK_IP_HASH_KEY"),
        ):
            value = getattr(self, name)
            if value == DEV_DEFAULTS[name]:
                wrong.append(f"{var} is not set")
            elif value.upper().startswith("CHANGE-ME"):
                wrong.append(f"{var} is still the example's placeholder")
            elif len(value) < MIN_SECRET_LENGTH:
                wrong.append(f"{var} is shorter than {MIN_SECRET_LENGTH} characters")
        if wrong:
            raise ConfigError(
                f"with a database other than SQLite afftrack needs secrets of its own: "
                f"{'; '.join(wrong)}. Make each a random string, for example with "
                '`python3 -c "import secrets; print(secrets.token_urlsafe(32))"`, and '
                "never change AFFTRACK_HASHIDS_SALT once links are published (it makes "
                "the link codes)"
            )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def session_secret(self) -> str:
        """The key the dashboard's session cookie is signed with: ``AFFTRACK_SECRET_KEY``,
        else one derived from ``AFFTRACK_IP_HASH_KEY`` (itself required outside SQLite),
        so every worker of a deployment signs alike without one more setting."""
        if self.secret_key:
            return self.secret_key
        return hmac.new(
            self.ip_hash_key.encode(), b"afftrack dashboard sessions", hashlib.sha256
        ).hexdigest()

    @property
    def spool_path(self) -> Path:
        """``AFFTRACK_SPOOL_DIR``, else ``$XDG_STATE_HOME/afftrack/spool`` (by default
        ``~/.local/state/afftrack/spool``): per machine, never the working directory."""
        if self.spool_dir:
            return Path(self.spool_dir)
        state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        return Path(state) / "afftrack" / "spool"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def webhook_secret_for(self, source: str) -> str | None:
        return {
            "shopify": self.shopify_secret,
            "woocommerce": self.woocommerce_secret,
            "stripe": self.stripe_secret,
            "generic": self.webhook_secret,
        }.get(source)

    def redacted(self) -> dict[str, object]:
        """The settings with every secret replaced, fit for a log line."""
        out: dict[str, object] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith(("secret", "salt", "key")) and value:
                value = "***"
            elif f.name.endswith("_url") and isinstance(value, str) and "@" in value:
                scheme, _, rest = value.partition("://")
                value = f"{scheme}://***@{rest.rpartition('@')[2]}"
            out[f.name] = value
        return out


_ENV = {
    "database_url": "DATABASE_URL",
    "redis_url": "REDIS_URL",
    "public_url": "AFFTRACK_PUBLIC_URL",
    "hashids_salt": "AFFTRACK_HASHIDS_SALT",
    "ip_hash_key": "AFFTRACK_IP_HASH_KEY",
    "click_param": "AFFTRACK_CLICK_PARAM",
    "shopify_secret": "AFFTRACK_SHOPIFY_SECRET",
    "woocommerce_secret": "AFFTRACK_WOOCOMMERCE_SECRET",
    "stripe_secret": "AFFTRACK_STRIPE_SECRET",
    "webhook_secret": "AFFTRACK_WEBHOOK_SECRET",
    "timezone": "AFFTRACK_TIMEZONE",
    "trusted_proxies": "AFFTRACK_TRUSTED_PROXIES",
    "secret_key": "AFFTRACK_SECRET_KEY",
    "click_stream": "AFFTRACK_CLICK_STREAM",
    "log_level": "AFFTRACK_LOG_LEVEL",
    "spool_dir": "AFFTRACK_SPOOL_DIR",
    "spool_fsync": "AFFTRACK_SPOOL_FSYNC",
    "smtp_url": "AFFTRACK_SMTP_URL",
    "mail_from": "AFFTRACK_MAIL_FROM",
    "portal_invite_days": "AFFTRACK_PORTAL_INVITE_DAYS",
    "portal_session_hours": "AFFTRACK_PORTAL_SESSION_HOURS",
}
_WHOLE_NUMBERS = ("trusted_proxies", "portal_invite_days", "portal_session_hours")


def from_env(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Read settings from ``environ`` (default ``os.environ``); ``overrides`` win."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for name, var in _ENV.items():
        raw = env.get(var)
        if raw is None or raw == "":
            continue
        if name in _WHOLE_NUMBERS:
            try:
                values[name] = int(raw)
            except ValueError:
                raise ConfigError(f"{var} must be a whole number") from None
        else:
            values[name] = raw
    values.update(overrides)
    url = values.get("database_url")
    if isinstance(url, str):
        # psycopg 3 is the driver afftrack ships with.
        for plain in ("postgresql://", "postgres://"):
            if url.startswith(plain):
                values["database_url"] = "postgresql+psycopg://" + url[len(plain) :]
    # values were checked field by field above; mypy sees only dict[str, object].
    return Settings(**values)  # type: ignore[arg-type]
