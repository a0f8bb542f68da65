"""Who clicked, without storing who: the client address and its keyed hash."""

from __future__ import annotations

import hashlib
import hmac


def client_address(remote_addr: str | None, forwarded_for: str | None, trusted_proxies: int) -> str:
    """The client address, believing only ``trusted_proxies`` hops of X-Forwarded-For."""
    if trusted_proxies <= 0 or not forwarded_for:
        return remote_addr or ""
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    if not hops:
        return remote_addr or ""
    # The last proxy appended the address it saw; with N trusted proxies the client
    # is the Nth entry from the right (or the leftmost, if the chain is shorter).
    return hops[-trusted_proxies] if len(hops) >= trusted_proxies else hops[0]


def ip_hash(key: str, address: str) -> str:
    """A keyed hash of the address: equal for equal addresses, useless without the key."""
    return hmac.new(key.encode(), address.encode(), hashlib.sha256).hexdigest()[:32]


def visitor_key(ip_digest: str, user_agent: str) -> str:
    """What makes a repeat click: the same hashed IP and user agent."""
    return hashlib.sha256(f"{ip_digest}|{user_agent}".encode()).hexdigest()[:24]
