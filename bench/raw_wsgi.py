"""The least a Python redirect with click capture can do: one Redis pipeline, raw WSGI.

GET /r/<code> → one pipeline (GET the cached link, SET NX EX the visitor's uniqueness
key, XADD the click to a stream) → 302. ``bench/redirect.py`` seeds ``bench:link:<code>``
and serves this with the same gunicorn command and config as afftrack.
"""

import hashlib
import os
import secrets
import time
from collections.abc import Callable
from typing import Any

import redis

r = redis.Redis.from_url(os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/1"))
STREAM = os.environ.get("BENCH_STREAM", "bench:raw:clicks")


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    code = environ.get("PATH_INFO", "").removeprefix("/r/")
    if environ["REQUEST_METHOD"] != "GET" or not code or "/" in code or len(code) > 64:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]
    ua = environ.get("HTTP_USER_AGENT", "")[:512]
    visitor = hashlib.sha256(f"{environ.get('REMOTE_ADDR')}|{ua}".encode()).hexdigest()[:24]
    click_id = secrets.token_urlsafe(12)
    pipe = r.pipeline(transaction=False)
    pipe.get(f"bench:link:{code}")
    pipe.set(f"bench:uniq:{code}:{visitor}", 1, nx=True, ex=86400)
    pipe.xadd(STREAM, {"id": click_id, "code": code, "ua": ua, "at": f"{time.time():.3f}"})
    url, _unique, _entry = pipe.execute()
    if url is None:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]
    url = url.decode()
    location = f"{url}{'&' if '?' in url else '?'}aff_click={click_id}"
    start_response("302 Found", [("Location", location), ("Cache-Control", "no-store")])
    return [b""]
