"""Bulk import from CSV: influencers, partners, links and promo codes (docs/imports.md).

``template(kind)`` is a kind's CSV template; ``plan(session, kind, data, settings=…)`` is
the dry run; ``run(…)`` the import, all or nothing. Parsing (``csvfile``, ``columns``) is
pure; ``service`` does the database work through the domains' own schemas and services.
"""

from __future__ import annotations

from service.imports.columns import KINDS
from service.imports.csvfile import MAX_BYTES, MAX_ROWS, FileProblem
from service.imports.service import CellError, Plan, RowResult, plan, run, template

__all__ = [
    "KINDS",
    "MAX_BYTES",
    "MAX_ROWS",
    "CellError",
    "FileProblem",
    "Plan",
    "RowResult",
    "plan",
    "run",
    "template",
]
