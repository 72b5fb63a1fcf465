"""A location manager uploads recipients from a CSV file in the browser: the upload page shows
the progress while the rows are registered in the background, then every row's outcome, in
English and Spanish; a file with a bad header is refused beside the file field."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from records.db import transaction
from records.recipients import Recipient
from tests.browser_fixtures import screenshot
from tests.conftest import eventually
from tests.journeys import new_recipient, unique
from tests.test_inventory_pages import log_in

HEADER = "first_name,last_name,date_of_birth,sex,email,phone,preferred_language,postal_code\n"
PROGRESS = """() => {
  const bar = document.getElementById("upload-bar");
  return bar ? {done: bar.value, total: bar.max, text: document.getElementById("upload-count").textContent,
                stayed: window.stayed === true} : null;
}"""


def as_file(name: str, text: str) -> dict:
    return {"name": name, "mimeType": "text/csv", "buffer": text.encode()}


async def people_named(sessions, last_name: str) -> int:
    async with transaction(sessions) as db:
        return (
            await db.execute(
                select(func.count()).select_from(Recipient).where(Recipient.last_name == last_name)
            )
        ).scalar_one()


async def test_manager_uploads_a_csv_sees_its_progress_then_every_rows_outcome_in_both_languages(
    page, sessions
):
    known = await new_recipient(sessions, first_name="Known")
    good, bad = unique("Upload"), unique("Broken")
    rows = [f"Ana{i},{good},1981-02-{i + 1:02d},female,,,en,27601" for i in range(20)]  # lines 2-21
    rows += [
        f"ana0,{good.upper()},1981-02-01,female,,,es,",  # line 22: line 2 again
        f"Known,{known.last_name},1970-05-17,unknown,,,en,",  # line 23: registered before
        f"Cy,{bad},1980-31-12,male,,,en,",  # line 24: no such date
        f"Di,{bad},1990-01-01,robot,,919-55,en,",  # line 25: two mistakes
    ]
    await log_in(page, "manager")
    await page.get_by_role("link", name="Upload recipients").click()
    await page.get_by_role("heading", name="Upload recipients").wait_for()
    await page.locator("#f-file").set_input_files(as_file("clinic-list.csv", HEADER + "\n".join(rows) + "\n"))
    await page.get_by_role("button", name="Upload", exact=True).click()
    await page.wait_for_url(re.compile(r".*/portal/uploads/\d+$"))
    await page.evaluate("() => { window.stayed = true; }")

    # The page shows the rows checked so far, and the script moves it on without a reload.
    first = await page.evaluate(PROGRESS)
    assert first is not None and first["total"] == 24, first

    async def moved_on():
        now = await page.evaluate(PROGRESS)
        return now if now and now["stayed"] and first["done"] < now["done"] < now["total"] else None

    during = await eventually(moved_on, timeout=30, what="the upload page to show progress")
    assert during["text"] == f"{during['done']:g} of 24 rows checked"
    await screenshot(page, "upload-progress")

    # Done: the page lists every row.
    summary = page.locator("#upload-summary")
    await summary.wait_for(timeout=60_000)
    assert await summary.inner_text() == "All 24 rows are checked: 20 created, 2 duplicates, 2 with errors."
    first_row = page.locator('tr[data-row="2"]')
    assert "Created" in await first_row.inner_text() and f"Ana0 {good}" in await first_row.inner_text()
    repeated = await page.locator('tr[data-row="22"]').inner_text()
    assert "Duplicate" in repeated and f"Already registered: Ana0 {good}" in repeated
    assert f"Known {known.last_name}" in await page.locator('tr[data-row="23"]').inner_text()
    assert "Date of birth: Enter a date." in await page.locator('tr[data-row="24"]').inner_text()
    two = await page.locator('tr[data-row="25"]').inner_text()
    assert "Error" in two and "Sex: Choose one of the options." in two
    assert "Phone: Enter a 10-digit phone number." in two
    await screenshot(page, "upload-outcomes")
    assert await people_named(sessions, good) == 20 and await people_named(sessions, bad) == 0

    await page.get_by_role("link", name="Español").click()
    await page.get_by_text(
        "Se revisaron las 24 filas: 20 registradas, 2 duplicadas, 2 con errores."
    ).wait_for()
    assert "Fecha de nacimiento: Escriba una fecha." in await page.locator('tr[data-row="24"]').inner_text()
    assert "Duplicado" in await page.locator('tr[data-row="22"]').inner_text()
    await screenshot(page, "upload-outcomes-es")

    # The upload page lists it; a file without the required columns is refused beside the field.
    await page.get_by_role("link", name="Cargar otro archivo").click()
    await page.locator("#uploads").get_by_role("link", name="clinic-list.csv").first.wait_for()
    await page.locator("#f-file").set_input_files(as_file("bad.csv", f"first_name,shoe_size\nEve,{bad}\n"))
    await page.get_by_role("button", name="Cargar", exact=True).click()
    error = page.locator("#e-file")
    await error.get_by_text("La fila de encabezado debe nombrar campos de registro").wait_for()
    assert "shoe_size: no es un campo de registro" in await error.inner_text()
    assert "date_of_birth: falta" in await error.inner_text()
    assert await page.locator("#f-file").get_attribute("aria-invalid") == "true"
