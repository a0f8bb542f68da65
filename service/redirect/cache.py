"""The Redis side of a redirect: the link cache and the one-round-trip click script.

``afftrack:link:<code>`` is a hash holding a :class:`~service.redirect.resolver.Target`
(or ``unknown=1`` for a code that does not exist, kept briefly so a scan of random codes
cannot hammer the database). :data:`FOLLOW_LUA` reads it, decides whether the click is
unique and appends the click to the stream — one round trip for a cached link.

The uniqueness keys are built inside the script from the link id, so on Redis Cluster
the link, uniqueness and stream keys would need one hash slot; afftrack targets a single
Redis (with a replica), where this does not matter.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

from redis import Redis
from redis.exceptions import RedisError

from service.redirect.resolver import Target

log = logging.getLogger(__name__)

LINK_PREFIX = "afftrack:link:"
GENERATION_PREFIX = "afftrack:linkgen:"
UNIQUE_PREFIX = "afftrack:uniq:"
# A cached link lives this long even if an invalidation was lost (Redis down during the
# change): the upper bound on how stale a redirect can be.
LINK_TTL = timedelta(minutes=10)
UNKNOWN_TTL = timedelta(seconds=30)
# A code's generation outlives any cache fill that could race with its change.
GENERATION_TTL = timedelta(days=1)

# KEYS[1] link key, KEYS[2] stream, KEYS[3] the code's generation.
# ARGV[1] today (ISO, campaign zone), ARGV[2] is_bot, ARGV[3] visitor key today,
# ARGV[4] visitor key yesterday, ARGV[5] window seconds, ARGV[6..] click field pairs.
# Returns {'miss', generation}, {'unknown'}, {'redirect', link id, head, tail} or
# {'fallback', link id, url}.
FOLLOW_LUA = (
    """
local l = redis.call('HMGET', KEYS[1], 'link_id', 'head', 'tail', 'fallback', 'active',
                     'ends_on', 'unknown')
if not l[1] then
  if l[7] then return {'unknown'} end
  return {'miss', redis.call('GET', KEYS[3]) or '0'}
end
local live = l[5] == '1' and (l[6] == '' or ARGV[1] <= l[6])
local outcome, unique = 'fallback', '0'
if live then
  outcome = 'redirect'
  if ARGV[2] == '0' then
    local base = '"""
    + UNIQUE_PREFIX
    + """' .. l[1] .. ':'
    if redis.call('EXISTS', base .. ARGV[4]) == 0
       and redis.call('SET', base .. ARGV[3], '1', 'NX', 'EX', ARGV[5]) then
      unique = '1'
    end
  end
end
local fields = {'link_id', l[1], 'outcome', outcome, 'is_unique', unique}
for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('XADD', KEYS[2], '*', unpack(fields))
if live then return {outcome, l[1], l[2], l[3]} end
return {outcome, l[1], l[4]}
"""
)


# A click recorded without the follow script — it came back from the spool, or the
# database refused a direct write and Redis is tried once more — decided and appended
# as FOLLOW_LUA would have at the click's own time: its uniqueness key lives for what is
# left of the window. A "seen" entry only puts back the key of a click counted unique
# while Redis was away (written straight to the database), holding the click's id.
# KEYS[1] stream. ARGV[1] 'click' or 'seen', ARGV[2] link id, ARGV[3] visitor key (the
# click's day), ARGV[4] visitor key (the day before), ARGV[5] seconds left in the window,
# ARGV[6] '1' if the click may count as unique (live link, not a bot) — for 'seen', the
# click id — ARGV[7..] field pairs. Returns 1 if the click counted as unique, else 0;
# for 'seen', {1, 0} if the key is the click's (put back now or before), or {0, ms
# left} if the visitor's key was already there, set by another click (-2: no key, the
# window is over).
REPLAY_LUA = (
    """
local base = '"""
    + UNIQUE_PREFIX
    + """' .. ARGV[2] .. ':'
local ttl = tonumber(ARGV[5])
if ARGV[1] == 'seen' then
  if ARGV[4] ~= '' and ARGV[4] ~= ARGV[3] and redis.call('EXISTS', base .. ARGV[4]) == 1 then
    return {0, redis.call('PTTL', base .. ARGV[4])}
  end
  if ttl > 0 and redis.call('SET', base .. ARGV[3], ARGV[6], 'NX', 'EX', ttl) then
    return {1, 0}
  end
  if redis.call('GET', base .. ARGV[3]) == ARGV[6] then return {1, 0} end
  return {0, redis.call('PTTL', base .. ARGV[3])}
end
local unique = '0'
if ARGV[6] == '1' and redis.call('EXISTS', base .. ARGV[4]) == 0
   and redis.call('EXISTS', base .. ARGV[3]) == 0 then
  unique = '1'
  if ttl > 0 then redis.call('SET', base .. ARGV[3], '1', 'EX', ttl) end
end
local fields = {'is_unique', unique}
for i = 7, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('XADD', KEYS[1], '*', unpack(fields))
return tonumber(unique)
"""
)


# Fill the cache only if the code has not changed since the miss read its generation:
# a fill racing with a change must not put the old link back for LINK_TTL.
# KEYS[1] link key, KEYS[2] generation; ARGV[1] generation seen, ARGV[2] ttl, ARGV[3..]
# field pairs. Returns 1 if stored.
STORE_LUA = """
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""


def link_key(code: str) -> str:
    return LINK_PREFIX + code


def generation_key(code: str) -> str:
    return GENERATION_PREFIX + code


class LinkCache:
    """Fills and invalidates the link hashes the click script reads."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._store = redis.register_script(STORE_LUA)

    def store(self, code: str, target: Target | None, generation: str) -> bool:
        """Cache ``target`` (or "unknown") unless the code changed since ``generation``
        was read; returns whether it was stored."""
        if target is None:
            fields, ttl = ["unknown", "1"], UNKNOWN_TTL
        else:
            fields = [item for pair in target.to_fields().items() for item in pair]
            ttl = LINK_TTL
        stored = self._store(
            keys=[link_key(code), generation_key(code)],
            args=[generation, int(ttl.total_seconds()), *fields],
        )
        return bool(stored)

    def invalidate(self, codes: Iterable[str]) -> None:
        """Forget these codes (after the change is committed). Best effort: if Redis is
        unreachable the entries expire within :data:`LINK_TTL`."""
        codes = set(codes)
        if not codes:
            return
        keys = [link_key(code) for code in codes]
        # One transaction, generations first: a fill that read the old link is refused
        # whether it reaches Redis before or after this.
        pipe = self.redis.pipeline(transaction=True)
        for code in codes:
            pipe.incr(generation_key(code))
            pipe.expire(generation_key(code), GENERATION_TTL)
        pipe.delete(*keys)
        try:
            pipe.execute()
        except RedisError as exc:
            log.warning(
                "could not invalidate cached links; they expire on their own",
                extra={"count": len(keys), "error_type": type(exc).__name__},
            )
