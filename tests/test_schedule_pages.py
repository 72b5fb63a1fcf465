"""The schedules in the portal over HTTP: a manager reads them in plain words; an administrator
proposes a new version, previews whose next dose moves (the recipient by name, before and after),
then saves it (a new version and an audit row); a manager may not propose or save one."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from records.audit import AuditEntry
from records.db import transaction, utcnow
from records.schedules import schedule_versions
from tests.conftest import login
from tests.journeys import add_lot, document, new_recipient, portal_form, unique

HTML = {"Accept": "text/html"}
CODE = "mpox-jynneos"
DAY = 2.0  # settings.day_seconds in the test session


def form_of(body: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The edit form's fields as the page fills them from ``body``, with ``changes``."""
    fields: dict[str, Any] = {
        "name": body["name"],
        "min_age_months": str(body["min_age_months"]),
        "max_age_months": "" if body["max_age_months"] is None else str(body["max_age_months"]),
    }
    for number, dose in enumerate(body["primary"], start=1):
        fields[f"dose{number}_products"] = list(dose["products"])
        for name in ("min_interval_days", "recommended_interval_days", "grace_days"):
            fields[f"dose{number}_{name}"] = "" if dose[name] is None else str(dose[name])
    for number, booster in enumerate(body.get("boosters") or [], start=1):
        fields[f"booster{number}_products"] = list(booster["products"])
        for name in ("min_interval_days", "min_age_years", "max_age_years", "grace_days"):
            fields[f"booster{number}_{name}"] = "" if booster[name] is None else str(booster[name])
        if booster["repeats"]:
            fields[f"booster{number}_repeats"] = "on"
    return {**fields, **changes}


async def current_body(sessions) -> tuple[int, dict[str, Any]]:
    async with transaction(sessions) as db:
        newest = (await schedule_versions(db, CODE))[-1]
        return newest.version, dict(newest.body)


async def test_an_administrator_previews_then_saves_a_new_version_in_the_portal(api, sessions, settings):
    provider, manager, admin = [await login(api, name) for name in ("provider", "manager", "agent")]
    listed = await api.get("/portal/schedules", headers={**manager, **HTML})
    assert listed.status_code == 200, listed.text
    assert "JYNNEOS (mpox)" in listed.text and "at least 28 days after dose 1" in listed.text
    assert "/portal/schedules/mpox-jynneos/edit" not in listed.text  # a manager only reads
    assert '<a href="/portal/schedules">' in listed.text  # in the manager's navigation
    assert (await api.get("/portal/schedules", headers={**provider, **HTML})).status_code == 403

    recipient = await new_recipient(sessions)
    lot = await add_lot(sessions, "jynneos")
    given_at = utcnow() - timedelta(seconds=30 * DAY)
    given = await document(api, provider, recipient.id, product="jynneos", lot=lot, given_at=given_at)
    assert given.status_code == 201, given.text

    version, body = await current_body(sessions)
    longer = str(body["primary"][1]["min_interval_days"] + 7)
    fields = form_of(body, dose2_min_interval_days=longer, reason=unique("longer interval "))
    administered = await api.get("/portal/schedules", headers={**admin, **HTML})
    assert f'href="/portal/schedules/{CODE}/edit"' in administered.text
    assert '<a href="/portal/schedules">' in administered.text  # the administrator's navigation
    edit = await api.get(f"/portal/schedules/{CODE}/edit", headers={**admin, **HTML})
    assert edit.status_code == 200 and 'name="dose2_min_interval_days"' in edit.text, edit.text

    bad = await api.post(
        f"/portal/schedules/{CODE}/preview",
        **portal_form(settings, admin, **{**fields, "dose2_min_interval_days": "soon"}),
    )
    assert bad.status_code == 422 and "Enter a whole number" in bad.text
    preview = await api.post(f"/portal/schedules/{CODE}/preview", **portal_form(settings, admin, **fields))
    assert preview.status_code == 200, preview.text
    assert f"{recipient.last_name}, {recipient.first_name}" in preview.text
    assert f"at least {longer} days after dose 1" in preview.text
    async with transaction(sessions) as db:
        assert (await schedule_versions(db, CODE))[-1].version == version  # nothing saved yet
    schedule = html.unescape(re.search(r'name="schedule" value="([^"]*)"', preview.text).group(1))  # type: ignore[union-attr]

    for someone in (manager, provider):
        refused = await api.post(
            f"/portal/schedules/{CODE}/versions",
            **portal_form(settings, someone, schedule=schedule, reason=fields["reason"]),
        )
        assert refused.status_code == 403, refused.text
    saved = await api.post(
        f"/portal/schedules/{CODE}/versions",
        **portal_form(settings, admin, schedule=schedule, reason=fields["reason"]),
    )
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == f"/portal/schedules/{CODE}?notice=schedule_saved"
    async with transaction(sessions) as db:
        newest = (await schedule_versions(db, CODE))[-1]
        assert newest.version == version + 1 and newest.reason == fields["reason"]
        assert newest.body["primary"][1]["min_interval_days"] == int(longer)
        audited = (
            await db.execute(
                select(AuditEntry).where(
                    AuditEntry.entity == "schedule", AuditEntry.reason == fields["reason"]
                )
            )
        ).scalars()
        assert [a.entity_id for a in audited] == [f"{CODE}@{version + 1}"]
    again = await api.post(
        f"/portal/schedules/{CODE}/versions",
        **portal_form(settings, admin, schedule=schedule, reason=fields["reason"]),
    )
    assert again.status_code == 409 and "same as the current one" in again.text
    shown = await api.get(f"/portal/schedules/{CODE}", headers={**manager, **HTML, "Cookie": "cvms_lang=es"})
    assert shown.status_code == 200 and f"Versión {version + 1}" in shown.text, shown.text


async def test_a_manager_may_not_propose_a_version(api, sessions, settings):
    manager = await login(api, "manager")
    _version, body = await current_body(sessions)
    assert (await api.get(f"/portal/schedules/{CODE}/edit", headers={**manager, **HTML})).status_code == 403
    refused = await api.post(
        f"/portal/schedules/{CODE}/preview",
        **portal_form(settings, manager, **form_of(body, reason="why not")),
    )
    assert refused.status_code == 403 and "administrator" in refused.text


async def test_a_condition_is_recorded_and_removed_from_the_recipient_page(api, sessions, settings):
    provider, readonly = await login(api, "provider"), await login(api, "readonly")
    recipient = await new_recipient(sessions)
    page = await api.get(f"/portal/recipients/{recipient.id}", headers={**provider, **HTML})
    assert page.status_code == 200 and "Record: immunocompromised" in page.text, page.text
    address = f"/portal/recipients/{recipient.id}/conditions"
    refused = await api.post(address, **portal_form(settings, readonly, condition="immunocompromised"))
    assert refused.status_code == 403
    unknown = await api.post(address, **portal_form(settings, provider, condition="tall"))
    assert unknown.status_code == 422
    recorded = await api.post(address, **portal_form(settings, provider, condition="immunocompromised"))
    assert recorded.status_code == 303 and recorded.headers["location"].endswith("notice=condition_recorded")
    conditions = (await api.get(f"/recipients/{recipient.id}/conditions", headers=provider)).json()
    assert [c["condition"] for c in conditions] == ["immunocompromised"]
    page = await api.get(
        f"/portal/recipients/{recipient.id}", headers={**provider, **HTML, "Cookie": "cvms_lang=es"}
    )
    assert "Inmunodeprimida: registrada el" in page.text and "Registrar: inmunodeprimida" not in page.text

    remove = f"{address}/immunocompromised/remove"
    assert (await api.post(remove, **portal_form(settings, provider, reason=""))).status_code == 422
    removed = await api.post(remove, **portal_form(settings, provider, reason="recovered"))
    assert removed.status_code == 303 and removed.headers["location"].endswith("notice=condition_removed")
    assert (await api.get(f"/recipients/{recipient.id}/conditions", headers=provider)).json() == []
    async with transaction(sessions) as db:
        actions = (
            await db.execute(
                select(AuditEntry.action).where(
                    AuditEntry.entity == "recipient", AuditEntry.entity_id == str(recipient.id)
                )
            )
        ).scalars()
        assert {"record_condition", "remove_condition"} <= set(actions)
