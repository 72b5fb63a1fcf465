"""CSV upload of recipients: every row's outcome, duplicates flagged, no row half-written; a long
upload registered in the background, a chunk at a time, with its progress to poll."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from activities.uploads import UploadActivities
from domain.uploads import UploadInput
from records.audit import AuditEntry
from records.db import transaction
from records.recipients import Recipient
from records.uploads import RecipientUpload, UploadRow
from records.users import User
from tests.conftest import eventually, login
from tests.journeys import location_id, new_recipient, unique

HEADER = "first_name,last_name,date_of_birth,sex,email,phone,preferred_language,postal_code\n"


def _csv(*rows: str) -> dict:
    return {"file": ("recipients.csv", (HEADER + "\n".join(rows) + "\n").encode(), "text/csv")}


async def _count(sessions, last_name: str) -> int:
    async with transaction(sessions) as db:
        return (
            await db.execute(
                select(func.count()).select_from(Recipient).where(Recipient.last_name == last_name)
            )
        ).scalar_one()


async def test_csv_upload_creates_good_rows_and_flags_bad_and_duplicate_ones(api, sessions):
    manager = await login(api, "manager")
    known = await new_recipient(sessions, first_name="Known")
    good, repeated, bad = unique("Good"), unique("Twice"), unique("Bad")
    response = await api.post(
        "/recipients/upload",
        files=_csv(
            f"Ana,{good},1980-02-03,female,ana.{good.lower()}@example.com,919-555-0101,es,27601",
            f"Ben,{repeated},1975-07-08,male,,,en,",
            f"ben,{repeated.upper()},1975-07-08,male,,,en,",  # same person again, other case
            f"Known,{known.last_name},1970-05-17,unknown,,,en,",  # already registered
            f"Cy,{bad},not-a-date,male,,,en,",
            f"Di,{bad},1990-01-01,robot,,919-55,en,",
            f",{bad},1990-01-01,female,,,en,",
        ),
        headers=manager,
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["rows"], report["created"], report["duplicates"], report["invalid"]) == (7, 2, 2, 3)
    outcomes = {o["row"]: o for o in report["outcomes"]}
    assert [outcomes[n]["outcome"] for n in range(2, 9)] == [
        "created",
        "created",
        "duplicate",
        "duplicate",
        "invalid",
        "invalid",
        "invalid",
    ]
    assert outcomes[4]["duplicate_of"] == [outcomes[3]["recipient_id"]]
    assert outcomes[5]["duplicate_of"] == [known.id]
    assert {e["field"] for e in outcomes[6]["errors"]} == {"date_of_birth"}
    assert {e["field"] for e in outcomes[7]["errors"]} == {"sex", "phone"}
    assert {e["field"] for e in outcomes[8]["errors"]} == {"first_name"}

    assert await _count(sessions, good) == 1
    assert await _count(sessions, repeated) == 1
    assert await _count(sessions, bad) == 0
    created = await api.get(f"/recipients/{outcomes[2]['recipient_id']}", headers=manager)
    assert created.json()["preferred_language"] == "es" and created.json()["postal_code"] == "27601"
    async with transaction(sessions) as db:
        audited = (
            await db.execute(
                select(func.count())
                .select_from(AuditEntry)
                .where(
                    AuditEntry.entity == "recipient",
                    AuditEntry.action == "register",
                    AuditEntry.entity_id.in_(
                        [str(outcomes[2]["recipient_id"]), str(outcomes[3]["recipient_id"])]
                    ),
                )
            )
        ).scalar_one()
    assert audited == 2


async def test_a_csv_without_the_required_columns_changes_nothing(api, sessions):
    manager = await login(api, "manager")
    last = unique("Headless")
    response = await api.post(
        "/recipients/upload",
        files={"file": ("r.csv", f"first_name,last_name\nAna,{last}\n".encode(), "text/csv")},
        headers=manager,
    )
    assert response.status_code == 422 and response.json()["code"] == "csv_columns"
    assert {e["field"] for e in response.json()["errors"]} == {"date_of_birth", "sex"}
    assert await _count(sessions, last) == 0


async def test_only_managers_upload_recipients(api):
    provider = await login(api, "provider")
    response = await api.post(
        "/recipients/upload", files=_csv("A,B,1980-01-01,female,,,en,"), headers=provider
    )
    assert response.status_code == 403


# --- in the background, with progress ---------------------------------------------------------


def mixed_rows(tag: str, good: int) -> tuple[list[str], dict[str, str]]:
    """`good` new people, then one repeated, one already registered elsewhere in the file's
    terms (added by the caller), and two invalid rows; returns the rows and their last names."""
    names = {"good": unique(f"Bulk{tag}"), "bad": unique(f"Wrong{tag}")}
    rows = [f"P{i},{names['good']},1980-01-{i + 1:02d},female,,,en," for i in range(good)]
    rows += [
        f"p0,{names['good'].upper()},1980-01-01,female,,,es,",  # the first row again
        f"Cy,{names['bad']},31/12/1980,male,,,en,",
        f"Di,{names['bad']},1990-01-01,robot,,919-55,en,",
    ]
    return rows, names


async def wait_until_done(api, headers, upload_id: int) -> tuple[dict, list[int]]:
    """Polls the upload as the page does; returns the final state and every done_rows seen."""
    seen: list[int] = []

    async def finished():
        state = (await api.get(f"/recipients/uploads/{upload_id}?outcomes=false", headers=headers)).json()
        seen.append(state["done_rows"])
        return state if state["status"] == "done" else None

    await eventually(finished, timeout=60, what="the upload to finish")
    final = await api.get(f"/recipients/uploads/{upload_id}", headers=headers)
    return final.json(), seen


async def test_a_background_upload_registers_chunk_by_chunk_with_progress_and_every_outcome(api, sessions):
    manager = await login(api, "manager")
    known = await new_recipient(sessions, first_name="Known")
    rows, names = mixed_rows("Bg", good=9)
    rows.append(f"Known,{known.last_name},1970-05-17,unknown,,,en,")
    started = await api.post("/recipients/uploads", files=_csv(*rows), headers=manager)
    assert started.status_code == 202, started.text
    upload = started.json()
    assert (upload["status"], upload["total_rows"], upload["filename"]) == (
        "processing",
        13,
        "recipients.csv",
    )

    final, seen = await wait_until_done(api, manager, upload["id"])
    assert seen == sorted(seen) and set(seen) <= {0, 5, 10, 13}  # a chunk of 5 rows at a time
    assert (final["done_rows"], final["created"], final["duplicates"], final["invalid"]) == (13, 9, 2, 2)
    outcomes = {o["row"]: o for o in final["outcomes"]}
    assert sorted(outcomes) == list(range(2, 15))
    assert [outcomes[n]["outcome"] for n in range(2, 11)] == ["created"] * 9
    assert outcomes[11]["duplicate_of"] == [outcomes[2]["recipient_id"]]  # across chunks
    assert [e["field"] for e in outcomes[12]["errors"]] == ["date_of_birth"]
    assert outcomes[12]["errors"][0]["code"] == "date_from_datetime_parsing"
    assert {e["field"] for e in outcomes[13]["errors"]} == {"sex", "phone"}
    assert outcomes[14]["outcome"] == "duplicate" and outcomes[14]["duplicate_of"] == [known.id]
    assert final["finished_at"] is not None
    assert await _count(sessions, names["good"]) == 9 and await _count(sessions, names["bad"]) == 0

    listed = (await api.get("/recipients/uploads", headers=manager)).json()
    assert listed[0]["id"] == upload["id"] and listed[0]["outcomes"] == []


async def test_a_background_upload_with_a_bad_header_keeps_nothing_and_others_cannot_see_one(api, sessions):
    manager = await login(api, "manager")
    bad = await api.post(
        "/recipients/uploads",
        files={"file": ("r.csv", b"first_name,last_name,shoe_size\nA,B,9\n", "text/csv")},
        headers=manager,
    )
    assert bad.status_code == 422 and bad.json()["code"] == "csv_columns"
    empty = await api.post("/recipients/uploads", files=_csv(), headers=manager)
    assert empty.status_code == 422
    async with transaction(sessions) as db:
        assert (
            await db.execute(
                select(func.count()).select_from(RecipientUpload).where(RecipientUpload.filename == "r.csv")
            )
        ).scalar_one() == 0

    rows, _ = mixed_rows("Own", good=1)
    upload = (await api.post("/recipients/uploads", files=_csv(*rows), headers=manager)).json()
    await wait_until_done(api, manager, upload["id"])
    elsewhere = await login(api, "twosites")  # manager at BUNC-02, active there after switching
    switched = await api.post(
        "/auth/location", json={"location_id": await location_id(sessions, "BUNC-02")}, headers=elsewhere
    )
    assert switched.status_code == 200
    assert (await api.get(f"/recipients/uploads/{upload['id']}", headers=elsewhere)).status_code == 404
    provider = await login(api, "provider")
    assert (await api.get(f"/recipients/uploads/{upload['id']}", headers=provider)).status_code == 403


async def test_two_attempts_at_the_same_upload_step_never_register_a_row_twice(sessions, settings):
    """An attempt that timed out but went on, beside its retry: whichever commits first advances
    the upload; the other queues behind it (SQLite) or finds the progress moved and rolls back
    (PostgreSQL). Either way each row has one outcome and each created person one record."""
    rows, names = mixed_rows("Twice", good=7)
    wake = await location_id(sessions, "WAKE-01")
    async with transaction(sessions) as db:
        user_id = (await db.execute(select(User.id).where(User.login_name == "manager"))).scalar_one()
        upload = RecipientUpload(
            location_id=wake,
            created_by=user_id,
            filename="twice.csv",
            content=HEADER + "\n".join(rows) + "\n",
            total_rows=len(rows),
        )
        db.add(upload)
        await db.flush()
        upload_id = upload.id
    step = UploadActivities(settings, sessions).register_chunk
    attempt = UploadInput(upload_id=upload_id, chunk_rows=5, pause_seconds=0)
    await asyncio.gather(step(attempt), step(attempt), return_exceptions=True)  # a loser may raise
    while not (await step(attempt)).finished:  # the workflow's loop, to the end
        pass

    async with transaction(sessions) as db:
        done = await db.get(RecipientUpload, upload_id)
        outcomes = (
            (await db.execute(select(UploadRow).where(UploadRow.upload_id == upload_id))).scalars().all()
        )
    assert done.status == "done" and done.done_rows == len(rows) == 10
    assert sorted(o.row for o in outcomes) == list(range(2, 12))
    assert sum(o.outcome == "created" for o in outcomes) == 7 == await _count(sessions, names["good"])
    assert [o.outcome for o in sorted(outcomes, key=lambda o: o.row)][7:] == [
        "duplicate",
        "invalid",
        "invalid",
    ]
