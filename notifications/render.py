"""Renders an email (subject, text, HTML) from Jinja2 templates; sending is elsewhere.

Each message is three templates per language under templates/<lang>/:
`<name>.subject.txt`, `<name>.txt` and `<name>.html`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).parent / "templates"
LANGUAGES = ("en", "es")
BABEL_LOCALE = {"en": "en_US", "es": "es_US"}


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # e.g. "text/calendar; method=REQUEST"
    data: bytes


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str
    attachments: tuple[Attachment, ...] = field(default=())


def _local_datetime(value: str | datetime, tz_name: str, lang: str) -> str:
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    local = instant.astimezone(ZoneInfo(tz_name))
    return format_datetime(local, "full", tzinfo=ZoneInfo(tz_name), locale=BABEL_LOCALE[lang])


def _local_date(value: str | datetime, tz_name: str, lang: str) -> str:
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    return format_date(instant.astimezone(ZoneInfo(tz_name)), "long", locale=BABEL_LOCALE[lang])


@lru_cache
def _environment(autoescape: bool) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html",)) if autoescape else False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def render(template: str, language: str, context: dict[str, Any]) -> RenderedEmail:
    if language not in LANGUAGES:
        language = "en"
    values = dict(context)
    values.setdefault("lang", language)
    tz_name = values.get("time_zone", "UTC")
    helpers = {
        "local_datetime": lambda v: _local_datetime(v, tz_name, language),
        "local_date": lambda v: _local_date(v, tz_name, language),
    }
    text_env = _environment(False)
    html_env = _environment(True)
    subject = text_env.get_template(f"{language}/{template}.subject.txt").render(values, **helpers)
    text = text_env.get_template(f"{language}/{template}.txt").render(values, **helpers)
    html = html_env.get_template(f"{language}/{template}.html").render(values, **helpers)
    return RenderedEmail(subject=" ".join(subject.split()), text=text, html=html)
