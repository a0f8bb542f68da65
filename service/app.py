"""The application factory: config, database, Redis, blueprints, CLI."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import redis as redis_lib
from flask import Flask
from redis.backoff import NoBackoff
from redis.retry import Retry

from service import config as config_module
from service import logs
from service.audit import service as audit
from service.db import Database
from service.redirect.api import RedirectMiddleware
from service.redirect.service import Redirector, watch_changes
from service.spool import Mover, Spool

MAX_BODY_BYTES = 1024 * 1024  # docs/product.md §7: bodies over 1 MiB are refused (413)


@dataclass
class Services:
    settings: config_module.Settings
    db: Database
    redis: redis_lib.Redis | None
    redirector: Redirector
    # What waits locally while neither Redis nor the database takes it (service/spool.py),
    # and the thread that moves it on once they answer again.
    click_spool: Spool
    webhook_spool: Spool
    mover: Mover


def make_redis(url: str | None, socket_timeout: float = 0.5) -> redis_lib.Redis | None:
    """A Redis client; the web default has short timeouts so a dead Redis cannot hold
    a redirect for long. The worker, which blocks on the stream, asks for longer."""
    if not url:
        return None
    return redis_lib.Redis.from_url(
        url,
        socket_connect_timeout=0.25,
        socket_timeout=socket_timeout,
        decode_responses=True,
        health_check_interval=30,
        # No silent retries: a dead Redis must cost one timeout, then the breaker opens.
        retry=Retry(NoBackoff(), 0),
    )


def create_app(
    settings: config_module.Settings | None = None, announce: bool = True, **flask_config: Any
) -> Flask:
    """The app. ``announce``: log "afftrack starting" with the (redacted) settings, as a
    serving process does; CLI commands do not."""
    settings = settings or config_module.from_env()
    logs.configure(settings.log_level)
    if announce:
        logging.getLogger(__name__).info(
            "afftrack starting", extra={"settings": settings.redacted()}
        )
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES, JSON_SORT_KEYS=False, **flask_config)
    # Flask types app.json as the JSONProvider base, which has no sort_keys.
    app.json.sort_keys = False  # type: ignore[attr-defined]

    db = Database(settings.database_url)
    redis = make_redis(settings.redis_url)
    fsync = settings.spool_fsync == "always"
    click_spool = Spool(settings.spool_path, "clicks", fsync=fsync)
    webhook_spool = Spool(settings.spool_path, "webhooks", fsync=fsync)
    mover = Mover()
    redirector = Redirector(settings, db, redis, spool=click_spool, mover=mover)
    watch_changes(db.sessions, redirector)
    audit.watch(db.sessions)
    app.extensions["afftrack"] = Services(
        settings=settings,
        db=db,
        redis=redis,
        redirector=redirector,
        click_spool=click_spool,
        webhook_spool=webhook_spool,
        mover=mover,
    )
    from service.conversions.spooled import drain_job  # (webhooks kept while the db was down)

    mover.add("webhooks", drain_job(db, settings, webhook_spool))

    def resume() -> None:
        """At a process's first request: move on what an earlier process left spooled."""
        if redirector.clicks.waiting() or webhook_spool.waiting():
            mover.wake()

    # /r/<code> is answered before Flask sees the request (service/redirect/api.py).
    # replacing wsgi_app with middleware is Flask's documented way; mypy calls it a method.
    app.wsgi_app = RedirectMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, redirector, settings, on_first_request=resume
    )

    from service.campaigns.api import bp as campaigns
    from service.clicks.ingest import stream_status
    from service.commissions.api import bp as commissions
    from service.conversions.api import bp as conversions
    from service.conversions.api import webhooks
    from service.deliverables.api import bp as deliverables
    from service.exports.api import bp as exports
    from service.http import auth, errors, health
    from service.http.context import close_session
    from service.http.contract import make_api
    from service.influencers.api import bp as influencers
    from service.keys.service import allows, authenticate
    from service.links.api import bp as links
    from service.objectives.api import bp as objectives
    from service.objectives.api import reports as objective_reports
    from service.portal.api import bp as portal_access
    from service.portal.api import payout_bp as payout_requests
    from service.promo_codes.api import bp as promo_codes
    from service.reports.api import bp as reports

    # The HTTP layer knows no domain package: what it needs of one is handed to it here.
    auth.init_app(app, auth.KeyLookup(authenticate=authenticate, allows=allows))
    health.init_app(app, stream_status=stream_status)
    api = make_api(app)
    for blueprint in (
        webhooks,
        influencers,
        campaigns,
        objectives,
        links,
        promo_codes,
        deliverables,
        conversions,
        commissions,
        exports,
        reports,
        objective_reports,
        portal_access,
        payout_requests,
    ):
        api.register_blueprint(blueprint)
    errors.init_app(app)
    from service.dashboard import init_app as dashboard

    dashboard(app)
    from service.portal_site import init_app as portal_site

    portal_site(app)
    app.teardown_appcontext(close_session)

    from service.cli import register

    register(app)
    return app
