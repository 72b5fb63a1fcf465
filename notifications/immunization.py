"""What a documented dose says to the outside world: the facts, the code systems, FHIR R4.

Pure: builds plain JSON-ready dicts from two small dataclasses, so the registry export,
the SMART Health Card and their tests need no database. The API and `cvms export` turn
records into these facts (services/exports.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

CVX_SYSTEM = "http://hl7.org/fhir/sid/cvx"
MVX_SYSTEM = "http://terminology.hl7.org/CodeSystem/MVX"
ACT_SITE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActSite"
ROUTE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration"
PERFORMER_FUNCTION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0443"
FHIR_VERSION = "4.0.1"


@dataclass(frozen=True)
class Vaccine:
    cvx: str
    cvx_name: str
    mvx: str
    manufacturer: str
    dose_ml: str


# CDC CVX/MVX codes of the seeded products. A product added later without an entry here
# is reported as CVX 213 (COVID-19 vaccine, unspecified formulation) rather than guessed.
VACCINES: dict[str, Vaccine] = {
    "pfizer": Vaccine(
        cvx="208",
        cvx_name="COVID-19, mRNA, LNP-S, PF, 30 mcg/0.3 mL dose",
        mvx="PFR",
        manufacturer="Pfizer, Inc",
        dose_ml="0.3",
    ),
    "moderna": Vaccine(
        cvx="207",
        cvx_name="COVID-19, mRNA, LNP-S, PF, 100 mcg/0.5mL dose or 50 mcg/0.25mL dose",
        mvx="MOD",
        manufacturer="Moderna US, Inc.",
        dose_ml="0.5",
    ),
    "novavax": Vaccine(
        cvx="211",
        cvx_name="COVID-19 vaccine, Subunit, rS-nanoparticle+Matrix-M1 Adjuvant, PF, 0.5 mL",
        mvx="NVX",
        manufacturer="Novavax, Inc.",
        dose_ml="0.5",
    ),
    "janssen": Vaccine(
        cvx="212",
        cvx_name="COVID-19 vaccine, vector-nr, rS-Ad26, PF, 0.5 mL",
        mvx="JSN",
        manufacturer="Janssen",
        dose_ml="0.5",
    ),
    "pfizer-paed": Vaccine(
        cvx="218",
        cvx_name="COVID-19, mRNA, LNP-S, PF, 10 mcg/0.2 mL dose, tris-sucrose",
        mvx="PFR",
        manufacturer="Pfizer, Inc",
        dose_ml="0.2",
    ),
    "influenza": Vaccine(
        cvx="150",
        cvx_name="Influenza, injectable, quadrivalent, preservative free",
        mvx="",
        manufacturer="",
        dose_ml="0.5",
    ),
    "jynneos": Vaccine(
        cvx="206",
        cvx_name="Smallpox monkeypox vaccine, live attenuated, non-replicating",
        mvx="BN",
        manufacturer="Bavarian Nordic A/S",
        dose_ml="0.5",
    ),
}
UNSPECIFIED_COVID_VACCINE = Vaccine(
    cvx="213",
    cvx_name="SARS-COV-2 (COVID-19) vaccine, UNSPECIFIED FORMULATION",
    mvx="",
    manufacturer="",
    dose_ml="",
)


def vaccine_for(product_code: str) -> Vaccine:
    return VACCINES.get(product_code, UNSPECIFIED_COVID_VACCINE)


# Injection site and route as documented in cvms -> (code, display). The same codes serve
# FHIR (v3 ActSite / RouteOfAdministration) and HL7 v2 (HL70163; NCIT routes in vxu.py).
SITES: dict[str, tuple[str, str]] = {
    "left_deltoid": ("LD", "Left Deltoid"),
    "right_deltoid": ("RD", "Right Deltoid"),
    "left_thigh": ("LT", "Left Thigh"),
    "right_thigh": ("RT", "Right Thigh"),
}
FHIR_ROUTES: dict[str, tuple[str, str]] = {
    "intramuscular": ("IM", "Injection, intramuscular"),
    "subcutaneous": ("SQ", "Injection, subcutaneous"),
    "intradermal": ("IDINJ", "Injection, intradermal"),
    "intranasal": ("NASINHLC", "Inhalation, nasal"),
}


@dataclass(frozen=True)
class PatientFacts:
    id: int
    first_name: str
    last_name: str
    date_of_birth: date
    sex: str  # female | male | other | unknown
    middle_name: str = ""
    address_line: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    phone: str = ""
    email: str = ""
    language: str = "en"
    race: str | None = None
    ethnicity: str | None = None


@dataclass(frozen=True)
class DoseFacts:
    id: int
    recipient_id: int
    product_code: str
    dose_number: int
    lot_number: str
    expires_on: date
    injection_site: str
    route: str
    administered_by: str
    given_at: datetime  # aware UTC
    recorded_at: datetime  # aware UTC
    location_code: str
    location_name: str
    series_doses: int | None = None
    series: str = ""  # the schedule and its part ("COVID-19 Pfizer-BioNTech, ages 12+ (v1), booster")
    removed: bool = False  # removed as erroneous: exported as entered-in-error / a delete


def fhir_instant(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _urn(base_url: str, kind: str, record_id: int) -> str:
    # Stable across exports, so a registry sees the same resource each time.
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{base_url}/{kind}/{record_id}')}"


def identifier_system(base_url: str, kind: str) -> str:
    return f"{base_url.rstrip('/')}/{kind}"


def patient_resource(patient: PatientFacts, *, base_url: str) -> dict[str, Any]:
    given = [n for n in (patient.first_name, patient.middle_name) if n]
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [{"system": identifier_system(base_url, "recipients"), "value": str(patient.id)}],
        "name": [{"use": "official", "family": patient.last_name, "given": given}],
        "gender": patient.sex if patient.sex in {"female", "male", "other", "unknown"} else "unknown",
        "birthDate": patient.date_of_birth.isoformat(),
        "communication": [
            {"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": patient.language}]}}
        ],
    }
    telecom = []
    if patient.phone:
        telecom.append({"system": "phone", "value": patient.phone, "use": "home"})
    if patient.email:
        telecom.append({"system": "email", "value": patient.email})
    if telecom:
        resource["telecom"] = telecom
    if patient.address_line or patient.city or patient.postal_code:
        address: dict[str, Any] = {"use": "home", "country": "US"}
        if patient.address_line:
            address["line"] = [patient.address_line]
        parts = {"city": patient.city, "state": patient.state, "postalCode": patient.postal_code}
        address.update({key: value for key, value in parts.items() if value})
        resource["address"] = [address]
    return resource


def immunization_resource(dose: DoseFacts, *, base_url: str, patient_reference: str) -> dict[str, Any]:
    vaccine = vaccine_for(dose.product_code)
    resource: dict[str, Any] = {
        "resourceType": "Immunization",
        "identifier": [{"system": identifier_system(base_url, "doses"), "value": str(dose.id)}],
        "status": "entered-in-error" if dose.removed else "completed",
        "vaccineCode": {
            "coding": [{"system": CVX_SYSTEM, "code": vaccine.cvx, "display": vaccine.cvx_name}],
            "text": vaccine.cvx_name,
        },
        "patient": {"reference": patient_reference},
        "occurrenceDateTime": fhir_instant(dose.given_at),
        "recorded": fhir_instant(dose.recorded_at),
        "primarySource": True,
        "location": {"display": f"{dose.location_name} ({dose.location_code})"},
        "lotNumber": dose.lot_number,
        "expirationDate": dose.expires_on.isoformat(),
        "performer": [
            {
                "function": {"coding": [{"system": PERFORMER_FUNCTION_SYSTEM, "code": "AP"}]},
                "actor": {"display": dose.administered_by},
            }
        ],
        "protocolApplied": [{"doseNumberPositiveInt": dose.dose_number}],
    }
    if vaccine.mvx:
        resource["manufacturer"] = {
            "identifier": {"system": MVX_SYSTEM, "value": vaccine.mvx},
            "display": vaccine.manufacturer,
        }
    if dose.series_doses:
        resource["protocolApplied"][0]["seriesDosesPositiveInt"] = dose.series_doses
    if dose.series:
        resource["protocolApplied"][0]["series"] = dose.series
    if dose.injection_site in SITES:
        code, display = SITES[dose.injection_site]
        resource["site"] = {"coding": [{"system": ACT_SITE_SYSTEM, "code": code, "display": display}]}
    if dose.route in FHIR_ROUTES:
        code, display = FHIR_ROUTES[dose.route]
        resource["route"] = {"coding": [{"system": ROUTE_SYSTEM, "code": code, "display": display}]}
    return resource


def fhir_bundle(
    records: list[tuple[PatientFacts, list[DoseFacts]]], *, base_url: str, timestamp: datetime
) -> dict[str, Any]:
    """A FHIR R4 transaction Bundle of Patients and their Immunizations.

    Each entry is a conditional update on its cvms identifier, so a registry can load the
    same export twice (or overlapping "since" exports) without duplicates, and a dose
    removed as erroneous replaces the earlier copy with status entered-in-error.
    """
    entries: list[dict[str, Any]] = []
    for patient, doses in records:
        patient_url = _urn(base_url, "recipients", patient.id)
        entries.append(_transaction_entry(patient_url, patient_resource(patient, base_url=base_url)))
        for dose in doses:
            resource = immunization_resource(dose, base_url=base_url, patient_reference=patient_url)
            entries.append(_transaction_entry(_urn(base_url, "doses", dose.id), resource))
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "timestamp": fhir_instant(timestamp),
        "entry": entries,
    }


def _transaction_entry(full_url: str, resource: dict[str, Any]) -> dict[str, Any]:
    identifier = resource["identifier"][0]
    search = f"{resource['resourceType']}?identifier={identifier['system']}|{identifier['value']}"
    return {"fullUrl": full_url, "resource": resource, "request": {"method": "PUT", "url": search}}
