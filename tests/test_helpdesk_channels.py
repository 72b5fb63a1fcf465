"""The help desk's email and phone channels and its attachments, on the real parts: messages go
over SMTP (aiosmtplib) to cvms's own receiver, which keeps them in the database, opens cases and
threads replies into them through the case workflows on the Temporal dev server; agents open
cases for callers through the API; what cvms sends arrives at the SMTP capture."""

from __future__ import annotations

import asyncio
import base64
import smtplib
import uuid
from collections.abc import AsyncIterator
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import aiosmtplib
import httpx
import pytest
from sqlalchemy import func, select
from temporalio.client import Client

from api.app import create_app
from records.db import transaction
from records.helpdesk import Case, CaseAttachment, CaseNote
from records.helpdesk_mail import InboundMessage
from records.outbox import OutboxMessage
from services.temporal import TemporalGateway
from tests.conftest import eventually
from tests.test_helpdesk import (
    FAST_HELPDESK,
    agent_headers,
    register_requester,
    text_of,
    unique_email,
    with_key,
)
from worker.devserver import free_port
from worker.mail_receiver import MailReceiver

HELP_DESK = "help@cvms.example"


@pytest.fixture(scope="session")
def mail_app(settings, temporal, sessions, worker) -> Any:
    return create_app(settings.model_copy(update=FAST_HELPDESK), temporal)


@pytest.fixture
async def desk(mail_app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=mail_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cvms.test") as client:
        yield client


@pytest.fixture(scope="session")
async def receiver(settings, temporal, sessions, worker) -> AsyncIterator[MailReceiver]:
    """The receiver on a free port; the cases it opens resolve and close on a scale of seconds,
    but stay open to a reply for a minute and close two minutes after resolution."""
    mail_settings = settings.model_copy(
        update={**FAST_HELPDESK, "helpdesk_auto_close_seconds": 120.0, "reconcile_interval_seconds": 1.0}
    )
    gateway = TemporalGateway(temporal, settings.temporal_task_queue, deadline=15)
    running = MailReceiver(mail_settings, sessions, gateway)
    await running.start(host="127.0.0.1", port=0)
    yield running
    await running.stop()


def mail(sender: str, subject: str, body: str, **headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"Ana Bell <{sender}>"
    message["To"] = HELP_DESK
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="clinic.example")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


async def deliver(receiver: MailReceiver, message: EmailMessage, to: str = HELP_DESK) -> None:
    await aiosmtplib.send(message, hostname="127.0.0.1", port=receiver.port, recipients=[to])


async def outcome(sessions: Any, message: EmailMessage) -> InboundMessage:
    """The kept message once it has been handled."""

    async def handled() -> InboundMessage | None:
        async with transaction(sessions) as db:
            row = (
                await db.execute(
                    select(InboundMessage).where(InboundMessage.message_id == message["Message-ID"])
                )
            ).scalar_one_or_none()
            return row if row is not None and row.status != "received" else None

    return await eventually(handled, timeout=60, what=f"inbound {message['Subject']!r} handled")


async def kept_row(sessions: Any, message: EmailMessage) -> InboundMessage | None:
    async with transaction(sessions) as db:
        query = select(InboundMessage).where(InboundMessage.message_id == message["Message-ID"])
        return (await db.execute(query)).scalar_one_or_none()


async def case_of(sessions: Any, case_id: int) -> Case:
    async with transaction(sessions) as db:
        case = await db.get(Case, case_id)
        assert case is not None
        return case


async def public_notes(sessions: Any, case_id: int) -> list[str]:
    async with transaction(sessions) as db:
        rows = await db.execute(
            select(CaseNote.body).where(CaseNote.case_id == case_id, CaseNote.visibility == "public")
        )
        return list(rows.scalars())


async def test_an_email_opens_a_case_and_a_reply_to_its_email_reopens_it_once(desk, smtp, sessions, receiver):
    email, requester = await register_requester(desk, smtp)
    first = mail(email, "Label printer prints blank labels", "Since this morning every label is blank.")
    pdf = b"%PDF-1.4 label test page\n%%EOF\n"
    first.add_attachment(pdf, maintype="application", subtype="pdf", filename="label.pdf")
    await deliver(receiver, first)
    opened = await outcome(sessions, first)
    assert opened.status == "opened" and opened.case_id
    case = await case_of(sessions, opened.case_id)
    assert case.channel == "email" and case.subject == "Label printer prints blank labels"
    assert "every label is blank" in case.description

    # The requester gets the "case received" email, addressed for a reply to the help desk.
    [received] = await smtp.wait_for(with_key(f"case-{case.number}:received"))
    assert received["To"] == email and received["Reply-To"] == HELP_DESK
    assert received["X-Loop"] == HELP_DESK and received["Auto-Submitted"] == "auto-generated"

    # The attachment came with it, stored outside the row, and round-trips to the requester.
    mine = (await desk.get(f"/helpdesk/cases/{case.number}", headers=requester)).json()
    assert mine["channel"] == "email"
    [attached] = mine["attachments"]
    assert attached["filename"] == "label.pdf" and attached["size"] == len(pdf)
    download = await desk.get(
        f"/helpdesk/cases/{case.number}/attachments/{attached['id']}", headers=requester
    )
    assert download.status_code == 200 and download.content == pdf

    agent = await agent_headers(desk)
    pending = await desk.post(
        f"/helpdesk/agent/cases/{case.number}/pending",
        json={"body": "Which printer model is it?"},
        headers=agent,
    )
    assert pending.status_code == 200 and pending.json()["state"] == "pending"

    # A reply as a mail client writes it: In-Reply-To the "case received" email, history quoted.
    reply = mail(
        email,
        f"Re: {received['Subject']}",
        "It is a Zebra ZD421.\n\nOn Mon, Dec 7, 2026 at 9:00 AM cvms <no-reply@cvms.test> wrote:\n"
        "> We received your case\n> What happens next\n",
        In_Reply_To=received["Message-ID"],
        References=received["Message-ID"],
    )
    await deliver(receiver, reply)
    await deliver(receiver, reply)  # the sending server delivers it again: nothing more happens
    noted = await outcome(sessions, reply)
    assert noted.status == "noted" and noted.case_id == case.id
    assert (await case_of(sessions, case.id)).state == "open"
    notes = await public_notes(sessions, case.id)
    assert notes.count("It is a Zebra ZD421.") == 1, notes
    assert not any("What happens next" in note for note in notes)
    async with transaction(sessions) as db:
        kept = await db.scalar(select(func.count()).where(InboundMessage.message_id == reply["Message-ID"]))
    assert kept == 1
    await receiver.sweep()  # a sweep finds nothing left to do
    assert (await public_notes(sessions, case.id)).count("It is a Zebra ZD421.") == 1


async def test_a_reply_by_case_tag_reopens_a_resolved_case_and_a_closed_case_gets_a_follow_up(
    desk, smtp, sessions, receiver
):
    email, requester = await register_requester(desk, smtp)
    first = mail(email, "Cannot see my second dose", "The record shows one dose only.")
    await deliver(receiver, first)
    case = await case_of(sessions, (await outcome(sessions, first)).case_id or 0)
    await smtp.wait_for(with_key(f"case-{case.number}:received"))  # its workflow runs
    agent = await agent_headers(desk)
    resolved = await desk.post(
        f"/helpdesk/agent/cases/{case.number}/resolve",
        json={"resolution": "Fixed the record."},
        headers=agent,
    )
    assert resolved.status_code == 200 and resolved.json()["state"] == "resolved"

    # No In-Reply-To (a new message), but the case's tag in the subject: inside the reopen window.
    again = mail(email, f"[Case #{case.number}] still wrong", "It still shows one dose.")
    await deliver(receiver, again)
    assert (await outcome(sessions, again)).status == "noted"
    assert (await case_of(sessions, case.id)).state == "open"
    await smtp.wait_for(lambda m: m["To"] == email and "open again" in m["Subject"])

    # A web case (closes 4 s after resolution): a reply to it by email opens a linked follow-up.
    web = await desk.post(
        "/helpdesk/cases",
        json={
            "category": "other",
            "topic": "other",
            "subject": "Old question",
            "description": "Something long done.",
        },
        headers=requester,
    )
    number = web.json()["number"]
    # Resolved straight after intake: the case's promised start is made then if it has not run yet.
    done = await desk.post(
        f"/helpdesk/agent/cases/{number}/resolve", json={"resolution": "Done."}, headers=agent
    )
    assert done.status_code == 200, done.text
    await smtp.wait_for(with_key(f"case-{number}:closed"), timeout=60)
    late = mail(email, f"Re: [Case #{number}]", "Actually it happened again.")
    await deliver(receiver, late)
    followed = await outcome(sessions, late)
    assert followed.status == "followed_up"
    follow_up = await case_of(sessions, followed.case_id or 0)
    assert follow_up.number != number and follow_up.channel == "email"
    assert "happened again" in follow_up.description
    linked = (await desk.get(f"/helpdesk/cases/{follow_up.number}", headers=requester)).json()
    assert linked["linked_case_number"] == number


async def test_auto_replies_and_loops_are_ignored(desk, smtp, sessions, receiver):
    email, requester = await register_requester(desk, smtp)
    automatic = [
        mail(email, "Out of office", "I am away.", Auto_Submitted="auto-replied"),
        mail(email, "Newsletter", "News.", Precedence="bulk"),
        mail(email, "Our own mail", "Came back.", X_Loop=HELP_DESK),
    ]
    for message in automatic:
        await deliver(receiver, message)
    for message in automatic:
        assert (await outcome(sessions, message)).status == "ignored"
    assert (await desk.get("/helpdesk/cases", headers=requester)).json() == []


async def test_an_unknown_sender_gets_one_auto_reply_and_nothing_else(desk, smtp, sessions, receiver):
    stranger = unique_email("stranger")
    first = mail(stranger, "Help please", "I need help with my login.")
    second = mail(stranger, "Help please!!", "Anyone there?")
    for message in (first, second):
        await deliver(receiver, message)
        assert (await outcome(sessions, message)).status == "unknown_sender"
    [hint] = await smtp.wait_for(lambda m: m["To"] == stranger)
    assert "/helpdesk/register" in text_of(hint) and hint["Auto-Submitted"] == "auto-generated"
    async with transaction(sessions) as db:
        owed = await db.scalar(select(func.count()).where(OutboxMessage.to_address == stranger))
        cases = await db.scalar(
            select(func.count())
            .select_from(InboundMessage)
            .where(InboundMessage.case_id.is_not(None))
            .where(InboundMessage.message_id.in_([first["Message-ID"], second["Message-ID"]]))
        )
    assert owed == 1 and cases == 0
    assert len([m for m in smtp.messages if m["To"] == stranger]) == 1


async def test_an_agent_opens_a_case_for_a_caller_found_or_registered(desk, smtp, sessions):
    agent = await agent_headers(desk)
    # A caller with an account: found by email, the case is theirs, they get "case received".
    email, requester = await register_requester(desk, smtp)
    found = await desk.get("/helpdesk/agent/requesters", params={"q": email}, headers=agent)
    assert [c["email"] for c in found.json()] == [email]
    call = {
        "caller_email": email,
        "category": "vaccine-provider",
        "topic": "scheduling",
        "subject": "Cannot publish slots",
        "call_notes": "Caller says the publish button is grey since Friday.",
        "contact_phone": "(919) 555-0100",
    }
    opened = await desk.post("/helpdesk/agent/phone-cases", json=call, headers=agent)
    assert opened.status_code == 201, opened.text
    case = opened.json()
    assert case["channel"] == "phone" and case["requester_registered"] is False
    [received] = await smtp.wait_for(with_key(f"case-{case['number']}:received"))
    assert received["To"] == email and "Cannot publish slots" in text_of(received)
    mine = (await desk.get(f"/helpdesk/cases/{case['number']}", headers=requester)).json()
    assert mine["description"] == call["call_notes"] and mine["channel"] == "phone"
    detail = (await desk.get(f"/helpdesk/agent/cases/{case['number']}", headers=agent)).json()
    me = (await desk.get("/helpdesk/agent/me", headers=agent)).json()
    assert detail["events"][0]["kind"] == "created"
    assert detail["events"][0]["actor"] == f"agent:{me['agent_id']}"

    # A caller without an account: refused without a name (nothing made), registered with one.
    stranger = unique_email("caller")
    nameless = await desk.post(
        "/helpdesk/agent/phone-cases", json={**call, "caller_email": stranger}, headers=agent
    )
    assert nameless.status_code == 422 and nameless.json()["code"] == "caller_name_needed"
    assert (await desk.get("/helpdesk/agent/requesters", params={"q": stranger}, headers=agent)).json() == []
    registered = await desk.post(
        "/helpdesk/agent/phone-cases",
        json={
            **call,
            "caller_email": stranger,
            "first_name": "Luz",
            "last_name": "Ortiz",
            "preferred_language": "es",
        },
        headers=agent,
    )
    assert registered.status_code == 201 and registered.json()["requester_registered"] is True
    number = registered.json()["number"]
    account = await smtp.wait_for(lambda m: m["To"] == stranger and "/helpdesk/set-password" in text_of(m))
    assert len(account) == 1
    [welcome] = await smtp.wait_for(with_key(f"case-{number}:received"))
    assert welcome["To"] == stranger and welcome["Content-Language"] == "es"

    # Only agents open phone cases.
    refused = await desk.post("/helpdesk/agent/phone-cases", json=call, headers=requester)
    assert refused.status_code in (401, 403)


async def test_an_attachment_is_served_only_to_its_requester_and_the_case_team(
    desk, smtp, sessions, settings
):
    _email, requester = await register_requester(desk, smtp)
    _other, stranger = await register_requester(desk, smtp)
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 64
    case = await desk.post(
        "/helpdesk/cases",
        json={
            "category": "recipient",
            "topic": "vaccination-record",
            "subject": "Record shows the wrong lot",
            "description": "See the photo.",
            "attachment": {
                "filename": "card.png",
                "content_type": "image/png",
                "content_base64": base64.b64encode(png).decode(),
            },
        },
        headers=requester,
    )
    assert case.status_code == 201, case.text
    number = case.json()["number"]
    await smtp.wait_for(with_key(f"case-{number}:received"))  # its workflow runs
    [attached] = (await desk.get(f"/helpdesk/cases/{number}", headers=requester)).json()["attachments"]
    path = f"/helpdesk/cases/{number}/attachments/{attached['id']}"
    assert (await desk.get(path, headers=requester)).content == png
    agent_path = f"/helpdesk/agent/cases/{number}/attachments/{attached['id']}"
    assert (await desk.get(agent_path, headers=await agent_headers(desk))).content == png
    assert (await desk.get(path, headers=stranger)).status_code == 404
    # The row holds a key into the store, not the contents.
    async with transaction(sessions) as db:
        row = await db.get(CaseAttachment, attached["id"])
        assert row is not None and row.data is None and row.storage_key
    stored = (settings.attachment_dir or settings.state_dir / "attachments") / row.storage_key
    assert stored.read_bytes() == png

    # A reply and an agent's note take files too; a file of a refused type changes nothing.
    text = base64.b64encode(b"log line\n").decode()
    bad = {"filename": "run.exe", "content_type": "application/x-msdownload", "content_base64": text}
    refused = await desk.post(
        f"/helpdesk/cases/{number}/reply",
        json={"body": "With a program.", "attachments": [bad]},
        headers=requester,
    )
    assert refused.status_code == 422 and refused.json()["code"] == "attachment_type"
    log = {"filename": "log.txt", "content_type": "text/plain", "content_base64": text}
    replied = await desk.post(
        f"/helpdesk/cases/{number}/reply", json={"body": "The log.", "attachments": [log]}, headers=requester
    )
    assert replied.status_code == 200, replied.text
    noted = await desk.post(
        f"/helpdesk/agent/cases/{number}/notes",
        json={
            "body": "Our notes.",
            "visibility": "internal",
            "attachments": [{**log, "filename": "ours.txt"}],
        },
        headers=await agent_headers(desk),
    )
    assert noted.status_code == 200, noted.text
    mine = (await desk.get(f"/helpdesk/cases/{number}", headers=requester)).json()
    assert sorted(a["filename"] for a in mine["attachments"]) == ["card.png", "log.txt", "ours.txt"]
    assert [n["body"] for n in mine["public_notes"]] == ["The log."]


async def test_mail_routes_give_a_new_email_case_its_topic_by_address_and_subject(
    desk, smtp, sessions, receiver
):
    agent = await agent_headers(desk)
    address = f"doses-{uuid.uuid4().hex[:6]}@cvms.example"
    bad = await desk.post(
        "/helpdesk/agent/mail-routes",
        json={"address": address, "category": "nope", "topic": "other"},
        headers=agent,
    )
    assert bad.status_code == 422 and bad.json()["code"] == "bad_category"
    added = await desk.post(
        "/helpdesk/agent/mail-routes",
        json={
            "address": address,
            "subject_contains": "lot",
            "category": "vaccine-provider",
            "topic": "documenting-doses",
        },
        headers=agent,
    )
    assert added.status_code == 201, added.text
    route = added.json()
    listed = (await desk.get("/helpdesk/agent/mail-routes", headers=agent)).json()
    assert route in listed

    email, requester = await register_requester(desk, smtp)
    matching = mail(email, "Wrong LOT number on a dose", "The lot should be EK5730.")
    other = mail(email, "A question", "Where do I find my PIN?")
    await deliver(receiver, matching, to=address)
    await deliver(receiver, other, to=address)
    routed = await case_of(sessions, (await outcome(sessions, matching)).case_id or 0)
    unrouted = await case_of(sessions, (await outcome(sessions, other)).case_id or 0)
    cases = {c["number"]: c for c in (await desk.get("/helpdesk/cases", headers=requester)).json()}
    assert cases[routed.number]["topic"] == "Documenting doses"
    assert cases[routed.number]["team"] == "Provider Support"
    assert cases[unrouted.number]["category"] == "Other" and cases[unrouted.number]["topic"] == "Other"

    removed = await desk.delete(f"/helpdesk/agent/mail-routes/{route['id']}", headers=agent)
    assert removed.status_code == 204
    assert route not in (await desk.get("/helpdesk/agent/mail-routes", headers=agent)).json()


async def test_a_reply_kept_while_temporal_is_away_reaches_its_case_once_it_is_back(
    desk, smtp, sessions, receiver, settings
):
    email, _requester = await register_requester(desk, smtp)
    first = mail(email, "Cannot switch locations", "The switcher shows one location only.")
    await deliver(receiver, first)
    case = await case_of(sessions, (await outcome(sessions, first)).case_id or 0)
    [received] = await smtp.wait_for(with_key(f"case-{case.number}:received"))

    async def nowhere() -> Any:
        return await Client.connect(f"127.0.0.1:{free_port()}")

    # A receiver whose Temporal is unreachable: it keeps the reply (answering 250), cannot hand it on.
    cut_off = MailReceiver(
        receiver.settings, sessions, TemporalGateway(nowhere, settings.temporal_task_queue, deadline=2)
    )
    await cut_off.start(host="127.0.0.1", port=0)
    try:
        reply = mail(
            email, f"Re: {received['Subject']}", "It shows WAKE-01 only.", In_Reply_To=received["Message-ID"]
        )
        await deliver(cut_off, reply)

        async def attempted() -> bool:
            async with transaction(sessions) as db:
                row = (
                    await db.execute(
                        select(InboundMessage).where(InboundMessage.message_id == reply["Message-ID"])
                    )
                ).scalar_one_or_none()
            return row is not None and row.text_id is not None and not cut_off._tasks

        await eventually(attempted, timeout=60, what="the cut-off receiver's attempt")
    finally:
        await cut_off.stop()
    waiting = await kept_row(sessions, reply)
    assert waiting is not None and waiting.status == "received"
    assert "It shows WAKE-01 only." not in await public_notes(sessions, case.id)

    await receiver.sweep()  # Temporal is back: the sweep hands the kept reply on, once
    assert (await outcome(sessions, reply)).status == "noted"
    assert (await public_notes(sessions, case.id)).count("It shows WAKE-01 only.") == 1


async def test_the_receiver_speaks_lmtp_for_a_mail_server_that_relays_by_lmtp(desk, smtp, sessions, receiver):
    email, _requester = await register_requester(desk, smtp)
    by_lmtp = MailReceiver(receiver.settings, sessions, receiver.temporal, lmtp=True)
    await by_lmtp.start(host="127.0.0.1", port=0)
    try:
        message = mail(email, "Relayed by LMTP", "The mail server hands this on by LMTP.")

        def relay() -> None:
            with smtplib.LMTP("127.0.0.1", by_lmtp.port) as client:
                client.send_message(message, to_addrs=[HELP_DESK])

        await asyncio.to_thread(relay)
        opened = await outcome(sessions, message)
    finally:
        await by_lmtp.stop()
    assert opened.status == "opened"
    assert (await case_of(sessions, opened.case_id or 0)).subject == "Relayed by LMTP"
