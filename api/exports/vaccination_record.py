"""A recipient's vaccination record as a PDF (reportlab), in English or Spanish, and the
printable "Recipient Registration and Vaccine Administration" form pre-filled from it.

Both read the records (doses not removed in error, wherever they were given); the
provider portal and the recipient's signed record link serve the same bytes. The record
carries the SMART Health Card of those doses as a QR code (services/exports.py signs it), so a
verifier app can check it against the deployment's /.well-known/jwks.json.
"""

from __future__ import annotations

import io

from reportlab.lib import colors
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import inch
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from starlette.responses import Response

from api.downloads import download
from api.pages import i18n
from api.pages.choices import ETHNICITIES, RACES, ROUTES, SEXES, SITES
from api.pages.i18n import _
from services.exports import RecordDose, VaccinationRecord


def pdf_response(content: bytes, filename: str) -> Response:
    return download(content, "application/pdf", filename, {"Cache-Control": "no-store"})


def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    return {
        "title": ParagraphStyle("title", parent=base["Title"], fontSize=18, spaceAfter=6),
        "h2": ParagraphStyle("h2", parent=base["Heading2"], fontSize=12, spaceBefore=10, spaceAfter=4),
        "body": ParagraphStyle("body", parent=base["BodyText"], fontSize=10, leading=13),
        "small": ParagraphStyle("small", parent=base["BodyText"], fontSize=8, leading=10),
    }


CELL_PADDING = 6.0  # reportlab's default left and right padding of a table cell


def fitted_widths(rows: list[list[str]], widths: list[float], font: str, size: float) -> list[float]:
    """Column widths in which the longest word of each column fits on one line: a column that is
    too narrow for a word ("Pfizer-BioNTech", "Intramuscular") widens, and the columns with room
    to spare give it up in proportion, so cells wrap between words, never inside one."""
    need = [
        max((stringWidth(word, font, size) for row in rows for word in str(row[i]).split()), default=0.0)
        + 2 * CELL_PADDING
        for i in range(len(widths))
    ]
    fitted = [max(width, needed) for width, needed in zip(widths, need, strict=True)]
    excess = sum(fitted) - sum(widths)
    spare = [width - needed if width > needed else 0.0 for width, needed in zip(widths, need, strict=True)]
    if excess <= 0 or sum(spare) <= 0:
        return fitted
    give = min(1.0, excess / sum(spare))
    return [width - room * give for width, room in zip(fitted, spare, strict=True)]


def _table(rows: list[list[str]], widths: list[float], header: bool = True) -> Table:
    styles = _styles()
    # A word longer than its cell overflows rather than being cut in two (the widths avoid both).
    cell = ParagraphStyle("cell", parent=styles["small"], splitLongWords=0)
    cells = [[Paragraph(_escape(str(c)), cell) for c in row] for row in rows]
    widths = fitted_widths(rows, widths, cell.fontName, cell.fontSize)
    table = Table(cells, colWidths=widths, repeatRows=1 if header else 0)
    commands = [
        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
    if header:
        commands.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dfe6ee")))
    table.setStyle(TableStyle(commands))
    return table


def _document(title: str, story: list, lang: str) -> bytes:
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=LETTER,
        title=title,
        author="cvms",
        lang=lang,
        leftMargin=0.7 * inch,
        rightMargin=0.7 * inch,
        topMargin=0.7 * inch,
        bottomMargin=0.7 * inch,
    )
    doc.build(story)
    return out.getvalue()


def _given(dose: RecordDose) -> str:
    return i18n.local_datetime(dose.given_at, dose.time_zone, "medium")


def record_pdf(record: VaccinationRecord, lang: str) -> bytes:
    """The record: who, and each dose (product, lot, date, location, administered by)."""
    i18n.use_language(lang)
    styles = _styles()
    person = record.recipient
    title = _("Vaccination record")
    story: list = [
        Paragraph(title, styles["title"]),
        Paragraph(f"<b>{_('Name')}:</b> {_escape(person.full_name)}", styles["body"]),
        Paragraph(f"<b>{_('Date of birth')}:</b> {i18n.long_date(person.date_of_birth)}", styles["body"]),
        Spacer(1, 8),
        Paragraph(_("Doses"), styles["h2"]),
    ]
    if record.doses:
        rows = [[_("Dose"), _("Product"), _("Lot"), _("Date"), _("Location"), _("Administered by")]]
        rows += [
            [
                _("Dose %(number)s", number=d.dose_number),
                d.product,
                d.lot_number,
                _given(d),
                d.location,
                d.administered_by,
            ]
            for d in record.doses
        ]
        story.append(_table(rows, [0.6 * inch, 1.2 * inch, 1.2 * inch, 1.5 * inch, 1.5 * inch, 1.1 * inch]))
    else:
        story.append(Paragraph(_("No dose is recorded yet."), styles["body"]))
    if record.card_qr_png:
        story += [Spacer(1, 12), _health_card(record.card_qr_png, styles)]
    story += [
        Spacer(1, 12),
        Paragraph(_("Issued by cvms from the records of the vaccination sites."), styles["small"]),
    ]
    return _document(title, story, lang)


def _health_card(qr_png: bytes, styles: dict[str, ParagraphStyle]) -> Table:
    """The SMART Health Card QR code with its caption beside it (kept together on one page)."""
    side = 2.4 * inch  # a version 22 code stays scannable printed at this size
    caption = [
        Paragraph(_("SMART Health Card"), styles["h2"]),
        Paragraph(
            _(
                "Scan this code with a SMART Health Card verifier app to show the doses above. "
                "The code is signed by the vaccination programme, so a changed copy does not verify."
            ),
            styles["body"],
        ),
    ]
    code = Image(io.BytesIO(qr_png), width=side, height=side)
    table = Table([[code, caption]], colWidths=[side, 4.4 * inch], hAlign="LEFT")
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (0, 0), 0)]))
    return table


def registration_form_pdf(record: VaccinationRecord, lang: str) -> bytes:
    """The "Recipient Registration and Vaccine Administration" form, pre-filled from the record."""
    i18n.use_language(lang)
    styles = _styles()
    person = record.recipient
    title = _("Recipient Registration and Vaccine Administration")
    names = {**dict(SEXES), **dict(RACES), **dict(ETHNICITIES), **dict(SITES), **dict(ROUTES)}

    def named(code: str | None) -> str:
        return _(names[code]) if code in names else (code or "")

    address = ", ".join(p for p in (person.address_line, person.city, person.state, person.postal_code) if p)
    story: list = [
        Paragraph(title, styles["title"]),
        Paragraph(_("Recipient information"), styles["h2"]),
        _table(
            [
                [_("Last name"), person.last_name, _("First name"), person.first_name],
                [
                    _("Middle name"),
                    person.middle_name,
                    _("Date of birth"),
                    i18n.long_date(person.date_of_birth),
                ],
                [
                    _("Sex"),
                    named(person.sex),
                    _("Preferred language"),
                    i18n.LANGUAGES.get(person.preferred_language, ""),
                ],
                [_("Address"), address, _("Phone"), person.phone],
                [_("Email"), person.email, _("Race"), named(person.race)],
                [_("Ethnicity"), named(person.ethnicity), "", ""],
            ],
            [1.2 * inch, 2.3 * inch, 1.3 * inch, 2.3 * inch],
            header=False,
        ),
        Paragraph(_("Screening (answer before each dose)"), styles["h2"]),
        _table(
            [
                [_("Question"), _("Yes"), _("No")],
                [_("Are you feeling sick today?"), "[  ]", "[  ]"],
                [
                    _("Have you ever had a severe allergic reaction to a vaccine or an injection?"),
                    "[  ]",
                    "[  ]",
                ],
                [_("Have you received any other vaccine in the last 14 days?"), "[  ]", "[  ]"],
                [_("Are you pregnant or breastfeeding?"), "[  ]", "[  ]"],
            ],
            [5.9 * inch, 0.6 * inch, 0.6 * inch],
        ),
        Paragraph(_("Vaccine administration"), styles["h2"]),
    ]
    rows = [
        [
            _("Dose"),
            _("Date"),
            _("Product"),
            _("Lot"),
            _("Expires"),
            _("Site"),
            _("Route"),
            _("Administered by"),
            _("Location"),
        ]
    ]
    rows += [
        [
            str(d.dose_number),
            _given(d),
            d.product,
            d.lot_number,
            i18n.long_date(d.expires_on),
            named(d.injection_site),
            named(d.route),
            d.administered_by,
            d.location,
        ]
        for d in record.doses
    ]
    rows += [["", "", "", "", "", "", "", "", ""]] * max(0, 2 - len(record.doses))
    story += [
        _table(
            rows,
            [
                0.45 * inch,
                1.0 * inch,
                0.9 * inch,
                0.7 * inch,
                0.8 * inch,
                0.75 * inch,
                0.8 * inch,
                0.85 * inch,
                0.85 * inch,
            ],
        ),
        Spacer(1, 18),
        Paragraph(
            _("I have read the vaccine information and I consent to be vaccinated.")
            + "<br/><br/>"
            + _("Signature of recipient or guardian")
            + ": ____________________________   "
            + _("Date")
            + ": ______________",
            styles["body"],
        ),
    ]
    return _document(title, story, lang)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
