"""The public redirect ``/r/<code>`` (docs/product.md §2 "Redirect", §9): the 302 and its URL,
fallbacks, bots, uniqueness, the client address and its keyed hash, and a Redis outage.

Most tests run on PostgreSQL + Redis (clicks go through the stream and ``worker --drain``)
and on the embedded SQLite default (clicks written straight to the database).
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest

from service.clicks.bots import bot_reason
from service.clicks.identity import client_address, ip_hash
from tests.support.app import Api
from tests.support.redirects import (
    click_id,
    location_params,
    stored_clicks,
    tracked_link,
    uniqueness_of,
    visit,
)
from tests.support.visitors import ANDROID_CHROME, IPHONE_SAFARI, VISITOR_IP

DEAD_REDIS = "redis://127.0.0.1:6399/0"  # nothing listens there

# Real user agents of link-preview crawlers, search engines and HTTP libraries, with the
# reason the click must carry.
BOTS: dict[str, tuple[str, str]] = {
    "facebookexternalhit": (
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "facebook",
    ),
    "Facebot": ("Facebot", "facebook"),
    "Twitterbot": ("Twitterbot/1.0", "twitter"),
    "Slackbot-LinkExpanding": (
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "slack",
    ),
    "WhatsApp": ("WhatsApp/2.23.20.0 A", "whatsapp"),
    "TelegramBot": ("TelegramBot (like TwitterBot)", "telegram"),
    "Discordbot": (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.10; rv:38.0) Gecko/20100101 "
        "Firefox/38.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
        "discord",
    ),
    "LinkedInBot": (
        "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
        "linkedin",
    ),
    "Googlebot": (
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "search_engine",
    ),
    "Googlebot-smartphone": (
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/124.0.6367.118 Mobile Safari/537.36 "
        "(compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "search_engine",
    ),
    "bingbot": (
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "search_engine",
    ),
    "curl": ("curl/8.5.0", "http_library"),
    "python-requests": ("python-requests/2.32.3", "http_library"),
    "Go-http-client/1.1": ("Go-http-client/1.1", "http_library"),
    "Go-http-client/2.0": ("Go-http-client/2.0", "http_library"),
}

# Crawlers named "<Something>Bot" that are not in the named families: still bots.
GENERIC_BOTS = {
    "AhrefsBot": "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "SemrushBot": "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
    "GPTBot": "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
    "+https://openai.com/gptbot)",
}

# People: in-app browsers of the platforms, and plain mobile browsers.
HUMANS = {
    "instagram-ios": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Mobile/15E148 Instagram 309.1.1.28.108 (iPhone13,3; iOS 17_1_2; "
        "en_US; en; scale=3.00; 1170x2532; 541635890)"
    ),
    "instagram-android": (
        "Mozilla/5.0 (Linux; Android 13; SM-S908B Build/TP1A.220624.014; wv) "
        "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/119.0.6045.163 Mobile "
        "Safari/537.36 Instagram 308.0.0.36.109 Android (33/13; 480dpi; 1080x2220; samsung; "
        "SM-S908B; b0q; qcom; en_GB; 533873433)"
    ),
    "tiktok-ios-musical_ly": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Mobile/15E148 musical_ly_31.5.0 JsSdk/2.0 NetType/WIFI "
        "Channel/App Store ByteLocale/en Region/US ByteFullLocale/en-US isDarkMode/0 "
        "WKWebView/1 BytedanceWebview/d8a21c6"
    ),
    "tiktok-android-BytedanceWebview": (
        "Mozilla/5.0 (Linux; Android 12; SM-G991B Build/SP1A.210812.016; wv) "
        "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/112.0.5615.136 Mobile "
        "Safari/537.36 trill_2022903040 JsSdk/1.0 NetType/WIFI Channel/googleplay "
        "AppName/trill app_version/29.3.4 ByteLocale/en ByteFullLocale/en Region/GB "
        "BytedanceWebview/d8a21c6"
    ),
    "facebook-ios-FBAN": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/438.0.0.34.118;FBBV/547364093;"
        "FBDV/iPhone14,5;FBMD/iPhone;FBSN/iOS;FBSV/17.0;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5]"
    ),
    "facebook-android-FBAV": (
        "Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230805.001; wv) "
        "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/116.0.5845.163 Mobile "
        "Safari/537.36 [FB_IAB/FB4A;FBAV/431.0.0.32.108;]"
    ),
    "mobile-safari": IPHONE_SAFARI,
    "android-chrome": ANDROID_CHROME,
}


# --- unit: bots, client address, IP hash ------------------------------------------------------


@pytest.mark.parametrize(("user_agent", "reason"), BOTS.values(), ids=BOTS.keys())
def test_bot_reason_names_the_crawler(user_agent, reason):
    assert bot_reason(user_agent) == reason


@pytest.mark.parametrize("user_agent", GENERIC_BOTS.values(), ids=GENERIC_BOTS.keys())
def test_bot_reason_catches_other_crawlers(user_agent):
    assert bot_reason(user_agent) is not None


@pytest.mark.parametrize("user_agent", HUMANS.values(), ids=HUMANS.keys())
def test_bot_reason_lets_people_in_app_and_mobile_browsers_through(user_agent):
    assert bot_reason(user_agent) is None


@pytest.mark.parametrize(
    ("user_agent", "method", "purpose", "reason"),
    [
        (IPHONE_SAFARI, "HEAD", None, "head_request"),
        (IPHONE_SAFARI, "GET", "prefetch", "prefetch"),
        (IPHONE_SAFARI, "GET", "Prefetch", "prefetch"),
        (IPHONE_SAFARI, "GET", "preview", "prefetch"),
        ("", "GET", None, "empty_user_agent"),
        ("   ", "GET", None, "empty_user_agent"),
        (IPHONE_SAFARI, "GET", None, None),
    ],
    ids=["head", "prefetch", "prefetch-case", "preview", "empty-ua", "blank-ua", "plain-get"],
)
def test_bot_reason_from_the_request(user_agent, method, purpose, reason):
    assert bot_reason(user_agent, method=method, purpose=purpose) == reason


@pytest.mark.parametrize(
    ("remote", "forwarded_for", "trusted", "client"),
    [
        ("10.0.0.1", None, 0, "10.0.0.1"),
        ("10.0.0.1", "198.51.100.1", 0, "10.0.0.1"),  # not believed without trusted proxies
        ("10.0.0.1", None, 1, "10.0.0.1"),
        ("10.0.0.1", "", 1, "10.0.0.1"),
        ("10.0.0.1", " , ,", 1, "10.0.0.1"),
        ("10.0.0.1", "198.51.100.1", 1, "198.51.100.1"),
        ("10.0.0.1", "6.6.6.6, 198.51.100.1", 1, "198.51.100.1"),  # leftmost is forgeable
        ("10.0.0.1", " 6.6.6.6 ,198.51.100.1 ", 1, "198.51.100.1"),
        ("10.0.0.1", "6.6.6.6, 198.51.100.1, 10.0.0.2", 2, "198.51.100.1"),
        ("10.0.0.1", "198.51.100.1", 2, "198.51.100.1"),  # chain shorter than the proxies
        ("::1", "2001:db8::7", 1, "2001:db8::7"),
        (None, None, 0, ""),
    ],
)
def test_client_address(remote, forwarded_for, trusted, client):
    assert client_address(remote, forwarded_for, trusted) == client


def test_ip_hash_is_keyed():
    day = date(2026, 10, 1)
    digest = ip_hash("key-one", VISITOR_IP, day)
    assert digest == ip_hash("key-one", VISITOR_IP, day)
    assert digest != ip_hash("key-two", VISITOR_IP, day)
    assert digest != ip_hash("key-one", "203.0.113.8", day)
    assert VISITOR_IP not in digest and len(digest) >= 32


# --- the redirect itself -------------------------------------------------------------------------


def test_redirect_merges_utm_into_the_destination(api):
    link = tracked_link(
        api,
        campaign=api.create_campaign("summer-drop", utm_medium="creator"),
        handle="anna.k",
        platform="tiktok",
        destination=(
            "https://www.shop.example/p/1?color=red&size=s&size=m&empty=&q=a%20b"
            "&utm_source=old&utm_campaign=old&aff_click=stale#reviews"
        ),
    )
    r = visit(api, link.code)

    assert r.status_code == 302
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["Referrer-Policy"] == "no-referrer-when-downgrade"
    location = urlsplit(r.headers["Location"])
    assert (location.scheme, location.netloc, location.path) == (
        "https",
        "www.shop.example",
        "/p/1",
    )
    assert location.fragment == "reviews"
    params = location_params(r)
    (ours,) = params.pop("aff_click")  # ours win, and appear once
    assert ours != "stale"
    assert params == {
        "color": ["red"],
        "size": ["s", "m"],
        "empty": [""],
        "q": ["a b"],
        "utm_source": ["tiktok"],
        "utm_medium": ["creator"],
        "utm_campaign": ["summer-drop"],
        "utm_content": ["anna.k"],
    }


def test_utm_medium_defaults_to_influencer(pg_api):
    link = tracked_link(pg_api, handle="ben")
    params = location_params(visit(pg_api, link.code))
    assert params["utm_medium"] == ["influencer"]
    assert params["utm_source"] == ["instagram"]
    assert params["utm_campaign"] == ["spring-26"]
    assert params["utm_content"] == ["ben"]
    assert params["ref"] == ["bio"]  # the factory's destination: .../spring?ref=bio


def test_each_click_gets_its_own_id_which_is_the_stored_click_id(api):
    link = tracked_link(api)
    ids = [click_id(visit(api, link.code)) for _ in range(5)]
    assert len(set(ids)) == 5
    assert all(len(i) >= 16 and i.replace("-", "").replace("_", "").isalnum() for i in ids)
    clicks = stored_clicks(api)
    assert set(clicks) == set(ids)
    assert {c["link_id"] for c in clicks.values()} == {link.link["id"]}
    assert {c["outcome"] for c in clicks.values()} == {"redirect"}


def test_click_parameter_name_is_configurable(build_pg_api):
    api = build_pg_api(click_param="ref_click")
    link = tracked_link(api, destination="https://shop.example/x?aff_click=theirs")
    r = visit(api, link.code)
    assert r.status_code == 302
    params = location_params(r)
    assert params["aff_click"] == ["theirs"]  # not ours any more: left alone
    assert set(stored_clicks(api)) == {click_id(r, "ref_click")}


def test_head_gets_the_same_redirect_and_is_a_bot_click(api):
    link = tracked_link(api)
    head = visit(api, link.code, method="HEAD")
    get = visit(api, link.code)
    assert head.status_code == 302
    assert head.data == b""
    assert head.headers["Cache-Control"] == "no-store"
    head_params, get_params = location_params(head), location_params(get)
    assert head_params.pop("aff_click") != get_params.pop("aff_click")
    assert head_params == get_params

    clicks = stored_clicks(api)
    head_click = clicks[click_id(head)]
    assert (head_click["is_bot"], head_click["bot_reason"]) == (True, "head_request")
    assert head_click["is_unique"] is False
    # The HEAD did not use up the visitor's unique click.
    assert clicks[click_id(get)]["is_unique"] is True


@pytest.mark.parametrize(
    "code", ["nope42", "x" * 65, "a" * 500], ids=["unknown", "65-chars", "500-chars"]
)
def test_unknown_code_is_a_404_page(pg_api, code):
    tracked_link(pg_api)
    r = visit(pg_api, code)
    assert r.status_code == 404
    assert r.mimetype == "text/html"
    assert not r.is_json
    assert b"not found" in r.data.lower()
    assert "Location" not in r.headers
    assert stored_clicks(pg_api) == {}


def test_the_longest_vanity_code_redirects(pg_api):
    link = tracked_link(pg_api, slug="a" * 64)
    assert visit(pg_api, link.code).status_code == 302


def test_paused_link_falls_back_and_reactivation_restores_it(api):
    link = tracked_link(api)
    fallback = link.campaign["fallback_url"]

    paused = api.patch(f"/api/v1/links/{link.link['id']}", {"status": "paused"})
    assert paused.status_code == 200 and paused.json["status"] == "paused"
    r = visit(api, link.code)
    assert r.status_code == 302
    assert r.headers["Location"] == fallback  # no UTM, no click id
    assert r.headers["Cache-Control"] == "no-store"
    clicks = stored_clicks(api)
    assert [c["outcome"] for c in clicks.values()] == ["fallback"]
    assert [c["link_id"] for c in clicks.values()] == [link.link["id"]]

    resumed = api.patch(f"/api/v1/links/{link.link['id']}", {"status": "active"})
    assert resumed.status_code == 200
    r = visit(api, link.code, ua=ANDROID_CHROME)
    assert r.headers["Location"].startswith("https://shop.example/spring?ref=bio&utm_source=")
    assert stored_clicks(api)[click_id(r)]["outcome"] == "redirect"


@pytest.mark.parametrize(
    ("timezone", "moment", "outcome"),
    [
        ("UTC", "2026-08-31T12:00:00Z", "redirect"),  # not started yet: testable before launch
        ("UTC", "2026-10-15T23:59:59Z", "redirect"),  # the last day still runs
        ("UTC", "2026-10-16T00:00:01Z", "fallback"),
        ("Europe/Berlin", "2026-10-15T21:59:59Z", "redirect"),  # 23:59:59 in Berlin
        ("Europe/Berlin", "2026-10-15T22:00:01Z", "fallback"),  # already the 16th there
    ],
)
def test_ended_campaign_falls_back(build_pg_api, frozen, timezone, moment, outcome):
    api = build_pg_api(timezone=timezone)
    link = tracked_link(api, campaign=api.create_campaign("autumn", ends_on="2026-10-15"))
    frozen.set(moment)
    r = visit(api, link.code)
    assert r.status_code == 302
    if outcome == "fallback":
        assert r.headers["Location"] == link.campaign["fallback_url"]
    else:
        assert r.headers["Location"].startswith("https://shop.example/spring?ref=bio&utm_")
    assert [c["outcome"] for c in stored_clicks(api).values()] == [outcome]


# --- bots ------------------------------------------------------------------------------------


def test_bots_are_redirected_but_never_unique(api):
    link = tracked_link(api)
    bot_clicks = []
    for user_agent, _reason in BOTS.values():
        for _ in range(2):
            r = visit(api, link.code, ua=user_agent)
            assert r.status_code == 302
            assert "aff_click" in location_params(r)
            bot_clicks.append(click_id(r))
    human = visit(api, link.code, ua=ANDROID_CHROME)

    clicks = stored_clicks(api)
    for cid in bot_clicks:
        row = clicks[cid]
        assert row["is_bot"] is True, row["user_agent"]
        # The reason stored is the classifier's (its table is checked above).
        assert row["bot_reason"] == bot_reason(row["user_agent"]), row["user_agent"]
        assert row["is_unique"] is False, row["user_agent"]
    # Crawlers from the same address did not take the person's unique click.
    assert clicks[click_id(human)]["is_bot"] is False
    assert clicks[click_id(human)]["is_unique"] is True


@pytest.mark.parametrize("user_agent", HUMANS.values(), ids=HUMANS.keys())
def test_people_in_app_browsers_count(pg_api, user_agent):
    link = tracked_link(pg_api)
    r = visit(pg_api, link.code, ua=user_agent)
    row = stored_clicks(pg_api)[click_id(r)]
    assert (row["is_bot"], row["bot_reason"], row["is_unique"]) == (False, None, True)
    assert row["user_agent"] == user_agent


# --- uniqueness ------------------------------------------------------------------------------


def test_repeat_visitor_on_the_same_link_is_not_unique(api, frozen):
    link = tracked_link(api)
    other = tracked_link(api, campaign=link.campaign)
    responses = [
        visit(api, link.code),
        visit(api, link.code),  # same IP + UA, same link
    ]
    frozen.advance(timedelta(hours=23, minutes=59))
    responses += [
        visit(api, link.code),  # still within 24 h
        visit(api, link.code, ua=ANDROID_CHROME),  # another user agent
        visit(api, link.code, ip="203.0.113.99"),  # another address
        visit(api, other.code),  # another link
    ]
    assert uniqueness_of(api, responses) == [True, False, False, True, True, True]


def test_unique_again_after_24_hours(sqlite_api, frozen):
    """On the database path the 24 h is the clock's; two visitors, one on each side."""
    link = tracked_link(sqlite_api)
    first_a = visit(sqlite_api, link.code, ua=IPHONE_SAFARI)
    first_b = visit(sqlite_api, link.code, ua=ANDROID_CHROME)
    frozen.advance(timedelta(hours=24, seconds=-1))
    again_b = visit(sqlite_api, link.code, ua=ANDROID_CHROME)
    frozen.advance(timedelta(seconds=2))
    again_a = visit(sqlite_api, link.code, ua=IPHONE_SAFARI)
    assert uniqueness_of(sqlite_api, [first_a, first_b, again_b, again_a]) == [
        True,
        True,
        False,
        True,
    ]


def test_repeat_clicks_do_not_extend_the_window_on_the_database_path(sqlite_api, frozen):
    """One unique click per 24 h from the counted one, as the Redis path does (its key is
    set once with a 24 h expiry and not refreshed by repeats): a visitor who comes back
    every 12 hours counts again a day after their counted click."""
    link = tracked_link(sqlite_api)
    responses = [visit(sqlite_api, link.code)]
    for _ in range(3):
        frozen.advance(timedelta(hours=12, seconds=1))
        responses.append(visit(sqlite_api, link.code))
    # t=0 counted; t=12h repeat; t=24h repeat of the counted click; t=36h a new day
    assert uniqueness_of(sqlite_api, responses) == [True, False, True, False]


def unique_keys(api: Api) -> list[str]:
    return sorted(api.app.extensions["afftrack"].redis.scan_iter("afftrack:uniq:*"))


def test_uniqueness_keys_in_redis_live_24_hours(pg_api):
    link = tracked_link(pg_api)
    other = tracked_link(pg_api, campaign=link.campaign)
    visit(pg_api, link.code)
    visit(pg_api, link.code)  # a repeat: no new key
    visit(pg_api, link.code, ua=ANDROID_CHROME)
    visit(pg_api, other.code)
    for user_agent, _reason in list(BOTS.values())[:3]:
        visit(pg_api, link.code, ua=user_agent)  # bots never take a key
    visit(pg_api, link.code, method="HEAD")

    redis = pg_api.app.extensions["afftrack"].redis
    keys = unique_keys(pg_api)
    assert len(keys) == 3  # one per (link, visitor) that counted
    for key in keys:
        assert 86_400 - 60 <= redis.ttl(key) <= 86_400
        assert VISITOR_IP not in key


def test_visitor_counts_again_once_the_redis_key_expires(pg_api):
    link = tracked_link(pg_api)
    first = visit(pg_api, link.code)
    (key,) = unique_keys(pg_api)
    redis = pg_api.app.extensions["afftrack"].redis

    # A day has nearly passed: a repeat click does not push the window further.
    redis.expire(key, 100)
    repeat = visit(pg_api, link.code)
    assert 0 < redis.ttl(key) <= 100

    redis.pexpire(key, 1)  # and now it has passed
    deadline = time.monotonic() + 2
    while redis.exists(key) and time.monotonic() < deadline:
        time.sleep(0.005)
    later = visit(pg_api, link.code)
    assert uniqueness_of(pg_api, [first, repeat, later]) == [True, False, True]


# --- client address and its hash ---------------------------------------------------------------


def day_of(clicks: dict[str, dict[str, Any]]):
    """The UTC day of the stored clicks (the daily salt the hashes were made with)."""
    days = {row["occurred_at"].date() for row in clicks.values()}
    assert len(days) == 1
    return days.pop()


def test_forwarded_for_is_ignored_without_trusted_proxies(api):
    link = tracked_link(api)
    first = visit(api, link.code, X_Forwarded_For="198.51.100.1")
    second = visit(api, link.code, X_Forwarded_For="198.51.100.2")
    clicks = stored_clicks(api)
    assert clicks[click_id(first)]["ip_hash"] == clicks[click_id(second)]["ip_hash"]
    assert clicks[click_id(first)]["ip_hash"] == ip_hash("test-ip-key", VISITOR_IP, day_of(clicks))
    assert uniqueness_of(api, [first, second]) == [True, False]


def test_last_forwarded_hop_is_the_client_behind_one_proxy(build_pg_api):
    api = build_pg_api(trusted_proxies=1)
    link = tracked_link(api)
    proxy = "10.0.0.5"
    a = visit(api, link.code, ip=proxy, X_Forwarded_For="198.51.100.1")
    b = visit(api, link.code, ip=proxy, X_Forwarded_For="198.51.100.2")
    a_forged = visit(api, link.code, ip=proxy, X_Forwarded_For="6.6.6.6, 198.51.100.1")
    clicks = stored_clicks(api)
    assert clicks[click_id(a)]["ip_hash"] == ip_hash("test-ip-key", "198.51.100.1", day_of(clicks))
    assert clicks[click_id(b)]["ip_hash"] == ip_hash("test-ip-key", "198.51.100.2", day_of(clicks))
    assert clicks[click_id(a_forged)]["ip_hash"] == clicks[click_id(a)]["ip_hash"]
    assert uniqueness_of(api, [a, b, a_forged]) == [True, True, False]


def test_raw_ip_is_never_stored_and_the_hash_depends_on_the_key(build_pg_api):
    api = build_pg_api(trusted_proxies=1)
    rotated = build_pg_api(trusted_proxies=1, ip_hash_key="another-ip-key")
    link = tracked_link(api)  # both apps share the database, so the same link
    forwarded = {"X_Forwarded_For": "198.51.100.23"}
    ours = click_id(visit(api, link.code, **forwarded, Referer="https://l.instagram.com/"))
    theirs = click_id(visit(rotated, link.code, **forwarded))

    clicks = stored_clicks(api) | stored_clicks(rotated)
    assert clicks[ours]["ip_hash"] == ip_hash("test-ip-key", "198.51.100.23", day_of(clicks))
    assert clicks[theirs]["ip_hash"] == ip_hash("another-ip-key", "198.51.100.23", day_of(clicks))
    assert clicks[ours]["ip_hash"] != clicks[theirs]["ip_hash"]
    assert clicks[ours]["referrer"] == "https://l.instagram.com/"
    for row in clicks.values():
        for column, value in row.items():
            for raw in ("198.51.100.23", VISITOR_IP):
                assert raw not in str(value), column


# --- Redis down ----------------------------------------------------------------------------------


def test_redirect_works_with_redis_down_and_writes_the_click_to_the_database(build_pg_api):
    api = build_pg_api(redis=DEAD_REDIS)
    link = tracked_link(api)
    started = time.monotonic()
    first = visit(api, link.code)
    second = visit(api, link.code)
    assert time.monotonic() - started < 2

    for r in (first, second):
        assert r.status_code == 302
        assert r.headers["Location"].startswith("https://shop.example/spring?ref=bio&utm_")
    # Already in the database: no stream, no worker.
    assert set(stored_clicks(api, drain_first=False)) == {click_id(first), click_id(second)}
    assert uniqueness_of(api, [first, second], drain_first=False) == [True, False]
