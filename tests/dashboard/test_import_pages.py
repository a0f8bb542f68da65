"""The CSV import page: each kind's template is the command line's; a dry run shows each
row's outcome and writes nothing; Import writes every row, and importing the same file
again leaves everything unchanged; a file with one bad row writes nothing and shows the
row and column; a file over the size limit is refused above the form; a read key is
refused; a form without the session's token changes nothing. On PostgreSQL and SQLite."""

from __future__ import annotations

import base64
import io
import re
from html import unescape
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from service.imports import KINDS, MAX_BYTES
from tests.support.app import Api
from tests.support.dashboard_session import csrf, log_in

TABLES = ("influencers", "platform_accounts", "partnerships", "links", "promo_codes")
PEOPLE = (
    "handle,name,email,platforms\n"
    "anna.travels,Anna Travels,anna@example.com,instagram:anna.travels:48200\n"
    "bo.eats,Bo Eats,bo@example.com,tiktok:bo.eats:9100\n"
)


def counts(api: Api) -> dict[str, int]:
    return {table: api.rows(table) for table in (*TABLES, "audit_entries")}


def check(api: Api, kind: str, text: str | bytes, token: str | None = None) -> Any:
    if token is None:
        token = csrf(api.client.get("/dashboard/import").text)
    data = text.encode() if isinstance(text, str) else text
    # Encoded in memory: the test client would spool a large file to an unclosed temp file.
    boundary, body = encode_multipart(
        MultiDict(
            {"csrf": token, "kind": kind, "file": FileStorage(io.BytesIO(data), f"{kind}.csv")}
        )
    )
    return api.client.post(
        "/dashboard/import/check",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def import_checked(api: Api, page: str) -> Any:
    """Press Import on a dry run's page: its form, as the browser sends it."""
    form = page.split('id="import-run"', 1)[1]
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
    return api.client.post(
        "/dashboard/import/run", data={k: unescape(v) for k, v in fields.items()}
    )


def outcomes(html: str) -> list[tuple[str, str]]:
    return re.findall(r'<tr data-row="(\d+)" data-outcome="([a-z]+)">', html)


def test_each_template_download_is_the_commands_template(api: Api, tmp_path: Path) -> None:
    log_in(api, "read")
    runner = api.app.test_cli_runner()
    for kind in KINDS:
        r = api.client.get(f"/dashboard/import/template/{kind}")
        assert r.status_code == 200
        assert r.mimetype == "text/csv"
        assert r.headers["Content-Disposition"] == f'attachment; filename="afftrack-{kind}.csv"'
        out = tmp_path / f"{kind}.csv"
        command = runner.invoke(args=["import", "template", kind, "--out", str(out)])
        assert command.exit_code == 0, command.output
        assert r.get_data() == out.read_bytes()
    assert api.client.get("/dashboard/import/template/orders").status_code == 404


def test_a_dry_run_shows_each_rows_outcome_and_writes_nothing(api: Api) -> None:
    api.create_influencer(
        "anna.travels", followers=48200, name="Anna Travels", email="anna@example.com"
    )
    log_in(api, "write")
    before = counts(api)
    r = check(api, "influencers", PEOPLE)
    assert r.status_code == 200, r.text
    assert outcomes(r.text) == [("2", "unchanged"), ("3", "created")]
    assert "nothing written yet" in r.text
    assert counts(api) == before


def test_import_creates_and_the_same_file_again_is_all_unchanged(api: Api) -> None:
    log_in(api, "write")
    dry = check(api, "influencers", PEOPLE)
    assert dry.status_code == 200
    assert api.rows("influencers") == 0
    done = import_checked(api, dry.text)
    assert done.status_code == 200, done.text
    assert "2 created, 0 unchanged" in done.text
    handles = {i["handle"] for i in api.get("/api/v1/influencers").json["items"]}
    assert handles == {"anna.travels", "bo.eats"}
    after = counts(api)

    again = check(api, "influencers", PEOPLE)
    assert outcomes(again.text) == [("2", "unchanged"), ("3", "unchanged")]
    redone = import_checked(api, again.text)
    assert "0 created, 2 unchanged" in redone.text
    assert counts(api) == after


def test_one_bad_row_writes_nothing_and_names_its_row_and_column(api: Api) -> None:
    log_in(api, "write")
    bad = PEOPLE + "carl,Carl,not-an-email,\n"
    before = counts(api)
    r = check(api, "influencers", bad)
    assert r.status_code == 422
    assert outcomes(r.text) == [("2", "created"), ("3", "created"), ("4", "error")]
    row = r.text.split('data-row="4"', 1)[1].split("</tr>", 1)[0]
    assert 'data-column="email"' in row and "Not a valid email address." in row
    assert 'id="import-run"' not in r.text  # no Import button
    # Sent to the import anyway (a forged page): nothing written, the same errors.
    token = csrf(r.text)
    data = base64.b64encode(bad.encode()).decode()
    forced = api.client.post(
        "/dashboard/import/run", data={"csrf": token, "kind": "influencers", "data": data}
    )
    assert forced.status_code == 422
    assert "Nothing was written." in forced.text and 'data-row="4"' in forced.text
    assert counts(api) == before


def test_a_file_too_large_or_of_the_wrong_shape_is_refused_above_the_form(api: Api) -> None:
    log_in(api, "write")
    before = counts(api)
    big = PEOPLE + "#" * (MAX_BYTES + 10)
    r = check(api, "influencers", big)
    assert r.status_code == 422
    assert "Nothing was saved." in r.text and "more than the 2,097,152" in r.text
    r = check(api, "influencers", "name,colour\nAnna,red\n")
    assert r.status_code == 422 and "colour" in r.text
    token = csrf(api.client.get("/dashboard/import").text)
    r = api.client.post(
        "/dashboard/import/check",
        data={"csrf": token, "kind": "influencers"},
        content_type="multipart/form-data",
    )
    assert r.status_code == 422 and "Choose a CSV file to check." in r.text
    assert counts(api) == before


def test_a_read_key_sees_no_upload_and_is_refused(api: Api) -> None:
    log_in(api, "read")
    page = api.client.get("/dashboard/import")
    assert page.status_code == 200
    assert 'type="file"' not in page.text
    token = csrf(page.text)
    before = counts(api)
    r = check(api, "influencers", PEOPLE, token)
    assert r.status_code == 403
    data = base64.b64encode(PEOPLE.encode()).decode()
    r = api.client.post(
        "/dashboard/import/run", data={"csrf": token, "kind": "influencers", "data": data}
    )
    assert r.status_code == 403
    assert counts(api) == before


def test_a_form_without_this_sessions_token_changes_nothing(api: Api) -> None:
    log_in(api, "write")
    client: FlaskClient = api.client
    data = base64.b64encode(PEOPLE.encode()).decode()
    r = client.post(
        "/dashboard/import/run", data={"csrf": "x", "kind": "influencers", "data": data}
    )
    assert r.status_code == 400
    assert check(api, "influencers", PEOPLE, token="forged").status_code == 400
    assert api.rows("influencers") == 0
