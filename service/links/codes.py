"""Short codes: salted hashids (min length 6) of a random number, or a vanity slug."""

from __future__ import annotations

import secrets

from hashids import Hashids

from service.vocabulary import VANITY_PATTERN, full

MIN_LENGTH = 6
VANITY_RE = full(VANITY_PATTERN)
# Paths under /r/ that must never be taken by a vanity slug.
RESERVED = frozenset({"api", "admin", "healthz", "readyz", "metrics", "static", "dashboard"})


class CodeMaker:
    def __init__(self, salt: str) -> None:
        self._hashids = Hashids(salt=salt, min_length=MIN_LENGTH)

    def new_code(self) -> str:
        # 40 random bits: unguessable enough to stop enumeration, short enough for a bio.
        code: str = self._hashids.encode(secrets.randbits(40))
        return code


def valid_vanity(slug: str) -> bool:
    return bool(VANITY_RE.match(slug)) and slug.lower() not in RESERVED
