"""Builds a MIME message and hands it to the SMTP relay with aiosmtplib."""

from __future__ import annotations

import time
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from domain.inbound_mail import loop_marker
from domain.settings import Settings
from notifications.render import RenderedEmail


def build_message(
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
    # Deterministic Message-ID (from the outbox key): a relay or the capture
    # server can recognise a repeat of the same message.
    message["Message-ID"] = message_id
    # Automatic mail (RFC 3834): auto-responders stay quiet, and the help-desk receiver knows its
    # own mail coming back by the X-Loop mark.
    message["Auto-Submitted"] = "auto-generated"
    message["X-Loop"] = loop_marker(settings.helpdesk_mail_address)
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    for attachment in email.attachments:
        maintype, _, rest = attachment.content_type.partition("/")
        subtype, _, params = rest.partition(";")
        extra = {}
        for param in filter(None, (p.strip() for p in params.split(";"))):
            name, _, value = param.partition("=")
            extra[name.strip()] = value.strip()
        message.add_attachment(
            attachment.data,
            maintype=maintype,
            subtype=subtype.strip(),
            filename=attachment.filename,
            params=extra,
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

    async def send(self, message: EmailMessage) -> None:
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
