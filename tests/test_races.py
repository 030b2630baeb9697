"""Two requests at once: first-use creation and state changes are atomic."""
import threading

from clinic_app.models import AuditEvent, Settings
from clinic_app.services import patients as patient_svc
from clinic_app.tenancy import tenant_context
from tests.support import make_tenant


def _at_once(app, tenant, n, work):
    """Run `work()` in n threads released together (each bound to `tenant`); returns results and errors."""
    barrier, results, errors = threading.Barrier(n), [], []

    def run():
        with app.app_context(), tenant_context(tenant):
            barrier.wait()
            try:
                results.append(work())
            except Exception as exc:  # noqa: BLE001  (the assertion below shows which)
                errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def test_first_requests_at_once_all_get_the_one_settings_document(app):
    with app.app_context():
        tenant = make_tenant("fresh", "Fresh Clinic")
        with tenant_context(tenant):
            Settings.objects.delete()  # as for a clinic whose settings were never read
    results, errors = _at_once(app, tenant, 8, Settings.current)
    assert errors == []
    assert len({s.pk for s in results}) == 1
    with app.app_context(), tenant_context(tenant):
        assert Settings.objects.count() == 1
        made = Settings.objects.get()
        # every default is stored, not only the clinic name
        assert made.clinic_name == "Fresh Clinic" and made.timezone == "UTC" and made.slot_minutes == 15
        raw = Settings._get_collection().find_one({"_id": made.pk})
        assert raw["slotMinutes"] == 15 and raw["workingDays"] == [1, 2, 3, 4, 5, 6, 7]


def test_two_archives_at_once_archive_once_and_audit_once(app, clinic_a, in_tenant):
    with in_tenant(clinic_a):
        patient = patient_svc.create_patient({"first_name": "Maria", "last_name": "Lopez", "allergies": []})
    results, errors = _at_once(app, clinic_a, 4, lambda: patient_svc.set_active(patient.__class__.objects.get(
        pk=patient.pk), False))
    assert errors == [] and sorted(results) == [False, False, False, True]
    with in_tenant(clinic_a):
        assert AuditEvent.objects(action="patient.archive").count() == 1
        assert patient.__class__.objects.get(pk=patient.pk).active is False


def test_archiving_an_archived_patient_changes_nothing(app, clinic_a, in_tenant):
    with in_tenant(clinic_a):
        patient = patient_svc.create_patient({"first_name": "Maria", "last_name": "Lopez", "allergies": []})
        stale = patient.__class__.objects.get(pk=patient.pk)
        assert patient_svc.set_active(patient, False) is True
        assert patient_svc.set_active(stale, False) is False  # the stale copy still said "active"
        assert patient_svc.set_active(stale, True) is True
        assert AuditEvent.objects(action="patient.archive").count() == 1
        assert AuditEvent.objects(action="patient.restore").count() == 1
