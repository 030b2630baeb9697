"""Lab orders, specimens, results, review, amendments, dashboard and timeline, through the pages."""
from datetime import date

import pytest

from clinic_app.models import AuditEvent, LabOrder, LabResult, LabTest, User
from clinic_app.services.labs import catalogue, orders, results

from . import lab_factories as lf
from .support import login, make_user, signed_in_client


@pytest.fixture
def doctor(clinic_a, in_tenant):
    with in_tenant(clinic_a):
        return make_user("Doctor", email="doc@clinica.test", name="Dr Omar")


@pytest.fixture
def nurse(clinic_a, in_tenant):
    with in_tenant(clinic_a):
        return make_user("Nurse", email="nurse@clinica.test", name="Nina Nurse")


@pytest.fixture
def maria(clinic_a, in_tenant):
    with in_tenant(clinic_a):
        return lf.patient()


def _ids(in_tenant, clinic, *codes):
    with in_tenant(clinic):
        return [str(lf.lab_test(c).pk) for c in codes]


# -- catalogue on onboarding -------------------------------------------------------------


def test_a_new_clinic_gets_the_starter_catalogue_and_loading_again_changes_nothing(clinic_a, in_tenant):
    with in_tenant(clinic_a):
        assert LabTest.objects.count() >= 20
        codes = {p.code for p in catalogue.panels()}
        assert {"CBC", "BMP", "CMP", "LIPID", "THYROID"} <= codes
        k = lf.lab_test("K")
        assert (k.unit, k.decimals, k.loinc) == ("mmol/L", 1, "2823-3") and k.price > 0
        assert (k.ranges[0].critical_low, k.ranges[0].critical_high) == (2.5, 6.5)
        hgb = lf.lab_test("HGB")
        assert {r.sex for r in hgb.ranges if r.age_min == 18} == {"male", "female"}
        assert hgb.starter_additions == ["paediatric-1"]  # a new clinic's tests have every addition already
        k.price = 999
        k.save()
        assert catalogue.load_starter() == (0, 0, 0)
        assert lf.lab_test("K").price == 999  # the clinic's own edit is kept
        LabTest.objects(code="TSH").delete()
        assert catalogue.load_starter() == (1, 0, 0)


def test_purging_a_clinic_removes_its_lab_documents(clinic_a, in_tenant, doctor, maria):
    from clinic_app.models import LabPanel
    from clinic_app.services.onboarding import purge_tenant

    with in_tenant(clinic_a):
        lf.resulted(maria, doctor, {"K": "4.0"})
    purge_tenant(clinic_a)
    for model in (LabTest, LabPanel, LabOrder, LabResult):
        assert model.all_tenants().filter(tenant_id=clinic_a.pk).count() == 0


def test_onboarding_failure_after_the_catalogue_leaves_nothing(app, monkeypatch):
    from clinic_app.services import onboarding

    def boom(*a, **kw):
        raise RuntimeError("disk full")

    with app.app_context():
        original = onboarding.load_lab_catalogue

        def load_then_fail(actor=None):
            original(actor=actor)
            boom()

        monkeypatch.setattr(onboarding, "load_lab_catalogue", load_then_fail)
        with pytest.raises(RuntimeError):
            onboarding.provision_clinic(name="X", subdomain="xclinic", admin_name="A", admin_email="a@x.test",
                                        password="correct horse battery staple")
        assert LabTest.all_tenants().count() == 0


# -- ordering ------------------------------------------------------------------------------


def test_doctor_orders_a_panel_from_a_visit_with_prices_copied(client, clinic_a, in_tenant, doctor, maria):
    with in_tenant(clinic_a):
        v = lf.visit(maria, doctor)
        panel = lf.panel_by_code("BMP")
        extra = lf.lab_test("TSH")
    login(client, clinic_a, doctor.email)
    page = client.get(f"/lab/orders/new?visit_id={v.pk}", tenant=clinic_a)
    assert page.status_code == 200 and b"Basic metabolic panel" in page.data
    response = client.post("/lab/orders/new", data={"visit_id": str(v.pk), "panels": [str(panel.pk)],
                                                     "tests": [str(extra.pk)], "priority": "urgent",
                                                     "note": "tired, on diuretics"}, tenant=clinic_a)
    assert response.status_code == 303
    with in_tenant(clinic_a):
        order = LabOrder.objects.get()
        assert response.headers["Location"] == f"/lab/orders/{order.pk}"
        assert order.visit.pk == v.pk and order.patient.pk == maria.pk and order.ordered_by.pk == doctor.pk
        assert order.status == "ordered" and order.priority == "urgent" and order.number == "L000001"
        assert [i.code for i in order.items] == ["GLU", "BUN", "CREA", "NA", "K", "CL", "CO2", "CA", "TSH"]
        assert all(i.price == lf.lab_test(i.code).price for i in order.items)
        assert order.items[0].panel == "BMP" and order.items[-1].panel is None
        event = AuditEvent.objects.get(action="lab_order.create")
        assert event.target_id == order.pk and event.changes["total_price"] == order.total_price
    assert b"L000001" in client.get(f"/lab/visits/{v.pk}", headers={"HX-Request": "true"}, tenant=clinic_a).data


def test_order_needs_a_test_and_refuses_an_archived_patient(client, clinic_a, in_tenant, doctor, maria):
    login(client, clinic_a, doctor.email)
    empty = client.post("/lab/orders/new", data={"patient_id": str(maria.pk)}, tenant=clinic_a)
    assert empty.status_code == 422 and b"Pick at least one test" in empty.data
    with in_tenant(clinic_a):
        from clinic_app.services import patients as patient_svc

        patient_svc.set_active(maria, False)
    archived = client.post("/lab/orders/new", data={"patient_id": str(maria.pk),
                                                    "tests": _ids(in_tenant, clinic_a, "K")}, tenant=clinic_a)
    assert archived.status_code == 422 and b"archived" in archived.data
    with in_tenant(clinic_a):
        assert LabOrder.objects.count() == 0


def test_a_visit_of_another_patient_is_404(client, clinic_a, in_tenant, doctor, maria):
    with in_tenant(clinic_a):
        other = lf.patient("Ines", "Other")
        v = lf.visit(other, doctor)
    login(client, clinic_a, doctor.email)
    r = client.post("/lab/orders/new", data={"visit_id": str(v.pk), "patient_id": str(maria.pk),
                                             "tests": _ids(in_tenant, clinic_a, "K")}, tenant=clinic_a)
    assert r.status_code == 404


# -- specimen, results, flags ------------------------------------------------------------------


def test_nurse_collects_then_enters_results_and_the_server_flags_them(client, clinic_a, in_tenant, doctor, nurse,
                                                                       maria):
    with in_tenant(clinic_a):
        order = lf.order(maria, doctor, codes=("K", "NA", "GLU", "UNIT"))
        k, na, glu, unit = (str(lf.lab_test(c).pk) for c in ("K", "NA", "GLU", "UNIT"))
    login(client, clinic_a, nurse.email)
    early = client.post(f"/lab/orders/{order.pk}/results", data={f"r-{k}": "4.0"}, tenant=clinic_a)
    assert early.status_code == 409 and b"specimen collection" in early.data
    assert client.post(f"/lab/orders/{order.pk}/collect", data={"label": "BC-778"}, tenant=clinic_a).status_code == 303
    again = client.post(f"/lab/orders/{order.pk}/collect", data={"label": "BC-779"}, tenant=clinic_a)
    assert again.status_code == 409
    form = client.get(f"/lab/orders/{order.pk}/results", tenant=clinic_a)
    assert b"3.5\xe2\x80\x935.1 mmol/L" in form.data  # the range for this patient, shown before saving
    bad = client.post(f"/lab/orders/{order.pk}/results", data={f"r-{k}": "4.05", f"r-{na}": "abc"}, tenant=clinic_a)
    assert bad.status_code == 422 and b"at most 1 decimal" in bad.data and b"Enter a number" in bad.data
    # A client-sent flag is ignored: the server computes it.
    saved = client.post(f"/lab/orders/{order.pk}/results", data={f"r-{k}": "6.8", f"r-{na}": "146", f"r-{glu}": "0",
                                                                  "flag": "N"}, tenant=clinic_a)
    assert saved.status_code == 303
    with in_tenant(clinic_a):
        by_code = {r.code: r for r in LabResult.objects(order=order)}
        assert (by_code["K"].flag, by_code["NA"].flag, by_code["GLU"].flag) == ("HH", "H", "LL")
        assert by_code["K"].needs_ack and not by_code["NA"].needs_ack
        assert by_code["K"].range.critical_high == 6.5 and by_code["K"].range_text.startswith("3.5–5.1")
        assert by_code["GLU"].value_num == 0.0
        assert LabOrder.objects.get(pk=order.pk).status == "collected"  # urine nitrite still pending
        assert AuditEvent.objects(action="lab_order.collect").count() == 1
    assert client.post(f"/lab/orders/{order.pk}/results", data={f"r-{unit}": "Positive"},
                       tenant=clinic_a).status_code == 303
    with in_tenant(clinic_a):
        o = LabOrder.objects.get(pk=order.pk)
        assert o.status == "resulted" and o.critical_count == 2 and o.abnormal_count == 4
        assert LabResult.objects.get(order=order, code="UNIT").flag == "A"
        assert o.specimen.label == "BC-778" and o.specimen.collected_by == "Nina Nurse"
    page = client.get(f"/lab/orders/{order.pk}", tenant=clinic_a)
    assert b'data-flag="HH"' in page.data and b"critical-row" in page.data


def test_range_is_chosen_from_sex_and_age_at_collection(clinic_a, in_tenant, doctor, frozen_clock):
    with in_tenant(clinic_a):
        hgb = lf.lab_test("HGB")
        hgb.ranges.append(type(hgb.ranges[0])(sex="any", age_min=1, age_max=17, low=11.0, high=15.5))
        hgb.save()
        # Born 2 March 2008: 18 on the clock's day (2 March 2026) in UTC.
        man = lf.patient("Tom", "Adult", sex="male", born=date(2008, 3, 2))
        boy = lf.patient("Tim", "Child", sex="male", born=date(2008, 3, 3))
        adult = lf.resulted(man, doctor, {"HGB": "13.0"})
        child = lf.resulted(boy, doctor, {"HGB": "13.0"})
        assert LabResult.objects.get(order=adult).flag == "L"     # male adult range 13.8–17.2
        assert LabResult.objects.get(order=child).flag == "N"     # child range 11–15.5, the day before he turns 18
        assert LabResult.objects.get(order=child).range.age_max == 17


def test_no_date_of_birth_means_no_adult_range_and_no_flag(clinic_a, in_tenant, doctor):
    with in_tenant(clinic_a):
        p = lf.patient("Nobirth", "Date", born=None)
        o = lf.resulted(p, doctor, {"K": "9.9"})
        r = LabResult.objects.get(order=o)
        assert r.flag is None and r.range is None and not r.needs_ack


# -- dashboard, acknowledgement, review ---------------------------------------------------------


def test_critical_result_reaches_the_ordering_doctors_dashboard_and_leaves_when_acknowledged(
        app, client, clinic_a, in_tenant, doctor, nurse, maria):
    with in_tenant(clinic_a):
        other_doctor = make_user("Doctor", email="doc2@clinica.test", name="Dr Other")
        o = lf.resulted(maria, doctor, {"K": "6.9", "NA": "140"}, nurse=nurse)
        critical = LabResult.objects.get(order=o, code="K")
    login(client, clinic_a, doctor.email)
    home = client.get("/", tenant=clinic_a).get_data(as_text=True)
    assert 'id="lab-critical"' in home and f'data-result="{critical.pk}"' in home
    assert 'id="lab-unreviewed"' in home and f'data-order="{o.pk}"' in home
    other = signed_in_client(app, clinic_a, other_doctor.email)
    assert 'id="lab-critical"' not in other.get("/", tenant=clinic_a).get_data(as_text=True)
    # The nurse may update results but is not a reviewer: acknowledging is refused.
    nurse_client = signed_in_client(app, clinic_a, nurse.email)
    assert nurse_client.post(f"/lab/results/{critical.pk}/acknowledge", tenant=clinic_a).status_code == 403
    r = client.post(f"/lab/results/{critical.pk}/acknowledge", data={"next": "/"}, tenant=clinic_a)
    assert r.status_code == 303 and r.headers["Location"] == "/"
    home = client.get("/", tenant=clinic_a).get_data(as_text=True)
    assert 'id="lab-critical"' not in home and 'id="lab-unreviewed"' in home
    with in_tenant(clinic_a):
        assert LabResult.objects.get(pk=critical.pk).acknowledged_by == "Dr Omar"
        assert AuditEvent.objects(action="lab_result.acknowledge").count() == 1


def test_review_by_a_doctor_clears_unreviewed_and_acknowledges_criticals(app, client, clinic_a, in_tenant, doctor,
                                                                        nurse, maria):
    with in_tenant(clinic_a):
        o = lf.resulted(maria, doctor, {"K": "2.0"}, nurse=nurse)
    nurse_client = signed_in_client(app, clinic_a, nurse.email)
    assert nurse_client.post(f"/lab/orders/{o.pk}/review", tenant=clinic_a).status_code == 403
    login(client, clinic_a, doctor.email)
    r = client.post(f"/lab/orders/{o.pk}/review", data={"comment": "repeat tomorrow"}, tenant=clinic_a)
    assert r.status_code == 303
    again = client.post(f"/lab/orders/{o.pk}/review", tenant=clinic_a)
    assert again.status_code == 409 and b"already reviewed" in again.data
    with in_tenant(clinic_a):
        o.reload()
        assert o.status == "reviewed" and o.reviewed_by == "Dr Omar" and o.review_comment == "repeat tomorrow"
        assert not LabResult.objects.get(order=o).needs_ack
        assert AuditEvent.objects.get(action="lab_order.review").changes["acknowledged"] == 1
    home = client.get("/", tenant=clinic_a).get_data(as_text=True)
    assert 'id="lab-unreviewed"' not in home and 'id="lab-critical"' not in home


def test_review_needs_all_results(client, clinic_a, in_tenant, doctor, maria):
    with in_tenant(clinic_a):
        o = lf.collected(maria, doctor, codes=("K", "NA"))
        results.enter(o, {str(lf.lab_test("K").pk): "4.1"}, doctor)
    login(client, clinic_a, doctor.email)
    assert client.post(f"/lab/orders/{o.pk}/review", tenant=clinic_a).status_code == 409


# -- amendments -------------------------------------------------------------------------------------


def test_amendment_after_review_keeps_the_original_and_reopens_review(client, clinic_a, in_tenant, doctor, maria):
    with in_tenant(clinic_a):
        o = lf.resulted(maria, doctor, {"K": "4.2"})
        results.review(o, doctor)
        result = LabResult.objects.get(order=o)
    login(client, clinic_a, doctor.email)
    no_reason = client.post(f"/lab/results/{result.pk}/amend", data={"value": "7.1"}, tenant=clinic_a)
    assert no_reason.status_code == 422 and b"reason" in no_reason.data
    same = client.post(f"/lab/results/{result.pk}/amend", data={"value": "4.2", "reason": "x"}, tenant=clinic_a)
    assert same.status_code == 422 and b"unchanged" in same.data
    r = client.post(f"/lab/results/{result.pk}/amend", data={"value": "7.1", "reason": "transcription error"},
                    tenant=clinic_a)
    assert r.status_code == 303
    with in_tenant(clinic_a):
        result.reload()
        assert result.value_num == 7.1 and result.flag == "HH" and result.needs_ack
        (a,) = result.amendments
        assert a.reason == "transcription error" and a.by == "Dr Omar"
        assert a.changes == {"value": {"old": 4.2, "new": 7.1}, "flag": {"old": "N", "new": "HH"}}
        o.reload()
        assert o.status == "resulted" and o.reviewed_at is None and o.critical_count == 1
        event = AuditEvent.objects.get(action="lab_result.amend")
        assert event.changes["review_reopened"] is True and event.changes["value"] == {"old": 4.2, "new": 7.1}
    page = client.get(f"/lab/results/{result.pk}", tenant=clinic_a).get_data(as_text=True)
    assert "transcription error" in page and '<del class="old">4.2</del>' in page


# -- cancelling, outstanding list ---------------------------------------------------------------------


def test_cancel_needs_a_reason_and_only_waiting_orders(client, clinic_a, in_tenant, doctor, maria):
    with in_tenant(clinic_a):
        waiting = lf.order(maria, doctor)
        done = lf.resulted(maria, doctor, {"K": "4.0"})
    login(client, clinic_a, doctor.email)
    assert client.post(f"/lab/orders/{waiting.pk}/cancel", data={"reason": ""}, tenant=clinic_a).status_code == 422
    assert client.post(f"/lab/orders/{waiting.pk}/cancel", data={"reason": "duplicate"},
                       tenant=clinic_a).status_code == 303
    assert client.post(f"/lab/orders/{done.pk}/cancel", data={"reason": "late"}, tenant=clinic_a).status_code == 409
    with in_tenant(clinic_a):
        waiting.reload()
        assert waiting.status == "cancelled" and waiting.cancel_reason == "duplicate"
        assert LabOrder.objects.get(pk=done.pk).status == "resulted"


def test_outstanding_list_holds_only_this_clinics_waiting_orders(client, clinic_a, clinic_b, in_tenant, doctor,
                                                                  maria):
    with in_tenant(clinic_a):
        ordered = lf.order(maria, doctor)
        collected = lf.collected(maria, doctor)
        resulted = lf.resulted(maria, doctor, {"K": "4.0"})
        reviewed = lf.resulted(maria, doctor, {"NA": "140"})
        results.review(reviewed, doctor)
        cancelled = orders.cancel(lf.order(maria, doctor), doctor, "dup")
    with in_tenant(clinic_b):
        b_doctor = make_user("Doctor", email="docb@clinicb.test")
        b_order = lf.order(lf.patient("Bea", "Bclinic"), b_doctor)
    login(client, clinic_a, doctor.email)
    html = client.get("/lab/", tenant=clinic_a).get_data(as_text=True)
    assert f'data-order="{ordered.pk}"' in html and f'data-order="{collected.pk}"' in html
    for other in (resulted, reviewed, cancelled, b_order):
        assert f'data-order="{other.pk}"' not in html
    assert "Bclinic" not in html
    only_collected = client.get("/lab/?status=collected", tenant=clinic_a).get_data(as_text=True)
    assert f'data-order="{collected.pk}"' in only_collected and f'data-order="{ordered.pk}"' not in only_collected
    with in_tenant(clinic_a):
        assert {o.pk for o in orders.outstanding(patient=maria)} == {ordered.pk, collected.pk}


def test_timeline_shows_orders_and_results_only_to_roles_that_read_lab_results(app, client, clinic_a, in_tenant,
                                                                               doctor, maria):
    with in_tenant(clinic_a):
        o = lf.resulted(maria, doctor, {"K": "6.0"})
        make_user("Receptionist", email="desk@clinica.test")
    login(client, clinic_a, doctor.email)
    html = client.get(f"/patients/{maria.pk}/timeline", headers={"HX-Request": "true"}, tenant=clinic_a).get_data(
        as_text=True)
    assert 'data-kind="lab_order"' in html and 'data-kind="lab_result"' in html and o.number in html
    desk = signed_in_client(app, clinic_a, "desk@clinica.test")
    html = desk.get(f"/patients/{maria.pk}/timeline", headers={"HX-Request": "true"}, tenant=clinic_a).get_data(
        as_text=True)
    assert "lab_" not in html


def test_report_and_patient_lab_section_show_ranges_flags_and_trend(client, clinic_a, in_tenant, doctor, maria,
                                                                    frozen_clock):
    with in_tenant(clinic_a):
        for value in ("4.0", "4.6", "5.3", "5.9", "6.7"):
            o = lf.resulted(maria, doctor, {"K": value})
            frozen_clock.advance(days=7)
        last = LabResult.objects(order=o).get()
    login(client, clinic_a, doctor.email)
    report = client.get(f"/lab/orders/{o.pk}/report", tenant=clinic_a).get_data(as_text=True)
    assert "Clinic A" in report and "Maria Lopez" in report and "3.5–5.1 mmol/L" in report and 'data-flag="HH"' in report
    section = client.get(f"/lab/patients/{maria.pk}", headers={"HX-Request": "true"}, tenant=clinic_a)
    text = section.get_data(as_text=True)
    assert section.status_code == 200 and "<html" not in text and "<svg" in text and 'data-points="5"' in text
    assert "trend-band" in text and "<title" in text and "<table" in text
    page = client.get(f"/lab/results/{last.pk}", tenant=clinic_a).get_data(as_text=True)
    assert 'id="result-trend"' in page and "<svg" in page


def test_two_simultaneous_result_entries_store_one_result_per_test(app, clinic_a, in_tenant, doctor, nurse, maria):
    import threading

    with in_tenant(clinic_a):
        o = lf.collected(maria, doctor, codes=("K",))
        k = str(lf.lab_test("K").pk)
    barrier, outcomes = threading.Barrier(3), []

    def enter(value):
        with in_tenant(clinic_a):
            fresh = LabOrder.objects.get(pk=o.pk)
            barrier.wait()
            try:
                results.enter(fresh, {k: value}, nurse)
                outcomes.append("saved")
            except orders.Conflict:
                outcomes.append("conflict")

    threads = [threading.Thread(target=enter, args=(v,)) for v in ("4.1", "4.2", "4.3")]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(outcomes) == ["conflict", "conflict", "saved"]
    with in_tenant(clinic_a):
        assert LabResult.objects(order=o).count() == 1
        assert LabOrder.objects.get(pk=o.pk).status == "resulted"


def test_demo_clinic_gets_orders_in_every_state_a_critical_result_and_a_trend(app, in_tenant, monkeypatch):
    from collections import Counter

    from clinic_app.services import demo, demo_labs

    monkeypatch.setattr(demo, "AREA_SEEDS", [*demo.AREA_SEEDS, demo_labs.seed])
    with app.app_context():
        tenant, _ = demo.seed_demo()
    with in_tenant(tenant):
        statuses = Counter(o.status for o in LabOrder.objects)
        assert set(statuses) == {"ordered", "collected", "resulted", "reviewed", "cancelled"}
        critical = LabResult.objects(needs_ack=True)
        assert critical.count() >= 1 and all(r.critical for r in critical)
        trend = Counter((r.patient.pk, r.code) for r in LabResult.objects(result_type="numeric"))
        assert max(trend.values()) >= 5
        numbers = sorted(o.number for o in LabOrder.objects)
        assert numbers[0] == "L000001" and len(set(numbers)) == len(numbers)
        # The counter continues after the demo's orders.
        assert lf.order(lf.patient("New", "Patient"), User.objects.get(email="doctor@demo.clinic")).number == \
            f"L{len(numbers) + 1:06d}"
