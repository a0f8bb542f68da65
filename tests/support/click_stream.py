"""The click stream of an app on PostgreSQL + Redis: redirects that queue clicks, and
the worker that writes them (``worker --drain`` or a :class:`ClickWorker` of one's own)."""

from __future__ import annotations

from typing import Any

from service.clicks.ingest import ClickWorker
from tests.support.app import Api
from tests.support.visitors import IPHONE_SAFARI as UA


def services(api: Api) -> Any:
    return api.app.extensions["afftrack"]


def stream_of(api: Api) -> str:
    return services(api).settings.click_stream


def redirect(api: Api, link: dict, times: int = 1) -> list[str]:
    """Follow the link ``times`` times from different addresses; the click ids."""
    ids = []
    for n in range(times):
        r = api.client.get(
            f"/r/{link['code']}",
            headers={"User-Agent": UA},
            environ_base={"REMOTE_ADDR": f"198.51.100.{n + 1}"},
        )
        assert r.status_code == 302
        ids.append(r.headers["Location"].rsplit("aff_click=", 1)[1])
    return ids


def drain(api: Api, *args: str) -> str:
    result = api.app.test_cli_runner().invoke(args=["worker", "--drain", *args])
    assert result.exit_code == 0, (result.output, repr(result.exception))
    return result.output


def worker(api: Api, **options: Any) -> ClickWorker:
    svc = services(api)
    return ClickWorker(svc.db, svc.redis, stream_of(api), block_ms=10, **options)
