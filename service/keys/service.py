"""API keys: created by the CLI, stored as a SHA-256 hash, each with a scope."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from service import clock
from service.errors import InvalidInput, NotFound
from service.keys.models import ApiKey

SCOPES = ("read", "write")
TOKEN_PREFIX = "aft_"  # noqa: S105 - a public marker, not a secret


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_key(session: Session, name: str, scope: str) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the secret token (shown once, never stored)."""
    if scope not in SCOPES:
        raise InvalidInput(f"scope must be one of {', '.join(SCOPES)}", fields={"scope": scope})
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("name must be 1 to 100 characters")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(name=name, scope=scope, prefix=token[:10], key_hash=hash_token(token))
    session.add(key)
    session.flush()
    return key, token


def authenticate(session: Session, token: str) -> ApiKey | None:
    """The live key for ``token``, or ``None``."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_token(token)))
    if key is None or key.revoked_at is not None:
        return None
    return key


def revoke_key(session: Session, key_id: str) -> ApiKey:
    """Mark a key revoked (once: a second call keeps the first time)."""
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"no API key {key_id!r}")
    if key.revoked_at is None:
        key.revoked_at = clock.now_utc()
    return key


def list_keys(session: Session) -> list[ApiKey]:
    """Every key, oldest first, revoked ones included (their secrets are not stored)."""
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)))


def allows(key: ApiKey, scope: str) -> bool:
    """``write`` keys may also read."""
    return key.scope == "write" or key.scope == scope
