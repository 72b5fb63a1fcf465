"""Page text in English and Spanish: gettext catalogs (api/locale/<lang>/LC_MESSAGES/messages.po),
read with Babel when first needed, and the language a request is answered in."""

from __future__ import annotations

import io
from contextvars import ContextVar
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import (
    format_date,
    format_datetime,
    format_skeleton,
    format_time,
    get_datetime_format,
    get_timezone_name,
)
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from starlette.requests import Request

LOCALE_DIR = Path(__file__).parent.parent / "locale"
LANGUAGES = {"en": "English", "es": "Español"}
BABEL_LOCALE = {"en": "en_US", "es": "es_US"}
LANGUAGE_COOKIE = "cvms_lang"

_current: ContextVar[str] = ContextVar("cvms_page_language", default="en")


@lru_cache
def translations(lang: str) -> NullTranslations:
    """The catalog of a language; English is the source text itself."""
    po_file = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    if lang == "en" or not po_file.exists():
        return NullTranslations()
    with po_file.open("rb") as source:
        catalog = read_po(source, locale=lang)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def use_language(lang: str) -> None:
    """Sets the language of what is rendered next in this request."""
    _current.set(lang if lang in LANGUAGES else "en")


def current_language() -> str:
    return _current.get()


def gettext(message: str, **values: object) -> str:
    """The message in the current language, with %(name)s placeholders filled from values."""
    translated = translations(current_language()).ugettext(message)
    return translated % values if values else translated


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current_language()).ungettext(singular, plural, n)


_ = gettext


def N_(message: str) -> str:  # noqa: N802 - the conventional gettext marker name
    """Marks text for the catalog whose translation happens later, where it is shown."""
    return message


def request_language(request: Request, preferred: str | None = None) -> str:
    """The switch (a cookie) wins, then the user's own preference, then the browser's."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    if preferred in LANGUAGES:
        return preferred
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return "en"


def local_datetime(instant: datetime | None, time_zone: str, style: str = "medium") -> str:
    if instant is None:
        return ""
    zone = ZoneInfo(time_zone)
    locale = BABEL_LOCALE[current_language()]
    local = instant.astimezone(zone)
    if style in ("medium", "full"):
        # A date and a time people read, never seconds: "Dec 27, 2026, 9:30 AM"; in full, the
        # weekday and the zone too: "Sunday, December 27, 2026, 9:30 AM Eastern Time".
        day = format_date(local, style, locale=locale)
        at = local_time(local, time_zone) + (f" {zone_label(time_zone)}" if style == "full" else "")
        return get_datetime_format(style, locale=locale).replace("{1}", day).replace("{0}", at)
    return format_datetime(local, style, tzinfo=zone, locale=locale)


def local_time(instant: datetime | None, time_zone: str) -> str:
    if instant is None:
        return ""
    zone = ZoneInfo(time_zone)
    locale = BABEL_LOCALE[current_language()]
    return format_time(instant.astimezone(zone), "short", tzinfo=zone, locale=locale)


def long_date(day: date | datetime | None, time_zone: str | None = None) -> str:
    if day is None:
        return ""
    if isinstance(day, datetime):
        day = day.astimezone(ZoneInfo(time_zone or "UTC")).date()
    return format_date(day, "long", locale=BABEL_LOCALE[current_language()])


def short_day(day: date) -> str:
    """A day heading of a list of times: "Sun, Dec 27" / "dom, 27 de dic"."""
    return format_skeleton("MMMEd", day, locale=BABEL_LOCALE[current_language()])


def zone_label(time_zone: str) -> str:
    """The time zone's name, said once above a list of times ("Eastern Time")."""
    return get_timezone_name(ZoneInfo(time_zone), "long", locale=BABEL_LOCALE[current_language()])
