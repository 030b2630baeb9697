"""Pharmacy pages: catalogue, receive/adjust/write-off, stock lists, prescribing from a visit with the
allergy override and the signed-visit amendment, dispensing, printing; cross-tenant 404s; O(page) lists."""
import pytest

from clinic_app.models import AuditEvent, Dispense, Medicine, Prescription, StockBatch, Visit

from . import pharmacy_factories as f
from .support import CountQueries, make_user


@pytest.fixture
def world(clinic_a, in_tenant):
    """Clinic A with a doctor, a nurse, amoxicillin with two batches, a penicillin-allergic patient and a visit."""
    with in_tenant(clinic_a):
        doctor, nurse = make_user("Doctor", email="doc@a.test"), make_user("Nurse", email="nurse@a.test")
        amox = f.medicine()
        para = f.medicine("Paracetamol", "paracetamol", "tablet", "500 mg", price=5)
        b1, b2 = f.batch(amox, "AMX-1", 10, 40), f.batch(amox, "AMX-2", 50, 400)
        f.batch(para, "PAR-1", 100, 200)
        p = f.patient(allergies=[{"substance": "Penicillin", "reaction": "hives", "severity": "severe"}])
        v = f.visit(p, doctor)
        return {"doctor": doctor, "nurse": nurse, "amox": amox, "para": para, "b1": b1, "b2": b2, "patient": p,
                "visit": v}


def _login(client, clinic, user):
    from .support import login

    login(client, clinic, user.email)


LINE = {"lines-0-dose": "1", "lines-0-dose_unit": "capsule", "lines-0-route": "by mouth", "lines-0-frequency": "TDS",
        "lines-0-duration_days": "5"}


def test_catalogue_add_search_and_unique_name_form_strength(client, clinic_a, login_as, in_tenant):
    login_as(clinic_a, "Medical Representative")
    data = {"name": "Ibuprofen", "generic_name": "ibuprofen", "form": "tablet", "strength": "400 mg",
            "dispensing_unit": "tablet", "pack_size": "24", "sale_price": "0.15", "reorder_level": "20"}
    assert client.post("/inventory/medicines/new", data=data, tenant=clinic_a).status_code == 303
    again = client.post("/inventory/medicines/new", data={**data, "name": "ibuprofen "}, tenant=clinic_a)
    assert again.status_code == 422 and b"already has a medicine with this name" in again.data
    with in_tenant(clinic_a):
        m = Medicine.objects.get()
        assert m.sale_price == 15 and m.reorder_level == 20
        assert AuditEvent.objects(action="medicine.create").count() == 1
    bad = client.post("/inventory/medicines/new", data={**data, "strength": "200 mg", "sale_price": "1.234"},
                      tenant=clinic_a)
    assert bad.status_code == 422 and b"at most 2 decimal places" in bad.data
    found = client.get("/inventory/?q=ibu", headers={"HX-Request": "true"}, tenant=clinic_a)
    assert found.status_code == 200 and b"<html" not in found.data and b"Ibuprofen 400 mg" in found.data
    assert "HX-Request" in found.headers["Vary"]
    assert b"Ibuprofen" not in client.get("/inventory/?q=zzz", tenant=clinic_a).data.split(b"medicine-results")[1]


def test_receive_adjust_and_write_off_through_the_pages(client, clinic_a, login_as, in_tenant, world):
    login_as(clinic_a, "Medical Representative")
    amox = world["amox"]
    r = client.post(f"/inventory/medicines/{amox.pk}/receive", data={
        "lot": "NEW-77", "expiry": "2031-01-31", "quantity": "30", "unit_cost": "0.10", "supplier": "Acme"},
        tenant=clinic_a)
    assert r.status_code == 303
    too_long = client.post(f"/inventory/medicines/{amox.pk}/receive", data={
        "lot": "X" * 41, "expiry": "2031-01-31", "quantity": "1"}, tenant=clinic_a)
    assert too_long.status_code == 422 and b"At most 40 characters" in too_long.data
    with in_tenant(clinic_a):
        batch = StockBatch.objects.get(lot="NEW-77")
        assert batch.on_hand == 30 and batch.unit_cost == 10
    r = client.post(f"/inventory/batches/{batch.pk}/adjust", data={"direction": "remove", "quantity": "40",
                                                                   "reason": "damaged"}, tenant=clinic_a)
    assert r.status_code == 409 or r.status_code == 422
    r = client.post(f"/inventory/batches/{batch.pk}/adjust", data={"direction": "remove", "quantity": "4",
                                                                   "reason": "damaged"}, tenant=clinic_a)
    assert r.status_code == 303
    with in_tenant(clinic_a):
        assert f.on_hand(batch) == 26
        old = f.batch(amox, "OLD-1", 5, -2)
    expired = client.get("/inventory/stock?view=expired", tenant=clinic_a)
    assert b'data-lot="OLD-1"' in expired.data and b'data-lot="NEW-77"' not in expired.data
    assert client.post(f"/inventory/batches/{old.pk}/write-off", tenant=clinic_a).status_code == 303
    with in_tenant(clinic_a):
        assert f.on_hand(old) == 0
    page = client.get(f"/inventory/medicines/{amox.pk}", tenant=clinic_a).get_data(as_text=True)
    assert "write off" in page and "NEW-77" in page


def test_low_and_expiring_lists(client, clinic_a, login_as, in_tenant, world):
    login_as(clinic_a, "Nurse")
    with in_tenant(clinic_a):
        f.medicine("Cetirizine", "cetirizine", "tablet", "10 mg", reorder=30)  # nothing on hand: low
    low = client.get("/inventory/stock?view=low", tenant=clinic_a).get_data(as_text=True)
    assert "Cetirizine" in low and "Paracetamol" not in low
    expiring = client.get("/inventory/stock?view=expiring", tenant=clinic_a).get_data(as_text=True)
    assert "AMX-1" in expiring and "AMX-2" not in expiring  # 40 days in, 400 days out of the 90-day window


def test_doctor_prescribes_sees_the_allergy_warning_and_overrides_it(client, clinic_a, in_tenant, world):
    _login(client, clinic_a, world["doctor"])
    v, amox = world["visit"], world["amox"]
    form = client.get(f"/prescriptions/new?visit_id={v.pk}", tenant=clinic_a)
    assert form.status_code == 200 and b"Penicillin" in form.data
    data = {**LINE, "lines-0-medicine_id": str(amox.pk), "action": "issue"}
    warned = client.post(f"/prescriptions/new?visit_id={v.pk}", data=data, tenant=clinic_a)
    html = warned.get_data(as_text=True)
    assert warned.status_code == 422 and "Allergy warning" in html and "one of the penicillins" in html
    with in_tenant(clinic_a):
        assert Prescription.objects.count() == 0
    assert f'name="override-for-0" value="{amox.pk}"' in html  # the reason is bound to the medicine it is for
    done = client.post(f"/prescriptions/new?visit_id={v.pk}", data={
        **data, "override-0": "Tolerated before", "override-for-0": str(amox.pk)}, tenant=clinic_a)
    assert done.status_code == 303
    with in_tenant(clinic_a):
        rx = Prescription.objects.get()
        assert rx.status == "issued" and rx.lines[0].quantity == 15 and rx.overrides[0].reason == "Tolerated before"
        event = AuditEvent.objects.get(action="prescription.allergy_override")
        assert event.changes["reason"] == "Tolerated before" and "penicillins" in event.changes["matches"][0]
    page = client.get(done.headers["Location"], tenant=clinic_a).get_data(as_text=True)
    assert "Take 1 capsule by mouth three times a day for 5 days." in page and "15 capsules" in page
    printed = client.get(f"/prescriptions/{rx.pk}/print", tenant=clinic_a).get_data(as_text=True)
    assert "prescription-print.css" in printed and "Clinic A" in printed and "Doctor User" in printed
    assert "three times a day" in printed


def test_a_prescription_on_a_signed_visit_is_an_amendment(client, clinic_a, in_tenant, world):
    _login(client, clinic_a, world["doctor"])
    with in_tenant(clinic_a):
        v = f.visit(world["patient"], world["doctor"], signed=True)
    data = {**LINE, "lines-0-medicine_id": str(world["para"].pk), "lines-0-dose_unit": "tablet", "action": "issue"}
    refused = client.post(f"/prescriptions/new?visit_id={v.pk}", data=data, tenant=clinic_a)
    assert refused.status_code == 422 and b"amendment" in refused.data
    ok = client.post(f"/prescriptions/new?visit_id={v.pk}", data={**data, "amendment_reason": "Forgot the analgesic"},
                     tenant=clinic_a)
    assert ok.status_code == 303
    with in_tenant(clinic_a):
        fresh = Visit.objects.get(pk=v.pk)
        assert fresh.amendments[-1].reason == "Forgot the analgesic"
        assert "Paracetamol" in fresh.amendments[-1].changes["prescription"]["new"]
        rx = Prescription.objects.get()
        assert rx.after_signing and AuditEvent.objects(action="visit.amend").count() == 1
    visit_page = client.get(f"/visits/{v.pk}", tenant=clinic_a).get_data(as_text=True)
    assert "Forgot the analgesic" in visit_page


def test_nurse_dispenses_fefo_and_the_prescription_shows_the_lot(client, clinic_a, in_tenant, world):
    with in_tenant(clinic_a):
        rx = f.prescription(world["visit"], world["doctor"], f.row(world["amox"], quantity=15),
                            overrides={0: "ok"})
    _login(client, clinic_a, world["nurse"])
    page = client.get(f"/prescriptions/{rx.pk}/dispense", tenant=clinic_a)
    assert page.status_code == 200 and b"Dispense line 1" in page.data
    over = client.post(f"/prescriptions/{rx.pk}/dispense", data={"line": "1", "quantity": "16"}, tenant=clinic_a)
    assert over.status_code == 422 and b"more than is left" in over.data
    r = client.post(f"/prescriptions/{rx.pk}/dispense", data={"line": "1", "quantity": "15"}, tenant=clinic_a)
    assert r.status_code == 303
    with in_tenant(clinic_a):
        d = Dispense.objects.get()
        assert [(b.lot, b.quantity) for b in d.batches] == [("AMX-1", 10), ("AMX-2", 5)]
    shown = client.get(f"/prescriptions/{rx.pk}", tenant=clinic_a).get_data(as_text=True)
    assert 'data-lot="AMX-1"' in shown and "dispensed" in shown
    # A nurse may not cancel a dispense (Medical Representative / Admin may).
    assert client.post(f"/prescriptions/dispenses/{d.pk}/cancel", tenant=clinic_a).status_code == 403


def test_medical_representative_cancels_a_dispense_and_stock_returns(client, clinic_a, login_as, in_tenant, world):
    with in_tenant(clinic_a):
        rx = f.prescription(world["visit"], world["doctor"], f.row(world["para"], dose_unit="tablet", quantity=6))
        from clinic_app.services.pharmacy import dispensing

        d = dispensing.dispense(rx, 0, 6, world["nurse"])
    login_as(clinic_a, "Medical Representative")
    assert client.post(f"/prescriptions/dispenses/{d.pk}/cancel", data={"reason": "returned"},
                       tenant=clinic_a).status_code == 303
    with in_tenant(clinic_a):
        assert StockBatch.objects.get(lot="PAR-1").on_hand == 100
        assert Prescription.objects.get(pk=rx.pk).status == "issued"


def test_cross_tenant_ids_are_404_and_nothing_changes(client, clinic_a, clinic_b, login_as, in_tenant, world):
    with in_tenant(clinic_a):
        rx = f.prescription(world["visit"], world["doctor"], f.row(world["para"], dose_unit="tablet", quantity=6))
        from clinic_app.services.pharmacy import dispensing

        d = dispensing.dispense(rx, 0, 2, world["nurse"])
    login_as(clinic_b, "Admin")
    a = world
    gets = [f"/inventory/medicines/{a['amox'].pk}", f"/inventory/medicines/{a['amox'].pk}/edit",
            f"/inventory/medicines/{a['amox'].pk}/receive", f"/inventory/batches/{a['b1'].pk}/adjust",
            f"/prescriptions/{rx.pk}", f"/prescriptions/{rx.pk}/print", f"/prescriptions/{rx.pk}/dispense",
            f"/prescriptions/new?visit_id={a['visit'].pk}", f"/prescriptions/?patient_id={a['patient'].pk}"]
    for path in gets:
        assert client.get(path, tenant=clinic_b).status_code == 404, path
    posts = [(f"/inventory/medicines/{a['amox'].pk}/edit", {"name": "Hacked", "form": "tablet",
                                                          "dispensing_unit": "tablet", "pack_size": "1",
                                                          "sale_price": "1", "reorder_level": "1"}),
             (f"/inventory/medicines/{a['amox'].pk}/archive", {}),
             (f"/inventory/medicines/{a['amox'].pk}/restore", {}),
             (f"/inventory/medicines/{a['amox'].pk}/receive", {"lot": "X", "expiry": "2031-01-01", "quantity": "5"}),
             (f"/inventory/batches/{a['b1'].pk}/adjust", {"direction": "remove", "quantity": "5", "reason": "damaged"}),
             (f"/inventory/batches/{a['b1'].pk}/write-off", {}),
             (f"/prescriptions/{rx.pk}/issue", {}), (f"/prescriptions/{rx.pk}/cancel", {"reason": "x"}),
             (f"/prescriptions/{rx.pk}/dispense", {"line": "1", "quantity": "1"}),
             (f"/prescriptions/dispenses/{d.pk}/cancel", {}),
             (f"/prescriptions/new?visit_id={a['visit'].pk}", {**LINE, "lines-0-free_text": "x"})]
    for path, data in posts:
        assert client.post(path, data=data, tenant=clinic_b).status_code == 404, path
    with in_tenant(clinic_a):
        amox = Medicine.objects.get(pk=a["amox"].pk)
        assert amox.name == "Amoxicillin" and amox.active
        assert StockBatch.objects.get(pk=a["b1"].pk).on_hand == 10
        assert Prescription.objects.get(pk=rx.pk).status == "partly_dispensed"
        assert Dispense.objects.get(pk=d.pk).status == "active" and Prescription.objects.count() == 1
    with in_tenant(clinic_b):
        assert Medicine.objects.count() == 0 and Prescription.objects.count() == 0


def _reads(app, client, clinic, path):
    with CountQueries(app) as q:
        assert client.get(path, tenant=clinic).status_code == 200, path
    return q.reads


def test_list_pages_cost_the_same_with_more_rows(app, client, clinic_a, login_as, in_tenant, world):
    login_as(clinic_a, "Admin")
    paths = ["/inventory/", "/inventory/stock", "/inventory/stock?view=expiring", "/inventory/stock?view=low",
             "/prescriptions/", "/prescriptions/queue", f"/inventory/medicines/{world['amox'].pk}"]

    def add(n):
        with in_tenant(clinic_a):
            for i in range(n):
                m = f.medicine(f"Drug{n}x{i}", f"generic{n}x{i}", reorder=1000)
                f.batch(m, f"L{n}-{i}", 5, 30 + i)
                f.batch(world["amox"], f"A{n}-{i}", 5, 30 + i)
                p = f.patient(f"P{n}{i}", "Row")
                f.prescription(f.visit(p, world["doctor"]), world["doctor"], f.row(m, quantity=3))

    add(2)
    few = {p: _reads(app, client, clinic_a, p) for p in paths}
    add(8)
    assert {p: _reads(app, client, clinic_a, p) for p in paths} == few
