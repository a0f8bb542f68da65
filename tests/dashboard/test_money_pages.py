"""Finance in the dashboard: the commission ledger filtered exactly as the API filters
it, one line's story, rejecting a line and adding an adjustment through the API's own
schemas and ledger operations (errors beside their inputs, nothing changed on a
refusal), and the monthly exports: previews and downloads equal to the API's files,
closing a month behind a confirmation that shows the checksum the close stores. A read
key sees no form and is refused on POST. On PostgreSQL and SQLite."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from html import unescape
from typing import Any

import pytest
from sqlalchemy import select

from service.keys.models import ApiKey
from service.keys.service import hash_token
from tests.dashboard.test_influencer_pages import field_errors
from tests.support.app import Api
from tests.support.dashboard_session import csrf, log_in
from tests.support.ledger_data import Ledger, seed_ledger

pytestmark = pytest.mark.frozen_at("2026-09-01T09:00:00Z")  # where ``api`` is made


@pytest.fixture
def ledger(api: Api, frozen: Any) -> Ledger:
    return seed_ledger(api, frozen)


def shown_lines(html: str) -> list[str]:
    table = html.split('id="ledger"', 1)
    return re.findall(r'<tr data-line-id="([^"]+)"', table[1]) if len(table) > 1 else []


def api_lines(api: Api, **filters: str) -> list[dict[str, Any]]:
    query = "&".join(f"{k}={v}" for k, v in {**filters, "limit": "200"}.items())
    r = api.get(f"/api/v1/commissions?{query}")
    assert r.status_code == 200, r.json
    return r.json["items"]


def key_id(api: Api, token: str) -> str:
    with api.app.extensions["afftrack"].db.sessions() as s:
        return s.scalar(select(ApiKey.id).where(ApiKey.key_hash == hash_token(token)))


def amount(text: str) -> tuple[str, Decimal]:
    """ "EUR 1,234.50" → ("EUR", Decimal("1234.50"))."""
    currency, figure = unescape(text).strip().split(" ", 1)
    return currency, Decimal(figure.replace(",", ""))


def sale_of(api: Api, order_id: str) -> dict[str, Any]:
    for line in api_lines(api, kind="sale"):
        conversion = api.get(f"/api/v1/conversions/{line['conversion_id']}").json
        if conversion["order_id"] == order_id:
            return line
    raise AssertionError(f"no sale line for {order_id}")


# --- the ledger ------------------------------------------------------------------------


def test_ledger_filters_find_the_same_lines_as_the_api(api: Api, ledger: Ledger) -> None:
    log_in(api, "read")
    rejected = sale_of(api, "S-3")
    assert (
        api.post(f"/api/v1/commissions/{rejected['id']}/reject", {"reason": "dup"}).status_code
        == 200
    )
    cases: list[dict[str, str]] = [
        {},
        {"influencer_id": ledger.anna["id"]},
        {"campaign_id": ledger.winter["id"]},
        {"status": "approved"},
        {"status": "rejected"},
        {"kind": "reversal"},
        {"kind": "sale", "influencer_id": ledger.ben["id"]},
        {"period": "2026-09"},
        {"period": "2026-10"},
        {"period": "2026-08"},
    ]
    for filters in cases:
        page = api.client.get("/dashboard/commissions", query_string=filters)
        assert page.status_code == 200, filters
        expected = api_lines(api, **filters)
        assert shown_lines(page.text) == [x["id"] for x in expected], filters
        # The totals: the found lines per currency, rejected ones left out; shown once
        # an influencer, a campaign or a month narrows the ledger.
        if not {"influencer_id", "campaign_id", "period"} & set(filters):
            assert 'id="ledger-totals"' not in page.text
            assert 'id="ledger-totals-hint"' in page.text
            continue
        sums: dict[str, Decimal] = {}
        for x in expected:
            if x["status"] != "rejected":
                sums[x["currency"]] = sums.get(x["currency"], Decimal(0)) + Decimal(x["amount"])
        tiles = re.findall(
            r'<div class="tile money" data-currency="([A-Z]{3})"[^>]*>.*?'
            r'<span class="value">([^<]*)</span>',
            page.text.split('id="ledger-totals"')[-1] if sums else "",
            re.S,
        )
        assert {c: amount(v)[1] for c, v in tiles} == sums, filters
    assert len(api_lines(api, kind="reversal")) == 1  # the cases are not empty
    every = api.client.get("/dashboard/commissions?period=2026-09")
    assert "EUR 10.00" in every.text and "JPY 1,200" in every.text


def test_the_ledger_pages_through_every_line_with_its_filters(
    api: Api, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("service.dashboard.finance.PAGE_SIZE", 2)
    log_in(api, "read")
    for filters in ({}, {"influencer_id": ledger.anna["id"]}):
        seen: list[str] = []
        path: str | None = "/dashboard/commissions"
        params: dict[str, str] | None = filters
        while path:
            page = api.client.get(path, query_string=params)
            assert page.status_code == 200
            found = shown_lines(page.text)
            assert 0 < len(found) <= 2
            seen += found
            more = re.search(r'id="next-page" href="([^"]+)"', page.text)
            path, params = (unescape(more.group(1)), None) if more else (None, None)
        assert seen == [x["id"] for x in api_lines(api, **filters)], filters


def test_the_api_takes_the_kind_filter_the_page_offers(api: Api, ledger: Ledger) -> None:
    kinds = {x["kind"] for x in api_lines(api, kind="reversal")}
    assert kinds == {"reversal"}
    r = api.get("/api/v1/commissions?kind=bonus")
    assert r.status_code == 422 and "kind" in r.json["error"]["fields"]


def test_a_bad_filter_is_a_clear_400(api: Api, ledger: Ledger) -> None:
    log_in(api, "read")
    r = api.client.get("/dashboard/commissions?status=lost")
    assert r.status_code == 400
    assert "The filter is not valid" in r.text and "status" in r.text


def test_a_line_tells_its_story(api: Api, ledger: Ledger) -> None:
    log_in(api, "read")
    sale = sale_of(api, "S-1")
    page = api.client.get(f"/dashboard/commissions/{sale['id']}")
    assert page.status_code == 200
    text = unescape(page.text)
    assert "S-1" in text and "EUR 100.00" in text  # the order and its attributable amount
    assert "promo code <code>ANNA15</code>" in text  # how it was attributed
    assert "EUR 30.00" in text  # refunded so far
    assert "10 % of the order's attributable amount" in text  # the rule, in words
    assert re.search(r"<th>Basis</th><td class=\"num\">EUR 100.00</td>", text)
    assert re.search(r"<th>Amount</th><td class=\"num\">EUR 10.00</td>", text)
    assert "afftrack, by the campaign's rules" in text
    # The refund's reversal answers it, and its own page points back.
    reversal = api_lines(api, kind="reversal")[0]
    assert reversal["reverses_line_id"] == sale["id"]
    answers = text.split('id="answers"')[1]
    assert reversal["id"] in answers and "EUR -3.00" in answers
    back = api.client.get(f"/dashboard/commissions/{reversal['id']}").text
    assert sale["id"] in back.split('id="reverses"')[1]
    assert api.client.get("/dashboard/commissions/cml_nothing").status_code == 404


# --- rejecting -------------------------------------------------------------------------


def test_rejecting_through_the_page_is_what_the_api_then_shows(api: Api, ledger: Ledger) -> None:
    token = log_in(api, "write")
    sale = sale_of(api, "S-1")
    page = api.client.get(f"/dashboard/commissions/{sale['id']}")
    assert 'id="reject-form"' in page.text
    r = api.client.post(
        f"/dashboard/commissions/{sale['id']}/reject",
        data={"csrf": csrf(page.text), "reason": "order was fraudulent"},
    )
    assert r.status_code == 303, r.text
    assert api.get(f"/api/v1/commissions/{sale['id']}").json["status"] == "rejected"
    reversal = api_lines(api, kind="reversal")[0]
    assert reversal["status"] == "rejected"  # its reversal went with it
    record = [x for x in api_lines(api, kind="adjustment") if x["reverses_line_id"] == sale["id"]]
    assert [(x["reason"], x["created_by_key_id"], x["amount"]) for x in record] == [
        ("order was fraudulent", key_id(api, token), "0.00")
    ]
    shown = unescape(api.client.get(r.headers["Location"]).text)
    assert 'id="reject-form"' not in shown
    assert re.search(r"by API key test-write \(aft_[^)]*\), because: order was fraudulent", shown)
    assert "This line is rejected" in shown


def test_an_empty_reason_is_refused_beside_it_and_nothing_changes(api: Api, ledger: Ledger) -> None:
    log_in(api, "write")
    sale = sale_of(api, "S-1")
    page = api.client.get(f"/dashboard/commissions/{sale['id']}")
    before = api.rows("commission_lines"), api_lines(api)
    r = api.client.post(
        f"/dashboard/commissions/{sale['id']}/reject",
        data={"csrf": csrf(page.text), "reason": "  "},
    )
    assert r.status_code == 422
    assert field_errors(r.text) == {"reason": ["Fill this in."]}
    assert "Nothing was saved." in r.text
    assert (api.rows("commission_lines"), api_lines(api)) == before


@pytest.mark.parametrize("case", ["rejected", "paid", "reversal"])
def test_a_line_that_cannot_be_rejected_says_why_beside_the_form(
    api: Api, ledger: Ledger, case: str
) -> None:
    log_in(api, "write")
    sale = sale_of(api, "S-1")
    target = sale["id"]
    if case == "rejected":
        assert api.post(f"/api/v1/commissions/{target}/reject", {"reason": "x"}).status_code == 200
    elif case == "paid":
        assert api.post("/api/v1/exports/commissions/2026-09/close").status_code == 200
    else:
        target = api_lines(api, kind="reversal")[0]["id"]
    page = api.client.get(f"/dashboard/commissions/{target}")
    assert 'id="reject-form"' not in page.text  # not offered
    before = api.rows("commission_lines"), api_lines(api)
    r = api.client.post(
        f"/dashboard/commissions/{target}/reject",
        data={"csrf": csrf(page.text), "reason": "too late"},
    )
    assert r.status_code == 409
    says = {
        "rejected": "already rejected",
        "paid": "already paid; add an adjustment instead",
        "reversal": "reject the line it reverses instead",
    }[case]
    problems = unescape(r.text.split('id="reject-form"')[1])
    assert says in problems and "Nothing was saved." in problems
    assert (api.rows("commission_lines"), api_lines(api)) == before


# --- adjustments -----------------------------------------------------------------------


def adjustment_form(api: Api) -> str:
    page = api.client.get("/dashboard/commissions/adjustments/new")
    assert page.status_code == 200
    return csrf(page.text)


def test_an_adjustment_through_the_page_is_the_apis_line(api: Api, ledger: Ledger) -> None:
    token = log_in(api, "write")
    body = {
        "influencer_id": ledger.ben["id"],
        "campaign_id": ledger.autumn["id"],
        "amount": "-12.50",
        "currency": "EUR",
        "reason": "launch story posted late",
    }
    r = api.client.post(
        "/dashboard/commissions/adjustments", data={"csrf": adjustment_form(api), **body}
    )
    assert r.status_code == 303, r.text
    line_id = r.headers["Location"].rsplit("/", 1)[1]
    line = api.get(f"/api/v1/commissions/{line_id}").json
    assert (line["kind"], line["amount"], line["currency"], line["reason"]) == (
        "adjustment",
        "-12.50",
        "EUR",
        "launch story posted late",
    )
    assert line["created_by_key_id"] == key_id(api, token)
    assert line["influencer_id"] == ledger.ben["id"]
    shown = unescape(api.client.get(r.headers["Location"]).text)
    assert "EUR -12.50" in shown and "No rule: this line was added by hand" in shown
    opened = api.client.get(
        f"/dashboard/commissions/adjustments/new?campaign_id={ledger.winter['id']}"
    )
    assert f'name="currency" type="text" value="{ledger.winter["currency"]}"' in opened.text
    assert "or another the partner already earns in there" in unescape(opened.text)


def test_the_same_adjustment_form_sent_twice_books_one_line(api: Api, ledger: Ledger) -> None:
    log_in(api, "write")
    body = {
        "influencer_id": ledger.ben["id"],
        "campaign_id": ledger.autumn["id"],
        "amount": "7.00",
        "currency": "EUR",
        "reason": "double click",
    }

    def form_fields() -> dict[str, str]:
        page = api.client.get("/dashboard/commissions/adjustments/new").text
        once = re.search(r'name="once" value="([^"]+)"', page)
        assert once, "no one-time token on the form"
        return {"csrf": csrf(page), "once": once.group(1), **body}

    before = api.rows("commission_lines")
    sent = form_fields()
    first, second = (api.client.post("/dashboard/commissions/adjustments", data=sent) for _ in "12")
    assert (first.status_code, second.status_code) == (303, 303), second.text
    assert second.headers["Location"] == first.headers["Location"]
    assert api.rows("commission_lines") == before + 1
    again = api.client.post("/dashboard/commissions/adjustments", data=form_fields())
    assert again.status_code == 303 and again.headers["Location"] != first.headers["Location"]
    assert api.rows("commission_lines") == before + 2


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"amount": "lots"}, "amount", "amount"),
        ({"amount": "0"}, "amount", "must not be zero"),
        ({"amount": "1.234"}, "amount", ""),
        ({"currency": "euro"}, "currency", ""),
        (
            {"currency": "USD"},
            "currency",
            "This partner earns in EUR, JPY here; an adjustment must be in one of them.",
        ),
        ({"reason": ""}, "reason", "Fill this in."),
        ({"influencer_id": ""}, "influencer_id", "Fill this in."),
        ({"campaign_id": "cmp_nowhere"}, "campaign_id", "No campaign has the slug"),
    ],
)
def test_a_bad_adjustment_is_refused_beside_its_field(
    api: Api, ledger: Ledger, change: dict[str, str], field: str, says: str
) -> None:
    log_in(api, "write")
    body = {
        "influencer_id": ledger.ben["id"],
        "campaign_id": ledger.winter["id"] if field == "influencer_id" else ledger.autumn["id"],
        "amount": "25.00",
        "currency": "EUR",
        "reason": "bonus",
        **change,
    }
    before = api.rows("commission_lines")
    r = api.client.post(
        "/dashboard/commissions/adjustments", data={"csrf": adjustment_form(api), **body}
    )
    assert r.status_code == 422
    errors = field_errors(r.text)
    assert field in errors, errors
    assert says.lower() in " ".join(errors[field]).lower()
    assert api.rows("commission_lines") == before


def test_an_influencer_not_on_the_campaign_is_refused_beside_the_influencer(
    api: Api, ledger: Ledger
) -> None:
    log_in(api, "write")
    body = {
        "influencer_id": ledger.ben["id"],  # ben is not a partner of winter
        "campaign_id": ledger.winter["id"],
        "amount": "25.00",
        "currency": "EUR",
        "reason": "bonus",
    }
    before = api.rows("commission_lines")
    r = api.client.post(
        "/dashboard/commissions/adjustments", data={"csrf": adjustment_form(api), **body}
    )
    assert r.status_code == 422
    assert "not a partner" in " ".join(field_errors(r.text)["influencer_id"])
    assert api.rows("commission_lines") == before


# --- who may change what ---------------------------------------------------------------


def test_a_read_key_sees_no_form_and_is_refused_on_post(api: Api, ledger: Ledger) -> None:
    log_in(api, "read")
    sale = sale_of(api, "S-1")
    line_page = api.client.get(f"/dashboard/commissions/{sale['id']}")
    assert line_page.status_code == 200 and '<form class="edit"' not in line_page.text
    assert "New adjustment" not in api.client.get("/dashboard/commissions").text
    month = api.client.get("/dashboard/exports/2026-09")
    assert month.status_code == 200 and 'id="close-start"' not in month.text
    assert api.client.get("/dashboard/exports/2026-09/close").status_code == 403
    assert api.client.get("/dashboard/commissions/adjustments/new").status_code == 403
    token = csrf(line_page.text)
    before = api.rows("commission_lines"), api.rows("exports")
    posts = {
        f"/dashboard/commissions/{sale['id']}/reject": {"reason": "no"},
        "/dashboard/commissions/adjustments": {
            "influencer_id": ledger.ben["id"],
            "campaign_id": ledger.autumn["id"],
            "amount": "5.00",
            "currency": "EUR",
            "reason": "bonus",
        },
        "/dashboard/exports/2026-09/close": {"confirm": "yes", "month": "2026-09"},
    }
    for path, data in posts.items():
        r = api.client.post(path, data={"csrf": token, **data})
        assert r.status_code == 403, path
        assert "can only read" in r.text
    assert (api.rows("commission_lines"), api.rows("exports")) == before


def test_a_change_without_the_forms_token_is_refused(api: Api, ledger: Ledger) -> None:
    log_in(api, "write")
    sale = sale_of(api, "S-1")
    before = api.rows("commission_lines"), api.rows("exports")
    for path, data in {
        f"/dashboard/commissions/{sale['id']}/reject": {"reason": "no"},
        "/dashboard/exports/2026-09/close": {"confirm": "yes", "month": "2026-09"},
    }.items():
        assert api.client.post(path, data=data).status_code == 400, path
        assert api.client.post(path, data={**data, "csrf": "forged"}).status_code == 400
    assert (api.rows("commission_lines"), api.rows("exports")) == before


# --- exports ---------------------------------------------------------------------------


def api_summary(api: Api, period: str) -> list[dict[str, str]]:
    body = api.get(f"/api/v1/exports/commissions/{period}").data.decode()
    return list(csv.DictReader(io.StringIO(body)))


def shown_totals(html: str) -> dict[str, Decimal]:
    part = html.split('id="export-totals"')[1]
    found = re.findall(
        r'data-currency="([A-Z]{3})"[^>]*>\s*<span class="label">[^<]*</span>'
        r'<span class="value">([^<]*)</span>',
        part,
    )
    return {c: amount(v)[1] for c, v in found}


def test_the_months_are_listed_running_open_and_closed(api: Api, ledger: Ledger) -> None:
    log_in(api, "read")
    assert api.post("/api/v1/exports/commissions/2026-09/close").status_code == 200
    page = api.client.get("/dashboard/exports").text
    states = re.findall(r'data-period="([0-9-]+)" data-state="(\w+)"', page)
    assert states == [("2026-10", "running"), ("2026-09", "closed")]
    closed = api.get("/api/v1/exports/commissions/2026-09")
    assert closed.headers["X-Checksum-SHA256"] in page


def test_closing_a_month_shows_the_apis_totals_and_the_checksum_it_stores(
    api: Api, ledger: Ledger
) -> None:
    log_in(api, "write")
    month = api.client.get("/dashboard/exports/2026-09")
    assert month.status_code == 200 and 'id="close-start"' in month.text
    confirm = api.client.get("/dashboard/exports/2026-09/close")
    assert confirm.status_code == 200
    summary = api_summary(api, "2026-09")
    expected: dict[str, Decimal] = {}
    for row in summary:
        expected[row["currency"]] = expected.get(row["currency"], Decimal(0)) + Decimal(
            row["net_payable"]
        )
    assert (
        shown_totals(confirm.text)
        == expected
        == {
            "EUR": Decimal("20.00"),  # 10.00 - 3.00 + 8.00 + 5.00
            "JPY": Decimal("1200"),
        }
    )
    lines = int(re.search(r'id="export-lines">([0-9,]+)<', confirm.text).group(1))
    assert lines == sum(int(row["lines"]) for row in summary)
    checksum = re.search(r'id="close-checksum">([0-9a-f]{64})<', confirm.text).group(1)

    # Not confirmed: nothing closed, the reason beside each input.
    token = csrf(confirm.text)
    r = api.client.post(
        "/dashboard/exports/2026-09/close",
        data={"csrf": token, "checksum": checksum, "month": "2026-08"},
    )
    assert r.status_code == 422
    assert set(field_errors(r.text)) == {"confirm", "month"}
    assert api.rows("exports") == 0

    r = api.client.post(
        "/dashboard/exports/2026-09/close",
        data={"csrf": token, "checksum": checksum, "confirm": "yes", "month": "2026-09"},
    )
    assert r.status_code == 303, r.text
    got = api.get("/api/v1/exports/commissions/2026-09")
    assert got.headers["X-Checksum-SHA256"] == checksum
    assert [x["status"] for x in api_lines(api, period="2026-09")] == ["paid"] * lines
    closed = api.client.get(r.headers["Location"]).text
    assert "Closed on 2026-10-02 08:00 UTC" in closed and checksum in closed
    assert 'id="close-start"' not in closed  # read-only now
    history = closed.split('id="audit"', 1)[1]  # who closed it, by the key's name
    assert "export created" in history
    assert re.search(r"Net payable:</span>\s*nothing → EUR 20.00; JPY 1,200<", history)
    # A hash is left out (the page above shows it), and with it the change that only set it.
    assert checksum not in history and history.count("export changed") == 1
    assert re.search(r"<td>test-write \(aft_", history)

    # Closing twice: a clear message on the month's page, nothing changed.
    again = api.client.post(
        "/dashboard/exports/2026-09/close",
        data={"csrf": token, "checksum": checksum, "confirm": "yes", "month": "2026-09"},
    )
    assert again.status_code == 409
    assert "2026-09 is already closed" in again.text and 'id="month-state"' in again.text
    assert api.rows("exports") == 1


def test_a_month_that_changed_since_the_confirmation_is_not_closed(
    api: Api, ledger: Ledger
) -> None:
    log_in(api, "write")
    confirm = api.client.get("/dashboard/exports/2026-09/close")
    checksum = re.search(r'id="close-checksum">([0-9a-f]{64})<', confirm.text).group(1)
    ben = sale_of(api, "S-2")  # rejected meanwhile, through the API
    assert api.post(f"/api/v1/commissions/{ben['id']}/reject", {"reason": "x"}).status_code == 200
    r = api.client.post(
        "/dashboard/exports/2026-09/close",
        data={
            "csrf": csrf(confirm.text),
            "checksum": checksum,
            "confirm": "yes",
            "month": "2026-09",
        },
    )
    assert r.status_code == 409 and "changed since" in r.text
    assert api.rows("exports") == 0
    assert shown_totals(r.text)["EUR"] == Decimal("12.00")  # the new figures, to confirm


def test_the_running_month_is_a_projection_that_cannot_be_closed(api: Api, ledger: Ledger) -> None:
    log_in(api, "write")
    page = api.client.get("/dashboard/exports/2026-10")
    assert page.status_code == 200
    assert "projection" in page.text and "2026-11-01 00:00 UTC" in page.text
    assert 'id="close-start"' not in page.text
    r = api.client.get("/dashboard/exports/2026-10/close")
    assert r.status_code == 409 and "still running" in r.text
    assert api.client.get("/dashboard/exports/2026-12").status_code == 409
    assert api.client.get("/dashboard/exports/2026-13").status_code == 422


@pytest.mark.parametrize("closed", [False, True])
def test_downloads_are_the_apis_files_byte_for_byte(api: Api, ledger: Ledger, closed: bool) -> None:
    log_in(api, "read")
    if closed:
        assert api.post("/api/v1/exports/commissions/2026-09/close").status_code == 200
    for query in (
        "",
        "?format=json",
        "?detail=lines",
        "?detail=lines&format=json",
        "?format=paypal&currency=EUR",
        "?format=paypal&currency=JPY",
    ):
        ours = api.client.get(f"/dashboard/exports/2026-09/download{query}", buffered=True)
        theirs = api.get(f"/api/v1/exports/commissions/2026-09{query}")
        assert ours.status_code == theirs.status_code == 200, query
        assert ours.data == theirs.data and ours.data, query
        for header in ("Content-Type", "Content-Disposition", "X-Checksum-SHA256"):
            assert ours.headers.get(header) == theirs.headers.get(header), (query, header)
    page = api.client.get("/dashboard/exports/2026-09").text
    assert "format=paypal&amp;currency=JPY" in page and 'id="download-csv"' in page
    bad = api.client.get("/dashboard/exports/2026-09/download?format=paypal")
    assert bad.status_code == 422 and "several" in bad.text  # the API's refusal, as a page


def test_a_paypal_file_too_long_for_one_part_is_offered_in_parts(
    api: Api, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each part the API serves is linked from the month's page (the part size made 1
    here, so that the month's EUR payees fill several parts)."""
    from service.exports import service as exports

    log_in(api, "read")
    monkeypatch.setattr(exports, "PAYPAL_ROWS", 1)
    page = api.client.get("/dashboard/exports/2026-09").text
    parts = re.findall(r'data-paypal="EUR-(\d+)"', page)
    assert len(parts) > 1 and parts == [str(n) for n in range(1, len(parts) + 1)]
    assert f"part {len(parts)} of {len(parts)}" in page
    for n in parts:
        query = f"?format=paypal&currency=EUR&part={n}"
        ours = api.client.get(f"/dashboard/exports/2026-09/download{query}", buffered=True)
        theirs = api.get(f"/api/v1/exports/commissions/2026-09{query}")
        assert ours.status_code == theirs.status_code == 200
        assert ours.data == theirs.data
    beyond = f"?format=paypal&currency=EUR&part={len(parts) + 1}"
    assert api.get(f"/api/v1/exports/commissions/2026-09{beyond}").status_code == 422
    assert 'data-paypal="JPY"' in page  # one payee: one file


def summary_amounts(html: str) -> list[list[Any]]:
    """Each summary row's gross, reversals, adjustments and net (currency, amount), then
    its orders and lines, as the page shows them."""
    part = html.split('id="summary"', 1)[1].split('id="detail"', 1)[0]
    rows = []
    for row in re.findall(r"<tr data-influencer-id=.*?</tr>", part, re.S):
        cells = re.findall(r'<td class="num"[^>]*>([^<]*)</td>', row)
        rows.append([amount(c) for c in cells[:4]] + [c.replace(",", "") for c in cells[4:]])
    return rows


def summary_shown(html: str) -> list[tuple[str, str]]:
    part = html.split('id="summary"', 1)[1].split('id="detail"', 1)[0]
    return re.findall(r'data-influencer-id="([^"]+)" data-currency="([A-Z]{3})"', part)


def test_the_summary_is_found_by_influencer_and_paged_while_the_totals_count_all(
    api: Api, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The month's summary, a page at a time (the page size made 1 here) and searched
    by handle, name or payout e-mail; the totals and downloads stay the whole month's."""
    from service.dashboard import finance

    log_in(api, "read")
    summary = api_summary(api, "2026-09")
    every = [(row["influencer_id"], row["currency"]) for row in summary]
    whole = api.client.get("/dashboard/exports/2026-09").text
    assert summary_shown(whole) == every and len(every) == 3
    assert summary_amounts(whole) == [
        [
            (row["currency"], Decimal(row[c]))
            for c in ("gross", "reversals", "adjustments", "net_payable")
        ]
        + [row["orders"], row["lines"]]
        for row in summary
    ]
    totals = shown_totals(whole)

    monkeypatch.setattr(finance, "SUMMARY_ROWS", 1)
    pages = [api.client.get(f"/dashboard/exports/2026-09?page={n}") for n in (1, 2, 3)]
    assert [summary_shown(p.text) for p in pages] == [[row] for row in every]
    assert all(shown_totals(p.text) == totals for p in pages)
    assert "Rows 2\N{EN DASH}2 of 3" in pages[1].text and 'rel="next"' in pages[1].text
    assert 'rel="next"' not in pages[2].text
    beyond = api.client.get("/dashboard/exports/2026-09?page=9")  # the last page, as it is now
    assert beyond.status_code == 200 and summary_shown(beyond.text) == [every[-1]]
    empty = api.client.get("/dashboard/exports/2026-09?q=&page=")  # an empty form: page 1
    assert empty.status_code == 200 and summary_shown(empty.text) == [every[0]]

    monkeypatch.setattr(finance, "SUMMARY_ROWS", 100)
    ben = api.client.get("/dashboard/exports/2026-09?q=BEN").text
    ben_rows = [row for row in every if row[0] == ledger.ben["id"]]
    assert summary_shown(ben) == ben_rows and len(ben_rows) == 2
    assert "matching “BEN”" in ben and shown_totals(ben) == totals
    none = api.client.get("/dashboard/exports/2026-09?q=nobody").text
    assert summary_shown(none) == [] and "matches “nobody”" in none


@pytest.mark.parametrize(
    ("query", "named"), [("page=0", "page"), ("page=two", "page"), ("q=" + "x" * 101, "search")]
)
def test_a_bad_summary_search_or_page_is_a_clear_400(
    api: Api, ledger: Ledger, query: str, named: str
) -> None:
    log_in(api, "read")
    r = api.client.get(f"/dashboard/exports/2026-09?{query}")
    assert r.status_code == 400
    said = unescape(r.text)
    assert "The summary's search or page is not valid" in said and f"{named}:" in said


def test_a_summary_page_holds_a_hundred_rows_found_by_handle_name_or_email() -> None:
    from service.dashboard.finance import SUMMARY_ROWS, summary_page
    from service.exports.statement import SummaryRow

    def row(n: int) -> SummaryRow:
        return SummaryRow(
            "2026-09", f"inf_{n}", f"h{n:03}", f"Name {n}", f"p{n}@Example.org", "EUR",
            100, 0, 0, 0, 100, 1, 1,
        )  # fmt: skip

    rows = [row(n) for n in range(250)]
    first, last = summary_page(rows, "", 1), summary_page(rows, "", 3)
    assert SUMMARY_ROWS == 100 and (first.pages, first.found) == (3, 250)
    assert [r.handle for r in first.rows] == [f"h{n:03}" for n in range(100)]
    assert [r.handle for r in last.rows] == [f"h{n:03}" for n in range(200, 250)]
    assert last.first == 201 and summary_page(rows, "", 7).page == 3
    assert [r.handle for r in summary_page(rows, " h24 ", 1).rows] == [
        f"h{n}" for n in range(240, 250)
    ]
    assert [r.handle for r in summary_page(rows, "NAME 17", 1).rows] == ["h017"] + [
        f"h{n}" for n in range(170, 180)
    ]
    assert [r.handle for r in summary_page(rows, "p249@example", 1).rows] == ["h249"]
    nothing = summary_page(rows, "zzz", 1)
    assert (nothing.rows, nothing.found, nothing.pages, nothing.page) == ([], 0, 1, 1)
