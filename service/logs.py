"""Structured JSON logs, without secrets or raw IPs (nothing logs them)."""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter


def configure(level: str = "INFO") -> None:
    root = logging.getLogger()
    if any(getattr(h, "_afftrack", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "asctime": "time"},
        )
    )
    # a mark on the handler so a second configure() does not add another.
    handler._afftrack = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
