"""Builds a MIME message and hands it to the SMTP relay with aiosmtplib."""

from __future__ import annotations

import time
from email import charset as email_charset
from email.encoders import encode_base64
from email.header import Header
from email.message import EmailMessage, Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.mime.text import MIMEText
from email.utils import formatdate

import aiosmtplib

from domain.inbound_mail import loop_marker
from domain.settings import Settings
from notifications.render import RenderedEmail

# Bodies as quoted-printable UTF-8: 7-bit safe and readable in the raw message.
_UTF8_QP = email_charset.Charset("utf-8")
_UTF8_QP.body_encoding = email_charset.QP
# Headers as base64 words: compat32 sizes quoted-printable words a character at a time (quadratic).
_UTF8_B64 = email_charset.Charset("utf-8")
_UTF8_B64.header_encoding = email_charset.BASE64


def _header(value: str) -> str | Header:
    """A header value as is when ASCII, RFC 2047-encoded (UTF-8) when not."""
    return value if value.isascii() else Header(value, _UTF8_B64)


def _ended(text: str) -> str:
    """A body ends with a line break (as EmailMessage.set_content made it)."""
    return text if text.endswith("\n") else text + "\n"


def build_message(
    *,
    settings: Settings,
    to: str,
    message_id: str,
    language: str,
    email: RenderedEmail,
    reply_to: str | None = None,
) -> Message:
    """The message: text and HTML alternatives, then any attachments (multipart/mixed).

    Built with the compat32 classes (`email.mime`): EmailMessage parsed every header and MIME
    parameter it was given (1.4 ms a confirmation with its invite; these take 0.1 ms). Readers
    see the same headers, bodies and attachments. An address that is not ASCII (an
    internationalised mailbox, sent with SMTPUTF8) needs EmailMessage's headers, so such a
    message is built as before."""
    if not all(address.isascii() for address in (settings.mail_from, to, reply_to or "")):
        return _build_email_message(
            settings=settings, to=to, message_id=message_id, language=language, email=email, reply_to=reply_to
        )
    body = MIMEMultipart("alternative")
    body.attach(MIMEText(_ended(email.text), "plain", _UTF8_QP))
    body.attach(MIMEText(_ended(email.html), "html", _UTF8_QP))
    message: Message = body
    if email.attachments:
        message = MIMEMultipart("mixed")
        message.attach(body)
        for attachment in email.attachments:
            message.attach(_attachment_part(attachment.content_type, attachment.filename, attachment.data))
    message["From"] = settings.mail_from
    message["To"] = to
    if reply_to:
        # A reply reaches the help-desk receiver and threads into its case.
        message["Reply-To"] = reply_to
    message["Subject"] = _header(email.subject)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    # Deterministic Message-ID (from the outbox key): a relay or the capture
    # server can recognise a repeat of the same message.
    message["Message-ID"] = message_id
    # Automatic mail (RFC 3834): auto-responders stay quiet, and the help-desk receiver knows its
    # own mail coming back by the X-Loop mark.
    message["Auto-Submitted"] = "auto-generated"
    message["X-Loop"] = loop_marker(settings.helpdesk_mail_address)
    message["Content-Language"] = language
    return message


def _content_type(content_type: str) -> tuple[str, str, dict[str, str]]:
    """("text/calendar; method=REQUEST") -> ("text", "calendar", {"method": "REQUEST"})."""
    maintype, _, rest = content_type.partition("/")
    subtype, _, params = rest.partition(";")
    extra = {}
    for param in filter(None, (p.strip() for p in params.split(";"))):
        name, _, value = param.partition("=")
        extra[name.strip()] = value.strip()
    return maintype, subtype.strip(), extra


def _attachment_part(content_type: str, filename: str, data: bytes) -> Message:
    """One attachment, base64."""
    maintype, subtype, params = _content_type(content_type)
    part = MIMENonMultipart(maintype, subtype, **params)
    part.set_payload(data)
    encode_base64(part)
    part.add_header("Content-Disposition", "attachment", filename=filename)
    return part


def _build_email_message(
    *,
    settings: Settings,
    to: str,
    message_id: str,
    language: str,
    email: RenderedEmail,
    reply_to: str | None = None,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    if reply_to:
        message["Reply-To"] = reply_to  # a reply reaches the help-desk receiver and threads into its case
    message["Subject"] = email.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    message["X-Loop"] = loop_marker(settings.helpdesk_mail_address)
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    for attachment in email.attachments:
        maintype, subtype, params = _content_type(attachment.content_type)
        message.add_attachment(
            attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename, params=params
        )
    # After the body: set_content() clears every Content-* header it finds.
    message["Content-Language"] = language
    return message


class Relay:
    """Connections to the SMTP relay, kept open between messages: a burst of reminders would
    otherwise pay a TCP connect, greeting, EHLO and QUIT for every message."""

    MAX_IDLE = 8
    # Relays close idle connections (aiosmtpd after 5 minutes); ours are dropped well before.
    IDLE_SECONDS = 30.0

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []

    async def send(self, message: Message) -> None:
        reused = self._take_idle()
        if reused is not None:
            try:
                await reused.send_message(message)
            except aiosmtplib.SMTPServerDisconnected:
                reused.close()  # the relay closed it meanwhile: a fresh connection follows
            except BaseException:
                reused.close()
                raise
            else:
                await self._put_back(reused)
                return
        client = aiosmtplib.SMTP(
            hostname=self.settings.smtp_host,
            port=self.settings.smtp_port,
            username=self.settings.smtp_user,
            password=self.settings.smtp_password,
            use_tls=self.settings.smtp_tls,
            start_tls=self.settings.smtp_starttls,
            timeout=30,
        )
        await client.connect()
        try:
            await client.send_message(message)
        except BaseException:
            client.close()
            raise
        await self._put_back(client)

    def _take_idle(self) -> aiosmtplib.SMTP | None:
        while self._idle:
            client, since = self._idle.pop()
            if client.is_connected and time.monotonic() - since < self.IDLE_SECONDS:
                return client
            client.close()
        return None

    async def _put_back(self, client: aiosmtplib.SMTP) -> None:
        if len(self._idle) < self.MAX_IDLE:
            self._idle.append((client, time.monotonic()))
            return
        try:
            await client.quit()
        except aiosmtplib.SMTPException:
            client.close()
