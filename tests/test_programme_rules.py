"""Programme-wide rules (a product's minimum age, screening questions) hold at every location: only a
programme administrator changes them, every change is audited, and a mistaken question is retired."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from records.audit import AuditEntry
from records.db import transaction
from tests.conftest import login
from tests.journeys import new_product

QUESTION = {"prompt": "Fever today?", "effect": "refuse", "reason": "come back when well"}


async def test_only_an_administrator_changes_programme_rules_and_every_change_is_audited(api, sessions):
    product = await new_product(sessions)
    manager_elsewhere = await login(api, "twosites")  # manager at BUNC-02
    me = (await api.get("/auth/me", headers=manager_elsewhere)).json()
    bunc = next(loc for loc in me["locations"] if loc["location_code"] == "BUNC-02")
    await api.post("/auth/location", json={"location_id": bunc["location_id"]}, headers=manager_elsewhere)
    code = f"fever-{uuid.uuid4().hex[:6]}"

    for who in (manager_elsewhere, await login(api, "manager")):
        age = await api.put(f"/eligibility/{product}/minimum-age", json={"years": 30}, headers=who)
        assert age.status_code == 403 and age.json()["code"] == "admin_only"
        asked = await api.post(
            "/eligibility/questions", json=QUESTION | {"code": code, "product_code": product}, headers=who
        )
        assert asked.status_code == 403 and asked.json()["code"] == "admin_only"
    provider = await login(api, "provider")
    rules = (await api.get(f"/eligibility/{product}", headers=provider)).json()
    assert rules["minimum_age_years"] is None and rules["questions"] == []

    admin = await login(api, "agent")  # the demo's programme administrator
    age = await api.put(f"/eligibility/{product}/minimum-age", json={"years": 30}, headers=admin)
    assert age.status_code == 200 and age.json()["minimum_age_years"] == 30
    asked = await api.post(
        "/eligibility/questions", json=QUESTION | {"code": code, "product_code": product}, headers=admin
    )
    assert asked.status_code == 201, asked.text
    question_id = asked.json()["id"]
    assert [
        q["code"] for q in (await api.get(f"/eligibility/{product}", headers=provider)).json()["questions"]
    ] == [code]

    # A location manager cannot retire it; the administrator can, and it is no longer asked.
    path = f"/eligibility/questions/{question_id}/retire"
    assert (await api.post(path, headers=manager_elsewhere)).status_code == 403
    retired = await api.post(path, headers=admin)
    assert retired.status_code == 200 and retired.json()["active"] is False
    assert (await api.post(path, headers=admin)).status_code == 200  # again: no change
    assert (await api.post("/eligibility/questions/2147483000/retire", headers=admin)).status_code == 404
    assert (await api.get(f"/eligibility/{product}", headers=provider)).json()["questions"] == []

    admin_id = (await api.get("/auth/me", headers=admin)).json()["user_id"]
    async with transaction(sessions) as db:
        entries = (
            (
                await db.execute(
                    select(AuditEntry).where(
                        AuditEntry.entity_id.in_([product, str(question_id)]),
                        AuditEntry.entity.in_(["minimum_age", "screening_question"]),
                    )
                )
            )
            .scalars()
            .all()
        )
    assert sorted((e.entity, e.action) for e in entries) == [
        ("minimum_age", "set"),
        ("screening_question", "add"),
        ("screening_question", "retire"),
    ]
    assert {e.actor for e in entries} == {f"user:{admin_id}"}
    assert {e.location_id for e in entries} == {None}  # programme-wide, not one location's
