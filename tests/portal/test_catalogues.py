"""The portal's catalogues are whole: every text the extractor finds in the sources
(babel.cfg) is translated in French and Swedish, each plural form too, with the same
placeholders; and the compiled .mo files shipped are what their .po say."""

from __future__ import annotations

import gettext
import io
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from service.portal.language import CATALOGUES, DEFAULT, SUPPORTED

ROOT = Path(__file__).resolve().parents[2]
TRANSLATED = [lang for lang in SUPPORTED if lang != DEFAULT]


def _extracted() -> Catalog:
    """What ``pybabel extract -F babel.cfg`` finds now, run here so that a new text
    without its translations fails."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    catalog = Catalog()
    for filename, lineno, message, comments, context in extract_from_dir(
        str(ROOT), method_map, options_map
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def _po(lang: str) -> Catalog:
    with (CATALOGUES / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=lang)


def test_the_extractor_finds_the_pages_and_the_mails_texts() -> None:
    found = {m.id if isinstance(m.id, str) else m.id[0] for m in _extracted() if m.id}
    assert "Sign in to the partner portal" in found  # a template
    assert "Choose one of the languages offered." in found  # the pages' Python
    assert "Your sign-in link to the partner portal" in found  # a mail, from the domain
    assert "%(num)s order" in found  # a plural
    assert len(found) > 200


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_text_is_translated_in_every_form(lang: str) -> None:
    po = _po(lang)
    untranslated, fuzzy = [], []
    for message in _extracted():
        if not message.id:
            continue
        found = po.get(message.id)
        forms = () if found is None else found.string
        forms = forms if isinstance(forms, tuple) else (forms,)
        if found is None or isinstance(message.id, tuple) != isinstance(found.id, tuple):
            untranslated.append(message.id)  # missing, or a plural kept as a singular
        elif not all(forms):
            untranslated.append(message.id)
        elif found.fuzzy:
            fuzzy.append(message.id)
    assert untranslated == [], f"{lang}: run pybabel update and translate (docs/portal.md)"
    assert fuzzy == [], f"{lang}: fuzzy translations to check"
    if isinstance(po.num_plurals, int):
        plural = next(m for m in po if isinstance(m.id, tuple))
        assert len(plural.string) == po.num_plurals


@pytest.mark.parametrize("lang", TRANSLATED)
def test_translations_keep_the_placeholders(lang: str) -> None:
    # Babel's checkers: a %(name)s the text has and the translation lacks, or the reverse.
    problems = [(m.id, [str(e) for e in errors]) for m, errors in _po(lang).check()]
    assert problems == []


@pytest.mark.parametrize("lang", TRANSLATED)
def test_the_shipped_mo_is_the_po_compiled(lang: str) -> None:
    compiled = io.BytesIO()
    write_mo(compiled, _po(lang))
    compiled.seek(0)
    expected = gettext.GNUTranslations(compiled)
    with (CATALOGUES / lang / "LC_MESSAGES" / "messages.mo").open("rb") as f:
        shipped = gettext.GNUTranslations(f)
    assert shipped._catalog == expected._catalog, (  # type: ignore[attr-defined]
        f"run pybabel compile -d {CATALOGUES.relative_to(ROOT)}"
    )


def test_the_template_names_every_text() -> None:
    with (CATALOGUES / "messages.pot").open("rb") as f:
        pot = {m.id for m in read_po(f) if m.id}
    extracted = {m.id for m in _extracted() if m.id}
    assert pot == extracted, "run pybabel extract (docs/portal.md)"
