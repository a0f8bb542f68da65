"""The portal's languages and their catalogues, for what is written outside a page.

The pages are translated by Flask-Babel (``service.portal_site.locale``); a mail is
written by the domain, which imports no Flask, so it reads the same compiled catalogues
(``service/portal_site/translations/<lang>/LC_MESSAGES/messages.mo``) through Babel's
``support.Translations``. English is the source language: it has no catalogue.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from babel.support import NullTranslations, Translations

SUPPORTED = ("en", "fr", "sv")
DEFAULT = "en"
DOMAIN = "messages"
# The one place the catalogues live (Flask-Babel's translation directory too).
CATALOGUES = Path(__file__).resolve().parent.parent / "portal_site" / "translations"


def known(lang: str | None) -> str:
    """``lang`` when the portal speaks it, else English."""
    return lang if lang in SUPPORTED else DEFAULT


@cache
def translations(lang: str | None) -> NullTranslations:
    """The catalogue of ``lang`` (English, the messages as written, for any other)."""
    found: NullTranslations = Translations.load(str(CATALOGUES), [known(lang)], DOMAIN)
    return found
