"""The series rules through the API: windows, grace, products, lots, removal, single-dose series, versions."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from temporalio.client import WorkflowExecutionStatus

from records.audit import AuditEntry
from records.db import transaction, utcnow
from records.journeys import Journey
from records.products import Product
from tests.conftest import eventually, login
from tests.journeys import (
    add_lot,
    book,
    document,
    mail,
    mails_to,
    new_product,
    new_recipient,
    publish_slot,
    text_of,
)
from workflows.journey import JourneyWorkflow

DAY = 2.0  # settings.day_seconds in the test session
PFIZER_LOT = "PFI-WAKE-01-001"
MODERNA_LOT = "MOD-WAKE-01-001"


def days_ago(n: float):
    return utcnow() - timedelta(seconds=n * DAY)


async def test_dose_two_outside_its_window_cannot_be_booked(api, sessions):
    provider, manager, scheduler = [await login(api, n) for n in ("provider", "manager", "scheduler")]
    recipient = await new_recipient(sessions)
    dose1 = await document(api, provider, recipient.id, product="pfizer", lot=PFIZER_LOT)
    assert dose1.status_code == 201, dose1.text

    too_early = await publish_slot(api, manager, start_in=10)  # earliest is 21 days = 42 s away
    refused = await book(api, scheduler, recipient.id, too_early["id"], dose_number=2)
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "dose_outside_window"
    assert "Dose 2 of Pfizer-BioNTech can be booked from" in refused.json()["detail"]
    assert refused.json()["too_early"] is True

    too_late = await publish_slot(api, manager, start_in=120)  # recommended latest is 42 days = 84 s
    refused = await book(api, scheduler, recipient.id, too_late["id"], dose_number=2)
    assert refused.status_code == 409 and refused.json()["too_early"] is False

    wrong_number = await book(api, scheduler, recipient.id, too_early["id"], dose_number=1)
    assert wrong_number.status_code == 409 and wrong_number.json()["code"] == "dose_number_mismatch"
    slots = {s["id"]: s for s in (await api.get("/slots", headers=scheduler)).json()}
    assert slots[too_early["id"]]["booked"] == 0 and slots[too_late["id"]]["booked"] == 0


async def test_a_dose_within_the_four_day_grace_is_accepted_with_a_warning_and_earlier_is_refused(
    api, sessions
):
    provider = await login(api, "provider")
    early = await new_recipient(sessions)
    await document(api, provider, early.id, product="pfizer", lot=PFIZER_LOT, given_at=days_ago(18))
    accepted = await document(api, provider, early.id, product="pfizer", lot=PFIZER_LOT)  # 3 days early
    assert accepted.status_code == 201, accepted.text
    warning = accepted.json()["warning"]
    assert "before the earliest date" in warning and "4-day grace period" in warning
    assert accepted.json()["series_complete"] is True
    async with transaction(sessions) as db:
        entry = (
            await db.execute(
                select(AuditEntry).where(
                    AuditEntry.entity == "dose", AuditEntry.entity_id == str(accepted.json()["id"])
                )
            )
        ).scalar_one()
        assert entry.reason == warning

    too_early = await new_recipient(sessions)
    await document(api, provider, too_early.id, product="pfizer", lot=PFIZER_LOT, given_at=days_ago(10))
    refused = await document(api, provider, too_early.id, product="pfizer", lot=PFIZER_LOT)
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "dose_too_early"
    assert "more than the 4-day grace period allows" in refused.json()["detail"]
    doses = (await api.get(f"/recipients/{too_early.id}/doses", headers=provider)).json()
    assert [d["dose_number"] for d in doses] == [1]


async def test_dose_two_of_another_product_is_refused(api, sessions):
    provider = await login(api, "provider")
    recipient = await new_recipient(sessions)
    await document(api, provider, recipient.id, product="pfizer", lot=PFIZER_LOT, given_at=days_ago(21))
    refused = await document(api, provider, recipient.id, product="moderna", lot=MODERNA_LOT)
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "wrong_product"
    assert "a later dose must be the same product" in refused.json()["detail"]


async def test_expired_unknown_and_mismatched_lots_are_refused_and_change_nothing(api, sessions):
    provider = await login(api, "provider")
    recipient = await new_recipient(sessions)
    expired = await add_lot(sessions, "pfizer", expires_on=date.today() - timedelta(days=2))
    refused = await document(api, provider, recipient.id, product="pfizer", lot=expired)
    assert refused.status_code == 409 and refused.json()["code"] == "lot_expired", refused.text
    assert "expired on" in refused.json()["detail"]

    unknown = await document(api, provider, recipient.id, product="pfizer", lot="NO-SUCH-LOT")
    assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_lot"

    mismatched = await document(api, provider, recipient.id, product="pfizer", lot=MODERNA_LOT)
    assert mismatched.status_code == 409 and mismatched.json()["code"] == "lot_product_mismatch"

    other_site = await add_lot(sessions, "pfizer", location="BUNC-02")
    elsewhere = await document(api, provider, recipient.id, product="pfizer", lot=other_site)
    assert elsewhere.status_code == 422 and elsewhere.json()["code"] == "unknown_lot"

    assert (await api.get(f"/recipients/{recipient.id}/doses", headers=provider)).json() == []


async def test_a_janssen_walk_in_completes_the_series_after_one_dose(api, smtp, sessions, temporal):
    twosites = await login(api, "twosites")
    me = (await api.get("/auth/me", headers=twosites)).json()
    bunc = next(loc for loc in me["locations"] if loc["location_code"] == "BUNC-02")
    await api.post("/auth/location", json={"location_id": bunc["location_id"]}, headers=twosites)
    recipient = await new_recipient(sessions, language="es")

    walk_in = await document(api, twosites, recipient.id, product="janssen", lot="JAN-BUNC-02-001")
    assert walk_in.status_code == 201, walk_in.text
    assert walk_in.json()["series_complete"] is True and walk_in.json()["dose_number"] == 1

    complete = await mail(smtp, recipient.email, "Su serie de vacunación está completa")
    assert "Janssen" in text_of(complete) and "/r/record/" in text_of(complete)
    handle = temporal.get_workflow_handle(walk_in.json()["journey_id"])
    # Complete; the workflow waits to announce the booster Janssen's schedule offers 60 days on.
    waiting = await handle.query(JourneyWorkflow.view)
    assert waiting.complete and waiting.next_event == "booster_due"
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    view = (await api.get(f"/recipients/{recipient.id}/journey", headers=twosites)).json()
    assert view["complete"] is True and view["doses_required"] == 1

    # A booking after the series is complete starts the recipient's next series.
    manager, scheduler = [await login(api, n) for n in ("manager", "scheduler")]
    slot = await publish_slot(api, manager, start_in=3600, product="janssen")
    again = await book(api, scheduler, recipient.id, slot["id"])
    assert again.status_code == 201, again.text
    assert again.json()["journey_id"] == f"journey-{recipient.id}-2"

    # BUNC-02 is walk-in only: no slots, no bookings there.
    refused = await api.post(
        "/slots",
        json={
            "start_at": (utcnow() + timedelta(hours=1)).isoformat(),
            "end_at": (utcnow() + timedelta(hours=2)).isoformat(),
            "capacity": 3,
            "product_code": "janssen",
        },
        headers=twosites,
    )
    assert refused.status_code == 409 and refused.json()["code"] == "scheduling_disabled"


async def test_removing_an_erroneous_dose_steps_the_series_back(api, smtp, sessions, temporal):
    provider = await login(api, "provider")
    product = await new_product(sessions, interval_days=3, latest_days=30, grace_days=1)
    lot = await add_lot(sessions, product)
    recipient = await new_recipient(sessions)
    dose1 = (
        await document(api, provider, recipient.id, product=product, lot=lot, given_at=days_ago(4))
    ).json()
    await mail(smtp, recipient.email, "Your dose 2 is due")  # the window is already open
    dose2 = await document(api, provider, recipient.id, product=product, lot=lot)
    assert dose2.json()["series_complete"] is True, dose2.text
    await mail(smtp, recipient.email, "Your vaccination series is complete")
    journey_id = dose1["journey_id"]
    await temporal.get_workflow_handle(journey_id).result()

    out_of_order = await api.post(
        f"/doses/{dose1['id']}/remove", json={"reason": "wrong person"}, headers=provider
    )
    assert out_of_order.status_code == 409 and out_of_order.json()["code"] == "later_dose_exists"
    no_reason = await api.post(f"/doses/{dose2.json()['id']}/remove", json={}, headers=provider)
    assert no_reason.status_code == 422

    removed = await api.post(
        f"/doses/{dose2.json()['id']}/remove",
        json={"reason": "documented on the wrong chart"},
        headers=provider,
    )
    assert removed.status_code == 200, removed.text
    assert removed.json()["removed"] is True
    assert removed.json()["removed_reason"] == "documented on the wrong chart"
    view = (await api.get(f"/recipients/{recipient.id}/journey", headers=provider)).json()
    assert view["journey_id"] == journey_id
    assert [d["dose_number"] for d in view["doses"]] == [1]
    assert view["complete"] is False and view["next_dose_number"] == 2
    # dose 2 is due again: announced afresh (the window is open, so at once)
    await eventually(
        lambda: _count(smtp, recipient.email, "Your dose 2 is due", 2), timeout=30, what="second due email"
    )
    async with transaction(sessions) as db:
        assert (await db.get(Journey, journey_id)).status == "active"
        entry = (
            await db.execute(
                select(AuditEntry).where(
                    AuditEntry.entity == "dose",
                    AuditEntry.entity_id == str(dose2.json()["id"]),
                    AuditEntry.action == "remove",
                )
            )
        ).scalar_one()
        assert entry.reason == "documented on the wrong chart" and entry.actor.startswith("user:")

    removed1 = await api.post(
        f"/doses/{dose1['id']}/remove", json={"reason": "wrong person"}, headers=provider
    )
    assert removed1.status_code == 200, removed1.text
    view = (await api.get(f"/recipients/{recipient.id}/journey", headers=provider)).json()
    assert view["doses"] == [] and view["next_dose_number"] == 1 and view["next_event"] is None
    history = (await api.get(f"/recipients/{recipient.id}/doses", headers=provider)).json()
    assert [(d["dose_number"], d["removed"]) for d in history] == [(1, True), (2, True)]

    again = await document(api, provider, recipient.id, product=product, lot=lot)
    assert again.status_code == 201 and again.json()["dose_number"] == 1
    assert again.json()["journey_id"] == journey_id


async def test_an_edited_dose_records_who_and_why(api, sessions):
    provider = await login(api, "provider")
    recipient = await new_recipient(sessions)
    dose = (await document(api, provider, recipient.id, product="pfizer", lot=PFIZER_LOT)).json()
    no_reason = await api.patch(
        f"/doses/{dose['id']}", json={"injection_site": "right_deltoid"}, headers=provider
    )
    assert no_reason.status_code == 422
    edited = await api.patch(
        f"/doses/{dose['id']}",
        json={"injection_site": "right_deltoid", "administered_by": "Nurse Nia", "reason": "arm mixed up"},
        headers=provider,
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["injection_site"] == "right_deltoid"
    async with transaction(sessions) as db:
        entry = (
            await db.execute(
                select(AuditEntry).where(
                    AuditEntry.entity == "dose",
                    AuditEntry.entity_id == str(dose["id"]),
                    AuditEntry.action == "edit",
                )
            )
        ).scalar_one()
        assert entry.reason == "arm mixed up"
        assert entry.changes["injection_site"] == ["left_deltoid", "right_deltoid"]
        assert entry.changes["administered_by"][1] == "Nurse Nia"


async def test_a_series_keeps_the_rule_version_it_started_with(api, sessions):
    provider = await login(api, "provider")
    product = await new_product(sessions, interval_days=3, latest_days=30, grace_days=0)
    lot = await add_lot(sessions, product)
    started = await new_recipient(sessions)
    first = await document(api, provider, started.id, product=product, lot=lot, given_at=days_ago(4))
    assert first.json()["product_version"] == 1

    async with transaction(sessions) as db:  # version 2: ten days apart, no grace
        db.add(Product(code=product, version=2, name="Testvax v2", doses=2, interval_days=10, grace_days=0))

    second = await document(api, provider, started.id, product=product, lot=lot)
    assert second.status_code == 201, second.text  # on time under version 1; too early under version 2
    assert second.json()["product_version"] == 1 and second.json()["warning"] is None

    newcomer = await new_recipient(sessions)
    fresh = await document(api, provider, newcomer.id, product=product, lot=lot, given_at=days_ago(4))
    assert fresh.json()["product_version"] == 2
    refused = await document(api, provider, newcomer.id, product=product, lot=lot)
    assert refused.status_code == 409 and refused.json()["code"] == "dose_too_early"


async def _count(smtp, address: str, subject_part: str, n: int) -> bool:
    return len([m for m in mails_to(smtp, address) if subject_part in str(m["Subject"])]) >= n


async def test_a_second_dose_not_given_by_the_recommended_latest_is_announced_overdue(api, smtp, sessions):
    provider = await login(api, "provider")
    product = await new_product(sessions, interval_days=1, latest_days=2, grace_days=0)
    lot = await add_lot(sessions, product)
    recipient = await new_recipient(sessions, language="es")
    dose1 = await document(api, provider, recipient.id, product=product, lot=lot, given_at=days_ago(3))
    assert dose1.status_code == 201, dose1.text
    due = await mail(smtp, recipient.email, "Ya le corresponde la dosis 2")
    overdue = await mail(smtp, recipient.email, "Su dosis 2 está atrasada")
    assert overdue["Content-Language"] == "es"
    assert "no necesita empezar de nuevo" in text_of(overdue)
    assert "/r/book/" in text_of(overdue) and "/r/book/" in text_of(due)
    # a late dose is still a valid dose: the series completes without starting over
    late = await document(api, provider, recipient.id, product=product, lot=lot)
    assert late.status_code == 201 and late.json()["series_complete"] is True, late.text
