"""Security under misuse: links reused after their action, a login carried to a location where its
user holds no role, and passwords that never come back in a response or show up in a log.

Also verified elsewhere: tampered and expired recipient links (test_scheduling), a single-use and
tampered set-password link (test_foundation), login throttling (test_login_guard), another
location's records are a 404 on every route (test_authorization)."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import httpx
from sqlalchemy import select, update

from domain.security import token_digest
from records.db import transaction
from records.locations import Location
from records.outbox import OutboxMessage
from records.scheduling import Appointment, Slot
from records.users import LoginSession, User
from tests.conftest import login
from tests.journeys import (
    add_lot,
    book,
    document,
    link_token,
    mail,
    new_product,
    new_recipient,
    publish_slot,
    text_of,
)
from tests.replicas import Replicas
from worker.seed import DEMO_PASSWORD


async def test_recipient_links_are_refused_when_reused_after_their_action(api, smtp, sessions):
    manager, scheduler, provider = [await login(api, n) for n in ("manager", "scheduler", "provider")]
    recipient = await new_recipient(sessions)
    slot = await publish_slot(api, manager, start_in=3600)
    appointment = (await book(api, scheduler, recipient.id, slot["id"])).json()
    cancel_link = link_token(await mail(smtp, recipient.email, "confirmed"), "appointments")

    assert (await api.post(f"/r/appointments/{cancel_link}/cancel", json={})).status_code == 200
    # The link is spent: used again (a double click) it is refused...
    again = await api.post(f"/r/appointments/{cancel_link}/cancel", json={})
    assert again.status_code == 409 and again.json()["code"] == "link_used"
    # ...and it can do nothing else.
    other = await publish_slot(api, manager, start_in=5400)
    moved = await api.post(f"/r/appointments/{cancel_link}/reschedule", json={"slot_id": other["id"]})
    assert moved.status_code == 409 and moved.json()["code"] == "link_used"
    async with transaction(sessions) as db:
        assert (await db.get(Appointment, appointment["id"])).status == "cancelled"
        assert (await db.get(Slot, other["id"])).booked == 0
    await mail(smtp, recipient.email, "is cancelled")  # once: the refused reuse sent nothing

    # The dose-2 booking link books once; used again it is refused and books nothing more.
    product = await new_product(sessions, interval_days=1, latest_days=300, grace_days=0)
    lot = await add_lot(sessions, product)
    walk_in = await document(api, provider, recipient.id, product=product, lot=lot)
    assert walk_in.status_code == 201, walk_in.text
    book_link = link_token(await mail(smtp, recipient.email, "is due", timeout=60), "book")
    first, second = [await publish_slot(api, manager, start_in=i, product=product) for i in (60, 120)]
    booked = await api.post(f"/r/book/{book_link}", json={"slot_id": first["id"]})
    assert booked.status_code == 201, booked.text
    reused = await api.post(f"/r/book/{book_link}", json={"slot_id": second["id"]})
    assert reused.status_code == 409 and reused.json()["detail"]
    async with transaction(sessions) as db:
        assert (await db.get(Slot, second["id"])).booked == 0
        active = (
            (
                await db.execute(
                    select(Appointment).where(
                        Appointment.recipient_id == recipient.id, Appointment.status == "booked"
                    )
                )
            )
            .scalars()
            .all()
        )
        assert [a.slot_id for a in active] == [first["id"]]


async def test_a_login_is_refused_at_a_location_where_its_user_holds_no_role(api, sessions):
    provider = await login(api, "provider")  # provider at WAKE-01 only
    async with transaction(sessions) as db:
        bunc = (await db.execute(select(Location).where(Location.code == "BUNC-02"))).scalar_one()
    switched = await api.post("/auth/location", json={"location_id": bunc.id}, headers=provider)
    assert switched.status_code == 403

    # Even a session whose stored active location is somehow another site's acts nowhere.
    token = provider["Authorization"].removeprefix("Bearer ")
    async with transaction(sessions) as db:
        await db.execute(
            update(LoginSession)
            .where(LoginSession.token_hash == token_digest(token))
            .values(active_location_id=bunc.id)
        )
    for method, path in (("GET", "/recipients?name=ana"), ("GET", "/location"), ("GET", "/slots")):
        refused = await api.request(method, path, headers=provider)
        assert refused.status_code == 403, (path, refused.text)
        assert refused.json()["detail"]


async def test_passwords_are_never_returned_nor_logged(
    settings, sessions, smtp, worker, state_dir: Path, caplog
):
    caplog.set_level(logging.DEBUG)
    logs = state_dir / f"secrets-{uuid.uuid4().hex[:6]}"
    logs.mkdir()
    replicas = Replicas(settings, logs=logs)  # a real API process, logging at INFO
    wrong = f"wrong-{uuid.uuid4().hex}"
    chosen = f"chosen-{uuid.uuid4().hex}"
    login_name = f"secret.{uuid.uuid4().hex[:6]}"
    email = f"{login_name}@clinic.example"
    answers: list[httpx.Response] = []
    try:
        url = replicas.start_api()
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:

            async def call(method: str, path: str, **kwargs) -> httpx.Response:  # type: ignore[no-untyped-def]
                response = await http.request(method, path, **kwargs)
                answers.append(response)
                return response

            bad = await call("POST", "/auth/login", json={"login_name": "manager", "password": wrong})
            assert bad.status_code == 401
            good = await call(
                "POST", "/auth/login", json={"login_name": "manager", "password": DEMO_PASSWORD}
            )
            manager = {"Authorization": f"Bearer {good.json()['token']}"}
            user = {"first_name": "Sec", "last_name": "Ret", "email": email, "login_name": login_name}
            added = await call("POST", "/location/users", json={**user, "role": "provider"}, headers=manager)
            assert added.status_code == 201, added.text
            [setup] = await smtp.wait_for(lambda m: m["To"] == email, timeout=60)
            token = text_of(setup).split("token=")[1].split()[0]
            too_short = await call("POST", "/auth/set-password", json={"token": token, "password": "short"})
            assert too_short.status_code == 422
            done = await call("POST", "/auth/set-password", json={"token": token, "password": chosen})
            assert done.status_code == 204
            mine = await call("POST", "/auth/login", json={"login_name": login_name, "password": chosen})
            assert mine.status_code == 200
            mine_headers = {"Authorization": f"Bearer {mine.json()['token']}"}
            await call("GET", "/auth/me", headers=mine_headers)
            await call("GET", "/location/users", headers=manager)
    finally:
        replicas.stop_all()

    secrets = (wrong, chosen, DEMO_PASSWORD, "short")
    for response in answers:
        for secret in secrets:
            assert secret not in response.text, (response.request.url, secret)
        assert "password_hash" not in response.text
    api_log = (logs / "api-0.log").read_text(errors="replace")
    assert "POST /auth/login" in api_log  # the log was written, and holds no password
    for secret in secrets:
        assert secret not in api_log
        assert secret not in caplog.text
    async with transaction(sessions) as db:
        stored = (await db.execute(select(User).where(User.login_name == login_name))).scalar_one()
        assert stored.password_hash.startswith("$argon2") and chosen not in stored.password_hash
        outbox = (await db.execute(select(OutboxMessage).where(OutboxMessage.to_address == email))).scalars()
        assert all(chosen not in str(row.context) for row in outbox)
