"""The redirect's Redis cache and the one-round-trip click (docs/product.md §2 "Redirect").

Real PostgreSQL and Redis throughout. Database work is counted with SQLAlchemy engine
events on the app's own engine; Redis work with the server's ``INFO stats commandstats``.
Those counters are server-wide, and other test runs (and benchmarks) share the
development Redis, so the counting tests start a Redis server of their own when
``redis-server`` is installed; otherwise they use the shared one and repeat a
measurement until a try is undisturbed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any, NamedTuple

import pytest
import redis as redis_lib
from sqlalchemy import event
from werkzeug.test import EnvironBuilder

from service.campaigns.models import Campaign
from service.clicks.identity import ip_hash, visitor_key
from service.influencers.models import Influencer
from service.redirect.cache import LINK_TTL, UNKNOWN_TTL
from tests.support.app import Api
from tests.support.redirects import (
    click_id,
    stored_clicks,
    tracked_link,
    uniqueness_of,
    visit,
)
from tests.support.visitors import ANDROID_CHROME, CLICK_ID, IPHONE_SAFARI, VISITOR_IP

IP_KEY = "test-ip-key"  # make_settings' ip_hash_key
LINK_FIELDS = {"link_id", "head", "tail", "fallback", "active", "ends_on"}
# What FOLLOW_LUA runs inside Redis for a live link and a person: not round trips.
SCRIPT_BODY = {"hmget": 1, "exists": 1, "set": 1, "xadd": 1}


# --- measuring ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def own_redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str | None]:
    """A Redis server for this module alone (a Unix socket, no persistence), or None
    when ``redis-server`` is not installed."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    socket = tmp_path_factory.mktemp("redis") / "redis.sock"
    server = subprocess.Popen(
        [binary, "--port", "0", "--unixsocket", str(socket), "--save", "", "--appendonly",
         "no", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"unix://{socket}?db=0"
    try:
        client = redis_lib.Redis.from_url(url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis_lib.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.01)
        client.close()
        yield url
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture
def counted(own_redis_server, build_pg_api, redis_url) -> Iterator[tuple[Api, redis_lib.Redis]]:
    """An app on PostgreSQL and a quiet Redis, and a client of the test's own (never the
    app's) on that Redis, for INFO and inspection."""
    url = own_redis_server or redis_url
    observer = redis_lib.Redis.from_url(url, decode_responses=True)
    if own_redis_server:
        observer.flushall()
    yield build_pg_api(redis=url), observer
    if own_redis_server:
        observer.flushall()
    observer.close()


def _snapshot(observer: redis_lib.Redis) -> tuple[int, dict[str, int]]:
    info = observer.info("stats", "commandstats")  # one INFO command
    calls = {
        name.removeprefix("cmdstat_"): int(stats["calls"])
        for name, stats in info.items()
        if name.startswith("cmdstat_")
    }
    return int(info["total_commands_processed"]), calls


class Measured(NamedTuple):
    commands: dict[str, int]  # executed while the action ran, by name
    total: int  # INFO stats total_commands_processed over the same span
    results: list[Any]  # what the action returned, each try


def redis_commands(
    observer: redis_lib.Redis,
    action: Callable[[], Any],
    expected: dict[str, int],
    *,
    prepare: Callable[[], Any] | None = None,
    tries: int = 20,
) -> Measured:
    """What Redis executed while ``action`` ran, from ``INFO stats commandstats`` taken
    (in one command) before and after, less that first INFO itself.

    The counters are the server's, so a client of another test run may add to them (it
    never takes any away): the action is repeated until a try shows exactly ``expected``
    in both counters, at most ``tries`` times; otherwise the smallest try is returned.
    """
    best: Measured | None = None
    results = []
    for _ in range(tries):
        if prepare is not None:
            prepare()  # not measured
        total_before, before = _snapshot(observer)
        results.append(action())
        total_after, after = _snapshot(observer)
        delta = {name: after[name] - before.get(name, 0) for name in after}
        delta["info"] -= 1  # the INFO that took the first snapshot
        commands = {name: n for name, n in delta.items() if n}
        seen = Measured(commands, total_after - total_before - 1, results)
        if commands == expected and seen.total == sum(expected.values()):
            return seen
        if best is None or seen.total < best.total:
            best = seen
    assert best is not None
    return best


def redis_of(api: Api) -> redis_lib.Redis:
    return api.app.extensions["afftrack"].redis


def link_key(code: str) -> str:
    return f"afftrack:link:{code}"


def uniq_key(link_id: str, day: date, *, ip: str = VISITOR_IP, ua: str = IPHONE_SAFARI) -> str:
    return f"afftrack:uniq:{link_id}:{visitor_key(ip_hash(IP_KEY, ip, day), ua)}"


def uniq_keys(api: Api) -> list[str]:
    return sorted(redis_of(api).scan_iter("afftrack:uniq:*"))


def expire_now(redis: redis_lib.Redis, key: str) -> None:
    """Let a key's (real-time) TTL run out, as 24 h of wall clock would."""
    assert redis.pexpire(key, 1)
    deadline = time.monotonic() + 2
    while redis.exists(key) and time.monotonic() < deadline:
        time.sleep(0.005)
    assert not redis.exists(key)


def fallback_of(link: Any) -> str:
    return link.campaign["fallback_url"]


# --- 1. fill and hit -----------------------------------------------------------------------


def test_first_click_fills_the_cache_and_the_second_never_touches_the_database(
    pg_api, count_queries
):
    link = tracked_link(
        pg_api,
        campaign=pg_api.create_campaign("autumn-26", ends_on="2026-12-31"),
        handle="anna.k",
    )
    redis = redis_of(pg_api)
    key = link_key(link.code)
    assert not redis.exists(key)

    with count_queries(pg_api.app) as miss:
        first = visit(pg_api, link.code)
    assert first.status_code == 302
    # The miss: one SELECT of the link (joined to its campaign and influencer).
    assert len(miss.statements) == 1, miss.statements
    assert "FROM links" in miss.statements[0]
    assert miss.checkouts == 1

    stored = redis.hgetall(key)
    assert set(stored) == LINK_FIELDS
    head = (
        "https://shop.example/spring?ref=bio&utm_source=instagram&utm_medium=influencer"
        "&utm_campaign=autumn-26&utm_content=anna.k&aff_click="
    )
    assert stored == {
        "link_id": link.link["id"],
        "head": head,
        "tail": "",
        "fallback": "https://shop.example/sale-over",
        "active": "1",
        "ends_on": "2026-12-31",
    }
    assert 0 < redis.ttl(key) <= LINK_TTL.total_seconds()

    with count_queries(pg_api.app) as hit:
        second = visit(pg_api, link.code, ua=ANDROID_CHROME)
    assert (hit.statements, hit.checkouts) == ([], 0)
    assert second.status_code == 302
    assert second.headers["Location"] == head + click_id(second)
    assert first.headers["Location"] == head + click_id(first)
    # Both clicks reached the database through the stream, both counted.
    assert uniqueness_of(pg_api, [first, second]) == [True, True]


# --- 2. round trips --------------------------------------------------------------------------


def test_a_cached_human_click_is_one_evalsha(counted):
    pg_api, observer = counted
    link = tracked_link(pg_api)
    visit(pg_api, link.code)  # fills the cache, opens the app's Redis connection
    ips = iter(f"198.51.100.{n}" for n in range(1, 250))
    one_click = {"evalsha": 1, **SCRIPT_BODY}

    new_visitor = redis_commands(
        observer, lambda: visit(pg_api, link.code, ip=next(ips)), one_click
    )
    # The app sent one command, EVALSHA; HMGET, EXISTS, SET and XADD ran inside the
    # script (Redis counts those too, in both counters: 5 in all).
    assert new_visitor.commands == one_click
    assert new_visitor.total == 5
    assert all(r.status_code == 302 for r in new_visitor.results)

    # A repeat click of the same person: the same single EVALSHA (SET NX finds the key).
    repeat = redis_commands(observer, lambda: visit(pg_api, link.code), one_click)
    assert (repeat.commands, repeat.total) == (one_click, 5)


def test_a_cache_miss_costs_three_round_trips(counted):
    """Miss: EVALSHA (says "miss", with the code's generation) → the database → EVALSHA
    of the compare-and-set fill → EVALSHA again: 3 round trips, 3 commands from the app."""
    pg_api, observer = counted
    link = tracked_link(pg_api)
    redis = redis_of(pg_api)
    visit(pg_api, link.code)  # warm the connection and the script cache
    miss = {
        "evalsha": 3,
        "hmget": 2,
        "get": 2,  # the generation, read by the miss and checked by the fill
        "del": 1,
        "hset": 1,
        "expire": 1,
        "exists": 1,
        "set": 1,
        "xadd": 1,
    }

    measured = redis_commands(
        observer,
        lambda: visit(pg_api, link.code),
        miss,
        prepare=lambda: redis.delete(link_key(link.code)),  # each try misses
    )
    # From the app: EVALSHA (miss), EVALSHA (fill), EVALSHA (follow).
    assert measured.commands == miss
    assert measured.total == 13
    assert all(r.status_code == 302 for r in measured.results)


# --- 3. negative caching and malformed codes --------------------------------------------------


def test_an_unknown_code_is_cached_briefly_and_asked_of_the_database_once(counted, count_queries):
    pg_api, observer = counted
    tracked_link(pg_api)
    redis = redis_of(pg_api)
    code = "NoSuchCode42"

    with count_queries(pg_api.app) as first_sql:
        first = visit(pg_api, code)
    assert first.status_code == 404
    assert len(first_sql.statements) == 1 and "FROM links" in first_sql.statements[0]
    assert redis.hgetall(link_key(code)) == {"unknown": "1"}
    ttl = redis.ttl(link_key(code))
    assert 0 < ttl <= UNKNOWN_TTL.total_seconds() <= 60

    with count_queries(pg_api.app) as again_sql:
        again = redis_commands(observer, lambda: visit(pg_api, code), {"evalsha": 1, "hmget": 1})
    # One EVALSHA (its HMGET finds "unknown"); no XADD: no click for an unknown code.
    assert (again.commands, again.total) == ({"evalsha": 1, "hmget": 1}, 2)
    assert {r.status_code for r in again.results} == {404}
    assert (again_sql.statements, again_sql.checkouts) == ([], 0)
    assert redis.xlen(pg_api.app.extensions["afftrack"].settings.click_stream) == 0


@pytest.mark.parametrize(
    "path",
    [
        "/r/" + "x" * 65,
        "/r/" + "a" * 500,
        "/r/bad.code",
        "/r/bad%20code",
        "/r/bad+code",
        "/r/ab/cd",
        "/r/%C3%BCber",
        "/r/code%00",
        "/r/",
    ],
    ids=["65-chars", "500-chars", "dot", "space", "plus", "slash", "non-ascii", "nul", "empty"],
)
def test_malformed_codes_are_404_without_redis_or_the_database(counted, path, count_queries):
    pg_api, observer = counted
    link = tracked_link(pg_api)
    visit(pg_api, link.code)  # the app's Redis connection is open: nothing else to count

    def request() -> Any:
        return pg_api.client.get(path, headers={"User-Agent": IPHONE_SAFARI})

    with count_queries(pg_api.app) as sql:
        measured = redis_commands(observer, request, {})
    assert (measured.commands, measured.total) == ({}, 0)
    assert (sql.statements, sql.checkouts) == ([], 0)
    for r in measured.results:
        assert r.status_code == 404
        assert b"Link not found" in r.data
        assert r.headers["Cache-Control"] == "no-store"
    assert sorted(redis_of(pg_api).scan_iter("afftrack:link:*")) == [link_key(link.code)]


# --- 4. invalidation -----------------------------------------------------------------------------


def test_link_changes_through_the_api_apply_at_once(pg_api):
    link = tracked_link(pg_api)
    redis = redis_of(pg_api)
    path = f"/api/v1/links/{link.link['id']}"
    assert (
        visit(pg_api, link.code)
        .headers["Location"]
        .startswith("https://shop.example/spring?ref=bio&utm_source=instagram")
    )
    assert redis.exists(link_key(link.code))

    assert pg_api.patch(path, {"status": "paused"}).status_code == 200
    assert not redis.exists(link_key(link.code))  # dropped after the commit
    paused = visit(pg_api, link.code)
    assert paused.headers["Location"] == fallback_of(link)

    assert pg_api.patch(path, {"status": "active"}).status_code == 200
    assert not redis.exists(link_key(link.code))
    resumed = visit(pg_api, link.code)
    assert resumed.headers["Location"].startswith("https://shop.example/spring?ref=bio&utm_")

    moved = pg_api.patch(path, {"destination": "https://shop.example/autumn?x=1#top"})
    assert moved.status_code == 200
    r = visit(pg_api, link.code)
    assert r.headers["Location"] == (
        "https://shop.example/autumn?x=1&utm_source=instagram&utm_medium=influencer"
        f"&utm_campaign=spring-26&utm_content={link.influencer['handle']}"
        f"&aff_click={click_id(r)}#top"
    )
    assert redis.hget(link_key(link.code), "tail") == "#top"


def test_a_new_link_drops_the_unknown_entry_for_its_code(pg_api):
    earlier = tracked_link(pg_api)
    redis = redis_of(pg_api)
    assert visit(pg_api, "summer-anna").status_code == 404  # someone tried it early
    assert redis.hget(link_key("summer-anna"), "unknown") == "1"

    pg_api.create_link(earlier.campaign["id"], earlier.influencer["id"], slug="summer-anna")
    assert not redis.exists(link_key("summer-anna"))
    r = visit(pg_api, "summer-anna")
    assert r.status_code == 302
    assert r.headers["Location"].startswith("https://shop.example/spring?ref=bio&utm_")


def test_campaign_and_influencer_changes_drop_their_links(pg_api):
    """Beyond the API's PATCH (below), any code that changes campaigns or influencers
    through the app's sessions (the CLI, a migration script) must still drop the cached
    redirects of their links."""
    link = tracked_link(pg_api, handle="old.handle")
    sibling = tracked_link(pg_api, campaign=link.campaign)
    stranger = tracked_link(pg_api, campaign=pg_api.create_campaign("other-26"))
    redis = redis_of(pg_api)
    db = pg_api.app.extensions["afftrack"].db
    for each in (link, sibling, stranger):
        visit(pg_api, each.code)
        assert redis.exists(link_key(each.code))

    with db.session() as session:
        session.get(Influencer, link.influencer["id"]).handle = "new.handle"
    assert not redis.exists(link_key(link.code))
    assert redis.exists(link_key(sibling.code)) and redis.exists(link_key(stranger.code))
    assert "&utm_content=new.handle&" in visit(pg_api, link.code).headers["Location"]

    with db.session() as session:
        campaign = session.get(Campaign, link.campaign["id"])
        campaign.utm_medium = "creator"
        campaign.fallback_url = "https://shop.example/see-you"
    assert not redis.exists(link_key(link.code)) and not redis.exists(link_key(sibling.code))
    assert redis.exists(link_key(stranger.code))
    assert "&utm_medium=creator&" in visit(pg_api, sibling.code).headers["Location"]

    with db.session() as session:
        session.get(Campaign, link.campaign["id"]).ends_on = date(2026, 9, 30)  # ended
    assert visit(pg_api, link.code).headers["Location"] == "https://shop.example/see-you"
    assert visit(pg_api, sibling.code).headers["Location"] == "https://shop.example/see-you"
    assert visit(pg_api, stranger.code).headers["Location"].startswith("https://shop.example/")
    assert visit(pg_api, stranger.code).headers["Location"] != "https://shop.example/see-you"

    # A change that does not affect redirects keeps the cache.
    with db.session() as session:
        session.get(Campaign, link.campaign["id"]).name = "Renamed"
    assert redis.exists(link_key(link.code))


def test_a_campaign_changed_through_the_api_redirects_its_links_anew_at_once(pg_api):
    link = tracked_link(pg_api)
    redis = redis_of(pg_api)
    path = f"/api/v1/campaigns/{link.campaign['id']}"
    visit(pg_api, link.code)
    assert redis.exists(link_key(link.code))

    changed = pg_api.patch(path, {"utm_medium": "creator"})
    assert changed.status_code == 200, changed.json
    assert not redis.exists(link_key(link.code))
    assert "&utm_medium=creator&" in visit(pg_api, link.code).headers["Location"]

    ended = {"ends_on": "2026-09-30", "fallback_url": "https://shop.example/see-you"}
    assert pg_api.patch(path, ended).status_code == 200
    assert visit(pg_api, link.code).headers["Location"] == "https://shop.example/see-you"

    assert pg_api.patch(path, {"ends_on": None}).status_code == 200  # open-ended again
    assert visit(pg_api, link.code).headers["Location"].startswith("https://shop.example/spring")


def test_a_miss_racing_a_pause_does_not_cache_the_old_link(pg_api):
    # The miss reads the link, the pause commits and bumps the code's generation, and the
    # miss's fill is then refused: the old link is served to that request only.
    link = tracked_link(pg_api)
    engine = pg_api.app.extensions["afftrack"].db.engine
    read_old, go_on = threading.Event(), threading.Event()
    outcome: dict[str, Any] = {}

    def hold(_conn, _cursor, statement, _params, _context, _many) -> None:
        if threading.current_thread().name == "racing-redirect" and "FROM links" in statement:
            read_old.set()  # the link was read as active; the pause has not committed
            go_on.wait(10)

    def racing_redirect() -> None:
        try:
            outcome["response"] = pg_api.app.test_client().get(
                f"/r/{link.code}",
                headers={"User-Agent": ANDROID_CHROME},
                environ_base={"REMOTE_ADDR": "198.51.100.200"},
            )
        except Exception as exc:  # pragma: no cover - reported below
            outcome["error"] = exc

    event.listen(engine, "after_cursor_execute", hold)
    try:
        thread = threading.Thread(target=racing_redirect, name="racing-redirect")
        thread.start()
        assert read_old.wait(10)
        paused = pg_api.patch(f"/api/v1/links/{link.link['id']}", {"status": "paused"})
        assert paused.status_code == 200
        go_on.set()
        thread.join(10)
    finally:
        go_on.set()
        event.remove(engine, "after_cursor_execute", hold)
    assert "error" not in outcome and outcome["response"].status_code == 302

    # The pause committed before this request: it must go to the fallback.
    assert visit(pg_api, link.code).headers["Location"] == fallback_of(link)


def test_without_redis_a_pause_reaches_every_process_at_once(build_pg_api):
    # Without Redis nothing can tell other processes to forget a link, so none keeps one.
    serving = build_pg_api(redis=None)  # one gunicorn worker
    admin = build_pg_api(redis=None)  # another worker of the same deployment
    link = tracked_link(admin)
    assert visit(serving, link.code).headers["Location"].startswith("https://shop.example/spring")
    assert admin.patch(f"/api/v1/links/{link.link['id']}", {"status": "paused"}).status_code == 200
    assert visit(admin, link.code).headers["Location"] == fallback_of(link)
    assert visit(serving, link.code).headers["Location"] == fallback_of(link)


# --- 5. the Location and the response -------------------------------------------------------------


def test_location_keeps_the_destination_query_byte_for_byte(pg_api):
    link = tracked_link(
        pg_api,
        handle="anna.k",
        platform="tiktok",
        destination=(
            "https://shop.example/p/1?flag&x=%7E&q=a+b&E=%e2%82%ac&utm_source=old"
            "&utm%5Fcampaign=old&aff_click=stale&utm_term=kept#reviews"
        ),
    )
    r = visit(pg_api, link.code)
    cid = click_id(r)
    assert CLICK_ID.fullmatch(cid)
    assert r.headers["Location"] == (
        "https://shop.example/p/1?flag&x=%7E&q=a+b&E=%e2%82%ac&utm_term=kept"
        "&utm_source=tiktok&utm_medium=influencer&utm_campaign=spring-26"
        f"&utm_content=anna.k&aff_click={cid}#reviews"
    )


def test_click_ids_are_16_url_safe_characters_and_unique(pg_api):
    link = tracked_link(pg_api, destination="https://shop.example/x?a=1#frag")
    shape = re.compile(
        r"https://shop\.example/x\?a=1&utm_source=instagram&utm_medium=influencer"
        r"&utm_campaign=spring-26&utm_content=[^&]+&aff_click=([A-Za-z0-9_-]{16})#frag"
    )
    ids = []
    for n in range(1000):
        location = visit(pg_api, link.code, ip=f"10.{n // 250}.{n % 250}.1").headers["Location"]
        match = shape.fullmatch(location)
        assert match, location
        ids.append(match[1])
    assert len(set(ids)) == 1000


def test_head_is_a_302_without_body_recorded_as_a_bot(pg_api):
    link = tracked_link(pg_api)
    r = visit(pg_api, link.code, method="HEAD")
    assert r.status_code == 302
    assert r.data == b""
    assert r.headers["Content-Length"] == "0"
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["Referrer-Policy"] == "no-referrer-when-downgrade"
    row = stored_clicks(pg_api)[click_id(r)]
    assert (row["is_bot"], row["bot_reason"], row["is_unique"]) == (True, "head_request", False)
    assert uniq_keys(pg_api) == []


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_other_methods_are_405_with_allow_and_record_nothing(pg_api, method, count_queries):
    link = tracked_link(pg_api)
    with count_queries(pg_api.app) as sql:
        r = pg_api.client.open(f"/r/{link.code}", method=method, data=b"x=1")
    assert r.status_code == 405
    assert r.headers["Allow"] == "GET, HEAD"
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["Referrer-Policy"] == "no-referrer-when-downgrade"
    assert "Location" not in r.headers
    assert (sql.statements, sql.checkouts) == ([], 0)
    assert not redis_of(pg_api).exists(link_key(link.code))
    assert stored_clicks(pg_api) == {}


def test_every_answer_carries_the_privacy_headers(pg_api):
    link = tracked_link(pg_api)
    pg_api.patch(f"/api/v1/links/{link.link['id']}", {"status": "paused"})
    for r in (visit(pg_api, link.code), visit(pg_api, "nope-404")):
        assert r.headers["Cache-Control"] == "no-store"
        assert r.headers["Referrer-Policy"] == "no-referrer-when-downgrade"


# --- 6. uniqueness across the daily salt rotation ----------------------------------------------

D, D1 = date(2026, 10, 31), date(2026, 11, 1)  # across a month: two click partitions


def test_uniqueness_survives_the_salt_rotation_in_redis(pg_api, frozen):
    link = tracked_link(pg_api)
    redis = redis_of(pg_api)
    link_id = link.link["id"]

    frozen.set("2026-10-31T23:00:00Z")
    first = visit(pg_api, link.code)
    assert uniq_keys(pg_api) == [uniq_key(link_id, D)]
    assert 86_400 - 60 <= redis.ttl(uniq_key(link_id, D)) <= 86_400

    frozen.set("2026-11-01T00:30:00Z")  # new UTC day: new salt, 1.5 h later
    after_midnight = visit(pg_api, link.code)
    frozen.set("2026-11-01T22:30:00Z")  # 23.5 h after the counted click
    before_a_day = visit(pg_api, link.code)
    # The repeats took no key under the new day's hash.
    assert uniq_keys(pg_api) == [uniq_key(link_id, D)]

    # 24 h after the counted click its key has expired (Redis TTLs run on the real clock).
    expire_now(redis, uniq_key(link_id, D))
    frozen.set("2026-11-01T23:30:00Z")
    next_day = visit(pg_api, link.code)
    assert uniq_keys(pg_api) == [uniq_key(link_id, D1)]

    responses = [first, after_midnight, before_a_day, next_day]
    assert uniqueness_of(pg_api, responses) == [True, False, False, True]
    clicks = stored_clicks(pg_api, drain_first=False)
    hashes = [clicks[click_id(r)]["ip_hash"] for r in responses]
    assert hashes[0] == ip_hash(IP_KEY, VISITOR_IP, D)
    assert hashes[1] == hashes[2] == hashes[3] == ip_hash(IP_KEY, VISITOR_IP, D1)
    assert hashes[0] != hashes[1]


@pytest.fixture(params=["sqlite", "pg-without-redis"])
def db_only_api(request: pytest.FixtureRequest, build_pg_api) -> Api:
    """Clicks written in the request, uniqueness decided by a query on ip_hash."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_api")
    return build_pg_api(redis=None)


def test_uniqueness_survives_the_salt_rotation_without_redis(db_only_api, frozen):
    api = db_only_api
    link = tracked_link(api)
    responses = []
    for moment in (
        "2026-10-31T23:00:00Z",  # counted
        "2026-11-01T00:30:00Z",  # 1.5 h later, under the next day's salt
        "2026-11-01T22:59:59Z",  # 23h59m59s after the counted click
        "2026-11-01T23:30:00Z",  # 24.5 h after it: counts again
        "2026-11-02T00:10:00Z",  # 40 min after that one, under yet another salt
    ):
        frozen.set(moment)
        responses.append(visit(api, link.code))
    assert uniqueness_of(api, responses) == [True, False, False, True, False]
    clicks = stored_clicks(api)
    hashes = [clicks[click_id(r)]["ip_hash"] for r in responses]
    assert hashes[0] == ip_hash(IP_KEY, VISITOR_IP, D)
    assert hashes[1] == ip_hash(IP_KEY, VISITOR_IP, D1)
    assert hashes[0] != hashes[1] != hashes[4]


# --- 7. fallback clicks ---------------------------------------------------------------------------


def test_fallback_clicks_are_recorded_and_do_not_use_up_uniqueness(api):
    link = tracked_link(api)
    path = f"/api/v1/links/{link.link['id']}"
    api.patch(path, {"status": "paused"})
    fallbacks = [visit(api, link.code) for _ in range(2)]
    assert [r.headers["Location"] for r in fallbacks] == [fallback_of(link)] * 2
    if redis_of(api) is not None:
        assert uniq_keys(api) == []

    api.patch(path, {"status": "active"})
    live = visit(api, link.code)
    assert live.headers["Location"].startswith("https://shop.example/spring?ref=bio&utm_")

    clicks = stored_clicks(api)
    assert len(clicks) == 3
    rows = sorted(clicks.values(), key=lambda row: row["outcome"])
    assert [(r["outcome"], r["is_unique"], r["is_bot"]) for r in rows] == [
        ("fallback", False, False),
        ("fallback", False, False),
        ("redirect", True, False),
    ]
    assert {r["link_id"] for r in rows} == {link.link["id"]}
    # A fallback's Location has no click id; the stored click has one of its own.
    assert click_id(live) == next(r["id"] for r in rows if r["outcome"] == "redirect")


def test_ended_campaign_clicks_do_not_use_up_uniqueness(pg_api, frozen):
    link = tracked_link(pg_api, campaign=pg_api.create_campaign("flash", ends_on="2026-10-15"))
    frozen.set("2026-10-20T10:00:00Z")
    ended = visit(pg_api, link.code)
    assert ended.headers["Location"] == fallback_of(link)
    assert uniq_keys(pg_api) == []

    db = pg_api.app.extensions["afftrack"].db
    with db.session() as session:  # the campaign is extended
        session.get(Campaign, link.campaign["id"]).ends_on = date(2026, 10, 31)
    live = visit(pg_api, link.code)
    assert live.headers["Location"].startswith("https://shop.example/spring?ref=bio&utm_")

    rows = stored_clicks(pg_api)
    assert sorted((r["outcome"], r["is_unique"]) for r in rows.values()) == [
        ("fallback", False),
        ("redirect", True),
    ]


# --- 8. several X-Forwarded-For lines --------------------------------------------------------


def test_werkzeug_joins_repeated_forwarded_for_lines():
    environ = EnvironBuilder(
        path="/r/x",
        headers=[("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-For", "198.51.100.1")],
    ).get_environ()
    assert environ["HTTP_X_FORWARDED_FOR"] == "6.6.6.6, 198.51.100.1"


@pytest.mark.parametrize(
    ("trusted", "client"),
    [(0, "10.0.0.5"), (1, "198.51.100.1"), (2, "6.6.6.6"), (3, "6.6.6.6")],
)
def test_repeated_forwarded_for_lines_are_one_list(build_pg_api, trusted, client):
    api = build_pg_api(trusted_proxies=trusted)
    link = tracked_link(api)

    def send(*lines: str, ua: str) -> Any:
        return api.client.get(
            f"/r/{link.code}",
            headers=[("User-Agent", ua), *(("X-Forwarded-For", line) for line in lines)],
            environ_base={"REMOTE_ADDR": "10.0.0.5"},
        )

    two_lines = send("6.6.6.6", "198.51.100.1", ua=IPHONE_SAFARI)
    one_line = send("6.6.6.6, 198.51.100.1", ua=ANDROID_CHROME)
    gunicorn_style = send("6.6.6.6,198.51.100.1", ua=ANDROID_CHROME)  # joined without space
    clicks = stored_clicks(api)
    expected = ip_hash(IP_KEY, client, clicks[click_id(two_lines)]["occurred_at"].date())
    assert clicks[click_id(two_lines)]["ip_hash"] == expected
    assert clicks[click_id(one_line)]["ip_hash"] == expected
    assert clicks[click_id(gunicorn_style)]["ip_hash"] == expected
    assert uniqueness_of(api, [two_lines, one_line, gunicorn_style], drain_first=False) == [
        True,
        True,
        False,
    ]


def test_a_non_ascii_destination_goes_out_percent_encoded(pg_api):
    # A Location header is bytes (latin-1 in WSGI): UTF-8 percent-escapes, not raw text.
    link = tracked_link(pg_api, destination="https://shop.example/résumé?q=ü&x=%7E#bas-é")
    r = visit(pg_api, link.code)
    assert r.status_code == 302
    location = r.headers["Location"]
    assert location.isascii()
    assert location.startswith("https://shop.example/r%C3%A9sum%C3%A9?q=%C3%BC&x=%7E&")
    assert location.endswith(f"aff_click={click_id(r)}#bas-%C3%A9")


@pytest.mark.parametrize(
    "destination",
    [
        "https://evil.com\uff3c.shop.example/",  # IDNA turns U+FF3C into "\": evil.com
        "https://evil.com\ufe68.shop.example/",
        "https://" + "ü" * 64 + ".shop.example/",  # a label IDNA cannot encode
        "https://ü..shop.example/",
    ],
)
def test_destinations_are_judged_as_the_browser_will_see_them(pg_api, destination):
    campaign = pg_api.create_campaign("idna-check")
    influencer = pg_api.create_influencer("idna_checker")
    pg_api.add_partner(campaign["id"], influencer["id"])
    r = pg_api.post(
        "/api/v1/links",
        {
            "campaign_id": campaign["id"],
            "influencer_id": influencer["id"],
            "destination": destination,
            "platform": "instagram",
        },
    )
    assert r.status_code == 422, r.json
    assert "destination" in r.json["error"]["fields"]
