"""Every text the pages show exists in Spanish, with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

import api
from api.pages.i18n import LOCALE_DIR

SOURCES = Path(api.__file__).parent
METHODS = [
    ("**/templates/**.html", "jinja2.ext:babel_extract"),
    ("**/pages/**.py", "python"),
    # an area package's pages (api/<area>/pages.py, upload_pages.py, ...)
    ("**/pages.py", "python"),
    ("**/*_pages.py", "python"),
    ("**/vaccination_record.py", "python"),
    ("**/stock_warnings.py", "python"),
    ("**/reports/figures.py", "python"),
]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
JINJA_OPTIONS = {"extensions": "jinja2.ext.i18n", "trim_blocks": "true", "lstrip_blocks": "true"}
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def page_texts() -> set[str | tuple[str, ...]]:
    found = extract_from_dir(
        str(SOURCES), METHODS, keywords=KEYWORDS, options_map={"**/templates/**.html": JINJA_OPTIONS}
    )
    return {message for _file, _line, message, _comments, _context in found}


def spanish_catalog() -> dict[str, object]:
    with (LOCALE_DIR / "es" / "LC_MESSAGES" / "messages.po").open("rb") as source:
        return {m.id if isinstance(m.id, str) else m.id[0]: m.string for m in read_po(source) if m.id}


def test_every_page_text_has_a_spanish_translation():
    catalog = spanish_catalog()
    missing = []
    for text in page_texts():
        key = text if isinstance(text, str) else text[0]
        translated = catalog.get(key)
        if not translated or (isinstance(translated, tuple) and not all(translated)):
            missing.append(key)
    assert not missing, f"add these to api/locale/es/LC_MESSAGES/messages.po: {sorted(missing)}"


def test_spanish_translations_keep_their_placeholders():
    for source, translated in spanish_catalog().items():
        for version in translated if isinstance(translated, tuple) else (translated,):
            assert sorted(PLACEHOLDER.findall(version)) == sorted(PLACEHOLDER.findall(source)), source
