"""Prescribing: quantity computation (tablets, syrups in ml, creams as whole tubes), plain-language
lines, the offline allergy check by name and by class (override audited), duplicate therapy,
and the migration of free-text allergies."""
import pytest

from clinic_app.models import AuditEvent, Patient, Prescription
from clinic_app.models.patients import Allergy
from clinic_app.services.pharmacy import allergies, prescribing

from . import pharmacy_factories as f
from .support import make_user


@pytest.mark.parametrize("unit,dose,dose_unit,freq,hours,days,expected", [
    ("tablet", 1, "tablet", "TDS", None, 5, 15),        # 1 tablet three times a day for 5 days
    ("tablet", 2, "tablet", "BD", None, 7, 28),
    ("tablet", 0.5, "tablet", "OD", None, 5, 3),        # half tablets round up to whole tablets
    ("capsule", 1, "capsule", "QXH", 6, 3, 12),         # every 6 hours = 4 a day
    ("ml", 5, "ml", "TDS", None, 7, 105),               # syrup: 5 ml three times a day for a week
    ("ml", 2.5, "ml", "QID", None, 3, 30),
    ("tube", 1, "application", "BD", None, 14, 1),      # a cream is handed over as one tube
    ("tablet", 500, "mg", "TDS", None, 5, None),        # dose in mg of a tablet: not computable
    ("tablet", 1, "tablet", "PRN", None, 5, None),      # when needed: not computable
    ("tablet", 2, "tablet", "STAT", None, None, 2),
])
def test_quantity_is_dose_times_frequency_times_duration_in_the_dispensing_unit(unit, dose, dose_unit, freq,
                                                                                 hours, days, expected):
    assert prescribing.compute_quantity(unit, dose, dose_unit, freq, hours, days) == expected


def test_a_line_reads_in_plain_language(clinic_a, in_tenant):
    with in_tenant(clinic_a):
        syrup = f.medicine("Amoxil", "amoxicillin", "syrup", "125 mg/5 ml")
        line, _, error = prescribing.build_line(f.row(syrup, dose=5, dose_unit="ml", frequency="QXH", every_hours=8,
                                                      duration=7))
        assert error is None and line.quantity == 105 and line.unit == "ml"
        assert prescribing.line_text(line) == "Take 5 ml by mouth every 8 hours for 7 days."
        line, _, error = prescribing.build_line(f.row(syrup, dose=5, dose_unit="ml", frequency="PRN", quantity=None))
        assert error and "Enter the quantity" in error
        line, _, error = prescribing.build_line(f.row(syrup, dose=5, dose_unit="ml", frequency="PRN", quantity=100))
        assert error is None and line.quantity == 100  # always editable


@pytest.mark.parametrize("allergy,drug,hit", [
    ("penicillin", "Amoxil amoxicillin", "penicillins"),
    ("Penicillins", "Ampicillin", "penicillins"),
    ("amoxicillin", "Flucloxacillin", "penicillins"),     # an allergy to a member covers its class
    ("AMOXICILLIN", "amoxicillin", "Recorded allergy"),  # by name, case-insensitively
    ("sulfa drugs", "Septrin co-trimoxazole", "sulfonamide"),
    ("NSAIDs", "Brufen ibuprofen", "NSAIDs"),
    ("aspirin", "Naproxen", "NSAIDs"),
    ("penicillin", "Keflex cefalexin", "Cross-sensitivity"),
    ("codeine", "Tramadol", "opioids"),
    ("latex", "Amoxicillin", None),
    ("penicillin", "Paracetamol", None),
    ("sulfa", "Azithromycin", None),
])
def test_allergy_match_by_name_and_by_class(allergy, drug, hit):
    found = allergies.conflicts([Allergy(substance=allergy)], drug)
    if hit is None:
        assert found == []
    else:
        assert found and hit in found[0]


def test_free_text_lines_are_checked_by_their_text():
    assert allergies.conflicts([Allergy(substance="penicillin")], "Phenoxymethylpenicillin 250 mg from outside")


@pytest.fixture
def doctor_visit(clinic_a, in_tenant):
    with in_tenant(clinic_a):
        doctor = make_user("Doctor")
        p = f.patient(allergies=["penicillin"])
        return doctor, p, f.visit(p, doctor)


def test_an_allergy_match_blocks_until_overridden_with_a_reason_and_is_audited(clinic_a, in_tenant, doctor_visit):
    doctor, p, v = doctor_visit
    with in_tenant(clinic_a):
        amox = f.medicine()
        with pytest.raises(prescribing.NeedsOverride) as exc:
            f.prescription(v, doctor, f.row(amox))
        assert list(exc.value.allergy) == [0] and "penicillins" in exc.value.allergy[0][0]
        assert Prescription.objects.count() == 0
        with pytest.raises(prescribing.NeedsOverride):
            f.prescription(v, doctor, f.row(amox), overrides={0: "   "})  # a blank reason is no reason
        rx = f.prescription(v, doctor, f.row(amox), overrides={0: "Tolerated amoxicillin in 2024"})
        assert rx.overrides[0].reason == "Tolerated amoxicillin in 2024" and rx.overrides[0].by_id == doctor.pk
        event = AuditEvent.objects.get(action="prescription.allergy_override")
        assert event.actor_id is None or event.actor_id == doctor.pk
        assert event.changes["reason"] == "Tolerated amoxicillin in 2024" and event.target_id == rx.pk


def test_duplicate_therapy_warns_when_the_same_generic_is_active(clinic_a, in_tenant, doctor_visit):
    doctor, p, v = doctor_visit
    with in_tenant(clinic_a):
        brufen = f.medicine("Brufen", "ibuprofen", "tablet", "400 mg")
        generic = f.medicine("Ibuprofen", "ibuprofen", "tablet", "200 mg")
        f.prescription(v, doctor, f.row(brufen))
        with pytest.raises(prescribing.NeedsOverride) as exc:
            f.prescription(v, doctor, f.row(generic))
        assert exc.value.duplicates[0][0].startswith("Maria Lopez already has an active prescription of ibuprofen")
        f.prescription(v, doctor, f.row(generic), confirm_duplicates=True)
        assert AuditEvent.objects(action="prescription.duplicate_confirmed").count() == 1
        other = f.patient("Other", "Person")
        f.prescription(f.visit(other, doctor), doctor, f.row(generic))  # another patient: no warning


def test_cancelled_prescriptions_are_not_duplicate_therapy(clinic_a, in_tenant, doctor_visit):
    doctor, p, v = doctor_visit
    with in_tenant(clinic_a):
        m = f.medicine("Brufen", "ibuprofen", "tablet", "400 mg")
        rx = f.prescription(v, doctor, f.row(m))
        prescribing.cancel(rx, "changed my mind")
        assert Prescription.objects.get(pk=rx.pk).status == "cancelled"
        f.prescription(v, doctor, f.row(m))
        with pytest.raises(prescribing.PrescriptionError, match="reason"):
            prescribing.cancel(rx, "")


def test_a_draft_is_issued_once(clinic_a, in_tenant, doctor_visit):
    doctor, p, v = doctor_visit
    with in_tenant(clinic_a):
        rx = f.prescription(v, doctor, f.row(free_text="Vitamin D 1000 IU daily", dose=None, quantity=30), issue=False)
        assert rx.status == "draft"
        prescribing.issue(rx)
        with pytest.raises(prescribing.Conflict):
            prescribing.issue(rx)


def test_old_string_allergies_are_migrated_to_structured_entries(app, clinic_a, in_tenant):
    with in_tenant(clinic_a):
        p = f.patient()
        Patient._get_collection().update_one({"_id": p.pk}, {"$set": {"allergies": ["penicillin", " latex "]}})
        assert [a.substance for a in Patient.objects.get(pk=p.pk).allergies] == ["penicillin", "latex"]
    with app.app_context():
        assert allergies.migrate_string_allergies() == 1
        assert allergies.migrate_string_allergies() == 0
    raw = Patient._get_collection().find_one({"_id": p.pk})
    assert raw["allergies"] == [{"substance": "penicillin", "severity": "unknown"},
                                {"substance": "latex", "severity": "unknown"}]
