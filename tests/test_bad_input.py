"""Hypothesis-generated bad input to the write endpoints: a JSON 4xx, and nothing changes."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from records.audit import AuditEntry
from records.db import transaction
from records.recipients import Recipient
from records.users import Membership, User
from tests.conftest import login

# For each field, values that field must refuse (wrong type, empty, out of range, malformed).
wrong_type = st.one_of(
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=1)
)
SEXES = ("female", "male", "unknown", "other")
INVALID_RECIPIENT_VALUES = {
    # Too long even after cleaning (control and invisible characters are dropped, spaces squeezed),
    # and blank after trimming.
    "first_name": st.one_of(
        wrong_type,
        st.just(""),
        st.sampled_from(["   ", "\u200b", "\t\x00 "]),
        st.text(st.characters(categories=("L", "N")), min_size=101, max_size=150),
    ),
    "last_name": st.one_of(wrong_type, st.just(""), st.integers()),
    "date_of_birth": st.one_of(
        wrong_type, st.sampled_from(["", "2999-01-01", "1850-06-01", "not-a-date", "1970-13-45"])
    ),
    "sex": st.one_of(wrong_type, st.text(max_size=20).filter(lambda v: v not in SEXES)),
    "phone": st.one_of(wrong_type, st.sampled_from(["12", "919-555", "1234567890123"])),
    "email": st.one_of(wrong_type, st.sampled_from(["a@", "@b.org", "no spaces@x.org", "x" * 300])),
    "preferred_language": st.one_of(wrong_type, st.sampled_from(["", "fr", "EN", "english"])),
    "race": st.one_of(wrong_type, st.sampled_from(["", "martian"])),
    "state": st.one_of(wrong_type, st.sampled_from(["nc", "NCA", "1"])),
    "postal_code": st.one_of(wrong_type, st.sampled_from(["1234", "ABCDE", "123456"])),
}


VALID_RECIPIENT = {
    "first_name": "Bad",
    "last_name": "Input",
    "date_of_birth": "1970-01-01",
    "sex": "male",
    "phone": "",
    "email": "",
}


async def fingerprint(sessions: Any, recipient_id: int) -> tuple:
    async with transaction(sessions) as db:
        counts = []
        for model in (Recipient, User, Membership, AuditEntry):
            counts.append((await db.execute(select(func.count()).select_from(model))).scalar_one())
        row = await db.get(Recipient, recipient_id)
        assert row is not None
        return (*counts, tuple(getattr(row, f) for f in sorted(VALID_RECIPIENT)), row.updated_at)


async def test_bad_recipient_input_is_refused_and_changes_nothing(api, sessions):
    headers = await login(api, "manager")
    created = await api.post(
        "/recipients",
        json={**VALID_RECIPIENT, "last_name": "Fingerprint", "confirm_new_person": True},
        headers=headers,
    )
    rid = created.json()["id"]
    before = await fingerprint(sessions, rid)

    responses = []

    @given(
        data=st.data(),
        field=st.sampled_from(sorted(INVALID_RECIPIENT_VALUES)),
        target=st.sampled_from(["create", "edit"]),
    )
    @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
    def generate(data: Any, field: str, target: str) -> None:
        value = data.draw(INVALID_RECIPIENT_VALUES[field])
        responses.append(
            (target, {**VALID_RECIPIENT, field: value} if target == "create" else {field: value})
        )

    generate()
    responses += [("create", "not json"), ("create", [1, 2]), ("edit", {"unknown_field": 1})]
    for target, body in responses:
        kwargs = {"content": body} if isinstance(body, str) else {"json": body}
        if target == "create":
            response = await api.post("/recipients", headers=headers, **kwargs)
        else:
            response = await api.patch(f"/recipients/{rid}", headers=headers, **kwargs)
        assert response.status_code in (409, 422), (body, response.status_code, response.text)
        assert response.json()["detail"]

    after = await fingerprint(sessions, rid)
    assert (
        after[:4] == before[:4] or after[3] > before[3]
    )  # counts: only audit entries of valid edits may grow
    assert after[0] == before[0] and after[1] == before[1] and after[2] == before[2]


INVALID_USER_VALUES = {
    "first_name": st.one_of(
        st.none(),
        st.integers(),
        st.just(""),
        st.just(" \u200b "),
        st.text(st.characters(categories=("L", "N")), min_size=101, max_size=120),
    ),
    "last_name": st.one_of(st.none(), st.integers(), st.just("")),
    "email": st.one_of(st.none(), st.integers(), st.sampled_from(["", "x", "@@", "a@", "no spaces@x.org"])),
    "login_name": st.one_of(
        st.none(), st.integers(), st.sampled_from(["", "x", "no spaces allowed", "semi;colon", "ü" * 5])
    ),
    "role": st.one_of(st.none(), st.integers(), st.sampled_from(["", "emperor", "Manager", "admin"])),
}


async def test_bad_user_input_is_refused_and_changes_nothing(api, sessions):
    headers = await login(api, "manager")
    async with transaction(sessions) as db:
        users_before = (await db.execute(select(func.count()).select_from(User))).scalar_one()
        memberships_before = (await db.execute(select(func.count()).select_from(Membership))).scalar_one()
    valid = {
        "first_name": "A",
        "last_name": "B",
        "email": "a@b.org",
        "login_name": "ok.name",
        "role": "provider",
    }
    bodies = []

    @given(data=st.data(), field=st.sampled_from(sorted(INVALID_USER_VALUES)))
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    def generate(data: Any, field: str) -> None:
        bodies.append({**valid, field: data.draw(INVALID_USER_VALUES[field])})

    generate()
    for body in bodies:
        response = await api.post("/location/users", json=body, headers=headers)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["errors"]
    async with transaction(sessions) as db:
        assert (await db.execute(select(func.count()).select_from(User))).scalar_one() == users_before
        assert (
            await db.execute(select(func.count()).select_from(Membership))
        ).scalar_one() == memberships_before
