"""The MIME message cvms sends, as a mail client parses it off the wire: the fast builder (compat32
classes) gives the headers, bodies and invite the EmailMessage one gave, and an internationalised
address (SMTPUTF8) still goes out as written."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

from aiosmtplib.email import extract_recipients, flatten_message

from domain.settings import Settings
from notifications.render import Attachment, RenderedEmail
from notifications.sender import build_message

SUBJECT = "Su cita de vacunación está confirmada: dosis 1, jueves, 10 de diciembre de 2026, 10:00 a.m."
TEXT = "Hola, Begoña:\n\nCuándo: jueves\n" + "https://cvms.example/r/appointments/" + "x" * 150
HTML = '<p>Hola, Begoña:</p>\n<p><a href="https://cvms.example/r/appointments/xyz">Ver</a></p>'
ICS = "BEGIN:VCALENDAR\r\nSUMMARY:Cita de vacunación\r\nEND:VCALENDAR\r\n".encode()


def sent(to: str, *, reply_to: str | None = None, utf8: bool = False):  # type: ignore[no-untyped-def]
    settings = Settings()
    email = RenderedEmail(
        subject=SUBJECT,
        text=TEXT,
        html=HTML,
        attachments=(Attachment("invite.ics", "text/calendar; method=REQUEST; charset=utf-8", ICS),),
    )
    message = build_message(
        settings=settings, to=to, message_id="<k1@cvms>", language="es", email=email, reply_to=reply_to
    )
    wire = flatten_message(message, utf8=utf8)
    return settings, message, BytesParser(policy=policy.default).parsebytes(wire)


def test_a_spanish_confirmation_reads_as_written_with_its_invite() -> None:
    settings, _, parsed = sent("begona@example.com", reply_to="help@cvms.example")
    assert parsed["Subject"] == SUBJECT
    assert parsed["To"] == "begona@example.com"
    assert parsed["From"] == settings.mail_from
    assert parsed["Reply-To"] == "help@cvms.example"
    assert parsed["Message-ID"] == "<k1@cvms>"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["X-Loop"] and parsed["Date"]
    assert parsed["Content-Language"] == "es"
    assert parsed.get_content_type() == "multipart/mixed"
    assert parsed.get_body(("plain",)).get_content().replace("\r\n", "\n").rstrip("\n") == TEXT
    assert parsed.get_body(("html",)).get_content().replace("\r\n", "\n").rstrip("\n") == HTML
    [invite] = list(parsed.iter_attachments())
    assert invite.get_filename() == "invite.ics"
    assert invite.get_content_type() == "text/calendar"
    assert invite.get_param("method") == "REQUEST" and invite.get_param("charset") == "utf-8"
    assert invite.get_content() == ICS.decode()
    for part in parsed.walk():
        if part.get_content_maintype() == "text":
            assert part.get_param("charset") == "utf-8"


def test_an_internationalised_address_goes_out_as_written() -> None:
    _, message, parsed = sent("begoña@exämple.com", utf8=True)
    assert extract_recipients(message) == ["begoña@exämple.com"]
    assert parsed["To"] == "begoña@exämple.com"
    assert parsed["Subject"] == SUBJECT
    assert [a.get_filename() for a in parsed.iter_attachments()] == ["invite.ics"]
