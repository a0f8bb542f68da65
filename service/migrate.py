"""Alembic, driven from code: ``afftrack db upgrade`` and the test fixtures use this."""

from __future__ import annotations

import logging
import re
from importlib.resources import files

# Alembic's INFO lines (plugins, each step) are noise in `afftrack demo`/`serve` output.
logging.getLogger("alembic").setLevel(logging.WARNING)

from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402
from sqlalchemy import Engine  # noqa: E402

_PARTITION = re.compile(r"^clicks_\d{4}_\d{2}$")


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(files("migrations")))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database's schema is at (None: no afftrack schema yet)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    """The newest migration this version of afftrack ships."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


# Created by migrations on PostgreSQL only (a COLLATE "C" or partial index).
PG_ONLY_INDEXES = frozenset({"ix_commission_lines_unpaid"})


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """What autogenerate compares: not the clicks table's monthly partitions (they are
    created at run time, :mod:`service.clicks.partitions`), nor their indexes, nor the
    PostgreSQL-only indexes a model cannot declare for both dialects."""
    if type_ == "index" and reflected and name in PG_ONLY_INDEXES:
        return False
    table = getattr(obj, "table", obj) if type_ != "table" else obj
    table_name = getattr(table, "name", name) or ""
    return not (reflected and _PARTITION.match(table_name))
