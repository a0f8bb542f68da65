"""Destination checks (no open redirect) and the tracked URL the redirect sends to."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import quote, unquote_plus, urlencode, urlsplit, urlunsplit

from service.schemas import unsafe_url_chars


def destination_error(url: str, allowed_domains: Iterable[str]) -> str | None:
    """Why ``url`` may not be a destination, or ``None`` if it may.

    It must be http(s), carry no credentials, and its host must be one of the
    campaign's allowed domains or a subdomain of one.
    """
    if unsafe_url_chars(url):
        return "must not contain backslashes, spaces or control characters"
    # Judge the URL the browser will get (what the redirect sends, see ascii_url): IDNA
    # maps look-alikes such as U+FF3C to a plain backslash, which a browser would read
    # as the end of the host.
    try:
        url = ascii_url(url)
    except (UnicodeError, ValueError):
        return "not a valid URL"
    if unsafe_url_chars(url):
        return "must not contain backslashes, spaces or control characters"
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return "not a valid URL"
    if parts.scheme not in ("http", "https"):
        return "must be an http or https URL"
    if not host:
        return "must have a host"
    if parts.username or parts.password:
        return "must not carry credentials"
    for domain in allowed_domains:
        domain = domain.lower()
        if host == domain or host.endswith("." + domain):
            return None
    return f"host {host!r} is not one of the campaign's allowed domains"


def merge_query(url: str, ours: Mapping[str, str]) -> str:
    """``url`` with ``ours`` merged into its query: existing parameters are kept
    byte for byte (``?flag``, odd escapes and all), ours win on conflict."""
    parts = urlsplit(url)
    kept = [
        piece
        for piece in parts.query.split("&")
        if piece and unquote_plus(piece.partition("=")[0]) not in ours
    ]
    query = "&".join([*kept, urlencode(list(ours.items()))]) if ours else "&".join(kept)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def tracked(
    destination: str,
    *,
    platform: str,
    medium: str,
    campaign_slug: str,
    influencer_handle: str,
    extra: Mapping[str, str] | None = None,
) -> str:
    """The destination with the link's UTM parameters (and ``extra``) merged in."""
    ours = utm_params(
        platform=platform,
        medium=medium,
        campaign_slug=campaign_slug,
        influencer_handle=influencer_handle,
    )
    return merge_query(destination, {**ours, **(extra or {})})


def utm_params(
    *, platform: str, medium: str, campaign_slug: str, influencer_handle: str
) -> dict[str, str]:
    return {
        "utm_source": platform,
        "utm_medium": medium,
        "utm_campaign": campaign_slug,
        "utm_content": influencer_handle,
    }


# Every printable ASCII character but the space: quote() then only touches non-ASCII
# (and spaces), and existing %-escapes stay as they are.
_PRINTABLE = "".join(chr(c) for c in range(0x21, 0x7F))


def ascii_url(url: str) -> str:
    """``url`` as an HTTP header can carry it: an internationalised host in IDNA form,
    non-ASCII characters elsewhere percent-encoded as UTF-8."""
    if url.isascii():
        return url
    parts = urlsplit(url)
    netloc = parts.netloc
    if not netloc.isascii():
        host = (parts.hostname or "").encode("idna").decode("ascii")
        netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit(
        (
            parts.scheme,
            netloc,
            quote(parts.path, safe=_PRINTABLE),
            quote(parts.query, safe=_PRINTABLE),
            quote(parts.fragment, safe=_PRINTABLE),
        )
    )
