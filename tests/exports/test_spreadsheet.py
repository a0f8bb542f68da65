"""The export as a spreadsheet sees it: text that would run as a formula stays text,
and amounts stay numbers with their exact decimals.

Two readers: Python's csv module, and openpyxl after converting the CSV the way a
spreadsheet imports it (a cell that starts with ``=`` becomes a formula, a number
becomes a number). With LibreOffice installed (``soffice``), the CSV is also converted
by LibreOffice itself, headless, and the result read back with openpyxl.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from tests.support.app import Api

NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?\Z")
NASTY = [
    '=HYPERLINK("https://evil.example","click")',
    "+SUM(1,1)",
    "-2+3",
    "@SUM(1,1)",
    "\t=1+1",
    "\r=1+1",
]
MONEY_COLUMNS = ("gross", "reversals", "adjustments", "net_payable")


def ledger(api: Api, frozen: Any) -> None:
    """An influencer per nasty name, each with a sale; a nasty adjustment reason."""
    frozen.set("2026-09-01T09:00:00Z")
    campaign = api.create_campaign("sheet", hold_days=0)
    for n, nasty in enumerate(NASTY):
        person = api.create_influencer(f"p{n}", name=nasty)
        api.add_partner(campaign["id"], person["id"])
        api.create_promo_code(campaign["id"], person["id"], f"CODE{n}")
        frozen.set(f"2026-09-1{n}T12:00:00Z")
        order = {
            "type": "order",
            "order_id": f"S-{n}",
            "occurred_at": f"2026-09-1{n}T12:00:00Z",
            "currency": "EUR",
            "subtotal": f"{100 + n}.35",
            "promo_codes": [f"CODE{n}"],
        }
        assert api.webhook(order).status_code in (200, 201)
        if n == 0:
            adjustment = {
                "influencer_id": person["id"],
                "campaign_id": campaign["id"],
                "amount": "-0.05",
                "currency": "EUR",
                "reason": "=1+1 bonus",
            }
            assert api.post("/api/v1/commissions/adjustments", adjustment).status_code == 201
    frozen.set("2026-10-01T08:00:00Z")


def as_a_spreadsheet_imports(rows: list[list[str]], path: Path) -> None:
    """Write the cells as a spreadsheet's CSV import would type them."""
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append([Decimal(c) if NUMBER.match(c) else c for c in row])
    book.save(path)


def check_sheet(path: Path, csv_rows: list[list[str]]) -> None:
    sheet = openpyxl.load_workbook(path).active
    header = csv_rows[0]
    names = [row[header.index("name")] for row in csv_rows[1:]]
    assert len(names) == len(NASTY)
    for cells, csv_row in zip(sheet.iter_rows(min_row=2), csv_rows[1:], strict=True):
        assert not [c.coordinate for c in cells if c.data_type == "f"], "a formula"
        by_name = dict(zip(header, cells, strict=True))
        assert by_name["name"].data_type == "s"
        # The text, shown as text (XML stores a carriage return as a line feed).
        assert by_name["name"].value.lstrip("'") in {n.replace("\r", "\n") for n in NASTY}
        for column in MONEY_COLUMNS:
            cell = by_name[column]
            assert cell.data_type == "n", (column, cell.value)
            # Exact: the number, to the cent, is the CSV's decimal.
            assert f"{Decimal(str(cell.value)):.2f}" == csv_row[header.index(column)]


def test_csv_module_sees_inert_text_and_plain_numbers(api: Api, frozen: Any) -> None:
    ledger(api, frozen)
    summary = list(
        csv.reader(io.StringIO(api.get("/api/v1/exports/commissions/2026-09").data.decode()))
    )
    header = summary[0]
    for row in summary[1:]:
        name = row[header.index("name")]
        assert name.startswith("'") and name[1:] in NASTY
        for column in MONEY_COLUMNS:
            assert NUMBER.match(row[header.index(column)])
    detail_body = api.get("/api/v1/exports/commissions/2026-09?detail=lines").data.decode()
    detail = list(csv.DictReader(io.StringIO(detail_body)))
    assert [r["reason"] for r in detail if r["kind"] == "adjustment"] == ["'=1+1 bonus"]
    assert [r["amount"] for r in detail if r["kind"] == "adjustment"] == ["-0.05"]  # a number


def test_openpyxl_sees_text_not_formulas_and_exact_decimals(
    api: Api, frozen: Any, tmp_path: Path
) -> None:
    ledger(api, frozen)
    body = api.get("/api/v1/exports/commissions/2026-09").data.decode()
    rows = list(csv.reader(io.StringIO(body)))
    as_a_spreadsheet_imports(rows, tmp_path / "summary.xlsx")
    check_sheet(tmp_path / "summary.xlsx", rows)
    # Without the inerting, the same conversion does make formulas: the check can fail.
    raw = [[c.lstrip("'") for c in row] for row in rows]
    as_a_spreadsheet_imports(raw, tmp_path / "raw.xlsx")
    sheet = openpyxl.load_workbook(tmp_path / "raw.xlsx").active
    assert any(c.data_type == "f" for row in sheet.iter_rows() for c in row)


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) not installed")
def test_libreoffice_sees_text_not_formulas_and_exact_decimals(
    sqlite_api: Api, frozen: Any, tmp_path: Path
) -> None:
    ledger(sqlite_api, frozen)
    body = sqlite_api.get("/api/v1/exports/commissions/2026-09").data
    libreoffice_converts(tmp_path, "summary", body)
    check_sheet(tmp_path / "summary.xlsx", list(csv.reader(io.StringIO(body.decode()))))
    # The same file without the inerting does give LibreOffice formulas.
    libreoffice_converts(tmp_path, "raw", body.replace(b"'", b""))
    sheet = openpyxl.load_workbook(tmp_path / "raw.xlsx").active
    assert any(c.data_type == "f" for row in sheet.iter_rows() for c in row)


def libreoffice_converts(tmp_path: Path, name: str, body: bytes) -> None:
    source = tmp_path / f"{name}.csv"
    source.write_bytes(body)
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation=file://{tmp_path / 'profile'}",
            "--headless",
            "--infilter=CSV:44,34,76,1",  # comma, double quote, UTF-8, from line 1
            "--convert-to",
            "xlsx",
            "--outdir",
            str(tmp_path),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
