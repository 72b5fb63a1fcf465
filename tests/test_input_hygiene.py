"""Input that used to get through or break the server: blank and invisible text, malformed JSON,
errors without a code, respelled spent links, name search; each answered cleanly."""

from __future__ import annotations

import asyncio
import base64
import logging
from urllib.parse import quote

import httpx
import uvicorn

from domain.journey_messages import LINK_APPOINTMENT, LINK_RECORD
from domain.security import read_link, sign_link
from records.db import transaction
from records.recipients import Recipient
from tests.browser_fixtures import _InProcessServer, free_port
from tests.conftest import eventually, login
from tests.journeys import add_lot, book, document, new_recipient, publish_slot, unique
from tests.test_helpdesk import desk, fast_app, open_case, register_requester

__all__ = ["desk", "fast_app"]  # the help desk's fixtures, used here too

PERSON = {"date_of_birth": "1981-03-04", "sex": "female"}


def respellings(token: str) -> list[str]:
    """The same signed link spelled differently: the last base64 character of the signature
    carries spare bits that decoding ignores."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(token[-1])
    spellings = [token[:-1] + alphabet[(last & ~0b11) | spare] for spare in range(4)]
    decoded = {base64.urlsafe_b64decode(s.rsplit(".", 1)[1] + "=") for s in spellings}
    assert len(decoded) == 1  # all four are the same signature
    return [s for s in spellings if s != token]


async def test_a_spent_link_stays_spent_however_its_signature_is_spelled(api, sessions, settings):
    recipient = await new_recipient(sessions)
    slot = await publish_slot(api, await login(api, "manager"), start_in=3600, length=600)
    booked = await book(api, await login(api, "scheduler"), recipient.id, slot["id"])
    assert booked.status_code == 201, booked.text
    appointment = booked.json()
    token = sign_link(
        settings.secret_key, LINK_APPOINTMENT, {"a": appointment["id"], "j": appointment["journey_id"]}
    )
    others = respellings(token)
    for other in others:  # each still verifies: the signature is the same
        assert read_link(settings.secret_key, LINK_APPOINTMENT, other, 60) == read_link(
            settings.secret_key, LINK_APPOINTMENT, token, 60
        )

    spent = await api.post(f"/r/appointments/{token}/cancel", json={})
    assert spent.status_code == 200, spent.text
    for other in others:
        again = await api.post(f"/r/appointments/{other}/cancel", json={})
        assert again.status_code == 409 and again.json()["code"] == "link_used", again.text
        assert (await api.get(f"/r/appointments/{other}")).json()["link_used"] is True


async def test_blank_required_text_is_a_422_naming_the_field_on_create_and_on_edit(api):
    headers = await login(api, "manager")
    last = unique("Blank")
    for field in ("first_name", "last_name"):
        body = {"first_name": "Ana", "last_name": last, **PERSON, field: " \t\u200b "}
        created = await api.post("/recipients", json=body, headers=headers)
        assert created.status_code == 422, created.text
        answer = created.json()
        assert answer["code"] == "invalid_input"
        assert [e["field"] for e in answer["errors"]] == [field]

    created = await api.post(
        "/recipients",
        json={"first_name": "  Ana  ", "last_name": f" {last} ", "city": "  Cary ", **PERSON},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    assert (created.json()["first_name"], created.json()["last_name"], created.json()["city"]) == (
        "Ana",
        last,
        "Cary",
    )
    rid = created.json()["id"]
    edited = await api.patch(f"/recipients/{rid}", json={"first_name": "   "}, headers=headers)
    assert edited.status_code == 422 and edited.json()["errors"][0]["field"] == "first_name", edited.text
    assert (await api.get(f"/recipients/{rid}", headers=headers)).json()["first_name"] == "Ana"
    # The connection is still good after the refusals (it was dropped after the 500).
    assert (await api.get("/health")).status_code == 200


async def test_invisible_and_control_characters_never_reach_the_database(api, sessions):
    headers = await login(api, "manager")
    last = unique("Zw")
    first = await api.post(
        "/recipients", json={"first_name": "Jose", "last_name": last, **PERSON}, headers=headers
    )
    assert first.status_code == 201
    # A zero-width space and a NUL no longer make the same person look new.
    twin = await api.post(
        "/recipients",
        json={"first_name": "Jo\u200bse\x00", "last_name": f"{last}\u200b", **PERSON},
        headers=headers,
    )
    assert twin.status_code == 409 and twin.json()["code"] == "possible_duplicate", twin.text
    # Decomposed accents are stored composed (NFC), so they compare equal to typed ones.
    accented = await api.post(
        "/recipients",
        json={"first_name": "Rene\u0301\u200b", "last_name": last, "confirm_new_person": True, **PERSON},
        headers=headers,
    )
    assert accented.status_code == 201, accented.text
    async with transaction(sessions) as db:
        row = await db.get(Recipient, accented.json()["id"])
        assert row is not None and row.first_name == "Ren\u00e9"
    found = await api.get("/recipients", params={"name": f"ren\u200b {last}"}, headers=headers)
    assert [r["id"] for r in found.json()["items"]] == [accented.json()["id"]]


async def test_wildcards_in_a_name_search_are_literal(api):
    headers = await login(api, "manager")
    last = unique("Wild")
    made = await api.post(
        "/recipients", json={"first_name": "Pat", "last_name": last, **PERSON}, headers=headers
    )
    assert made.status_code == 201
    for pattern in ("%", "__", "%%", "_%"):
        found = await api.get(
            "/recipients",
            params={"name": pattern, "date_of_birth": PERSON["date_of_birth"]},
            headers=headers,
        )
        assert found.status_code in (200, 422), found.text
        if found.status_code == 200:
            assert found.json()["items"] == [], pattern


async def test_name_alone_finds_people_best_matches_first_and_the_date_narrows_it(api):
    headers = await login(api, "manager")
    tag = unique("q").lower()
    people = [
        ("Maria", f"{tag}son", "1990-01-01"),
        ("Maria", tag, "1991-02-02"),
        ("Marianne", tag, "1990-01-01"),
    ]
    ids = []
    for first, last, born in people:
        made = await api.post(
            "/recipients",
            json={"first_name": first, "last_name": last, "date_of_birth": born, "sex": "female"},
            headers=headers,
        )
        assert made.status_code == 201, made.text
        ids.append(made.json()["id"])

    found = await api.get("/recipients", params={"name": f"maria {tag}"}, headers=headers)
    assert found.status_code == 200, found.text
    assert found.json()["total"] == 3
    # Both words whole first: Maria <tag>; then one whole word each, by name.
    assert [r["id"] for r in found.json()["items"]] == [ids[1], ids[2], ids[0]]

    narrowed = await api.get(
        "/recipients", params={"name": f"maria {tag}", "date_of_birth": "1990-01-01"}, headers=headers
    )
    assert [r["id"] for r in narrowed.json()["items"]] == [ids[2], ids[0]]
    paged = await api.get("/recipients", params={"name": tag, "page": 2, "page_size": 2}, headers=headers)
    assert paged.json()["total"] == 3 and len(paged.json()["items"]) == 1

    short = await api.get("/recipients", params={"name": "m"}, headers=headers)
    assert short.status_code == 422 and short.json()["errors"][0]["field"] == "name"

    page = await api.get(
        "/portal/recipients", params={"name": f"marianne {tag}"}, headers={**headers, "Accept": "text/html"}
    )
    assert page.status_code == 200 and f"/portal/recipients/{ids[2]}" in page.text


async def test_every_error_carries_a_stable_code(api):
    headers = await login(api, "readonly")
    seen = {
        401: await api.get("/recipients", params={"name": "ab"}),
        403: await api.post("/recipients", json={}, headers=headers),
        404: await api.get("/no/such/route"),
        405: await api.delete("/health"),
        422: await api.get("/recipients", params={"page": "x"}, headers=headers),
    }
    codes = {status: response.json().get("code") for status, response in seen.items()}
    assert {status: response.status_code for status, response in seen.items()} == {s: s for s in seen}
    assert codes == {
        401: "unauthenticated",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        422: "invalid_input",
    }
    missing = await api.get("/recipients/2147483000", headers=headers)
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


async def test_malformed_json_is_one_invalid_json_error_with_the_position(api):
    headers = await login(api, "manager")
    broken = await api.post(
        "/recipients",
        content=b'{"first_name": "Ana", "last_name": }',
        headers={**headers, "Content-Type": "application/json"},
    )
    assert broken.status_code == 422, broken.text
    answer = broken.json()
    assert answer["code"] == "invalid_json"
    assert "position 35" in answer["detail"]
    assert "errors" not in answer or not any(e["field"].isdigit() for e in answer["errors"])


async def test_reschedule_cancel_and_check_in_answer_the_recipient_name(api, sessions):
    manager = await login(api, "manager")
    recipient = await new_recipient(sessions, first_name="Named")
    slot = await publish_slot(api, manager, start_in=3600, length=600)
    other = await publish_slot(api, manager, start_in=7200, length=600)
    booked = await book(api, manager, recipient.id, slot["id"])
    assert booked.status_code == 201 and booked.json()["recipient_name"] == recipient.full_name
    aid = booked.json()["id"]

    moved = await api.post(f"/appointments/{aid}/reschedule", json={"slot_id": other["id"]}, headers=manager)
    assert moved.status_code == 200, moved.text
    assert moved.json()["recipient_name"] == recipient.full_name
    checked = await api.post(f"/appointments/{aid}/check-in", headers=manager)
    assert checked.status_code == 200, checked.text
    assert checked.json()["recipient_name"] == recipient.full_name

    second = await new_recipient(sessions, first_name="Cancelled")
    again = await book(api, manager, second.id, slot["id"])
    assert again.status_code == 201, again.text
    cancelled = await api.post(
        f"/appointments/{again.json()['id']}/cancel", json={"reason": "moved away"}, headers=manager
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["recipient_name"] == second.full_name


async def test_attachment_names_are_cleaned_and_downloads_carry_an_rfc_6266_name(desk, smtp):
    _email, requester = await register_requester(desk, smtp)
    names = {
        "bad\r\nSet-Cookie: x=1\x00.png": "bad Set-Cookie: x=1.png",
        "résumé – 東京.png": "résumé – 東京.png",
        '../"quoted";.png': '_"quoted";.png',
    }
    for given, kept in names.items():
        case = await open_case(
            desk,
            requester,
            attachment={"filename": given, "content_type": "image/png", "content_base64": "iVBORw0KGgo="},
        )
        mine = (await desk.get(f"/helpdesk/cases/{case['number']}", headers=requester)).json()
        [attachment] = mine["attachments"]
        assert attachment["filename"] == kept
        got = await desk.get(
            f"/helpdesk/cases/{case['number']}/attachments/{attachment['id']}", headers=requester
        )
        assert got.status_code == 200, got.text
        disposition = got.headers["content-disposition"]
        assert disposition.isascii() and "\r" not in disposition and "\n" not in disposition
        assert disposition.startswith('attachment; filename="')
        assert f"filename*=UTF-8''{quote(attachment['filename'], safe='')}" in disposition
        fallback = disposition.split('filename="', 1)[1].split('"', 1)[0]
        assert '"' not in fallback and fallback.endswith(".png")


async def test_a_pdf_download_names_itself_both_ways(api, sessions):
    headers = await login(api, "manager")
    recipient = await new_recipient(sessions)
    pdf = await api.get(f"/portal/recipients/{recipient.id}/record.pdf", headers=headers)
    assert pdf.status_code == 200, pdf.text
    disposition = pdf.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="vaccination-record-')
    assert "filename*=UTF-8''vaccination-record-" in disposition


class Stream:
    """A request body sent in 64 KiB chunks, counting how many the server pulled."""

    def __init__(self, total: int) -> None:
        self.total, self.pulled = total, 0

    async def __aiter__(self):
        chunk = b" " * 65536
        while self.pulled * len(chunk) < self.total:
            self.pulled += 1
            yield chunk


async def test_bodies_over_the_limit_are_refused_with_413_before_they_are_read(api, settings):
    big = Stream(40 * 1024 * 1024)
    declared = await api.post(
        "/auth/login",
        content=big,
        headers={"Content-Type": "application/json", "Content-Length": str(big.total)},
    )
    assert declared.status_code == 413, declared.text
    assert declared.json()["code"] == "request_too_large"
    assert big.pulled <= 1  # refused on its Content-Length, unread

    unsized = Stream(40 * 1024 * 1024)
    streamed = await api.post("/auth/login", content=unsized, headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413 and streamed.json()["code"] == "request_too_large"
    assert unsized.pulled * 65536 <= settings.max_body_bytes + 2 * 65536  # read only up to the limit

    # A form page is held to the same limit; an upload gets the larger one.
    form = await api.post(
        "/portal/login",
        content=b"a=" + b"x" * settings.max_body_bytes,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 413
    manager = await login(api, "manager")
    csv = "first_name,last_name,date_of_birth,sex\n" + "Ann,Lee,1970-01-01,female\n" * 60_000
    assert settings.max_body_bytes < len(csv) < settings.max_upload_bytes
    upload = await api.post(
        "/recipients/upload", files={"file": ("people.csv", csv.encode(), "text/csv")}, headers=manager
    )
    assert upload.status_code != 413, upload.text


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


async def test_the_access_log_holds_no_link_or_set_password_token(app, settings, sessions):
    recipient = await new_recipient(sessions)
    token = sign_link(settings.secret_key, LINK_RECORD, {"r": recipient.id})
    secret = "set-password-secret-0123456789abcdefghij"
    port = free_port()
    server = _InProcessServer(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="info", access_log=True, lifespan="off")
    )
    serving = asyncio.create_task(server.serve())
    kept = Kept()  # uvicorn's access logger does not propagate: listen on it directly
    try:
        await eventually(lambda: asyncio.sleep(0, server.started), timeout=30, what="the server")
        logging.getLogger("uvicorn.access").addHandler(kept)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            await client.get(f"/r/record/{token}")  # found or not, its address is logged
            await client.get(f"/r/record/{token}/record.pdf")
            await client.get("/portal/set-password", params={"token": secret})
            # Over real HTTP too, an oversized body is refused before it is read.
            huge = await client.post(
                "/auth/login",
                content=b"{" + b" " * (settings.max_body_bytes + 1) + b"}",
                headers={"Content-Type": "application/json"},
            )
            assert huge.status_code == 413 and huge.json()["code"] == "request_too_large"
    finally:
        server.should_exit = True
        await serving
        logging.getLogger("uvicorn.access").removeHandler(kept)
    logged = kept.lines
    assert any("/r/record/<token> " in line for line in logged), logged
    assert any("/portal/set-password?token=<token>" in line for line in logged), logged
    assert not [line for line in logged if token in line or secret in line]


async def test_the_same_idempotency_key_with_another_body_is_refused(api, sessions):
    manager = await login(api, "manager")
    first, second = await new_recipient(sessions), await new_recipient(sessions)
    slot = await publish_slot(api, manager, start_in=3600, length=600)
    key = {**manager, "Idempotency-Key": unique("same-")}

    booked = await api.post(
        "/appointments", json={"recipient_id": first.id, "slot_id": slot["id"]}, headers=key
    )
    assert booked.status_code == 201, booked.text
    # A retry (the same body, spelled differently) is answered with the same booking.
    retried = await api.post(
        "/appointments",
        content=f'{{ "slot_id": {slot["id"]}, "recipient_id": {first.id} }}',
        headers={**key, "Content-Type": "application/json"},
    )
    assert retried.status_code == 201 and retried.json()["id"] == booked.json()["id"]
    # The same key for another person is refused and books nothing.
    other = await api.post(
        "/appointments", json={"recipient_id": second.id, "slot_id": slot["id"]}, headers=key
    )
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused", other.text
    listed = await api.get("/appointments", params={"recipient_id": second.id}, headers=manager)
    assert listed.json() == []
    # The key in the body is held to the same rule.
    body_key = unique("body-")
    once = await api.post(
        "/appointments",
        json={"recipient_id": second.id, "slot_id": slot["id"], "idempotency_key": body_key},
        headers=manager,
    )
    assert once.status_code == 201, once.text
    third = await new_recipient(sessions)
    reused = await api.post(
        "/appointments",
        json={"recipient_id": third.id, "slot_id": slot["id"], "idempotency_key": body_key},
        headers=manager,
    )
    assert reused.status_code == 422 and reused.json()["code"] == "idempotency_key_reused"

    # Doses too.
    lot = await add_lot(sessions, "pfizer")
    dose_key = {**manager, "Idempotency-Key": unique("dose-")}
    given = await document(api, dose_key, first.id, product="pfizer", lot=lot)
    assert given.status_code == 201, given.text
    changed = await document(
        api, dose_key, first.id, product="pfizer", lot=lot, injection_site="right_deltoid"
    )
    assert changed.status_code == 422 and changed.json()["code"] == "idempotency_key_reused", changed.text
