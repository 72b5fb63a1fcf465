"""Reading an inbound help-desk message: is it an auto-reply or a loop, which case does it
answer (by the Message-IDs it refers to, or `[Case #N]` in its subject), and its new text
without the quoted history. Pure: the receiver and the service decide what to do with it."""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

from mailparser_reply import EmailReplyParser  # type: ignore[import-untyped]

CASE_TAG = re.compile(r"\[(?:case|caso)\s*#\s*(\d{1,9})\]", re.IGNORECASE)
MESSAGE_ID = re.compile(r"<[^<>\s]+>")
# The case a sent message belongs to, by its outbox key ("case-1001:received").
CASE_KEY = re.compile(r"^case-(\d+):")
BULK_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})
SYSTEM_SENDERS = ("mailer-daemon@", "postmaster@", "noreply@", "no-reply@")


def loop_marker(help_desk_address: str) -> str:
    """The X-Loop value cvms puts on what it sends: the help desk's own address."""
    return parseaddr(help_desk_address)[1].lower() or help_desk_address.strip().lower()


def why_ignored(message: EmailMessage, envelope_sender: str, marker: str) -> str | None:
    """Why this message must get no answer and open nothing (None: it is a person's mail)."""
    auto = str(message.get("Auto-Submitted", "")).strip().lower()
    if auto and auto != "no":
        return f"auto-submitted ({auto})"
    precedence = str(message.get("Precedence", "")).strip().lower()
    if precedence in BULK_PRECEDENCE:
        return f"precedence {precedence}"
    if any(str(value).strip().lower() == marker for value in message.get_all("X-Loop", [])):
        return "our own X-Loop"
    if message.get("X-Autoreply") or message.get("X-Autorespond") or message.get("List-Id"):
        return "automatic or list mail"
    sender = sender_address(message)
    if not envelope_sender.strip("<> ") or not sender:
        return "no sender to answer (a bounce)"
    if sender == marker or sender.startswith(SYSTEM_SENDERS):
        return "sent by a system address"
    return None


def sender_address(message: EmailMessage) -> str:
    return parseaddr(str(message.get("From", "")))[1].strip().lower()


def recipient_addresses(message: EmailMessage, envelope_recipients: list[str]) -> list[str]:
    """Where it was sent: the envelope's recipients, else the To and Cc headers."""
    found = [r.strip("<> ").lower() for r in envelope_recipients if r.strip("<> ")]
    if not found:
        headers = [str(v) for name in ("To", "Cc") for v in message.get_all(name, [])]
        found = [address.lower() for _name, address in getaddresses(headers) if address]
    return found


def referenced_ids(message: EmailMessage) -> list[str]:
    """The Message-IDs it answers, the direct parent first."""
    ids = MESSAGE_ID.findall(str(message.get("In-Reply-To", "")))
    ids += reversed(MESSAGE_ID.findall(str(message.get("References", ""))))
    return list(dict.fromkeys(ids))


def case_number_in_subject(subject: str) -> int | None:
    found = CASE_TAG.search(subject)
    return int(found[1]) if found else None


def case_number_of_key(outbox_key: str) -> int | None:
    found = CASE_KEY.match(outbox_key)
    return int(found[1]) if found else None


class _TextOfHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in ("br", "p", "div", "li", "tr", "blockquote"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def body_text(message: EmailMessage) -> str:
    """The message's text: its plain part, else its HTML part reduced to text."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = str(part.get_content())
    except (LookupError, ValueError):
        content = (part.get_payload(decode=True) or b"").decode("utf-8", "replace")  # type: ignore[union-attr]
    if part.get_content_subtype() == "html":
        reader = _TextOfHtml()
        reader.feed(content)
        content = "".join(reader.parts)
    return "\n".join(line.rstrip() for line in content.replace("\r\n", "\n").splitlines()).strip()


def new_text(text: str) -> str:
    """The reply without the quoted history below it (English and Spanish mail clients)."""
    latest = EmailReplyParser(languages=["en", "es"]).parse_reply(text=text)
    return (latest or "").strip() or text.strip()
