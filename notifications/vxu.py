"""HL7 v2.5.1 VXU^V04 messages (CDC Implementation Guide for Immunization Messaging, Z22 profile).

One message per recipient with one ORC/RXA/RXR/OBX order group per dose; many messages
go out as one batch file (FHS/BHS … BTS/FTS), the form state registries accept for upload.
Pure: built from the facts in notifications/immunization.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

from notifications.immunization import SITES, DoseFacts, PatientFacts, vaccine_for

SEGMENT_END = "\r"
ENCODING = "^~\\&"
SENDING_APPLICATION = "CVMS"

SEX = {"female": "F", "male": "M", "other": "O", "unknown": "U"}
# NCIT route codes, as the CDC guide recommends for RXR-1.
ROUTES = {
    "intramuscular": ("C28161", "Intramuscular"),
    "subcutaneous": ("C38299", "Subcutaneous"),
    "intradermal": ("C38238", "Intradermal"),
    "intranasal": ("C38284", "Nasal"),
}
RACE = {
    "american_indian_or_alaska_native": ("1002-5", "American Indian or Alaska Native"),
    "asian": ("2028-9", "Asian"),
    "black_or_african_american": ("2054-5", "Black or African-American"),
    "native_hawaiian_or_other_pacific_islander": ("2076-8", "Native Hawaiian or Other Pacific Islander"),
    "white": ("2106-3", "White"),
    "other": ("2131-1", "Other-Race"),
}
ETHNICITY = {
    "hispanic_or_latino": ("2135-2", "Hispanic or Latino"),
    "not_hispanic_or_latino": ("2186-5", "not Hispanic or Latino"),
}
LANGUAGE = {"en": ("eng", "English"), "es": ("spa", "Spanish")}


def escape(text: str) -> str:
    """HL7 escape sequences for the delimiters, so free text cannot break a message."""
    out = text.replace("\\", "\\E\\")
    for char, code in (("|", "\\F\\"), ("^", "\\S\\"), ("&", "\\T\\"), ("~", "\\R\\")):
        out = out.replace(char, code)
    return " ".join(out.split())  # no line breaks: \r ends a segment


def hl7_ts(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%S+0000")


def _segment(*fields: str) -> str:
    return "|".join(fields).rstrip("|")


def _msh(control_id: str, timestamp: datetime, sending_facility: str, receiving: tuple[str, str]) -> str:
    return _segment(
        "MSH",
        ENCODING,
        SENDING_APPLICATION,
        escape(sending_facility),
        escape(receiving[0]),
        escape(receiving[1]),
        hl7_ts(timestamp),
        "",
        "VXU^V04^VXU_V04",
        control_id,
        "P",
        "2.5.1",
        "",
        "",
        "ER",
        "AL",
        "",
        "UNICODE UTF-8",  # names are not ASCII-only ("Peña")
        "",
        "",
        "Z22^CDCPHINVS",
    )


def _pid(patient: PatientFacts) -> str:
    name = f"{escape(patient.last_name)}^{escape(patient.first_name)}^{escape(patient.middle_name)}^^^^L"
    race = "^".join((*RACE[patient.race], "CDCREC")) if patient.race in RACE else ""
    address = ""
    if patient.address_line or patient.city or patient.postal_code:
        parts = (patient.address_line, "", patient.city, patient.state, patient.postal_code, "USA", "L")
        address = "^".join(escape(p) for p in parts)
    phones = []
    digits = "".join(ch for ch in patient.phone if ch.isdigit())[-10:]
    if len(digits) == 10:
        phones.append(f"^PRN^PH^^^{digits[:3]}^{digits[3:]}")
    if patient.email:
        phones.append(f"^NET^Internet^{escape(patient.email)}")
    language = "^".join((*LANGUAGE[patient.language], "ISO639")) if patient.language in LANGUAGE else ""
    ethnicity = "^".join((*ETHNICITY[patient.ethnicity], "CDCREC")) if patient.ethnicity in ETHNICITY else ""
    return _segment(
        "PID",
        "1",
        "",
        f"{patient.id}^^^{SENDING_APPLICATION}^MR",
        "",
        name,
        "",
        patient.date_of_birth.strftime("%Y%m%d"),
        SEX.get(patient.sex, "U"),
        "",
        race,
        address,
        "",
        "~".join(phones),
        "",
        language,
        "",
        "",
        "",
        "",
        "",
        "",
        ethnicity,
    )


def _order_group(dose: DoseFacts) -> list[str]:
    vaccine = vaccine_for(dose.product_code)
    amount, units = (vaccine.dose_ml, "mL^milliliters^UCUM") if vaccine.dose_ml else ("999", "")
    manufacturer = f"{vaccine.mvx}^{escape(vaccine.manufacturer)}^MVX" if vaccine.mvx else ""
    segments = [
        _segment("ORC", "RE", "", f"{dose.id}^{SENDING_APPLICATION}"),
        _segment(
            "RXA",
            "0",
            "1",
            hl7_ts(dose.given_at),
            hl7_ts(dose.given_at),
            f"{vaccine.cvx}^{escape(vaccine.cvx_name)}^CVX",
            amount,
            units,
            "",
            "00^New immunization record^NIP001",
            f"^{escape(dose.administered_by)}",
            f"^^^{escape(dose.location_code)}",
            "",
            "",
            "",
            escape(dose.lot_number),
            dose.expires_on.strftime("%Y%m%d"),
            manufacturer,
            "",
            "",
            "CP",
            # D: the dose was removed as erroneous, so the registry deletes its copy.
            "D" if dose.removed else "A",
        ),
    ]
    if dose.route in ROUTES:
        route = "^".join((*ROUTES[dose.route], "NCIT"))
        site = "^".join((*SITES[dose.injection_site], "HL70163")) if dose.injection_site in SITES else ""
        segments.append(_segment("RXR", route, site))
    segments.append(
        _segment(
            "OBX",
            "1",
            "NM",
            "30973-2^Dose number in series^LN",
            "1",
            str(dose.dose_number),
            "",
            "",
            "",
            "",
            "",
            "F",
            "",
            "",
            dose.given_at.astimezone(UTC).strftime("%Y%m%d"),
        )
    )
    return segments


def vxu_message(
    patient: PatientFacts,
    doses: list[DoseFacts],
    *,
    control_id: str,
    timestamp: datetime,
    sending_facility: str = "CVMS",
    receiving: tuple[str, str] = ("", ""),
) -> str:
    """One VXU^V04 for a recipient and their doses; segments end with a carriage return."""
    segments = [_msh(control_id, timestamp, sending_facility, receiving), _pid(patient)]
    for dose in doses:
        segments.extend(_order_group(dose))
    return SEGMENT_END.join(segments) + SEGMENT_END


def vxu_batch(
    records: list[tuple[PatientFacts, list[DoseFacts]]],
    *,
    timestamp: datetime,
    sending_facility: str = "CVMS",
    receiving: tuple[str, str] = ("", ""),
) -> str:
    """A batch file of one VXU per recipient; control ids are the batch time and the recipient."""
    stamp = hl7_ts(timestamp)
    receiver = (escape(receiving[0]), escape(receiving[1]))
    header = (SENDING_APPLICATION, escape(sending_facility), *receiver, stamp)
    messages = [
        vxu_message(
            patient,
            doses,
            control_id=f"{stamp[:14]}-{patient.id}",
            timestamp=timestamp,
            sending_facility=sending_facility,
            receiving=receiving,
        )
        for patient, doses in records
    ]
    return (
        _segment("FHS", ENCODING, *header)
        + SEGMENT_END
        + _segment("BHS", ENCODING, *header)
        + SEGMENT_END
        + "".join(messages)
        + _segment("BTS", str(len(messages)))
        + SEGMENT_END
        + _segment("FTS", "1")
        + SEGMENT_END
    )
