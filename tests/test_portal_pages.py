"""The provider portal in a real headless browser (Debian's Chromium through Playwright),
against the real stack served over HTTP: log in, find, register with the duplicate
warning, edit, switch language and location, manage users; read-only sees no change
buttons; a forged form post is refused."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import func, select

from records.db import transaction
from records.recipients import Recipient
from tests.browser_fixtures import screenshot
from worker.seed import DEMO_PASSWORD


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:6]}"


async def log_in(page, login_name: str) -> None:
    await page.goto("/portal/login")
    await page.locator("#f-login_name").fill(login_name)
    await page.locator("#f-password").fill(DEMO_PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url("**/portal")


async def register(page, first: str, last: str, born: str = "1975-06-30", **extra: str) -> None:
    await page.goto("/portal/recipients/new")
    await page.locator("#f-first_name").fill(first)
    await page.locator("#f-last_name").fill(last)
    await page.locator("#f-date_of_birth").fill(born)
    await page.locator("#f-sex").select_option("female")
    for field, value in extra.items():
        await page.locator(f"#f-{field}").fill(value)
    await page.get_by_role("button", name="Register", exact=True).click()


async def count_recipients(sessions, last_name: str) -> int:
    async with transaction(sessions) as db:
        return (
            await db.execute(
                select(func.count()).select_from(Recipient).where(Recipient.last_name == last_name)
            )
        ).scalar_one()


async def test_provider_registers_is_warned_of_a_duplicate_finds_and_edits(page, sessions):
    last = unique("Alvarado")
    await page.goto("/portal")
    await page.wait_for_url("**/portal/login?next=/portal")
    await screenshot(page, "portal-login")
    await log_in(page, "provider")
    await screenshot(page, "portal-home")

    await register(page, "Lucía", last, phone="919-555-0142", email=f"{last.lower()}@example.org")
    await page.get_by_text("The recipient is registered.").wait_for()
    await screenshot(page, "portal-recipient")

    await register(page, "Lucia", last)  # same person by folded name and birth date
    warning = page.get_by_role("alert").filter(has_text="Possible duplicate")
    await warning.wait_for()
    assert await count_recipients(sessions, last) == 1
    await screenshot(page, "portal-duplicate-warning")
    await page.locator("#f-confirm_new_person").check()
    await page.get_by_role("button", name="Register", exact=True).click()
    await page.get_by_text("The recipient is registered.").wait_for()
    assert await count_recipients(sessions, last) == 2

    await page.goto("/portal")
    await page.locator("#f-q").fill(f"lucia {last} 6/30/1975")  # one box: a name and a date of birth
    await page.get_by_role("button", name="Search").click()
    await page.get_by_role("heading", name="2 recipients found").wait_for()
    await screenshot(page, "portal-search")
    await page.get_by_role("link", name=f"{last}, Lucía").click()

    await page.get_by_role("link", name="Edit details").click()
    await page.locator("#f-phone").fill("12")
    await page.get_by_role("button", name="Save changes").click()
    await page.locator("#e-phone").get_by_text("Enter a 10-digit phone number.").wait_for()
    await screenshot(page, "portal-edit-field-error")
    await page.locator("#f-phone").fill("(919) 555-0199")
    await page.locator("#f-reason").fill("new phone")
    await page.get_by_role("button", name="Save changes").click()
    await page.get_by_text("Your changes are saved.").wait_for()
    await page.get_by_text("(919) 555-0199").wait_for()


async def test_pages_switch_to_spanish_with_spanish_field_errors(page):
    await log_in(page, "scheduler")
    await page.get_by_role("link", name="Español").click()
    await page.get_by_role("heading", name="Citas de hoy").wait_for()
    assert await page.locator("html").get_attribute("lang") == "es"
    await page.goto("/portal/recipients/new")
    await page.get_by_role("button", name="Registrar", exact=True).click()
    await page.locator("#e-first_name").get_by_text("Obligatorio.").wait_for()
    await page.locator("#e-date_of_birth").get_by_text("Escriba una fecha.").wait_for()
    await screenshot(page, "portal-register-errors-es")
    await page.get_by_role("link", name="English").click()
    await page.get_by_role("heading", name="Register a recipient").wait_for()


async def test_read_only_profile_sees_the_pages_without_any_change_button(page, sessions):
    last = unique("Reyes")
    async with transaction(sessions) as db:
        recipient = Recipient(
            first_name="Rosa",
            last_name=last,
            date_of_birth=date(1960, 1, 2),
            sex="female",
        )
        recipient.refresh_search_keys()
        db.add(recipient)
        await db.flush()
        recipient_id = recipient.id

    await log_in(page, "readonly")
    for path in (
        "/portal",
        f"/portal/recipients/{recipient_id}",
        f"/portal/recipients?name=rosa+{last}&date_of_birth=1960-01-02",
    ):
        await page.goto(path)
        assert await page.locator("[data-changes]").count() == 0, path
    await page.get_by_role("heading", name="1 recipient found").wait_for()
    await page.goto(f"/portal/recipients/{recipient_id}")
    await page.get_by_role("heading", name=f"Rosa {last}").wait_for()
    await screenshot(page, "portal-readonly-recipient")
    response = await page.goto("/portal/recipients/new")
    assert response.status == 403
    response = await page.goto("/portal/users")
    assert response.status == 403


async def test_a_forged_form_post_is_refused_and_changes_nothing(page, sessions):
    last = unique("Falsa")
    await log_in(page, "provider")
    await page.goto("/portal/recipients/new")
    await page.locator("#f-first_name").fill("Eva")
    await page.locator("#f-last_name").fill(last)
    await page.locator("#f-date_of_birth").fill("1990-03-03")
    await page.locator("#f-sex").select_option("female")
    # What a page on another site can do: post the form, without knowing the token.
    await page.locator("#main input[name=csrf_token]").evaluate("input => input.value = 'forged'")
    await page.get_by_role("button", name="Register", exact=True).click()
    await page.get_by_text("did not come from this site").wait_for()
    assert await count_recipients(sessions, last) == 0
    await screenshot(page, "portal-forged-post-refused")


async def test_manager_adds_a_user_changes_the_role_and_removes_them(page, smtp):
    login_name = unique("nurse.")
    await log_in(page, "manager")
    await page.get_by_role("link", name="Users").click()
    await page.locator("#f-first_name").fill("Nia")
    await page.locator("#f-last_name").fill("Nurse")
    await page.locator("#f-email").fill(f"{login_name}@example.org")
    await page.locator("#f-login_name").fill(login_name)
    await page.locator("#f-role").select_option("provider")
    await page.get_by_role("button", name="Add user").click()
    await page.get_by_text("The user is added to this location.").wait_for()
    row = page.get_by_role("row").filter(has_text=login_name)
    await row.get_by_text("Waiting for password").wait_for()
    await screenshot(page, "portal-users")

    await row.get_by_label("Role of Nia Nurse").select_option("scheduler")
    await row.get_by_role("button", name="Change role").click()
    await page.get_by_text("The role is changed.").wait_for()
    assert await row.get_by_label("Role of Nia Nurse").input_value() == "scheduler"

    await row.get_by_role("button", name="Remove Nia Nurse").click()
    await page.get_by_role("heading", name="Remove this user from the location?").wait_for()  # asks once
    await page.get_by_role("button", name="Remove the user").click()
    await page.get_by_text("The user no longer has a role at this location.").wait_for()
    assert await page.get_by_role("row").filter(has_text=login_name).count() == 0

    # The set-up link from the email opens the set-password page.
    [message] = await smtp.wait_for(lambda m: m["To"] == f"{login_name}@example.org", timeout=30)
    link = next(
        line for line in message.get_body(("plain",)).get_content().split() if "set-password?token=" in line
    )
    await page.goto(link.replace("http://cvms.test", ""))
    await page.get_by_role("heading", name="Set your password").wait_for()


async def test_a_user_with_two_locations_switches_and_the_role_follows(page):
    await log_in(page, "twosites")
    assert await page.get_by_role("link", name="Users").count() == 0  # provider at WAKE-01
    await page.locator("#active-location").select_option(label="Buncombe County Walk-in Clinic (BUNC-02)")
    await page.get_by_role("button", name="Switch").click()
    await page.get_by_text("You are now working at this location.").wait_for()
    await page.get_by_role("link", name="Users").click()
    await page.get_by_role("heading", name="Users at Buncombe County Walk-in Clinic").wait_for()
    await page.get_by_role("button", name="Log out").click()
    await page.get_by_text("You are logged out.").wait_for()
    await page.goto("/portal")
    await page.wait_for_url("**/portal/login?next=/portal")
