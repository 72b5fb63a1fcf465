"""Logins, locations, user management and recipients through the real API."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from records.audit import AuditEntry
from records.db import transaction
from records.recipients import Recipient
from tests.conftest import eventually, login


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:6]}"


def recipient_body(**overrides):
    body = {
        "first_name": "Ana",
        "last_name": unique("Núñez"),
        "date_of_birth": "1980-04-02",
        "sex": "female",
        "phone": "(919) 555-0101",
        "email": "ana@example.org",
        "preferred_language": "es",
        "race": "white",
        "ethnicity": "hispanic_or_latino",
    }
    body.update(overrides)
    return body


async def test_login_me_and_wrong_password(api):
    bad = await api.post("/auth/login", json={"login_name": "manager", "password": "nope"})
    assert bad.status_code == 401
    assert bad.json()["detail"] == "login name or password is wrong"
    headers = await login(api, "twosites")
    me = (await api.get("/auth/me", headers=headers)).json()
    assert {loc["role"] for loc in me["locations"]} == {"provider", "manager"}
    assert me["active_location_id"] == min(loc["location_id"] for loc in me["locations"])
    assert "password" not in str(me).lower()
    assert me["is_admin"] is False  # a manager somewhere is no programme administrator
    agent = (await api.get("/auth/me", headers=await login(api, "agent"))).json()
    assert agent["is_admin"] is True and agent["locations"] == []


async def test_switching_location_changes_role_and_foreign_location_is_403(api):
    headers = await login(api, "twosites")
    me = (await api.get("/auth/me", headers=headers)).json()
    bunc = next(loc for loc in me["locations"] if loc["location_code"] == "BUNC-02")
    switched = await api.post("/auth/location", json={"location_id": bunc["location_id"]}, headers=headers)
    assert switched.status_code == 200
    here = (await api.get("/location", headers=headers)).json()
    assert here["code"] == "BUNC-02" and here["my_role"] == "manager"

    provider = await login(api, "provider")
    refused = await api.post("/auth/location", json={"location_id": bunc["location_id"]}, headers=provider)
    assert refused.status_code == 403


async def test_logout_ends_the_session(api):
    headers = await login(api, "provider")
    assert (await api.post("/auth/logout", headers=headers)).status_code == 204
    assert (await api.get("/auth/me", headers=headers)).status_code == 401


async def test_manager_adds_new_user_who_gets_setup_email_and_sets_password(api, smtp, sessions):
    manager = await login(api, "manager")
    login_name = unique("nurse.")
    email = f"{login_name}@clinic.example"
    added = await api.post(
        "/location/users",
        json={
            "first_name": "Nia",
            "last_name": "Nurse",
            "email": email,
            "login_name": login_name,
            "role": "provider",
        },
        headers=manager,
    )
    assert added.status_code == 201, added.text
    assert added.json()["account_ready"] is False
    [mail] = await smtp.wait_for(lambda m: m["To"] == email)
    assert "Wake County Public Health Center" in mail["Subject"]
    token = mail.get_body(preferencelist=("plain",)).get_content().split("token=")[1].split()[0]

    assert (
        await api.post("/auth/set-password", json={"token": token, "password": "a-long-password-1"})
    ).status_code == 204
    # single use
    again = await api.post("/auth/set-password", json={"token": token, "password": "another-password-2"})
    assert again.status_code == 422
    tampered = await api.post(
        "/auth/set-password", json={"token": token[:-3] + "xyz", "password": "another-password-2"}
    )
    assert tampered.status_code == 422
    await login(api, login_name, "a-long-password-1")

    # the email was sent exactly once
    assert smtp.store.duplicates() == {}
    assert len([m for m in smtp.messages if m["To"] == email]) == 1


async def test_existing_login_gets_role_change_and_removal(api):
    manager = await login(api, "twosites")  # manager at BUNC-02
    me = (await api.get("/auth/me", headers=manager)).json()
    bunc = next(loc for loc in me["locations"] if loc["location_code"] == "BUNC-02")
    await api.post("/auth/location", json={"location_id": bunc["location_id"]}, headers=manager)
    body = {
        "first_name": "Sara",
        "last_name": "Schultz",
        "email": "scheduler@cvms.example",
        "login_name": "scheduler",
        "role": "readonly",
    }
    added = await api.post("/location/users", json=body, headers=manager)
    assert added.status_code == 201, added.text
    user_id = added.json()["user_id"]
    duplicate = await api.post("/location/users", json=body, headers=manager)
    assert duplicate.status_code == 409

    changed = await api.patch(f"/location/users/{user_id}", json={"role": "provider"}, headers=manager)
    assert changed.json()["role"] == "provider"
    bad_role = await api.patch(f"/location/users/{user_id}", json={"role": "emperor"}, headers=manager)
    assert bad_role.status_code == 422
    assert (await api.delete(f"/location/users/{user_id}", headers=manager)).status_code == 204
    assert (await api.delete(f"/location/users/{user_id}", headers=manager)).status_code == 404


async def test_register_search_and_duplicate_warning(api, sessions):
    provider = await login(api, "provider")
    body = recipient_body()
    created = await api.post("/recipients", json=body, headers=provider)
    assert created.status_code == 201, created.text
    rid = created.json()["id"]

    # accent- and case-insensitive partial name search with date of birth
    folded_last = body["last_name"].replace("ú", "u").replace("Ñ", "n").lower()[:5]
    found = await api.get(
        "/recipients", params={"name": f"ANA {folded_last}", "date_of_birth": "1980-04-02"}, headers=provider
    )
    assert found.status_code == 200
    assert [r["id"] for r in found.json()["items"]] == [rid]
    by_phone = await api.get("/recipients", params={"phone": "919-555-0101"}, headers=provider)
    assert rid in [r["id"] for r in by_phone.json()["items"]]
    by_email = await api.get("/recipients", params={"email": "ANA@example.org"}, headers=provider)
    assert rid in [r["id"] for r in by_email.json()["items"]]
    # The name alone finds them too (at least two letters); the date of birth only narrows it.
    name_only = await api.get("/recipients", params={"name": f"ana {folded_last}"}, headers=provider)
    assert name_only.status_code == 200 and rid in [r["id"] for r in name_only.json()["items"]]
    one_letter = await api.get("/recipients", params={"name": "a"}, headers=provider)
    assert one_letter.status_code == 422 and one_letter.json()["code"] == "invalid_input"

    dup = await api.post("/recipients", json={**body, "first_name": "ana"}, headers=provider)
    assert dup.status_code == 409
    assert dup.json()["code"] == "possible_duplicate"
    assert [c["id"] for c in dup.json()["candidates"]] == [rid]
    confirmed = await api.post("/recipients", json={**body, "confirm_new_person": True}, headers=provider)
    assert confirmed.status_code == 201


async def test_edit_recipient_is_audited_and_bad_input_changes_nothing(api, sessions):
    provider = await login(api, "provider")
    rid = (await api.post("/recipients", json=recipient_body(), headers=provider)).json()["id"]
    edited = await api.patch(
        f"/recipients/{rid}", json={"phone": "919-555-0199", "reason": "new phone"}, headers=provider
    )
    assert edited.status_code == 200 and edited.json()["phone"] == "919-555-0199"

    bad = await api.patch(f"/recipients/{rid}", json={"phone": "12", "city": "Durham"}, headers=provider)
    assert bad.status_code == 422
    assert bad.json()["detail"].startswith("invalid input")
    after = (await api.get(f"/recipients/{rid}", headers=provider)).json()
    assert after["city"] == "" and after["phone"] == "919-555-0199"

    async with transaction(sessions) as db:
        entries = (
            (
                await db.execute(
                    select(AuditEntry).where(
                        AuditEntry.entity == "recipient", AuditEntry.entity_id == str(rid)
                    )
                )
            )
            .scalars()
            .all()
        )
        assert [e.action for e in entries] == ["register", "edit"]
        assert entries[1].changes == {"phone": ["(919) 555-0101", "919-555-0199"]}
        assert entries[1].reason == "new phone"
        assert entries[1].location_id is not None


async def test_invalid_registration_is_422_per_field_and_writes_nothing(api, sessions):
    provider = await login(api, "provider")
    last = unique("Invalid")
    bad = await api.post(
        "/recipients",
        json=recipient_body(last_name=last, date_of_birth="2999-01-01", email="not-an-email", sex="x"),
        headers=provider,
    )
    assert bad.status_code == 422
    fields = {e["field"] for e in bad.json()["errors"]}
    assert {"date_of_birth", "email", "sex"} <= fields

    async def nothing_written():
        async with transaction(sessions) as db:
            rows = (await db.execute(select(Recipient).where(Recipient.last_name == last))).all()
            return rows == []

    assert await eventually(nothing_written, timeout=2)
