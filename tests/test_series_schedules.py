"""Schedules as data on the real stack: boosters (mix and match), an additional primary dose for the
immunocompromised, a paediatric schedule, influenza beside COVID-19, a too-early booking refused with
the date the person becomes due, and schedule versions edited through the API."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select

from records.audit import AuditEntry
from records.db import transaction, utcnow
from records.journeys import Dose, Journey
from records.locations import Location
from records.recipients import Recipient
from services.doses import recipient_series
from tests.conftest import login
from tests.journeys import (
    add_lot,
    book,
    document,
    link_token,
    location_id,
    mail,
    new_recipient,
    publish_slot,
    text_of,
)
from tests.portable_proof import parse_fhir_bundle, parse_vxu, split_vxu_batch, verify_card

DAY = 2.0  # settings.day_seconds in the test session
PFIZER_LOT = "PFI-WAKE-01-001"
MODERNA_LOT = "MOD-WAKE-01-001"


def days_ago(n: float) -> datetime:
    return utcnow() - timedelta(seconds=n * DAY)


async def doses_of(sessions, recipient_id: int) -> list[Dose]:
    async with transaction(sessions) as db:
        rows = await db.execute(select(Dose).where(Dose.recipient_id == recipient_id).order_by(Dose.given_at))
        return list(rows.scalars())


async def journey(sessions, jid: str) -> Journey:
    async with transaction(sessions) as db:
        found = await db.get(Journey, jid)
        assert found is not None
        return found


async def born(sessions, recipient_id: int, birth: date) -> None:
    async with transaction(sessions) as db:
        recipient = await db.get(Recipient, recipient_id)
        assert recipient is not None
        recipient.date_of_birth = birth


async def test_a_booster_too_early_is_refused_with_its_date_then_a_moderna_booster_follows_pfizer(
    api, sessions
):
    provider, manager, scheduler = [await login(api, n) for n in ("provider", "manager", "scheduler")]
    recipient = await new_recipient(sessions)
    first = await document(
        api, provider, recipient.id, product="pfizer", lot=PFIZER_LOT, given_at=days_ago(121)
    )
    assert first.status_code == 201, first.text
    second = await document(
        api, provider, recipient.id, product="pfizer", lot=PFIZER_LOT, given_at=days_ago(100)
    )
    assert second.status_code == 201 and second.json()["series_complete"] is True, second.text

    # The booster is due 150 days after dose 2: in about 50 days (100 s).
    early = await publish_slot(api, manager, start_in=20, product="moderna")
    refused = await book(api, scheduler, recipient.id, early["id"])
    assert refused.status_code == 409 and refused.json()["code"] == "not_due_yet", refused.text
    body = refused.json()
    assert "booster" in body["rule"] and "150 days" in body["detail"]
    due_at = datetime.fromisoformat(body["due_at"])
    assert abs((due_at - days_ago(-50)).total_seconds()) < 30
    assert body["due_at"][:19] in body["detail"].replace("Z", "")

    later = await publish_slot(api, manager, start_in=160, product="moderna")
    booked = await book(api, scheduler, recipient.id, later["id"])
    assert booked.status_code == 201, booked.text
    booster_series = booked.json()["journey_id"]
    assert booster_series == f"journey-{recipient.id}-2"
    rule = (await journey(sessions, booster_series)).series_rule
    assert rule is not None and (rule["series_kind"], rule["doses"], rule["code"]) == (
        "booster",
        1,
        "moderna",
    )
    assert rule["first_dose_number"] == 3


async def test_the_booster_due_email_books_a_moderna_booster_after_a_pfizer_series(api, smtp, sessions):
    provider, manager = [await login(api, n) for n in ("provider", "manager")]
    recipient = await new_recipient(sessions)
    for ago in (200, 179):  # the booster is due 150 days after dose 2: 29 days ago
        given = await document(
            api, provider, recipient.id, product="pfizer", lot=PFIZER_LOT, given_at=days_ago(ago)
        )
        assert given.status_code == 201, given.text
    primary = given.json()["journey_id"]

    due = await mail(smtp, recipient.email, "Your next dose is due", timeout=60)
    text = text_of(due)
    assert "COVID-19 booster" in text and "dose 3" in text and "Moderna" in text and "Pfizer-BioNTech" in text
    token = link_token(due, "book")
    slot = await publish_slot(api, manager, start_in=30, length=30, product="moderna")
    choices = await api.get(f"/r/book/{token}")
    assert choices.status_code == 200, choices.text
    assert choices.json()["dose_number"] == 3 and slot["id"] in [s["id"] for s in choices.json()["slots"]]
    booked = await api.post(f"/r/book/{token}", json={"slot_id": slot["id"]})
    assert booked.status_code == 201, booked.text
    assert booked.json()["journey_id"] != primary and booked.json()["product_code"] == "moderna"
    assert booked.json()["dose_number"] == 1  # dose 1 of the booster series (dose 3 of the family)
    spent = await api.post(f"/r/book/{token}", json={"slot_id": slot["id"]})
    assert spent.status_code == 409, spent.text


async def test_an_immunocompromised_recipient_gets_a_third_primary_dose(api, sessions):
    provider = await login(api, "provider")
    # Recorded before the series starts: the series is three doses.
    early = await new_recipient(sessions)
    recorded = await api.post(
        f"/recipients/{early.id}/conditions", json={"condition": "immunocompromised"}, headers=provider
    )
    assert recorded.status_code == 201 and recorded.json()["recorded_by"].startswith("user:"), recorded.text
    for n, ago in ((1, 60), (2, 39)):
        given = await document(
            api, provider, early.id, product="pfizer", lot=PFIZER_LOT, given_at=days_ago(ago)
        )
        assert given.status_code == 201 and given.json()["series_complete"] is False, (n, given.text)
    view = (await api.get(f"/recipients/{early.id}/journey", headers=provider)).json()
    assert view["doses_required"] == 3 and view["next_dose_number"] == 3
    too_soon = await document(
        api, provider, early.id, product="pfizer", lot=PFIZER_LOT, given_at=days_ago(20)
    )
    assert too_soon.status_code == 409 and too_soon.json()["code"] == "dose_too_early", too_soon.text
    third = await document(api, provider, early.id, product="pfizer", lot=PFIZER_LOT)
    assert third.status_code == 201 and third.json()["series_complete"] is True, third.text
    assert [d.family_dose_number for d in await doses_of(sessions, early.id)] == [1, 2, 3]

    # Recorded after a two-dose series ended: the additional dose is a series of its own, dose 3.
    late = await new_recipient(sessions)
    for ago in (60, 39):
        given = await document(
            api, provider, late.id, product="pfizer", lot=PFIZER_LOT, given_at=days_ago(ago)
        )
        assert given.status_code == 201, given.text
    no_condition = await document(api, provider, late.id, product="pfizer", lot=PFIZER_LOT)
    assert no_condition.status_code == 409 and no_condition.json()["code"] == "not_due_yet", no_condition.text
    await api.post(
        f"/recipients/{late.id}/conditions", json={"condition": "immunocompromised"}, headers=provider
    )
    wrong = await document(api, provider, late.id, product="moderna", lot=MODERNA_LOT)
    assert wrong.status_code == 409 and wrong.json()["code"] == "product_not_in_schedule", wrong.text
    assert "dose 3" in wrong.json()["rule"]
    third = await document(api, provider, late.id, product="pfizer", lot=PFIZER_LOT)
    assert third.status_code == 201, third.text
    doses = await doses_of(sessions, late.id)
    assert [(d.family_dose_number, d.series_kind, d.schedule_code) for d in doses][-1] == (
        3,
        "primary",
        "covid19-pfizer",
    )
    async with transaction(sessions) as db:
        entries = (
            await db.execute(
                select(AuditEntry).where(
                    AuditEntry.entity_id == str(late.id), AuditEntry.action == "record_condition"
                )
            )
        ).scalars()
        assert [e.changes for e in entries] == [{"condition": [None, "immunocompromised"]}]
    listed = (await api.get(f"/recipients/{late.id}/conditions", headers=provider)).json()
    assert [c["condition"] for c in listed] == ["immunocompromised"] and listed[0]["recorded_at"]
    unknown = await api.post(
        f"/recipients/{late.id}/conditions", json={"condition": "tall"}, headers=provider
    )
    assert unknown.status_code == 422
    path = f"/recipients/{late.id}/conditions/immunocompromised"
    assert (
        await api.delete(path, params={"reason": "recorded in error"}, headers=provider)
    ).status_code == 204
    assert (await api.delete(path, params={"reason": "again"}, headers=provider)).status_code == 404
    assert (await api.get(f"/recipients/{late.id}/conditions", headers=provider)).json() == []


async def test_a_child_follows_the_paediatric_schedule(api, sessions):
    provider = await login(api, "provider")
    child = await new_recipient(sessions)
    await born(sessions, child.id, date.today().replace(year=date.today().year - 8))
    lot = await add_lot(sessions, "pfizer-paed")
    adult_formulation = await document(api, provider, child.id, product="pfizer", lot=PFIZER_LOT)
    assert adult_formulation.status_code == 409, adult_formulation.text
    first = await document(api, provider, child.id, product="pfizer-paed", lot=lot, given_at=days_ago(30))
    assert first.status_code == 201, first.text
    view = (await api.get(f"/recipients/{child.id}/journey", headers=provider)).json()
    assert view["product_code"] == "pfizer-paed" and view["doses_required"] == 2
    second = await document(api, provider, child.id, product="pfizer-paed", lot=lot)
    assert second.status_code == 201 and second.json()["series_complete"] is True, second.text
    assert {d.schedule_code for d in await doses_of(sessions, child.id)} == {"covid19-pfizer-paediatric"}

    adult = await new_recipient(sessions)
    refused = await document(api, provider, adult.id, product="pfizer-paed", lot=lot)
    assert refused.status_code == 409 and refused.json()["code"] == "no_dose_due", refused.text


async def test_a_flu_dose_beside_a_covid_series(api, sessions, settings):
    provider = await login(api, "provider")
    recipient = await new_recipient(sessions)
    covid = await document(
        api, provider, recipient.id, product="pfizer", lot=PFIZER_LOT, given_at=days_ago(25)
    )
    assert covid.status_code == 201, covid.text
    flu_lot = await add_lot(sessions, "influenza")
    flu = await document(api, provider, recipient.id, product="influenza", lot=flu_lot)
    assert flu.status_code == 201 and flu.json()["series_complete"] is True, flu.text
    assert flu.json()["journey_id"] != covid.json()["journey_id"]
    assert (await journey(sessions, flu.json()["journey_id"])).family == "influenza"
    # The portal offers the slots of each family's next dose: COVID-19 dose 2 (the same product, in
    # its window), no flu slot before next season, no other COVID-19 product.
    manager = await login(api, "manager")
    offered = {
        p: (await publish_slot(api, manager, start_in=10, product=p))["id"]
        for p in ("pfizer", "moderna", "influenza")
    }
    async with transaction(sessions) as db:
        wake = await db.get(Location, await location_id(sessions, "WAKE-01"))
        assert wake is not None
        shown = await recipient_series(db, settings, location=wake, recipient_id=recipient.id)
    ids = {slot.id for slot in shown.open_slots}
    assert offered["pfizer"] in ids and not {offered["moderna"], offered["influenza"]} & ids
    # The COVID-19 series goes on in its own journey.
    dose2 = await document(api, provider, recipient.id, product="pfizer", lot=PFIZER_LOT)
    assert dose2.status_code == 201 and dose2.json()["journey_id"] == covid.json()["journey_id"], dose2.text
    again = await document(api, provider, recipient.id, product="influenza", lot=flu_lot)
    assert again.status_code == 409 and again.json()["code"] == "not_due_yet", again.text
    assert "season" in again.json()["rule"] and again.json()["due_at"]
    due = (await api.get(f"/recipients/{recipient.id}/next-doses", headers=provider)).json()
    by_family = {d["family"]: d for d in due}
    assert by_family["influenza"]["kind"] == "booster" and by_family["covid19"]["kind"] == "booster"
    assert by_family["mpox"]["dose_number"] == 1 and by_family["mpox"]["products"] == ["jynneos"]


async def test_schedules_are_edited_as_versions_by_administrators(api, sessions, settings):
    provider, admin = await login(api, "provider"), await login(api, "agent")  # the demo administrator
    current = (await api.get("/schedules", headers=provider)).json()
    mpox = next(s for s in current if s["code"] == "mpox-jynneos")
    body = dict(mpox["body"])
    # A week longer than whatever is current (the portal's test may have edited it already).
    longer = body["primary"][1]["min_interval_days"] + 7
    body["primary"] = [body["primary"][0], {**body["primary"][1], "min_interval_days": longer}]
    edit = {"schedule": body, "reason": "longer interval"}
    assert (
        await api.post("/schedules/mpox-jynneos/versions", json=edit, headers=provider)
    ).status_code == 403
    broken = await api.post(
        "/schedules/mpox-jynneos/versions",
        json={"schedule": {"name": "x"}, "reason": "broken"},
        headers=admin,
    )
    assert broken.status_code == 422 and broken.json()["code"] == "invalid_schedule", broken.text
    for wrong in (
        {**body, "primary": [{**body["primary"][0], "products": "jynneos"}]},
        {**body, "primary": [{**body["primary"][0], "products": ["no-such-vaccine"]}]},
        {**body, "primary": [body["primary"][0], {**body["primary"][1], "min_interval_days": "35"}]},
        {**body, "family": "covid19"},
    ):
        refused = await api.post(
            "/schedules/mpox-jynneos/versions", json={"schedule": wrong, "reason": "bad"}, headers=admin
        )
        assert refused.status_code == 422 and refused.json()["code"] == "invalid_schedule", refused.text

    recipient = await new_recipient(sessions)
    jyn = await add_lot(sessions, "jynneos")
    given = await document(api, provider, recipient.id, product="jynneos", lot=jyn, given_at=days_ago(30))
    assert given.status_code == 201, given.text
    # A COVID-19 series beside the open mpox series: the portal offers lots of both for the next dose.
    covid = await document(api, provider, recipient.id, product="pfizer", lot=PFIZER_LOT)
    assert covid.status_code == 201 and covid.json()["journey_id"] != given.json()["journey_id"], covid.text
    async with transaction(sessions) as db:
        wake = await db.get(Location, await location_id(sessions, "WAKE-01"))
        assert wake is not None
        shown = await recipient_series(db, settings, location=wake, recipient_id=recipient.id)
    assert {"pfizer", "jynneos"} <= {lot.product_code for lot in shown.lots}
    preview = await api.post("/schedules/mpox-jynneos/preview", json=edit, headers=admin)
    assert preview.status_code == 200, preview.text
    moved = next(row for row in preview.json() if row["recipient_id"] == recipient.id)
    assert moved["before"]["earliest"] < moved["after"]["earliest"]

    added = await api.post("/schedules/mpox-jynneos/versions", json=edit, headers=admin)
    assert added.status_code == 201 and added.json()["version"] >= 2, added.text
    again = await api.post("/schedules/mpox-jynneos/versions", json=edit, headers=admin)
    assert again.status_code == 409 and again.json()["code"] == "schedule_unchanged"
    versions = (await api.get("/schedules/mpox-jynneos/versions", headers=provider)).json()
    assert [v["version"] for v in versions][-1] == added.json()["version"]
    # The doses given keep the versions they were given under.
    given_versions = {d.product_code: d.schedule_version for d in await doses_of(sessions, recipient.id)}
    assert given_versions == {"jynneos": mpox["version"], "pfizer": 1}
    async with transaction(sessions) as db:
        audited = (
            await db.execute(
                select(AuditEntry).where(
                    AuditEntry.entity == "schedule", AuditEntry.reason == "longer interval"
                )
            )
        ).scalars()
        assert list(audited)


async def test_exports_and_the_health_card_carry_family_dose_numbers_and_series(api, sessions):
    provider = await login(api, "provider")
    recipient = await new_recipient(sessions)
    for product, lot, ago in (
        ("pfizer", PFIZER_LOT, 400),
        ("pfizer", PFIZER_LOT, 379),
        ("moderna", MODERNA_LOT, 0),
    ):
        given = await document(api, provider, recipient.id, product=product, lot=lot, given_at=days_ago(ago))
        assert given.status_code == 201, given.text
    assert given.json()["dose_number"] == 1  # dose 1 of the booster series ...

    fhir = await api.get(f"/recipients/{recipient.id}/export", params={"format": "fhir"}, headers=provider)
    assert fhir.status_code == 200, fhir.text
    _patient, *immunizations = (entry.resource for entry in parse_fhir_bundle(fhir.content).entry)
    applied = [i.protocolApplied[0] for i in immunizations]
    assert [a.doseNumberPositiveInt for a in applied] == [1, 2, 3]  # ... and dose 3 of COVID-19
    assert [a.seriesDosesPositiveInt for a in applied] == [2, 2, None]
    assert "primary series" in applied[0].series and "booster" in applied[2].series
    assert "Pfizer-BioNTech" in applied[2].series  # the schedule the family started with

    vxu = await api.get(f"/recipients/{recipient.id}/export", params={"format": "vxu"}, headers=provider)
    _, (message,) = split_vxu_batch(vxu.text)
    orders = parse_vxu(message).children.get("VXU_V04_ORDER")
    numbers = [order.VXU_V04_OBSERVATION.OBX.OBX_5.to_er7() for order in orders]
    assert numbers == ["1", "2", "3"], numbers

    card = await api.get(f"/recipients/{recipient.id}/health-card", headers=provider)
    assert card.status_code == 200, card.text
    jwks = (await api.get("/.well-known/jwks.json")).json()
    _, payload = verify_card(card.json()["verifiableCredential"][0], jwks)
    entries = payload["vc"]["credentialSubject"]["fhirBundle"]["entry"][1:]
    assert [e["resource"]["protocolApplied"][0]["doseNumberPositiveInt"] for e in entries] == [1, 2, 3]
