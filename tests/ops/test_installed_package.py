"""afftrack as a stranger gets it: built into an sdist and a wheel, the wheel installed
into a fresh virtualenv, and every command run from a directory outside the checkout.

Nothing here imports the checkout: the commands run with the new venv's interpreter, in
a temporary working directory, without PYTHONPATH, so a file the code reads at run time
that the wheel does not carry fails here as it would for a user.
"""

from __future__ import annotations

import http.client
import http.cookiejar
import os
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import venv
import zipfile
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis as redis_lib

import service
from tests.support.app import PG_ADMIN_URL
from tests.support.markdown import links
from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.postgres


def _run(cmd: list[str], *, timeout: float = 600, **kwargs: Any) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)
    assert result.returncode == 0, (
        f"{' '.join(cmd)} exited {result.returncode}\n{result.stdout[-3000:]}\n"
        f"{result.stderr[-3000:]}"
    )
    return result


class Installed:
    """A fresh virtualenv holding the built wheel, and the artefacts it came from."""

    def __init__(self, root: Path, wheel: Path, sdist: Path) -> None:
        self.root = root
        self.wheel = wheel
        self.sdist = sdist
        self.bin = root / "venv" / "bin"

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a user's shell: none of the checkout's or the tests' settings."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AFFTRACK_", "DATABASE_URL", "REDIS_URL", "GUNICORN_"))
            and k not in {"PYTHONPATH", "VIRTUAL_ENV", "PROMETHEUS_MULTIPROC_DIR"}
        }
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        env["GUNICORN_WORKERS"] = "1"
        env.update(extra)
        return env

    def afftrack(self, *args: str, cwd: Path, env: dict[str, str]) -> str:
        return _run([str(self.bin / "afftrack"), *args], cwd=cwd, env=env).stdout

    def attempt(self, *args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
        """A command that may fail: its exit code and output, for the test to judge."""
        return subprocess.run(
            [str(self.bin / "afftrack"), *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """`python -m build` (an sdist, then a wheel built from that sdist) and the wheel
    installed into a new virtualenv with its dependencies."""
    root = tmp_path_factory.mktemp("installed")
    dist = root / "dist"
    _run([sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)], cwd=root)
    wheels = list(dist.glob("afftrack-*.whl"))
    sdists = list(dist.glob("afftrack-*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, sorted(p.name for p in dist.iterdir())
    venv.create(root / "venv", with_pip=True)
    python = root / "venv" / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "-q", str(wheels[0])], cwd=root)
    return Installed(root, wheels[0], sdists[0])


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """A working directory that is not the checkout and holds nothing of it."""
    work = tmp_path / "somewhere-else"
    work.mkdir()
    return work


class Served:
    """`afftrack serve` of the installed package, on a free port of 127.0.0.1."""

    def __init__(self, installed: Installed, cwd: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.log = cwd / "serve.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [str(installed.bin / "afftrack"), "serve", "--port", str(self.port)],
                cwd=cwd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        try:
            while self.get("/healthz")[0] != 200:
                assert self.proc.poll() is None, f"serve exited:\n{self.log.read_text()[-3000:]}"
                assert time.monotonic() < deadline, f"serve did not answer:\n{self.log.read_text()}"
                time.sleep(0.2)
        except BaseException:
            self.stop()  # the fixture never hears of a server that failed to start
            raise

    def get(self, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", path, headers={"User-Agent": "Mozilla/5.0", **headers})
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        except OSError:
            return 0, {}, b""
        finally:
            conn.close()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=40)  # gunicorn's graceful_timeout is 30 s
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def serve(installed: Installed) -> Iterator[Any]:
    started: list[Served] = []

    def start(cwd: Path, env: dict[str, str]) -> Served:
        server = Served(installed, cwd, env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


class _Links(HTMLParser):
    """Every href, src and action of a form a browser sends with GET, of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        posted = tag == "form" and (dict(attrs).get("method") or "get").lower() == "post"
        for name, value in attrs:
            if name in {"href", "src", "action"} and value and not (posted and name == "action"):
                self.found.append(value)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Browser:
    """Cookies, forms and no automatic redirects: enough to use the dashboard."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirects()
        )

    def open(self, path: str, form: dict[str, str] | None = None) -> tuple[int, str, str]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        try:
            with self.opener.open(self.base + path, data=data, timeout=10) as response:
                return response.status, response.headers.get("Location", ""), response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get("Location", ""), error.read()

    def links(self, page: bytes) -> list[str]:
        parser = _Links()
        parser.feed(page.decode())
        return parser.found


def _csrf(page: bytes) -> str:
    marker = b'name="csrf" value="'
    start = page.index(marker) + len(marker)
    return page[start : page.index(b'"', start)].decode()


def _demo_code_and_key(printed: str) -> tuple[str, str]:
    key = next(line for line in printed.splitlines() if "shown once" in line).split()[-1]
    code = next(word for word in printed.split() if "/r/" in word).rsplit("/", 1)[1]
    return code, key


def test_the_wheel_and_the_sdist_carry_every_file_the_code_reads(installed: Installed) -> None:
    runtime = {  # code, templates, static files, migrations and their template
        str(path.relative_to(ROOT))
        for top in ("service", "migrations")
        for path in (ROOT / top).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
        metadata = wheel.read(f"afftrack-{service.__version__}.dist-info/METADATA").decode()
    assert runtime <= names, sorted(runtime - names)
    assert f"afftrack-{service.__version__}.dist-info/licenses/LICENSE" in names
    assert f"Version: {service.__version__}" in metadata
    assert "License-Expression: Apache-2.0" in metadata
    assert "Project-URL: Source," in metadata
    assert installed.sdist.name == f"afftrack-{service.__version__}.tar.gz"


def test_the_sdist_carries_what_the_readme_links_to_and_the_tests(installed: Installed) -> None:
    prefix = f"afftrack-{service.__version__}/"
    with tarfile.open(installed.sdist) as sdist:
        names = {name.removeprefix(prefix) for name in sdist.getnames()}
    linked = {t.partition("#")[0].rstrip("/") for t in links(ROOT / "README.md")}
    assert {"LICENSE", "README.md", "Dockerfile", "tests/conftest.py"} <= names
    for target in sorted(linked - {""}):
        assert target in names or any(n.startswith(target + "/") for n in names), target


def test_the_installed_package_is_what_runs(installed: Installed, elsewhere: Path) -> None:
    printed = _run(
        [str(installed.bin / "python"), "-c", "import service; print(service.__file__)"],
        cwd=elsewhere,
        env=installed.env(),
    ).stdout
    assert Path(printed.strip()).is_relative_to(installed.root / "venv")
    version = installed.afftrack("--version", cwd=elsewhere, env=installed.env())
    assert version.strip() == f"afftrack, version {service.__version__}"
    # Help is for people: afftrack's own options only, and no start-up log beside it.
    shown = _run([str(installed.bin / "afftrack"), "--help"], cwd=elsewhere, env=installed.env())
    assert "--version" in shown.stdout and "--app" not in shown.stdout
    assert "--env-file" not in shown.stdout and shown.stderr == ""


def test_demo_serve_redirect_and_every_dashboard_page_from_any_directory(
    installed: Installed, elsewhere: Path, serve: Any
) -> None:
    env = installed.env()
    code, key = _demo_code_and_key(installed.afftrack("demo", cwd=elsewhere, env=env))
    assert (elsewhere / "afftrack.db").exists()
    server = serve(elsewhere, env)

    status, headers, _ = server.get(f"/r/{code}")
    assert status == 302
    assert headers["Location"].startswith("https://shop.example.com/winter?")
    assert "utm_content=" in headers["Location"] and "aff_click=" in headers["Location"]

    browser = Browser(f"http://127.0.0.1:{server.port}")
    status, where, page = browser.open("/dashboard/")
    assert status == 302 and "/dashboard/login" in where
    status, _, page = browser.open("/dashboard/login")
    assert status == 200
    status, _, _ = browser.open(
        "/dashboard/login", {"csrf": _csrf(page), "api_key": "wrong", "next": "/dashboard/"}
    )
    assert status == 401
    status, where, _ = browser.open(
        "/dashboard/login", {"csrf": _csrf(page), "api_key": key, "next": "/dashboard/"}
    )
    assert status == 303, where

    # Every page and asset the dashboard links to, followed until nothing new turns up.
    seen: set[str] = set()
    queue = ["/dashboard/"]
    while queue:
        path = queue.pop()
        if path in seen:
            continue
        seen.add(path)
        assert len(seen) < 400, "the dashboard links to more pages than expected"
        status, where, body = browser.open(path)
        assert status == 200, f"{path} answered {status} {where}"
        if not body.lstrip().lower().startswith(b"<!doctype html"):
            continue  # an asset or a download (a stylesheet, a QR code, a CSV file)
        for link in browser.links(body):
            target = urllib.parse.urljoin(path, link).split("#", 1)[0]
            if target.startswith("/dashboard") and "logout" not in target:
                queue.append(target.replace("&amp;", "&"))
    pages = [p for p in seen if not p.endswith((".css", ".js", ".svg"))]
    assert any("/campaigns/" in p for p in pages), sorted(seen)
    assert any(p.endswith(".css") for p in seen) and any(p.endswith(".js") for p in seen)

    # The error page is a page, not a dropped connection.
    status, _, body = browser.open("/dashboard/campaigns/cmp_unknown")
    assert status == 404 and b"<html" in body.lower()

    # The portal's catalogues ship compiled in the wheel: the browser's language is spoken.
    for lang, words in (("fr", "Recevoir un lien de connexion"), ("sv", "Få en inloggningslänk")):
        status, _, body = server.get("/portal/new-link", **{"Accept-Language": lang})
        assert status == 200 and f"<h1>{words}</h1>" in body.decode(), lang


def test_db_upgrade_serve_and_worker_on_postgres_and_redis_from_any_directory(
    installed: Installed, elsewhere: Path, serve: Any, redis_url: str
) -> None:
    name = f"afftrack_installed_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    database_url = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    stream = f"afftrack:installed:{uuid.uuid4().hex[:8]}"
    env = installed.env(DATABASE_URL=database_url, REDIS_URL=redis_url)
    try:
        # Production settings refuse the development salts, in one sentence.
        refused = installed.attempt("db", "upgrade", cwd=elsewhere, env=env)
        assert refused.returncode == 2
        assert "AFFTRACK_HASHIDS_SALT is not set" in refused.stderr
        assert "Traceback" not in refused.stderr
        env.update(
            AFFTRACK_CLICK_STREAM=stream,
            AFFTRACK_HASHIDS_SALT="a-salt-of-this-test",
            AFFTRACK_IP_HASH_KEY="a-key-of-this-test",
        )
        installed.afftrack("db", "upgrade", cwd=elsewhere, env=env)
        code, _key = _demo_code_and_key(installed.afftrack("demo", cwd=elsewhere, env=env))
        with psycopg.connect(database_url) as conn:
            (seeded,) = conn.execute("SELECT count(*) FROM clicks").fetchone()
        server = serve(elsewhere, env)
        status, _, _ = server.get(f"/r/{code}")
        assert status == 302
        assert redis_lib.Redis.from_url(redis_url).xlen(stream) == 1
        installed.afftrack("worker", "--drain", cwd=elsewhere, env=env)
        with psycopg.connect(database_url) as conn:
            (stored,) = conn.execute("SELECT count(*) FROM clicks").fetchone()
        assert stored == seeded + 1  # the demo's history, and this click
        assert list(elsewhere.iterdir()) == [elsewhere / "serve.log"]
    finally:
        redis_lib.Redis.from_url(redis_url).delete(stream)
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_serve_takes_a_gunicorn_config_of_ones_own(
    installed: Installed, elsewhere: Path, serve: Any
) -> None:
    marker = elsewhere / "started-with-my-config"
    own = elsewhere / "my-gunicorn.py"
    own.write_text(
        "from pathlib import Path\n"
        "from service.gunicorn_conf import *  # noqa: F403\n\n"
        "def on_starting(server):\n"
        f"    Path({str(marker)!r}).write_text('yes')\n"
    )
    env = installed.env(AFFTRACK_GUNICORN_CONFIG=str(own))
    installed.afftrack("demo", cwd=elsewhere, env=env)
    server = serve(elsewhere, env)
    assert server.get("/healthz")[0] == 200
    assert marker.read_text() == "yes"

    missing = installed.env(AFFTRACK_GUNICORN_CONFIG=str(elsewhere / "nope.py"))
    result = installed.attempt("serve", "--port", str(free_port()), cwd=elsewhere, env=missing)
    assert result.returncode == 2
    assert "AFFTRACK_GUNICORN_CONFIG names" in result.stderr and "not a file" in result.stderr
