"""CSV upload of recipients: every row's outcome, duplicates flagged, no row half-written."""

from __future__ import annotations

from sqlalchemy import func, select

from records.audit import AuditEntry
from records.db import transaction
from records.recipients import Recipient
from tests.conftest import login
from tests.journeys import new_recipient, unique

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
