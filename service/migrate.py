"""Alembic, driven from code: ``afftrack db upgrade`` and the test fixtures use this."""

from __future__ import annotations

import logging
from importlib.resources import files

# Alembic's INFO lines (plugins, each step) are noise in `afftrack demo`/`serve` output.
logging.getLogger("alembic").setLevel(logging.WARNING)

from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(files("migrations")))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)
