"""A finished upload's page filters to the rows not registered and shows each bad value beside
its error; those rows download as a CSV (with a problem column) that uploads again once fixed;
a template CSV is offered."""

from __future__ import annotations

import csv
import io

from tests.conftest import login
from tests.inventory import headers_for, new_site
from tests.test_recipient_uploads import _csv, mixed_rows, wait_until_done

HTML = {"Accept": "text/html"}


async def test_upload_results_filter_to_problems_show_the_bad_value_and_download_the_failed_rows(
    api, sessions
):
    site = await new_site(sessions)
    manager = await headers_for(api, site.manager)
    rows, names = mixed_rows("Res", good=2)
    started = await api.post("/recipients/uploads", files=_csv(*rows), headers=manager)
    assert started.status_code == 202, started.text
    upload_id = started.json()["id"]
    await wait_until_done(api, manager, upload_id)

    everything = await api.get(f"/portal/uploads/{upload_id}", headers={**manager, **HTML})
    assert everything.text.count('class="outcome-') == 5
    problems = await api.get(f"/portal/uploads/{upload_id}?show=problems", headers={**manager, **HTML})
    assert problems.status_code == 200
    assert problems.text.count('class="outcome-') == 3 and 'class="outcome-created"' not in problems.text
    assert "(the file has: “31/12/1980”)" in problems.text and "(the file has: “robot”)" in problems.text
    assert "(the file has: “919-55”)" in problems.text
    spanish = await api.get(
        f"/portal/uploads/{upload_id}?show=problems", headers={**manager, **HTML, "Cookie": "cvms_lang=es"}
    )
    assert "(el archivo dice: “robot”)" in spanish.text and "Solo los problemas (3)" in spanish.text

    failed = await api.get(f"/portal/uploads/{upload_id}/problems.csv", headers=manager)
    assert failed.status_code == 200 and failed.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(failed.text)))
    assert [r["last_name"].lower() for r in table] == [
        names["good"].lower(),
        names["bad"].lower(),
        names["bad"].lower(),
    ]
    assert table[0]["problem"].startswith("already registered as recipient ")
    assert table[1]["date_of_birth"] == "31/12/1980" and "date_of_birth" in table[1]["problem"]
    assert "sex" in table[2]["problem"] and "phone" in table[2]["problem"]

    # Fixed, the downloaded file uploads again as it is (its problem column is ignored).
    table[1]["date_of_birth"], table[2]["sex"], table[2]["phone"] = "1980-12-31", "female", ""
    fixed = io.StringIO()
    writer = csv.DictWriter(fixed, fieldnames=list(table[0]))
    writer.writeheader()
    writer.writerows(table[1:])
    again = await api.post(
        "/recipients/uploads",
        files={"file": ("fixed.csv", fixed.getvalue().encode(), "text/csv")},
        headers=manager,
    )
    assert again.status_code == 202, again.text
    final, _seen = await wait_until_done(api, manager, again.json()["id"])
    assert (final["created"], final["invalid"]) == (2, 0)


async def test_a_template_csv_is_offered_and_its_example_row_registers(api, sessions):
    manager = await login(api, "manager")
    page = await api.get("/portal/uploads", headers={**manager, **HTML})
    assert 'href="/portal/uploads/template.csv"' in page.text
    template = await api.get("/portal/uploads/template.csv", headers=manager)
    assert (
        template.status_code == 200 and "recipients-template.csv" in template.headers["content-disposition"]
    )
    header, example = list(csv.reader(io.StringIO(template.text)))
    assert header[:4] == ["first_name", "last_name", "date_of_birth", "sex"] and "phone" in header
    assert len(example) == len(header)
    provider = await login(api, "provider")
    assert (await api.get("/portal/uploads/template.csv", headers=provider)).status_code == 403
