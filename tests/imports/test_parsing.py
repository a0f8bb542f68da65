"""Reading import files and their flat cells: pure, no database (service.imports.csvfile,
service.imports.columns)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.commissions.rules import parse_rules
from service.imports.columns import (
    format_platforms,
    format_rules,
    parse_platforms,
    parse_rules_cell,
)
from service.imports.csvfile import (
    MAX_BYTES,
    MAX_ROWS,
    FileProblem,
    read_table,
    shown,
    write_table,
)
from service.vocabulary import PLATFORMS

# Any text a cell may hold (no lone surrogates: they are not UTF-8).
cell_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))


@given(
    rows=st.lists(st.lists(cell_text, min_size=3, max_size=3), min_size=1, max_size=5),
    delimiter=st.sampled_from([",", ";"]),
    bom=st.booleans(),
)
def test_cells_survive_spreadsheet_quoting_with_either_delimiter(rows, delimiter, bom):
    rows = [row for row in rows if any(cell.strip() for cell in row)]  # blank rows are skipped
    text = write_table(["a", "b", "c"], rows, delimiter)
    table = read_table(("\ufeff" if bom else "") + text)
    assert table.delimiter == delimiter
    assert table.header == ["a", "b", "c"]
    assert [cells for _, cells in table.rows] == rows


def test_row_numbers_are_the_spreadsheets_blank_lines_included():
    table = read_table(b'h\r\none\r\n\r\n"two\r\nlines"\r\nthree\r\n')
    assert [(n, cells) for n, cells in table.rows] == [
        (2, ["one"]),
        (4, ["two\r\nlines"]),
        (5, ["three"]),
    ]


def test_a_file_that_is_not_utf8_is_refused_in_one_sentence():
    with pytest.raises(FileProblem, match=r"not UTF-8 .*save it as 'CSV UTF-8'"):
        read_table("handle\nbjörn\n".encode("latin-1"))


def test_size_is_bounded_in_bytes_and_rows():
    with pytest.raises(FileProblem, match="more than the 2,097,152 an import takes"):
        read_table(b"h\n" + b"x" * MAX_BYTES)
    with pytest.raises(FileProblem, match=f"more than {MAX_ROWS:,} rows"):
        read_table("h\n" + "x\n" * (MAX_ROWS + 1))
    assert len(read_table("h\n" + "x\n" * MAX_ROWS).rows) == MAX_ROWS


@pytest.mark.parametrize("text", ["", "   \n\n", "\ufeff"])
def test_an_empty_file_is_refused(text):
    with pytest.raises(FileProblem, match="the file is empty"):
        read_table(text)


def test_a_header_alone_reads_as_no_rows():
    assert read_table("Handle , Name\n").header == ["handle", "name"]
    assert read_table("handle\n").rows == []


def test_broken_quoting_names_the_row():
    with pytest.raises(FileProblem, match="row 2 cannot be read as CSV"):
        read_table('h,i\n"a"b,c\n')


def test_control_characters_are_never_echoed():
    assert shown("a\x1b[31mred\x07") == "'a\\x1b[31mred\\x07'"
    assert "\x1b" not in shown("\x1b" * 100)


accounts = st.lists(
    st.fixed_dictionaries(
        {
            "platform": st.sampled_from(PLATFORMS),
            # a handle may hold colons, not the accounts' separator, and is trimmed
            "handle": cell_text.map(lambda s: s.replace(";", "").strip()).filter(bool),
            "followers": st.integers(min_value=0, max_value=10**12),
        }
    ),
    max_size=5,
)


@given(accounts)
def test_platform_accounts_round_trip_through_their_cell(items):
    assert parse_platforms(format_platforms(items)) == (items, [])


def test_a_platform_account_without_its_three_parts_is_named():
    parsed, problems = parse_platforms("instagram:anna:100; tiktok-anna")
    assert parsed == [{"platform": "instagram", "handle": "anna", "followers": 100}]
    assert problems == [
        "account 2 is not platform:handle:followers (for example instagram:anna.travels:48200)"
    ]


@pytest.mark.parametrize(
    "cell",
    [
        "percent:12.5; cpc:0.05",
        "flat:5.00",
        "per_post:150.00",
        "tiered_percent:10 up to 1000.00, 12.5 up to 5000.00, 15",
    ],
)
def test_compact_rules_read_as_the_apis_json_and_write_back(cell):
    rules, problems = parse_rules_cell(cell)
    assert problems == []
    canonical = [r.to_json("EUR") for r in parse_rules(rules, "EUR")]
    assert format_rules(rules) == cell
    json_cell = __import__("json").dumps(rules)
    assert parse_rules_cell(json_cell) == (rules, [])
    assert [r.to_json("EUR") for r in parse_rules(parse_rules_cell(json_cell)[0], "EUR")] == (
        canonical
    )


def test_a_rule_not_in_the_compact_form_is_named():
    assert parse_rules_cell("percent")[1] == [
        "rule 1 is not type:value (for example percent:10 or flat:5.00)"
    ]
    assert parse_rules_cell("[{")[1][0].startswith("is not valid JSON")
