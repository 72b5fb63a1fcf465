"""A whole two-dose series through the API, on a real Temporal server with 2-second "days".

English and Spanish recipients run the same series side by side; every email
is checked: recipient, language, subject, key content, calendar invite.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from temporalio.client import WorkflowExecutionStatus

from records.db import utcnow
from tests.conftest import eventually, login
from tests.journeys import (
    html_of,
    invite_of,
    link_token,
    mail,
    mails_to,
    new_recipient,
    publish_slot,
    text_of,
)
from workflows.journey import JourneyWorkflow

WAKE = "Wake County Public Health Center"
PFIZER_LOT = "PFI-WAKE-01-001"  # seeded demo stock

EXPECTED = {
    "en": {
        "confirmed": "Your vaccination appointment is confirmed: dose {n}",
        "reminder": "Reminder: your vaccination appointment on",
        "due": "Your dose 2 is due: book your appointment",
        "complete": "Your vaccination series is complete",
        "hello": "Hello {name},",
        "locale": "en_US",
    },
    "es": {
        "confirmed": "Su cita de vacunación está confirmada: dosis {n}",
        "reminder": "Recordatorio: su cita de vacunación el",
        "due": "Ya le corresponde la dosis 2: reserve su cita",
        "complete": "Su serie de vacunación está completa",
        "hello": "Hola, {name}:",
        "locale": "es_US",
    },
}


def local(iso: str, language: str) -> str:
    zone = ZoneInfo("America/New_York")
    instant = datetime.fromisoformat(iso).astimezone(zone)
    return format_datetime(instant, "full", tzinfo=zone, locale=EXPECTED[language]["locale"])


def assert_appointment_mail(message, recipient, language: str, appointment: dict, *, sequence: int) -> None:
    words = EXPECTED[language]
    assert message["To"] == recipient.email
    assert message["Content-Language"] == language
    body = text_of(message)
    assert words["hello"].format(name=recipient.first_name) in body
    assert WAKE in body and "10 Sunnybrook Rd" in body
    assert local(appointment["start_at"], language) in body  # in the location's time zone and language
    assert local(appointment["start_at"], language) in html_of(message)
    assert "/r/appointments/" in body


async def run_series(api, smtp, sessions, temporal, language: str) -> str:
    manager = await login(api, "manager")
    scheduler = await login(api, "scheduler")
    provider = await login(api, "provider")
    words = EXPECTED[language]
    recipient = await new_recipient(
        sessions, language=language, first_name="Ana" if language == "es" else "Ann"
    )

    # --- dose 1: booked by the scheduler
    slot1 = await publish_slot(api, manager, start_in=5, length=30)
    booked = await api.post(
        "/appointments",
        json={"recipient_id": recipient.id, "slot_id": slot1["id"], "dose_number": 1},
        headers={**scheduler, "Idempotency-Key": f"first-{recipient.id}"},
    )
    assert booked.status_code == 201, booked.text
    appointment1 = booked.json()
    journey_id = appointment1["journey_id"]
    assert journey_id == f"journey-{recipient.id}-1"

    confirmed = await mail(smtp, recipient.email, words["confirmed"].format(n=1))
    assert_appointment_mail(confirmed, recipient, language, appointment1, sequence=0)
    invite = invite_of(confirmed)
    assert invite["method"] == "REQUEST" and invite["sequence"] == 0 and invite["status"] == "CONFIRMED"
    assert invite["uid"] == f"appointment-{appointment1['id']}@cvms"
    assert invite["start"] == datetime.fromisoformat(appointment1["start_at"])

    reminder = await mail(smtp, recipient.email, words["reminder"])
    assert_appointment_mail(reminder, recipient, language, appointment1, sequence=0)
    reminder_invite = invite_of(reminder)  # the same calendar event as the confirmation's
    assert (reminder_invite["uid"], reminder_invite["sequence"]) == (invite["uid"], invite["sequence"])

    # --- check in (a provider may), document dose 1
    checked = await api.post(f"/appointments/{appointment1['id']}/check-in", headers=provider)
    assert checked.status_code == 200, checked.text
    assert checked.json()["status"] == "checked_in"
    dose1 = await api.post(
        f"/recipients/{recipient.id}/doses",
        json={"product_code": "pfizer", "lot_number": PFIZER_LOT, "injection_site": "left_deltoid"},
        headers=provider,
    )
    assert dose1.status_code == 201, dose1.text
    assert dose1.json()["dose_number"] == 1 and dose1.json()["warning"] is None
    assert dose1.json()["series_complete"] is False
    assert dose1.json()["appointment_id"] == appointment1["id"]
    after = await api.get(f"/appointments/{appointment1['id']}", headers=scheduler)
    assert after.json()["status"] == "completed"

    # --- dose 2 due when the window opens (21 "days" = 42 s), with a signed booking link
    due = await mail(smtp, recipient.email, words["due"], timeout=90)
    assert due["Content-Language"] == language
    assert words["hello"].format(name=recipient.first_name) in text_of(due)
    assert "Pfizer-BioNTech" in text_of(due)
    token = link_token(due, "book")
    slot2 = await publish_slot(api, manager, start_in=5, length=30)
    choices = await api.get(f"/r/book/{token}")
    assert choices.status_code == 200, choices.text
    assert choices.json()["dose_number"] == 2 and choices.json()["product_code"] == "pfizer"
    assert slot2["id"] in [s["id"] for s in choices.json()["slots"]]
    booked2 = await api.post(f"/r/book/{token}", json={"slot_id": slot2["id"]})
    assert booked2.status_code == 201, booked2.text
    appointment2 = booked2.json()
    assert appointment2["dose_number"] == 2 and appointment2["journey_id"] == journey_id

    confirmed2 = await mail(smtp, recipient.email, words["confirmed"].format(n=2))
    assert_appointment_mail(confirmed2, recipient, language, appointment2, sequence=0)
    invite2 = invite_of(confirmed2)
    assert invite2["method"] == "REQUEST" and invite2["uid"] == f"appointment-{appointment2['id']}@cvms"
    assert invite2["uid"] != invite["uid"]

    await eventually(
        lambda: _count(smtp, recipient.email, words["reminder"], 2), timeout=30, what="second reminder"
    )
    reminder2 = [m for m in mails_to(smtp, recipient.email) if words["reminder"] in str(m["Subject"])][-1]
    assert_appointment_mail(reminder2, recipient, language, appointment2, sequence=0)

    assert (
        await api.post(f"/appointments/{appointment2['id']}/check-in", headers=scheduler)
    ).status_code == 200
    dose2 = await api.post(
        f"/recipients/{recipient.id}/doses",
        json={"product_code": "pfizer", "lot_number": PFIZER_LOT, "injection_site": "right_deltoid"},
        headers=provider,
    )
    assert dose2.status_code == 201, dose2.text
    assert dose2.json()["dose_number"] == 2 and dose2.json()["series_complete"] is True

    # --- series complete: email with a record link; the workflow finished
    complete = await mail(smtp, recipient.email, words["complete"])
    assert complete["Content-Language"] == language
    record = await api.get(f"/r/record/{link_token(complete, 'record')}")
    assert record.status_code == 200, record.text
    assert record.json()["complete"] is True
    assert [d["dose_number"] for d in record.json()["doses"]] == [1, 2]
    assert record.json()["product"] == "Pfizer-BioNTech"

    spent = await api.post(f"/r/book/{token}", json={"slot_id": slot2["id"]})
    assert spent.status_code == 409 and spent.json()["code"] == "series_complete"

    # The series is complete; its workflow waits (150 days) to announce the booster its schedule
    # offers, and nothing else.
    handle = temporal.get_workflow_handle(journey_id)
    view = await handle.query(JourneyWorkflow.view)
    assert view.complete and view.next_event == "booster_due"
    assert view.next_event_at is not None and view.next_event_at > utcnow()
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING

    # every message exactly once, in order, nothing else (no overdue, no missed)
    subjects = [str(m["Subject"]) for m in mails_to(smtp, recipient.email)]
    expected_order = [
        words["confirmed"].format(n=1),
        words["reminder"],
        words["due"],
        words["confirmed"].format(n=2),
        words["reminder"],
        words["complete"],
    ]
    assert len(subjects) == len(expected_order), subjects
    for subject, start in zip(subjects, expected_order, strict=True):
        assert subject.startswith(start), subjects
    return journey_id


async def _count(smtp, address: str, subject_part: str, n: int) -> bool:
    return len([m for m in mails_to(smtp, address) if subject_part in str(m["Subject"])]) >= n


async def test_a_two_dose_series_runs_end_to_end_in_english_and_in_spanish(api, smtp, sessions, temporal):
    started = utcnow()
    journeys = await asyncio.gather(
        run_series(api, smtp, sessions, temporal, "en"), run_series(api, smtp, sessions, temporal, "es")
    )
    assert len(set(journeys)) == 2
    assert smtp.store.duplicates() == {}
    assert (utcnow() - started).total_seconds() < 150  # 21 "days" of 2 s dominate
