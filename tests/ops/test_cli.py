"""The `afftrack` command, through Flask's CLI runner and as a real console script."""

from __future__ import annotations

import hashlib
import os
import subprocess
import uuid
from datetime import timedelta

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.support.app import AFFTRACK
from tests.support.flow import run_flow
from tests.support.servers import free_port


def db_of(app):
    return app.extensions["afftrack"].db


def test_keys_are_hashed_at_rest_and_scoped(pg_api):
    token = pg_api.make_key("read")
    with db_of(pg_api.app).engine.connect() as conn:
        stored = conn.execute(text("SELECT key_hash, scope FROM api_keys")).all()
    assert (hashlib.sha256(token.encode()).hexdigest(), "read") in stored
    assert all(token not in row.key_hash for row in stored)
    assert pg_api.get("/api/v1/influencers", key=token).status_code == 200
    assert pg_api.post("/api/v1/influencers", {"handle": "x"}, key=token).status_code == 403


def test_keys_list_shows_every_key_without_its_secret(sqlite_app, frozen):
    runner = sqlite_app.test_cli_runner()
    assert "no API keys yet" in runner.invoke(args=["keys", "list"]).output
    made = {}
    for name, scope in (("finance", "read"), ("ops", "write")):
        result = runner.invoke(args=["keys", "create", "--name", name, "--scope", scope])
        assert result.exit_code == 0, result.output
        made[name] = (result.output.split()[2], result.output.strip().splitlines()[-1])
        frozen.advance(timedelta(minutes=1))
    frozen.advance(timedelta(minutes=5))
    assert runner.invoke(args=["keys", "revoke", made["ops"][0]]).exit_code == 0
    listed = runner.invoke(args=["keys", "list"])
    assert listed.exit_code == 0
    rows = listed.output.strip().splitlines()
    assert [row.split()[0] for row in rows] == [made["finance"][0], made["ops"][0]]
    assert rows[0].split()[1] == "read" and "active" in rows[0] and rows[0].endswith("finance")
    assert "revoked 2026-10-01 09:07" in rows[1] and rows[1].endswith("ops")
    for _key_id, token in made.values():
        assert token not in listed.output
        assert f"{token[:10]}…" in listed.output


def test_keys_create_refuses_a_bad_scope(sqlite_app):
    result = sqlite_app.test_cli_runner().invoke(
        args=["keys", "create", "--name", "x", "--scope", "admin"]
    )
    assert result.exit_code != 0


def test_ledger_verify_finds_a_tampered_line(pg_api, frozen):
    run_flow(pg_api, frozen, with_redis=True)
    runner = pg_api.app.test_cli_runner()
    assert runner.invoke(args=["ledger", "verify"]).exit_code == 0
    tamper = text(
        "UPDATE commission_lines SET amount_minor = amount_minor + 1 "
        "WHERE kind = 'sale' AND amount_minor = 1080"
    )
    with pytest.raises(DBAPIError, match="append-only"), db_of(pg_api.app).engine.begin() as conn:
        conn.execute(tamper)  # the append-only trigger refuses it
    # Someone with the power to switch the trigger off does it anyway: verify sees it.
    with db_of(pg_api.app).engine.begin() as conn:
        conn.execute(
            text("ALTER TABLE commission_lines DISABLE TRIGGER commission_lines_append_only")
        )
        conn.execute(tamper)
        conn.execute(
            text("ALTER TABLE commission_lines ENABLE TRIGGER commission_lines_append_only")
        )
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 1
    assert "expected 1080 EUR" in result.output


def test_export_to_a_file_and_close(sqlite_api, frozen, tmp_path):
    run_flow(sqlite_api, frozen, with_redis=False)  # closes 2026-10
    runner = sqlite_api.app.test_cli_runner()
    out = tmp_path / "oct.csv"
    result = runner.invoke(args=["export", "commissions", "--month", "2026-10", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == sqlite_api.get("/api/v1/exports/commissions/2026-10").data
    again = runner.invoke(args=["export", "commissions", "--month", "2026-10", "--close"])
    assert again.exit_code != 0 and "already closed" in again.output
    detail = runner.invoke(
        args=["export", "commissions", "--month", "2026-10", "--detail", "--format", "json"]
    )
    assert detail.exit_code == 0 and '"kind":"reversal"' in detail.output


def test_close_refuses_a_month_that_has_not_ended(sqlite_api, frozen):
    frozen.set("2026-10-20T00:00:00Z")
    result = sqlite_api.app.test_cli_runner().invoke(
        args=["export", "commissions", "--month", "2026-10", "--close"]
    )
    assert result.exit_code != 0 and "has not ended" in result.output
    response = sqlite_api.post("/api/v1/exports/commissions/2026-10/close")
    assert response.status_code == 409 and response.json["error"]["code"] == "period_open"


def test_worker_without_redis_says_so(sqlite_app):
    result = sqlite_app.test_cli_runner().invoke(args=["worker", "--drain"])
    assert result.exit_code == 0 and "REDIS_URL is not set" in result.output


def run_console(args: list[str], cwd, env) -> subprocess.CompletedProcess:
    """The installed console script, as a new user runs it."""
    return subprocess.run(
        [AFFTRACK, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def run_demo(cwd, env) -> subprocess.CompletedProcess:
    return run_console(["demo"], cwd, env)


def test_demo_then_redirect_as_a_new_user_would(tmp_path):
    """`afftrack demo` on a bare directory (embedded SQLite), then follow a printed URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL"))}
    first = run_demo(tmp_path, env)
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "afftrack.db").exists()
    urls = [word for word in first.stdout.split() if "/r/" in word]
    assert len(urls) == 8  # two campaigns' links
    assert "shown once" in first.stdout and "/dashboard/" in first.stdout
    second = run_demo(tmp_path, env)
    assert second.returncode == 0
    assert [w for w in second.stdout.split() if "/r/" in w] == urls  # idempotent
    assert "shown once" not in second.stdout

    from service.app import create_app
    from service.config import from_env

    app = create_app(from_env({}, database_url=f"sqlite:///{tmp_path / 'afftrack.db'}"))
    code = urls[0].rsplit("/", 1)[1]
    response = app.test_client().get(f"/r/{code}", headers={"User-Agent": "Mozilla/5.0"})
    assert response.status_code == 302
    assert "utm_campaign=demo-winter" in response.headers["Location"]
    assert "aff_click=" in response.headers["Location"]
    app.extensions["afftrack"].db.dispose()


def test_serve_refuses_a_missing_gunicorn_config_before_it_writes_anything(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL"))}
    env["AFFTRACK_GUNICORN_CONFIG"] = str(tmp_path / "nope.py")
    result = run_console(["serve", "--port", "1"], tmp_path, env)
    assert result.returncode == 2
    assert "AFFTRACK_GUNICORN_CONFIG names" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("own_config", [None, "deploy/gunicorn.conf.py"])
def test_serve_runs_gunicorn_with_the_packaged_or_an_own_config(tmp_path, own_config):
    """The README's first command: demo, then serve; a real HTTP redirect comes back.
    The example config of one's own (deploy/gunicorn.conf.py) serves as well."""
    import http.client
    import time
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL"))}
    env["GUNICORN_WORKERS"] = "1"
    env["GUNICORN_ACCESSLOG"] = str(tmp_path / "access.log")
    env.pop("AFFTRACK_GUNICORN_CONFIG", None)
    if own_config:
        env["AFFTRACK_GUNICORN_CONFIG"] = str(Path(__file__).parents[2] / own_config)

    demo = run_demo(tmp_path, env)
    code = next(w for w in demo.stdout.split() if "/r/" in w).rsplit("/", 1)[1]
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [AFFTRACK, "serve", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            try:
                conn.request("GET", "/healthz")
                assert conn.getresponse().status == 200
                break
            except OSError:
                assert time.monotonic() < deadline, "serve did not answer within 30 s"
                time.sleep(0.2)
            finally:
                conn.close()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", f"/r/{code}", headers={"User-Agent": "Mozilla/5.0"})
        response = conn.getresponse()
        conn.close()
        assert response.status == 302
        assert "utm_source=" in response.getheader("Location")
        # Not on :8000, with the default public URL: serve says the short URLs are off.
        assert "note: short URLs are made with AFFTRACK_PUBLIC_URL" in log.read_text()
        # The access log writes a portal sign-in link without its one-time token.
        token = "tok_" + "A1b2" * 10
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request(
            "GET",
            f"/portal/sign-in/{token}",
            headers={"Referer": f"https://a.example/portal/sign-in/{token}"},
        )
        conn.getresponse().read()
        conn.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    access = (tmp_path / "access.log").read_text()
    assert f"/r/{code}" in access  # the log is written
    assert "GET /portal/sign-in/<token> HTTP/1.1" in access and token not in access


def _console(*args: str, cwd, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL"))}
    return run_console(list(args), cwd, {**clean, "AFFTRACK_LOG_LEVEL": "WARNING", **env})


PROD_SECRETS = {
    "AFFTRACK_HASHIDS_SALT": "salt-of-the-cli",
    "AFFTRACK_IP_HASH_KEY": "key-of-the-cli",
}


def test_a_database_it_cannot_reach_is_one_sentence_not_a_traceback(tmp_path):
    unreachable = f"postgresql://someone:hunter2@127.0.0.1:{free_port()}/afftrack"
    result = _console("db", "upgrade", cwd=tmp_path, DATABASE_URL=unreachable, **PROD_SECRETS)
    assert result.returncode == 1
    assert result.stderr.startswith("afftrack: cannot use the database at postgresql+psycopg://")
    assert "Connection refused" in result.stderr
    assert "Traceback" not in result.stderr and "hunter2" not in result.stderr


def test_serve_refuses_a_database_whose_schema_is_behind(tmp_path):
    from tests.support.app import PG_ADMIN_URL

    name = f"afftrack_cli_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    try:
        empty = _console(
            "serve", "--port", str(free_port()), cwd=tmp_path, DATABASE_URL=url, **PROD_SECRETS
        )
        assert empty.returncode == 1, empty.stderr
        assert "schema is at revision none (empty database)" in empty.stderr
        assert "run `afftrack db upgrade` first" in empty.stderr
        upgraded = _console("db", "upgrade", cwd=tmp_path, DATABASE_URL=url, **PROD_SECRETS)
        assert upgraded.returncode == 0, upgraded.stderr
        assert upgraded.stdout.startswith("database schema up to date (revision ")
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
