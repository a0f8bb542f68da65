"""The export's SQL where PostgreSQL and SQLite differ: both variants side by side,
the one of the flavour chosen at start-up picked by :data:`EXPORTS` (see
:mod:`service.db`, the dialect seam)."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import text
from sqlalchemy.orm import Session

from service.db import Variants
from service.exports import writers
from service.exports.statement import Selection, detail_key, detail_lines, formatted_lines

DetailRow = tuple[str, str, str, str]  # the formatted row, then its sort key


class PostgresExports:
    @staticmethod
    def detail_rows(
        session: Session, sel: Selection, fmt: str, head: int | None = None
    ) -> Iterator[DetailRow]:
        """The statement's lines as detail CSV rows (``fmt`` "csv") or JSON objects,
        each with its sort key (influencer, currency, line id), in statement order
        (``head``: the first ones only): formatted by PostgreSQL (a large month's export
        is mostly this loop)."""
        return formatted_lines(session, sel, fmt, head)

    @staticmethod
    def lines_changed(session: Session) -> None:
        """A month's lines just changed at once (closing marked them paid)."""
        # Without fresh statistics PostgreSQL takes the export_id for a rare value and
        # plans every read of this month (the checksum, then each download) as for one
        # line, until autovacuum analyses the table. Its cost:
        # docs/BENCHMARKS.md#where-the-exports-time-goes-now.
        session.execute(text("ANALYZE commission_lines"))


class SqliteExports:
    @staticmethod
    def detail_rows(
        session: Session, sel: Selection, fmt: str, head: int | None = None
    ) -> Iterator[DetailRow]:
        """As :meth:`PostgresExports.detail_rows`, the lines read as rows and formatted
        in Python (the same characters)."""
        python = writers.detail_object if fmt == "json" else writers.detail_row
        for line in detail_lines(session, sel, head=head):
            yield (python(sel.period, line), *detail_key(line))

    @staticmethod
    def lines_changed(session: Session) -> None:
        """Nothing to do on SQLite (it keeps no statistics that closing would skew)."""


EXPORTS: Variants[PostgresExports | SqliteExports] = Variants(
    postgresql=PostgresExports(), sqlite=SqliteExports()
)
