"""Text as people type it, made safe to store and compare: one place for every text field.

`Line` is one line (a name, a city, a subject): NFC, no control or invisible format characters
(NUL, zero-width space, bidi marks), runs of white space as one space, trimmed. `Paragraph` keeps
line breaks and tabs (a case description, a note) but is otherwise cleaned the same way. Both
clean before the field's own rules run, so "   " is blank and a required field refuses it.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any

from pydantic import BeforeValidator

# Kept in paragraphs; every other control (Cc) and format (Cf) character is dropped.
_PARAGRAPH_KEEPS = frozenset("\n\t")


def _visible(text: str, keep: frozenset[str] = frozenset()) -> str:
    normal = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    return "".join(ch for ch in normal if ch in keep or unicodedata.category(ch) not in ("Cc", "Cf"))


def clean_line(text: str) -> str:
    """'  Ana\u200b  María\x00 ' -> 'Ana María'."""
    return " ".join(_visible(text.replace("\n", " ").replace("\t", " ")).split())


def clean_paragraph(text: str) -> str:
    lines = [line.rstrip() for line in _visible(text, _PARAGRAPH_KEEPS).split("\n")]
    return "\n".join(lines).strip()


def _line(value: Any) -> Any:
    # Anything but a string goes on to the field's own type check unchanged.
    return clean_line(value) if isinstance(value, str) else value


def _paragraph(value: Any) -> Any:
    return clean_paragraph(value) if isinstance(value, str) else value


Line = Annotated[str, BeforeValidator(_line)]
Paragraph = Annotated[str, BeforeValidator(_paragraph)]


def like_pattern(text: str, escape: str = "\\") -> str:
    """The text as a literal in a LIKE pattern: its own %, _ and escape characters match themselves."""
    for special in (escape, "%", "_"):
        text = text.replace(special, escape + special)
    return text


def clean_filename(name: str, fallback: str = "file") -> str:
    """A file's name as it may be stored and sent back: one clean line, no folders, no leading dots,
    at most 200 characters (its extension kept)."""
    cleaned = clean_line(name).replace("/", "_").replace("\\", "_").lstrip(". ")
    if len(cleaned) > 200:
        stem, dot, extension = cleaned.rpartition(".")
        keep = extension[:20] if dot and stem else ""
        cleaned = cleaned[: 200 - len(keep) - 1].rstrip() + "." + keep if keep else cleaned[:200]
    return cleaned or fallback
