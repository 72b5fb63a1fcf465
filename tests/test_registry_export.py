"""Registry export built from dose facts: FHIR R4 Immunization bundles and HL7 v2.5.1 VXU messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from notifications.immunization import fhir_bundle
from notifications.vxu import vxu_batch, vxu_message
from tests.portable_proof import parse_fhir_bundle, parse_vxu, sample_dose, sample_patient, split_vxu_batch

BASE = "https://cvms.example.org"
EXPORTED = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def series():
    first = sample_dose()
    second = sample_dose(
        id=12, dose_number=2, given_at=first.given_at + timedelta(21), injection_site="right_thigh"
    )
    return sample_patient(), [first, second]


def test_fhir_export_parses_as_patient_and_immunizations_with_cvx_codes():
    patient, doses = series()
    moderna = sample_patient(id=8, first_name="Ana", middle_name="", last_name="Lee", sex="other", race=None)
    moderna_dose = sample_dose(id=13, recipient_id=8, product_code="moderna", route="subcutaneous")
    bundle = parse_fhir_bundle(
        fhir_bundle([(patient, doses), (moderna, [moderna_dose])], base_url=BASE, timestamp=EXPORTED)
    )
    assert bundle.type == "transaction"
    kinds = [entry.resource.__resource_type__ for entry in bundle.entry]
    assert kinds == ["Patient", "Immunization", "Immunization", "Patient", "Immunization"]
    patient_entry, first, second, _, moderna_entry = bundle.entry
    assert patient_entry.resource.identifier[0].value == "7"
    assert patient_entry.resource.gender == "female"
    assert patient_entry.request.method == "PUT"
    assert patient_entry.request.url == f"Patient?identifier={BASE}/recipients|7"
    immunization = first.resource
    assert immunization.status == "completed"
    assert (immunization.vaccineCode.coding[0].system, immunization.vaccineCode.coding[0].code) == (
        "http://hl7.org/fhir/sid/cvx",
        "208",
    )
    assert immunization.patient.reference == patient_entry.fullUrl
    assert immunization.occurrenceDateTime.isoformat() == "2026-11-01T14:30:00+00:00"
    assert immunization.lotNumber == "PFI-WAKE-01-001"
    assert str(immunization.expirationDate) == "2030-12-31"
    assert immunization.manufacturer.identifier.value == "PFR"
    assert immunization.site.coding[0].code == "LD" and immunization.route.coding[0].code == "IM"
    assert immunization.performer[0].actor.display == "Nurse Ann Lee"
    assert immunization.protocolApplied[0].doseNumberPositiveInt == 1
    assert immunization.protocolApplied[0].seriesDosesPositiveInt == 2
    assert second.resource.site.coding[0].code == "RT"
    assert moderna_entry.resource.vaccineCode.coding[0].code == "207"
    assert moderna_entry.resource.route.coding[0].code == "SQ"
    assert moderna_entry.resource.patient.reference == bundle.entry[3].fullUrl


def test_fhir_export_of_the_same_dose_is_the_same_resource_every_time():
    patient, doses = series()
    once = fhir_bundle([(patient, doses)], base_url=BASE, timestamp=EXPORTED)
    again = fhir_bundle([(patient, doses)], base_url=BASE, timestamp=EXPORTED + timedelta(days=1))
    assert [e["fullUrl"] for e in once["entry"]] == [e["fullUrl"] for e in again["entry"]]


def test_dose_removed_in_error_is_exported_as_entered_in_error_and_as_a_delete():
    patient = sample_patient()
    removed = sample_dose(removed=True)
    bundle = parse_fhir_bundle(fhir_bundle([(patient, [removed])], base_url=BASE, timestamp=EXPORTED))
    assert bundle.entry[1].resource.status == "entered-in-error"
    message = parse_vxu(vxu_message(patient, [removed], control_id="T1", timestamp=EXPORTED))
    assert message.VXU_V04_ORDER.RXA.RXA_21.value == "D"


def test_vxu_message_parses_and_validates_as_hl7_2_5_1():
    patient, doses = series()
    text = vxu_message(patient, doses, control_id="CTRL-1", timestamp=EXPORTED)
    message = parse_vxu(text)
    assert message.MSH.MSH_9.to_er7() == "VXU^V04^VXU_V04"
    assert message.MSH.MSH_12.to_er7() == "2.5.1"
    assert message.MSH.MSH_21.to_er7() == "Z22^CDCPHINVS"
    pid = message.PID
    assert pid.PID_3.CX_1.value == "7"
    # The | in the family name travels escaped and reads back as itself.
    assert pid.PID_5.XPN_1.to_er7() == "Peña\\F\\Ruiz"
    assert pid.PID_5.XPN_2.value == "María"
    assert pid.PID_7.to_er7() == "19800203"
    assert pid.PID_8.value == "F"
    assert pid.PID_10.to_er7() == "2106-3^White^CDCREC"
    assert pid.PID_22.to_er7() == "2135-2^Hispanic or Latino^CDCREC"
    orders = message.children.get("VXU_V04_ORDER")
    assert len(orders) == 2
    for order, dose in zip(orders, doses, strict=True):
        assert order.ORC.ORC_3.to_er7() == f"{dose.id}^CVMS"
        rxa = order.RXA
        assert rxa.RXA_3.to_er7() == dose.given_at.strftime("%Y%m%d%H%M%S+0000")
        assert rxa.RXA_5.CE_1.value == "208" and rxa.RXA_5.CE_3.value == "CVX"
        assert rxa.RXA_6.value == "0.3"
        assert rxa.RXA_15.value == "PFI-WAKE-01-001"
        assert rxa.RXA_16.to_er7() == "20301231"
        assert rxa.RXA_17.to_er7() == "PFR^Pfizer, Inc^MVX"
        assert rxa.RXA_20.value == "CP" and rxa.RXA_21.value == "A"
        assert order.RXR.RXR_1.to_er7() == "C28161^Intramuscular^NCIT"
        obx = order.VXU_V04_OBSERVATION.OBX
        assert obx.OBX_3.CE_1.value == "30973-2" and obx.OBX_5.to_er7() == str(dose.dose_number)
    assert orders[0].RXR.RXR_2.to_er7() == "LD^Left Deltoid^HL70163"
    assert orders[1].RXR.RXR_2.to_er7() == "RT^Right Thigh^HL70163"


def test_vxu_batch_holds_one_valid_message_per_recipient():
    patient, doses = series()
    other = sample_patient(id=8, first_name="Ana", last_name="Lee", phone="", email="", language="en")
    janssen = sample_dose(
        id=13, recipient_id=8, product_code="janssen", route="other", injection_site="other"
    )
    batch = vxu_batch([(patient, doses), (other, [janssen])], timestamp=EXPORTED)
    envelope, messages = split_vxu_batch(batch)
    assert envelope == ["FHS", "BHS", "BTS", "FTS"]
    assert "BTS|2" in batch.split("\r")
    first, second = (parse_vxu(m) for m in messages)
    assert first.PID.PID_3.CX_1.value == "7" and second.PID.PID_3.CX_1.value == "8"
    assert first.MSH.MSH_10.value != second.MSH.MSH_10.value
    assert second.VXU_V04_ORDER.RXA.RXA_5.CE_1.value == "212"
