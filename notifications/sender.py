"""Builds a MIME message and hands it to the SMTP relay with aiosmtplib."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from notifications.render import RenderedEmail
from worker.settings import Settings


def build_message(
    *, settings: Settings, to: str, message_id: str, language: str, email: RenderedEmail
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = email.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    # Deterministic Message-ID (from the outbox key): a relay or the capture
    # server can recognise a repeat of the same message.
    message["Message-ID"] = message_id
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


async def send(settings: Settings, message: EmailMessage) -> None:
    await aiosmtplib.send(
        message,
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_user,
        password=settings.smtp_password,
        use_tls=settings.smtp_tls,
        start_tls=settings.smtp_starttls,
        timeout=30,
    )
