"""Reading and writing the import files: pure, no database.

A file is UTF-8 (with or without a byte-order mark), its delimiter ``,`` or ``;`` (the
header line decides), quoted the way spreadsheet programs quote. Its size is bounded in
bytes and in rows; what cannot be read is one :class:`FileProblem` saying why.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from service.errors import InvalidInput

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5000
MAX_CELL = 10_000
BOM = "\ufeff"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class FileProblem(InvalidInput):
    """The file as a whole cannot be imported; the message says why, in one sentence."""


def shown(value: str, limit: int = 60) -> str:
    """``value`` as it may be echoed back: quoted, control characters escaped, cut short."""
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    return "'" + _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", value) + "'"


def without_controls(text: str) -> str:
    """A message safe to print: control characters (other than none) escaped."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text.replace("\n", " "))


def decode(data: str | bytes) -> str:
    """The file's text: UTF-8, a leading byte-order mark dropped; bounded in size."""
    size = len(data.encode("utf-8")) if isinstance(data, str) else len(data)
    if size > MAX_BYTES:
        raise FileProblem(
            f"the file is {size:,} bytes, more than the {MAX_BYTES:,} an import takes; "
            "split it into several files"
        )
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FileProblem(
                f"the file is not UTF-8 (byte {exc.start + 1} cannot be read); "
                "save it as 'CSV UTF-8'"
            ) from None
    return data.removeprefix(BOM)


def sniff_delimiter(text: str) -> str:
    """``;`` when the header line has more semicolons than commas, else ``,``."""
    header = text.split("\n", 1)[0]
    return ";" if header.count(";") > header.count(",") else ","


@dataclass(frozen=True)
class Table:
    """A file's header (names trimmed, lower-case) and its records, each with the row
    number a spreadsheet shows (the header is row 1)."""

    header: list[str]
    rows: list[tuple[int, list[str]]]
    delimiter: str


def read_table(data: str | bytes) -> Table:
    """Parse a CSV file; blank records are skipped (they still take their row number)."""
    text = decode(data)
    if not text.strip():
        raise FileProblem("the file is empty: it needs a header row and at least one row")
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    records: list[tuple[int, list[str]]] = []
    number = 0
    try:
        for record in reader:
            number += 1
            if any(len(cell) > MAX_CELL for cell in record):
                raise FileProblem(f"row {number} has a cell longer than {MAX_CELL:,} characters")
            if not any(cell.strip() for cell in record):
                continue
            records.append((number, record))
            if len(records) > MAX_ROWS + 1:
                raise FileProblem(
                    f"the file has more than {MAX_ROWS:,} rows, more than an import takes; "
                    "split it into several files"
                )
    except csv.Error as exc:
        raise FileProblem(
            f"row {number + 1} cannot be read as CSV ({without_controls(str(exc))}); "
            "check its quotes"
        ) from None
    if not records:
        raise FileProblem("the file is empty: it needs a header row and at least one row")
    (_, header), body = records[0], records[1:]
    return Table([name.strip().lower() for name in header], body, delimiter)


def write_table(header: list[str], rows: list[list[str]], delimiter: str = ",") -> str:
    """CSV text quoted as spreadsheet programs quote it, lines ending in CRLF."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter, quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()
