"""The ``afftrack`` command: every operation is a tested CLI command."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup, FlaskGroup, with_appcontext

from service import __version__
from service.audit.service import CLI_ACTOR
from service.config import DEFAULT_PUBLIC_URL, SERVE_HOST, SERVE_PORT, Settings
from service.db import act_as
from service.http.context import services


def _on_terminal() -> bool:
    return sys.stderr.isatty()


def _progress(message: str) -> None:
    """Progress on a terminal only; quiet when piped."""
    if _on_terminal():
        click.echo(f"\r{message}", err=True, nl=False)


GUNICORN_CONFIG_ENV = "AFFTRACK_GUNICORN_CONFIG"


def gunicorn_config() -> str:
    """Gunicorn's ``-c``: the file AFFTRACK_GUNICORN_CONFIG names, else the packaged module."""
    chosen = os.environ.get(GUNICORN_CONFIG_ENV, "").strip()
    if not chosen:
        return "python:service.gunicorn_conf"
    path = Path(chosen).expanduser()
    if not path.is_file():
        raise click.UsageError(f"{GUNICORN_CONFIG_ENV} names {chosen!r}, which is not a file.")
    return str(path.resolve())


@click.command("serve")
@with_appcontext
@click.option("--host", default=SERVE_HOST, show_default=True)
@click.option("--port", default=SERVE_PORT, show_default=True, type=click.IntRange(1, 65535))
def serve_command(host: str, port: int) -> None:
    """Serve the app with gunicorn (the packaged settings, or AFFTRACK_GUNICORN_CONFIG)."""
    conf = gunicorn_config()  # a bad AFFTRACK_GUNICORN_CONFIG stops serve before it writes
    svc = services()
    _check_spool(svc.settings)
    from service.migrate import current_revision, head_revision, upgrade

    if svc.settings.is_sqlite:
        upgrade(svc.settings.database_url)
    elif (at := current_revision(svc.db.engine)) != (needed := head_revision()):
        raise click.ClickException(
            f"the database schema is at revision {at or 'none (empty database)'}, this "
            f"afftrack needs {needed}: run `afftrack db upgrade` first"
        )
    if svc.settings.public_url == DEFAULT_PUBLIC_URL and (host, port) != (SERVE_HOST, SERVE_PORT):
        click.echo(
            f"note: short URLs are made with AFFTRACK_PUBLIC_URL, still {DEFAULT_PUBLIC_URL}; "
            "set it to the address visitors reach this server at",
            err=True,
        )
    args = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        conf,
        "--bind",
        f"{host}:{port}",
        "service.wsgi:app",
    ]
    click.echo(f"afftrack serving on http://{host}:{port}", err=True)
    os.execv(args[0], args)  # noqa: S606 - replaces this process with gunicorn


def _check_spool(settings: Settings) -> None:
    """A spool that cannot be written would be found out in the middle of an outage:
    refuse to start instead."""
    from service.config import ConfigError
    from service.spool import SpoolError, check_directory

    try:
        check_directory(settings.spool_path)
    except SpoolError as exc:
        raise ConfigError(
            f"AFFTRACK_SPOOL_DIR: {exc.strerror}; point it at a writable directory "
            "(in a container, a volume), where clicks wait while Redis and the "
            "database are both down"
        ) from None


@click.command("worker")
@with_appcontext
@click.option("--drain", is_flag=True, help="Write every queued click, then exit.")
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(1, 100_000))
def worker_command(drain: bool, batch_size: int) -> None:
    """Move clicks from the Redis stream into the database."""
    from service.clicks.ingest import ClickWorker

    svc = services()
    if svc.redis is None:
        click.echo(
            "REDIS_URL is not set: clicks are written straight to the database; "
            "there is nothing to move.",
            err=True,
        )
        return
    _check_spool(svc.settings)
    from service.app import make_redis

    # Its own client: XREADGROUP blocks for up to a second, longer than the web timeout.
    redis = make_redis(svc.settings.redis_url, socket_timeout=10.0)
    assert redis is not None
    from service.conversions.orders import attribute_late, sweep_unattributed

    worker = ClickWorker(
        svc.db,
        redis,
        svc.settings.click_stream,
        batch_size=batch_size,
        on_written=lambda ids: attribute_late(svc.db, svc.settings, ids),
        every_minute=lambda: sweep_unattributed(svc.db, svc.settings),
    )
    worker.ensure_partitions()
    # Clicks a web process on this machine spooled and left behind (it died): moved on
    # into the stream by a thread of the worker's own.
    from service.redirect.recovery import ClickMover
    from service.spool import Mover

    left = ClickMover(
        svc.db,
        redis,
        svc.settings.click_stream,
        svc.settings.spool_path,
        fsync=svc.settings.spool_fsync == "always",
    )
    spool_mover = Mover(interval=2.0, idle_exit=float("inf"))
    spool_mover.add("clicks", lambda: bool(left.drain()) and left.waiting())
    # And webhook deliveries such a process kept while the database was down.
    from service.conversions.spooled import drain_job

    spool_mover.add("webhooks", drain_job(svc.db, svc.settings, svc.webhook_spool))
    if drain:
        spool_mover.run_once()
        stats = worker.drain(progress=lambda n: _progress(f"{n} clicks written"))
        _progress("")
        click.echo(
            f"drained: {stats.written} clicks written in {stats.batches} batches"
            + (f", {stats.dropped} malformed dropped" if stats.dropped else "")
        )
        return
    stopping = {"now": False}

    def _stop(_signum: int, _frame: Any) -> None:
        stopping["now"] = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    click.echo(f"worker {worker.consumer} reading {svc.settings.click_stream}", err=True)
    spool_mover.wake()
    stats = worker.run(lambda: stopping["now"])
    spool_mover.stop()
    click.echo(f"stopped: {stats.written} clicks written", err=True)


db_group = AppGroup("db", help="Database schema.")


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply Alembic migrations."""
    from service.migrate import head_revision, upgrade

    upgrade(services().settings.database_url, revision)
    if revision == "head":
        click.echo(f"database schema up to date (revision {head_revision()})")
    else:
        click.echo(f"database schema at revision {revision}")


keys_group = AppGroup("keys", help="Management API keys.")


@keys_group.command("create")
@click.option("--name", required=True)
@click.option("--scope", required=True, type=click.Choice(["read", "write"]))
def keys_create(name: str, scope: str) -> None:
    """Create an API key; the key itself is printed alone on the last line."""
    from service.keys.service import create_key

    with services().db.session() as session:
        key, token = create_key(session, name, scope)
        click.echo(
            f"created key {key.id} ({key.scope}) named {key.name!r}; store it now, "
            "it is not shown again:"
        )
    click.echo(token)


@keys_group.command("list")
def keys_list() -> None:
    """List the API keys: id, scope, name, the key's first characters, created, revoked."""
    from service.keys.service import list_keys

    with services().db.read_session() as session:
        keys = list_keys(session)
        if not keys:
            click.echo("no API keys yet: afftrack keys create --name NAME --scope read|write")
        for key in keys:
            revoked = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
            click.echo(
                f"{key.id}  {key.scope:<5}  {key.prefix}…  created {key.created_at:%Y-%m-%d %H:%M}"
                f"  {revoked}  {key.name}"
            )


@keys_group.command("revoke")
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    """Revoke an API key by its id: the API refuses it and its dashboard sessions end.
    Revoking a revoked key changes nothing."""
    from service.errors import AfftrackError
    from service.keys.service import revoke_key

    try:
        with services().db.session() as session:
            key = revoke_key(session, key_id)
            revoked_at = key.revoked_at
            assert revoked_at is not None
            click.echo(f"key {key.id} ({key.name!r}) revoked at {revoked_at.isoformat()}")
    except AfftrackError as exc:
        raise click.ClickException(f"{exc.message} ({exc.code})") from None


portal_group = AppGroup("portal", help="The influencer portal: sign-in links and access.")


def _influencer_id(handle: str) -> str:
    from sqlalchemy import select

    from service.influencers.models import Influencer

    with services().db.read_session() as session:
        found = session.scalar(select(Influencer.id).where(Influencer.handle == handle))
    if found is None:
        raise click.ClickException(f"no influencer has the handle {handle!r}")
    return found


@portal_group.command("invite")
@click.option("--handle", required=True, help="the influencer's handle")
def portal_invite(handle: str) -> None:
    """Make a one-time sign-in link for an influencer and mail it when AFFTRACK_SMTP_URL
    is set; the link is printed alone on the last line either way."""
    from service.portal.access import CLI, invite_and_mail

    svc = services()
    sent = invite_and_mail(
        svc.db, svc.settings, _influencer_id(handle), actor=CLI, address_hash=None
    )
    until = f"valid until {sent.expires_at:%Y-%m-%d %H:%M} UTC"
    if sent.mailed.mailed:
        click.echo(f"mailed to {sent.email}; {until}. The link:")
    else:
        click.echo(f"not mailed ({sent.mailed.reason}); copy this link to @{handle}, {until}:")
    click.echo(sent.url)


@portal_group.command("revoke")
@click.option("--handle", required=True, help="the influencer's handle")
def portal_revoke(handle: str) -> None:
    """End every unused sign-in link and every open portal session of an influencer."""
    from service.influencers.service import get_influencer
    from service.portal.access import CLI, revoke_all

    influencer_id = _influencer_id(handle)
    with services().db.session() as session:
        done = revoke_all(
            session, get_influencer(session, influencer_id), actor=CLI, address_hash=None
        )
    click.echo(
        f"@{handle}: {done.links} sign-in link(s) and {done.sessions} portal session(s) ended"
    )


ledger_group = AppGroup("ledger", help="The commission ledger.")


@ledger_group.command("verify")
def ledger_verify() -> None:
    """Recompute the ledger from stored events; exit 1 on any difference."""
    from service.commissions.verify import verify

    svc = services()
    with svc.db.session() as session:
        report = verify(session, svc.settings.timezone)
    for note in report.notes:
        click.echo(f"note: {note}")
    for problem in report.problems:
        click.echo(problem)
    click.echo(
        f"checked {report.checked} lines: "
        + ("no differences" if report.ok else f"{len(report.problems)} difference(s)")
    )
    if not report.ok:
        sys.exit(1)


@ledger_group.command("settle")
@click.option("--month", required=True, help="YYYY-MM")
def ledger_settle(month: str) -> None:
    """Write an ended month's tiered true-up and CPC lines now (closing a month does
    this for it). For clicks or refunds that reached a month already closed: the lines
    go into the next open export. Safe to repeat: nothing new, nothing written."""
    from service.commissions.settlement import settle_month
    from service.errors import AfftrackError
    from service.periods import parse_period

    svc = services()
    try:
        with svc.db.session() as session:
            parse_period(month)
            done = settle_month(session, month, svc.settings.timezone)
            session.commit()
    except AfftrackError as exc:
        raise click.ClickException(f"{exc.message} ({exc.code})") from None
    if not done.months:
        click.echo(f"{month} has not ended or has nothing to settle")
    else:
        click.echo(
            f"settled {', '.join(done.months)}: {done.true_ups} true-up line(s), "
            f"{done.cpc} cpc line(s)"
        )


conversions_group = AppGroup("conversions", help="Orders received from the shop.")


@conversions_group.command("replay")
@click.option(
    "--id",
    "ident",
    required=True,
    help="A stored delivery (whd_…) or a conversion (cnv_…).",
)
def conversions_replay(ident: str) -> None:
    """Verify a stored webhook delivery again and re-run it; attribute its order if it
    was left unattributed and can be attributed now. Exit 1 if it cannot be replayed."""
    from service.conversions.intake import replay
    from service.errors import AfftrackError

    svc = services()
    try:
        with svc.db.session() as session:
            report = replay(session, svc.settings, ident.strip())
    except AfftrackError as exc:
        click.echo(f"cannot replay {ident}: {exc}", err=True)
        sys.exit(1)
    for line in report:
        click.echo(line)


@conversions_group.command("spool")
@click.option("--drain", "drain_now", is_flag=True, help="Apply every waiting delivery now.")
def conversions_spool(drain_now: bool) -> None:
    """Webhook deliveries kept while the database was down and not applied yet: how
    many, per source, and the oldest's age; --drain applies them now (exit 1 if the
    database still cannot take them)."""
    from sqlalchemy.exc import SQLAlchemyError

    from service.conversions.spooled import drain_deliveries, waiting_by_source
    from service.errors import AfftrackError

    svc = services()
    spool = svc.webhook_spool

    def show() -> None:
        status = spool.status()
        if not status.records:
            click.echo(f"no webhook deliveries waiting in {spool.directory}")
            return
        click.echo(
            f"{status.records} webhook deliveries waiting in {spool.directory}, "
            f"the oldest received {status.oldest_age_seconds:.0f} s ago"
        )
        for source, count in sorted(waiting_by_source(spool).items()):
            click.echo(f"  {source}: {count}")

    if not drain_now:
        show()
        return
    try:
        applied = drain_deliveries(svc.db, svc.settings, spool)
    except (SQLAlchemyError, AfftrackError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        click.echo(f"cannot apply the waiting deliveries now: {reason}", err=True)
        show()
        sys.exit(1)
    click.echo(f"applied {applied} webhook deliveries")
    show()


export_group = AppGroup("export", help="Monthly exports.")


@export_group.command("commissions")
@click.option("--month", required=True, help="YYYY-MM")
@click.option("--format", "fmt", default="csv", type=click.Choice(["csv", "json", "paypal"]))
@click.option("--detail", is_flag=True, help="Line-level detail instead of the summary.")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), help="File to write.")
@click.option("--close", "close_month", is_flag=True, help="Close the month after exporting.")
@click.option("--currency", help="The PayPal file's currency (a month paying in several).")
@click.option(
    "--part", type=click.IntRange(min=1), help="The PayPal file's part (over 5,000 payments)."
)
def export_commissions(
    month: str,
    fmt: str,
    detail: bool,
    out: str | None,
    close_month: bool,
    currency: str | None,
    part: int | None,
) -> None:
    """Write the commission export for a month (and optionally close it)."""
    from service.errors import AfftrackError
    from service.exports import service as exports

    svc = services()
    zone = svc.settings.timezone
    try:
        exports.check_options(fmt, detail, currency, part)  # before anything is closed
        with svc.db.session() as session:
            if close_month:
                act_as(session, CLI_ACTOR)
                export = exports.close(session, month, zone)
                session.commit()
            with contextlib.ExitStack() as stack:
                on_rows = None
                if _on_terminal():  # a progress bar on a terminal, quiet when piped
                    total = exports.size(session, month, detail=detail, zone=zone)
                    bar = stack.enter_context(
                        click.progressbar(length=total, label="rows", file=sys.stderr)
                    )
                    on_rows = bar.update
                built = exports.build(
                    session,
                    month,
                    fmt=fmt,
                    detail=detail,
                    zone=zone,
                    currency=currency,
                    part=part,
                    on_rows=on_rows,
                )
                sink = stack.enter_context(open(out, "wb")) if out else sys.stdout.buffer
                for chunk in built.chunks:
                    sink.write(chunk)
    except AfftrackError as exc:
        raise click.ClickException(f"{exc.message} ({exc.code})") from None
    if close_month:
        click.echo(f"closed {export.period}: checksum {export.checksum}", err=True)
    if out:
        click.echo(f"wrote {out}", err=True)


import_group = AppGroup(
    "import",
    help="Bulk import from CSV: influencers, partners, links, promo codes (docs/imports.md).",
)


@import_group.command("template")
@click.argument("kind", type=click.Choice(["influencers", "partners", "links", "promo-codes"]))
@click.option("--out", type=click.Path(dir_okay=False, writable=True), help="File to write.")
def import_template(kind: str, out: str | None) -> None:
    """Print (or write) a kind's CSV template: its header and one example row."""
    from service.imports import template

    text = template(kind)
    if out:
        with open(out, "w", encoding="utf-8", newline="") as sink:
            sink.write(text)
        click.echo(f"wrote {out}", err=True)
    else:
        click.echo(text, nl=False)


def _import_command(kind: str) -> click.Command:
    @click.argument("file", type=click.File("rb"))
    @click.option("--dry-run", is_flag=True, help="Show each row's outcome; write nothing.")
    def command(file: Any, dry_run: bool) -> None:
        from service.errors import AfftrackError
        from service.imports import MAX_BYTES, plan, run

        data = file.read(MAX_BYTES + 1)  # a longer file is refused for its size
        svc = services()
        try:
            with svc.db.session() as session:
                act_as(session, CLI_ACTOR)
                act = plan if dry_run else run
                result = act(session, kind, data, settings=svc.settings)
        except AfftrackError as exc:
            raise click.ClickException(exc.message) from None
        for row in result.rows:
            ident = f"  {row.id}" if row.id and not dry_run else ""
            click.echo(f"row {row.row:<5} {row.outcome:<9} {row.key}{ident}")
        for error in result.errors:
            click.echo(str(error), err=True)
        counts = result.counts
        summary = (
            f"{counts['created']} created, {counts['unchanged']} unchanged, "
            f"{counts['error']} with errors"
        )
        if dry_run:
            click.echo(f"dry run, nothing written: {summary}")
        elif result.applied:
            click.echo(f"imported: {summary}")
        else:
            click.echo(f"nothing written, as a row has errors: {summary}")
        if not result.ok:
            sys.exit(1)

    command.__doc__ = (
        f"Import {kind} from a CSV FILE ('-': standard input), all rows or none; "
        "a row already there with the same values is unchanged."
    )
    return import_group.command(kind)(command)


for _kind in ("influencers", "partners", "links", "promo-codes"):
    _import_command(_kind)


@click.command("demo")
@with_appcontext
@click.option(
    "--new-key", is_flag=True, help="Create another write API key for the demo and print it."
)
def demo_command(new_key: bool) -> None:
    """Create a demo programme (influencers, campaigns, links, codes, six weeks of clicks
    and orders, approved posts, a closed month) once; print its short URLs."""
    from service.demo import create_demo

    svc = services()
    if svc.settings.is_sqlite:
        from service.migrate import upgrade

        upgrade(svc.settings.database_url)
    lines = create_demo(svc.db, svc.settings, new_key=new_key)
    for line in lines:
        click.echo(line)


clicks_group = AppGroup(
    "clicks", help="The clicks table: monthly partitions, retention, the local spool."
)


@clicks_group.command("spool")
@click.option("--drain", is_flag=True, help="Move every spooled click on now.")
def clicks_spool(drain: bool) -> None:
    """List the clicks waiting in the local spool (AFFTRACK_SPOOL_DIR); --drain moves
    them into the Redis stream, or straight into the database without Redis."""
    svc = services()
    mover = svc.redirector.clicks
    click.echo(f"spool directory: {mover.spool.directory}")
    if drain:
        from redis.exceptions import RedisError
        from sqlalchemy.exc import SQLAlchemyError

        try:
            moved = mover.drain()
        except (RedisError, SQLAlchemyError) as exc:
            raise click.ClickException(
                f"neither Redis nor the database takes clicks right now "
                f"({type(exc).__name__}); they stay in the spool"
            ) from None
        click.echo(f"moved {moved} clicks")
    for kind, spool in (("clicks", mover.spool), ("seen", mover.seen)):
        status = spool.status()
        what = "clicks" if kind == "clicks" else "unique visitors' keys for Redis"
        if status.records:
            click.echo(
                f"{kind}: {status.records} {what} waiting in {status.files} file(s), "
                f"the oldest {status.oldest_age_seconds:.0f} s old"
            )
        else:
            click.echo(f"{kind}: nothing waiting")


@clicks_group.command("partitions")
def clicks_partitions() -> None:
    """Create this month's and the next two months' partitions; list them all."""
    from service.clicks.partitions import ensure_ahead, is_partitioned, partitions
    from service.clock import now_utc

    with services().db.engine.begin() as conn:
        if not is_partitioned(conn):
            click.echo("clicks is not partitioned on this database (SQLite)")
            return
        ensure_ahead(conn, now_utc())
        for name in partitions(conn):
            click.echo(name)


@clicks_group.command("detach")
@click.option("--before", "before", required=True, help="YYYY-MM: detach the months before it.")
@click.option("--force", is_flag=True, help="Allow detaching this month's partition too.")
def clicks_detach(before: str, force: bool) -> None:
    """Detach old monthly partitions (retention); they stay as plain tables to archive."""
    from datetime import date

    from service.clicks.partitions import detach_before
    from service.clock import now_utc
    from service.errors import InvalidInput
    from service.periods import parse_period

    try:
        year, number = parse_period(before)
    except InvalidInput:
        raise click.BadParameter("must be YYYY-MM", param_hint="--before") from None
    month = date(year, number, 1)
    now = now_utc()
    if month > date(now.year, now.month, 1) and not force:
        raise click.BadParameter(
            "would detach the current month, whose clicks would then be refused; "
            "pass --force if that is really meant",
            param_hint="--before",
        )
    with services().db.engine.begin() as conn:
        detached = detach_before(conn, month)
    for name in detached:
        click.echo(f"detached {name}")
    if not detached:
        click.echo("nothing to detach")


@click.command("openapi")
@with_appcontext
@click.option(
    "--markdown", is_flag=True, help="The reference in Markdown (docs/reference.md) instead."
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write to this file instead of standard output.",
)
def openapi_command(markdown: bool, out: Path | None) -> None:
    """Print the management API's OpenAPI document (as /api/v1/openapi.json serves it),
    or with --markdown the API reference written from it."""
    import json

    from service.http.contract import document
    from service.http.reference import render

    spec = document(current_app)
    text = render(spec) if markdown else json.dumps(spec, indent=2, ensure_ascii=False) + "\n"
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}", err=True)


def register(app: Flask) -> None:
    for command in (
        serve_command,
        worker_command,
        clicks_group,
        conversions_group,
        db_group,
        keys_group,
        portal_group,
        ledger_group,
        export_group,
        import_group,
        demo_command,
        openapi_command,
    ):
        app.cli.add_command(command)


def _create_app() -> Flask:
    from service.app import create_app

    return create_app(announce=False)  # a command's output is its own, not a start-up log


cli = FlaskGroup(
    name="afftrack",
    create_app=_create_app,
    add_default_commands=False,
    add_version_option=False,
    load_dotenv=False,
    set_debug_flag=False,
    help="afftrack: affiliate and promo-code tracking for influencer marketing.",
)

click.version_option(__version__, "--version", prog_name="afftrack")(cli)
# Flask's own options (--app, --env-file, --debug) choose nothing here: afftrack is one
# app, configured by the environment alone.
cli.params = [param for param in cli.params if param.name not in {"app", "env_file", "debug"}]


def main() -> None:
    """The console script: a setting afftrack cannot start with is one sentence (exit 2),
    and so is a database it cannot reach (exit 1), never a traceback."""
    from sqlalchemy.exc import OperationalError

    from service.config import ConfigError, from_env

    try:
        cli.main(prog_name="afftrack")
    except ConfigError as exc:
        click.echo(f"afftrack: {exc}", err=True)
        sys.exit(2)
    except OperationalError as exc:
        where = from_env().redacted()["database_url"]
        reason = str(exc.orig or exc).strip().splitlines()[0]
        click.echo(f"afftrack: cannot use the database at {where}: {reason}", err=True)
        sys.exit(1)


__all__ = ["cli", "current_app", "main", "register"]
