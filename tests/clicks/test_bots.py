"""Bot detection (service/clicks/bots.py) on the user agents vendors really send, and the
prefetch and bot clicks it produces through HTTP (docs/product.md §2 "Redirect": crawlers and
bots are redirected but never count).
"""

from __future__ import annotations

import pytest

from service.clicks.bots import bot_reason, is_prefetch, user_agent_reason
from tests.support.redirects import (
    click_id,
    stored_clicks,
    tracked_link,
    visit,
)
from tests.support.visitors import ANDROID_CHROME, IPHONE_SAFARI

# Link-preview crawlers, search engines and HTTP libraries, as their vendors publish them.
CRAWLERS: dict[str, tuple[str, str]] = {
    "facebookexternalhit": (
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "facebook",
    ),
    "Facebot": ("Facebot", "facebook"),
    "meta-externalagent": (
        "meta-externalagent/1.1 (+https://developers.facebook.com/docs/sharing/webmasters/crawler)",
        "facebook",
    ),
    # Instagram's DM and story previews are fetched by Meta's shared crawler.
    "instagram-preview": (
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "facebook",
    ),
    # iMessage's preview fetcher pretends to be all of them at once.
    "imessage-preview": (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_1) AppleWebKit/601.2.4 (KHTML, like "
        "Gecko) Version/9.0.1 Safari/601.2.4 facebookexternalhit/1.1 Facebot Twitterbot/1.0",
        "facebook",
    ),
    "Twitterbot": ("Twitterbot/1.0", "twitter"),
    "Slackbot-LinkExpanding": (
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "slack",
    ),
    "Slack-ImgProxy": ("Slack-ImgProxy (+https://api.slack.com/robots)", "slack"),
    "Slackbot": ("Slackbot 1.0 (+https://api.slack.com/robots)", "slack"),
    "WhatsApp-android": ("WhatsApp/2.23.20.0 A", "whatsapp"),
    "WhatsApp-ios": ("WhatsApp/2.23.20.79 i", "whatsapp"),
    "TelegramBot": ("TelegramBot (like TwitterBot)", "telegram"),
    "Discordbot": (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.10; rv:38.0) Gecko/20100101 Firefox/38.0 "
        "(compatible; Discordbot/2.0; +https://discordapp.com)",
        "discord",
    ),
    "LinkedInBot": (
        "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
        "linkedin",
    ),
    "Googlebot-desktop": (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Googlebot/2.1; "
        "+http://www.google.com/bot.html) Chrome/126.0.6478.126 Safari/537.36",
        "search_engine",
    ),
    "Googlebot-desktop-classic": (
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "search_engine",
    ),
    "Googlebot-smartphone": (
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/126.0.6478.126 Mobile Safari/537.36 "
        "(compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "search_engine",
    ),
    "bingbot": (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; "
        "+http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36",
        "search_engine",
    ),
    "YandexBot": (
        "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
        "search_engine",
    ),
    "DuckDuckBot": (
        "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)",
        "search_engine",
    ),
    "Baiduspider": (
        "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
        "search_engine",
    ),
    "Applebot": (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like "
        "Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
        "search_engine",
    ),
    "PetalBot": (
        "Mozilla/5.0 (Linux; Android 7.0;) AppleWebKit/537.36 (KHTML, like Gecko) Mobile "
        "Safari/537.36 (compatible; PetalBot;+https://webmaster.petalsearch.com/site/petalbot)",
        "search_engine",
    ),
    "curl": ("curl/8.8.0", "http_library"),
    "Wget": ("Wget/1.21.4", "http_library"),
    "python-requests": ("python-requests/2.32.3", "http_library"),
    "python-urllib": ("Python-urllib/3.12", "http_library"),
    "python-httpx": ("python-httpx/0.27.0", "http_library"),
    "Go-http-client": ("Go-http-client/1.1", "http_library"),
    "Go-http-client-h2": ("Go-http-client/2.0", "http_library"),
    "okhttp": ("okhttp/4.12.0", "http_library"),
    "axios": ("axios/1.7.2", "http_library"),
    "node-fetch": ("node-fetch/1.0 (+https://github.com/bitinn/node-fetch)", "http_library"),
    "undici": ("undici", "http_library"),
}

# Default user agents of HTTP clients that the classifier does not know.
MORE_HTTP_LIBRARIES = {
    "aiohttp": "Python/3.12 aiohttp/3.9.5",
    "java-http-client": "Java-http-client/17.0.11",
    "apache-httpclient": "Apache-HttpClient/4.5.14 (Java/17.0.11)",
    "node-builtin-fetch": "node",
    "scrapy": "Scrapy/2.11.2 (+https://scrapy.org)",
    "postman": "PostmanRuntime/7.39.0",
    "dart": "Dart/3.4 (dart:io)",
    "deno": "Deno/1.44.4",
    "bun": "Bun/1.1.17",
}

# People: in-app browsers of the platforms, and ordinary browsers.
PEOPLE = {
    "instagram-ios": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Mobile/15E148 Instagram 337.0.3.23.54 (iPhone15,2; iOS 17_5_1; "
        "en_US; en; scale=3.00; 1179x2556; 614430262; IABMV/1)"
    ),
    "instagram-android": (
        "Mozilla/5.0 (Linux; Android 14; SM-S918B Build/UP1A.231005.007; wv) "
        "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/125.0.6422.165 Mobile "
        "Safari/537.36 Instagram 335.0.0.39.93 Android (34/14; 480dpi; 1080x2340; samsung; "
        "SM-S918B; dm3q; qcom; en_GB; 609847063)"
    ),
    "tiktok-ios-musical_ly": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Mobile/15E148 musical_ly_34.1.0 JsSdk/2.0 NetType/WIFI "
        "Channel/App Store ByteLocale/en Region/US isDarkMode/0 WKWebView/1 "
        "RevealType/Dialog BytedanceWebview/d8a21c6"
    ),
    "tiktok-android-trill": (
        "Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230901.001; wv) "
        "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/116.0.5845.163 Mobile "
        "Safari/537.36 trill_310503 JsSdk/1.0 NetType/WIFI Channel/googleplay "
        "AppName/trill app_version/31.5.3 ByteLocale/en ByteFullLocale/en Region/DE "
        "Spark/1.4.0.3-bugfix AppVersion/31.5.3 BytedanceWebview/d8a21c6"
    ),
    "facebook-ios-FBAN": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/470.0.0.41.99;FBBV/617452395;"
        "FBDV/iPhone16,1;FBMD/iPhone;FBSN/iOS;FBSV/17.5;FBSS/3;FBID/phone;FBLC/de_DE;"
        "FBOP/5;FBRV/619034567]"
    ),
    "facebook-android-FB4A": (
        "Mozilla/5.0 (Linux; Android 14; SM-A546B Build/UP1A.231005.007; wv) "
        "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/125.0.6422.165 Mobile "
        "Safari/537.36 [FB_IAB/FB4A;FBAV/469.0.0.51.108;]"
    ),
    "messenger-ios": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Mobile/15E148 [FBAN/MessengerForiOS;FBAV/462.0.0.38.108;"
        "FBBV/613306224;FBDV/iPhone14,7;FBMD/iPhone;FBSN/iOS;FBSV/17.5;FBSS/3;FBCR/;"
        "FBID/phone;FBLC/en_US;FBOP/5]"
    ),
    "safari-ios": IPHONE_SAFARI,
    "chrome-android": ANDROID_CHROME,
    "chrome-android-reduced": (
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Mobile Safari/537.36"
    ),
    "chrome-desktop": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Safari/537.36"
    ),
    "firefox-desktop": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0"
    ),
    "firefox-android": "Mozilla/5.0 (Android 14; Mobile; rv:127.0) Gecko/127.0 Firefox/127.0",
    "duckduckgo-browser": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.5 Mobile/15E148 DuckDuckGo/7 Safari/605.1.15"
    ),
    "google-app-ios": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) GSA/320.0.645374899 Mobile/15E148 Safari/604.1"
    ),
}

# Instagram's Android user agent names the phone's maker; Cubot is one ("CUBOT"), and
# "bot" at the end of a word is the generic crawler pattern.
INSTAGRAM_ON_A_CUBOT = (
    "Mozilla/5.0 (Linux; Android 12; KINGKONG 7 Build/SP1A.210812.016; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.144 Mobile Safari/537.36 "
    "Instagram 312.1.0.34.111 Android (31/12; 480dpi; 1080x2408; CUBOT; KINGKONG 7; "
    "KINGKONG_7; mt6789; en_US; 548323757)"
)


# --- the classifier ------------------------------------------------------------------------


@pytest.mark.parametrize(("user_agent", "reason"), CRAWLERS.values(), ids=CRAWLERS.keys())
def test_crawlers_and_libraries_are_bots_with_their_reason(user_agent, reason):
    assert user_agent_reason(user_agent) == reason
    assert bot_reason(user_agent) == reason


@pytest.mark.parametrize("user_agent", MORE_HTTP_LIBRARIES.values(), ids=MORE_HTTP_LIBRARIES.keys())
def test_other_http_libraries_are_bots(user_agent):
    assert bot_reason(user_agent) == "http_library"


def test_meta_externalfetcher_is_a_bot():
    ua = "meta-externalfetcher/1.1 (+https://developers.facebook.com/docs/sharing/webmasters/crawler)"
    assert bot_reason(ua) == "facebook"


@pytest.mark.parametrize("user_agent", PEOPLE.values(), ids=PEOPLE.keys())
def test_people_are_not_bots(user_agent):
    assert user_agent_reason(user_agent) is None
    assert bot_reason(user_agent) is None


def test_instagram_on_a_cubot_phone_is_a_person():
    # "CUBOT;" (a phone maker) once matched "instagram.*bot" and a bare "bot\b".
    assert bot_reason(INSTAGRAM_ON_A_CUBOT) is None


def test_the_classifier_is_case_blind_and_finds_tokens_anywhere():
    assert bot_reason("FACEBOOKEXTERNALHIT/1.1") == "facebook"
    assert bot_reason("Mozilla/5.0 (compatible; TwitterBot/1.0)") == "twitter"
    assert bot_reason("CURL/8.0") == "http_library"
    # HTTP library names count only at the start: a person's UA may mention them.
    assert bot_reason("Mozilla/5.0 (X11; Linux x86_64) curl-fan/1.0 Firefox/127.0") is None


@pytest.mark.parametrize(
    ("purposes", "prefetch"),
    [
        (("prefetch",), True),
        (("prefetch;prerender",), True),
        (("prefetch;anonymous-client-ip",), True),
        (("Prefetch",), True),
        (("preview",), True),
        ((None, None, "preview"), True),
        ((None,), False),
        (("",), False),
        (("navigate",), False),
        (("prefetcher",), False),
    ],
)
def test_is_prefetch(purposes, prefetch):
    assert is_prefetch(*purposes) is prefetch


@pytest.mark.parametrize(
    ("method", "purpose", "reason"),
    [
        ("HEAD", None, "head_request"),
        ("HEAD", "prefetch", "head_request"),
        ("GET", "prefetch", "prefetch"),
        ("GET", None, None),
    ],
)
def test_the_request_can_make_a_person_a_bot(method, purpose, reason):
    assert bot_reason(IPHONE_SAFARI, method=method, purpose=purpose) == reason


# --- through HTTP --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("Sec-Purpose", "prefetch"),
        ("Sec-Purpose", "prefetch;prerender"),
        ("Purpose", "prefetch"),
        ("X-Purpose", "preview"),
        ("X-Moz", "prefetch"),
    ],
)
def test_a_prefetch_is_a_bot_click_and_leaves_the_visit_unique(pg_api, header, value):
    link = tracked_link(pg_api)
    # The browser fetches ahead with the person's own IP and user agent...
    ahead = visit(pg_api, link.code, **{header.replace("-", "_"): value})
    assert ahead.status_code == 302
    # ...then the person clicks.
    clicked = visit(pg_api, link.code)
    clicks = stored_clicks(pg_api)
    row = clicks[click_id(ahead)]
    assert (row["is_bot"], row["bot_reason"], row["is_unique"]) == (True, "prefetch", False)
    assert row["user_agent"] == IPHONE_SAFARI
    person = clicks[click_id(clicked)]
    assert (person["is_bot"], person["bot_reason"], person["is_unique"]) == (False, None, True)


def test_a_prefetch_without_redis_is_a_bot_click_too(sqlite_api):
    link = tracked_link(sqlite_api)
    ahead = visit(sqlite_api, link.code, Sec_Purpose="prefetch;prerender")
    clicked = visit(sqlite_api, link.code)
    clicks = stored_clicks(sqlite_api)
    assert (clicks[click_id(ahead)]["bot_reason"], clicks[click_id(ahead)]["is_unique"]) == (
        "prefetch",
        False,
    )
    assert clicks[click_id(clicked)]["is_unique"] is True


@pytest.mark.parametrize(
    "crawler", ["facebookexternalhit", "Twitterbot", "WhatsApp-ios", "curl", "Googlebot-smartphone"]
)
def test_a_bot_click_never_counts_nor_takes_the_persons_unique_click(api, crawler):
    user_agent, reason = CRAWLERS[crawler]
    link = tracked_link(api)
    bots = [visit(api, link.code, ua=user_agent) for _ in range(2)]
    person = visit(api, link.code, ua=IPHONE_SAFARI)  # same address as the crawler
    again = visit(api, link.code, ua=IPHONE_SAFARI)
    clicks = stored_clicks(api)
    for r in bots:
        assert r.status_code == 302
        row = clicks[click_id(r)]
        assert (row["is_bot"], row["bot_reason"], row["is_unique"]) == (True, reason, False)
    assert (clicks[click_id(person)]["is_bot"], clicks[click_id(person)]["is_unique"]) == (
        False,
        True,
    )
    assert clicks[click_id(again)]["is_unique"] is False


def test_a_person_in_an_in_app_browser_counts_once(api):
    link = tracked_link(api)
    ua = PEOPLE["instagram-android"]
    first, second = visit(api, link.code, ua=ua), visit(api, link.code, ua=ua)
    clicks = stored_clicks(api)
    assert [
        (clicks[click_id(r)]["is_bot"], clicks[click_id(r)]["is_unique"]) for r in (first, second)
    ] == [(False, True), (False, False)]
