"""Link-preview crawlers, bots and HTTP libraries: redirected, but never counted.

Each pattern carries a reason that is stored on the click. Humans in in-app browsers
(Instagram, TikTok, Facebook) are *not* bots: their user agents contain the app name
but not the crawler tokens below.
"""

from __future__ import annotations

import re
from functools import lru_cache

_PATTERNS: tuple[tuple[str, str], ...] = (
    (
        "facebook",
        r"facebookexternalhit|facebookcatalog|facebot|meta-externalagent|meta-externalfetcher",
    ),
    # Instagram's link previews come from facebookexternalhit; its in-app browser is human.
    ("instagram", r"ig_preview"),
    ("slack", r"slackbot|slack-imgproxy"),
    ("whatsapp", r"whatsapp/"),
    ("telegram", r"telegrambot"),  # before twitter: "TelegramBot (like TwitterBot)"
    ("twitter", r"twitterbot"),
    ("discord", r"discordbot"),
    ("linkedin", r"linkedinbot"),
    (
        "search_engine",
        r"googlebot|bingbot|yandex(bot|images)|duckduckbot|baiduspider|applebot"
        r"|petalbot|sogou|seznambot|google-inspectiontool|adsbot-google",
    ),
    (
        "preview",
        r"skypeuripreview|embedly|pinterestbot|redditbot|iframely|vkshare|tumblr"
        r"|snapchat.*preview|bitlybot|mastodon|viber",
    ),
    (
        "http_library",
        r"^(curl|wget|python-requests|python-urllib|python-httpx|aiohttp|"
        r"go-http-client|java/|java-http-client|apache-httpclient|okhttp|axios|node-fetch|"
        r"node$|undici|libwww-perl|php/|guzzlehttp|ruby|httpie|wrk|apachebench|ab/|"
        r"scrapy|postmanruntime|dart/|deno/|bun/)|\baiohttp/",
    ),
    # "AhrefsBot/7.0", "GPTBot/1.0", "(compatible; DotBot)", "a bot": not "CUBOT;" (a
    # phone maker in an in-app browser's user agent).
    (
        "generic_bot",
        r"bot/|\bbot\b|compatible;[^)]*bot"
        r"|\b(crawler|spider|crawl|scraper|headlesschrome|phantomjs)\b",
    ),
)
_COMPILED = tuple((reason, re.compile(pattern, re.IGNORECASE)) for reason, pattern in _PATTERNS)
# One pass that rejects the common case (a human) without trying each pattern in turn.
_ANY = re.compile("|".join(f"(?:{pattern})" for _, pattern in _PATTERNS), re.IGNORECASE)
_PREFETCH_TOKENS = frozenset(("prefetch", "prerender", "preview"))


def is_prefetch(*purposes: str | None) -> bool:
    """``Sec-Purpose: prefetch;prerender``, ``Purpose: prefetch``, ``X-Moz: prefetch``,
    ``X-Purpose: preview``: a browser or an app fetching ahead, not a person clicking."""
    for value in purposes:
        if value:
            for token in re.split(r"[;,\s]+", value.lower()):
                if token in _PREFETCH_TOKENS:
                    return True
    return False


@lru_cache(maxsize=4096)
def user_agent_reason(user_agent: str) -> str | None:
    """Why this user agent is a bot, or ``None`` (cached: user agents repeat a lot)."""
    if not user_agent.strip():
        return "empty_user_agent"
    if _ANY.search(user_agent) is None:
        return None
    for reason, pattern in _COMPILED:
        if pattern.search(user_agent):
            return reason
    return None  # pragma: no cover - _ANY matched, so one of the patterns does


def bot_reason(user_agent: str, *, method: str = "GET", purpose: str | None = None) -> str | None:
    """Why this request is a bot, or ``None`` for a human."""
    if method == "HEAD":
        return "head_request"
    if is_prefetch(purpose):
        return "prefetch"
    return user_agent_reason(user_agent)
