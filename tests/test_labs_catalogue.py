"""The lab catalogue pages: tests with reference ranges, panels, the starter data file and its CLI."""
import json

from clinic_app.models import AuditEvent, LabPanel, LabTest
from clinic_app.services.labs.catalogue import STARTER, starter_data

from . import lab_factories as lf

NEW_TEST = {"code": "vitd", "name": "Vitamin D, 25-hydroxy", "loinc": "1989-3", "specimen": "serum",
            "result_type": "numeric", "unit": "ng/mL", "decimals": "0", "price": "35.50", "active": "y",
            "ranges-0-sex": "any", "ranges-0-age_unit": "years", "ranges-0-age_min": "18",
            "ranges-0-low": "20", "ranges-0-high": "50", "ranges-0-critical_low": "", "ranges-0-critical_high": "150",
            "ranges-1-sex": "any", "ranges-1-age_unit": "years"}


def test_starter_file_states_its_source_and_has_enough_tests_and_panels():
    data = json.loads(STARTER.read_text(encoding="utf-8"))
    about = " ".join(data["_about"])
    assert "MedlinePlus" in about and "MUST check" in about
    assert len(data["tests"]) >= 20 and len(data["panels"]) >= 3
    codes = {t["code"] for t in data["tests"]}
    assert all(set(p["tests"]) <= codes for p in data["panels"])
    assert all(isinstance(t["price"], int) for t in data["tests"])
    by_code = {t["code"]: t for t in data["tests"]}
    for code in ("K", "NA", "GLU", "HGB", "PLT"):
        assert any("critical_low" in r or "critical_high" in r for r in by_code[code]["ranges"]), code
    for code in ("HGB", "CREA"):
        adult = [r for r in by_code[code]["ranges"] if r.get("age_min") == 18]
        assert {r["sex"] for r in adult} == {"male", "female"}, code
    assert starter_data() == data


def test_doctor_adds_a_test_with_ranges_and_edits_them(client, clinic_a, in_tenant, login_as):
    login_as(clinic_a, "Doctor")
    form = client.get("/lab/tests/new", tenant=clinic_a)
    assert form.status_code == 200 and b"ranges-2-low" in form.data  # blank rows to add ranges
    assert client.post("/lab/tests/new", data=NEW_TEST, tenant=clinic_a).status_code == 303
    with in_tenant(clinic_a):
        t = LabTest.objects.get(code="VITD")
        assert t.price == 3550 and t.loinc == "1989-3" and len(t.ranges) == 1  # the blank row is dropped
        r = t.ranges[0]
        assert (r.low, r.high, r.critical_low, r.critical_high, r.age_min, r.age_max) == (20, 50, None, 150, 18, None)
        assert AuditEvent.objects(action="lab_test.create", target_id=t.pk).count() == 1
    edit = client.get(f"/lab/tests/{t.pk}/edit", tenant=clinic_a)
    assert b'value="20"' in edit.data and b'value="35.50"' in edit.data
    changed = {**NEW_TEST, "ranges-0-low": "0", "ranges-1-sex": "female", "ranges-1-low": "25",
               "ranges-1-high": "60", "ranges-1-age_min": "18"}
    assert client.post(f"/lab/tests/{t.pk}/edit", data=changed, tenant=clinic_a).status_code == 303
    with in_tenant(clinic_a):
        t.reload()
        assert [r.low for r in t.ranges] == [0.0, 25.0] and t.ranges[1].sex == "female"
        assert AuditEvent.objects.get(action="lab_test.update").changes["fields"] == ["ranges"]


def test_test_form_refuses_crossed_limits_duplicate_codes_and_bad_choices(client, clinic_a, in_tenant, login_as):
    login_as(clinic_a, "Doctor")
    crossed = client.post("/lab/tests/new", data={**NEW_TEST, "ranges-0-critical_low": "30"}, tenant=clinic_a)
    assert crossed.status_code == 422 and b"Must not be below critical low (30)." in crossed.data
    dup = client.post("/lab/tests/new", data={**NEW_TEST, "code": "k"}, tenant=clinic_a)
    assert dup.status_code == 422 and b"Another test already has this code" in dup.data
    choice = client.post("/lab/tests/new", data={**NEW_TEST, "result_type": "choice", "choices": "Neg, Pos",
                                                  "normal_choices": "Negative"}, tenant=clinic_a)
    assert choice.status_code == 422 and b"Not among the choices" in choice.data
    junk = client.post("/lab/tests/new", data={**NEW_TEST, "ranges-0-high": "fifty", "price": "1.234"},
                       tenant=clinic_a)
    assert junk.status_code == 422 and b"Enter a number" in junk.data and b"decimal" in junk.data
    with in_tenant(clinic_a):
        assert not LabTest.objects(code="VITD").first()


def test_panels_are_edited_and_new_orders_use_them(client, clinic_a, in_tenant, login_as):
    login_as(clinic_a, "Admin")
    with in_tenant(clinic_a):
        k, na = lf.lab_test("K"), lf.lab_test("NA")
    assert client.post("/lab/panels/new", data={"code": "lytes", "name": "Electrolytes",
                                                "tests": [str(k.pk), str(na.pk)], "active": "y"},
                       tenant=clinic_a).status_code == 303
    with in_tenant(clinic_a):
        panel = LabPanel.objects.get(code="LYTES")
        assert panel.test_ids == [k.pk, na.pk]
    page = client.get("/lab/panels", tenant=clinic_a)
    assert b"Electrolytes" in page.data and b"Potassium, Sodium" in page.data
    assert client.post(f"/lab/panels/{panel.pk}/edit", data={"code": "LYTES", "name": "Electrolytes",
                                                             "tests": [str(na.pk)]}, tenant=clinic_a).status_code == 303
    with in_tenant(clinic_a):
        panel.reload()
        assert panel.test_ids == [na.pk] and panel.active is False  # unticked: no longer offered


def test_catalogue_list_shows_ranges_and_prices(client, clinic_a, login_as):
    login_as(clinic_a, "Nurse")
    page = client.get("/lab/tests", tenant=clinic_a).get_data(as_text=True)
    assert "3.5–5.1 mmol/L (critical &lt;2.5 or &gt;6.5)" in page and "$6.00" in page
    assert 'id="new-test"' not in page and "/edit" not in page  # a nurse reads only


def test_cli_loads_the_catalogue_into_an_existing_clinic_idempotently(app, clinic_a, in_tenant):
    with in_tenant(clinic_a):
        LabTest.objects(code__in=["K", "NA"]).delete()
        LabPanel.objects(code="LIPID").delete()
    runner = app.test_cli_runner()
    first = runner.invoke(args=["load-lab-catalogue", "clinica"])
    assert first.exit_code == 0 and "clinica: 2 tests, 1 panels and 0 reference ranges added" in first.output
    again = runner.invoke(args=["load-lab-catalogue"])
    assert again.exit_code == 0 and "clinica: 0 tests, 0 panels and 0 reference ranges added" in again.output
    missing = runner.invoke(args=["load-lab-catalogue", "nosuch"])
    assert missing.exit_code != 0
    with in_tenant(clinic_a):
        assert LabTest.objects(code="K").count() == 1
