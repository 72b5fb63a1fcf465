"""What a finished upload hands back besides its counts: the values of the rows that failed (so
a page shows the bad value beside its error), those rows as a CSV to fix and upload again (with
a `problem` column the upload ignores), and a template CSV to start from."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.recipients import RecipientFields
from records.uploads import PROBLEM_COLUMN, REQUIRED_COLUMNS, RecipientUpload, UploadRow, read_rows

FIRST_LINE = 2  # the header is line 1; an outcome's `row` is its line
EXAMPLE = {
    "first_name": "Maria",
    "middle_name": "",
    "last_name": "Lopez",
    "date_of_birth": "1980-04-21",
    "sex": "female",
    "address_line": "12 Main St",
    "city": "Durham",
    "state": "NC",
    "postal_code": "27701",
    "phone": "(919) 555-0100",
    "email": "maria.lopez@example.org",
    "preferred_language": "es",
    "race": "",
    "ethnicity": "hispanic_or_latino",
}


def template_columns() -> list[str]:
    """The required columns first, then the optional ones, in the form's order."""
    fields = list(RecipientFields.model_fields)
    return [c for c in fields if c in REQUIRED_COLUMNS] + [c for c in fields if c not in REQUIRED_COLUMNS]


def _csv(columns: list[str], rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def template_csv() -> str:
    """A header of every registration field and one example row."""
    columns = template_columns()
    return _csv(columns, [{c: EXAMPLE.get(c, "") for c in columns}])


def file_values(upload: RecipientUpload) -> tuple[list[str], dict[int, dict[str, str]]]:
    """The uploaded file's columns and each row's cells, by the row's line number."""
    rows = read_rows(upload.content)
    columns = [c for c in (rows[0].keys() if rows else []) if c is not None]
    return columns, {
        line: {k: (v or "") for k, v in values.items() if k is not None}
        for line, values in enumerate(rows, start=FIRST_LINE)
    }


def problem_text(row: UploadRow) -> str:
    if row.outcome == "duplicate":
        return "already registered as recipient " + ", ".join(str(i) for i in row.duplicate_of)
    return "; ".join(f"{e.get('field', 'row')}: {e.get('message', '')}" for e in row.errors)


async def problem_rows_csv(db: AsyncSession, upload: RecipientUpload) -> str:
    """The rows that were not registered (errors and duplicates), as uploaded, with what was wrong."""
    columns, values = file_values(upload)
    failed = (
        await db.execute(
            select(UploadRow)
            .where(UploadRow.upload_id == upload.id, UploadRow.outcome != "created")
            .order_by(UploadRow.row)
        )
    ).scalars()
    rows = [{**values.get(r.row, {}), PROBLEM_COLUMN: problem_text(r)} for r in failed]
    return _csv([*columns, PROBLEM_COLUMN], rows)
