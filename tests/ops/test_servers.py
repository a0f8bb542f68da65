"""The throwaway servers of tests/support/servers.py really start, fail and come back."""

from __future__ import annotations

import os
import time

import psycopg
import pytest
import redis as redis_lib
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from tests.support.servers import (
    PostgresCluster,
    RedisServer,
    ServerError,
    port_is_free,
)

# Redis -----------------------------------------------------------------------------------


def test_redis_stop_refuses_connections_and_start_comes_back_on_the_same_port(redis_server):
    client = redis_server.client()
    try:
        port = redis_server.port
        assert redis_server.url == f"redis://127.0.0.1:{port}/0"
        assert client.set("k", "v")
        assert client.get("k") == b"v"

        redis_server.stop()
        assert not redis_server.running
        with pytest.raises(redis_lib.exceptions.ConnectionError):
            client.get("k")
        redis_server.stop()  # idempotent

        redis_server.start()
        assert redis_server.port == port
        assert client.get("k") is None  # the same client reconnects; no persistence
        assert client.set("k", "again")
        assert client.get("k") == b"again"
    finally:
        client.close()


def test_redis_kill_is_a_crash_and_a_restart_recovers(redis_server):
    client = redis_server.client()
    try:
        assert client.ping()
        pid = redis_server.pid
        redis_server.kill()
        assert not redis_server.running
        assert not _process_exists(pid)
        with pytest.raises(redis_lib.exceptions.ConnectionError):
            client.ping()
        redis_server.start()
        assert redis_server.pid != pid
        assert client.ping()
    finally:
        client.close()


def test_a_paused_redis_times_out_and_answers_again_after_resume(redis_server):
    client = redis_server.client(socket_timeout=0.2)
    try:
        assert client.ping()
        redis_server.pause()
        assert redis_server.paused
        started = time.monotonic()
        with pytest.raises(redis_lib.exceptions.TimeoutError):
            client.ping()
        assert time.monotonic() - started < 1.0
        # a new connection is accepted by the kernel, but nothing answers either
        with pytest.raises(redis_lib.exceptions.TimeoutError):
            client.set("k", "v")
        redis_server.resume()
        assert client.ping()
        assert client.set("k", "v")
    finally:
        client.close()


def test_a_paused_redis_still_stops_promptly():
    server = RedisServer()
    with server:
        server.pause()
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 2.0
        assert not server.running
    assert not server.directory.exists()


def test_leaving_the_block_stops_redis_and_removes_its_directory():
    with RedisServer() as server:
        pid, port, directory = server.pid, server.port, server.directory
        assert directory.is_dir()
        assert _process_exists(pid)
    assert not _process_exists(pid)
    assert not directory.exists()
    assert port_is_free(port)
    server.close()  # idempotent
    with pytest.raises(ServerError, match="closed"):
        server.start()


def test_a_redis_that_cannot_start_is_reported_with_its_log():
    server = RedisServer(extra_args=["--no-such-directive", "1"])
    expected = r"exited with 1 while starting(.|\n)*no-such-directive"
    with pytest.raises(ServerError, match=expected), server:
        pass
    assert not server.running
    assert not server.directory.exists()


# PostgreSQL ------------------------------------------------------------------------------


def test_postgres_stop_immediate_fails_queries_and_start_brings_it_back(pg_cluster):
    assert pg_cluster.url == f"postgresql+psycopg://postgres@127.0.0.1:{pg_cluster.port}/postgres"
    engine = create_engine(pg_cluster.url, poolclass=NullPool)
    held = psycopg.connect(pg_cluster.dsn)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar_one() == 1

        pg_cluster.stop("immediate")
        assert not pg_cluster.running
        with pytest.raises(OperationalError), engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        with pytest.raises(psycopg.OperationalError):  # an open connection is cut too
            held.execute("SELECT 1")

        pg_cluster.start()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        held.close()
        engine.dispose()


def test_postgres_keeps_committed_rows_across_a_fast_stop_and_a_crash(pg_cluster):
    url = pg_cluster.create_database("fault_data")
    assert url.endswith(f":{pg_cluster.port}/fault_data")
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (n int)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))

        pg_cluster.stop("fast")
        pg_cluster.start()
        with engine.begin() as conn:
            assert conn.execute(text("SELECT n FROM t")).scalars().all() == [1]
            conn.execute(text("INSERT INTO t VALUES (2)"))

        pg_cluster.stop("immediate")
        pg_cluster.start()
        assert "automatic recovery in progress" in pg_cluster.log()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT n FROM t ORDER BY n")).scalars().all() == [1, 2]

        pg_cluster.kill()  # SIGKILL, the postmaster and every backend
        pg_cluster.start()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 2
    finally:
        engine.dispose()


def test_leaving_the_block_stops_postgres_and_removes_its_directory():
    with PostgresCluster() as cluster:
        pid, port, base = cluster.pid, cluster.port, cluster.base_dir
        assert (cluster.data_dir / "PG_VERSION").is_file()
        assert _process_exists(pid)
    assert not _process_exists(pid)
    assert not base.exists()
    assert port_is_free(port)
    cluster.stop()  # idempotent
    cluster.close()


def test_a_postgres_that_cannot_start_is_reported_with_its_log():
    cluster = PostgresCluster(settings={"shared_buffers": "lots"})
    expected = r"exited with 1 while starting(.|\n)*shared_buffers"
    with pytest.raises(ServerError, match=expected), cluster:
        pass
    assert not cluster.running
    assert not cluster.base_dir.exists()


def test_a_bad_stop_mode_is_refused(pg_cluster):
    with pytest.raises(ValueError, match="mode"):
        pg_cluster.stop("graceful")
    assert pg_cluster.running


def _process_exists(pid: int | None) -> bool:
    """Alive and not a zombie."""
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
