"""Bad input on every lab form: wrong types, huge or negative numbers, NaN/infinity, junk ids, JSON bodies.

Each answers a clear 4xx with the message beside the field (or at the top for the whole form), never a 500,
and stores nothing.
"""
import pytest

from clinic_app.models import LabOrder, LabPanel, LabResult, LabTest

from . import lab_factories as lf
from .support import login, make_user
from .test_labs_catalogue import NEW_TEST


@pytest.fixture
def lab(clinic_a, in_tenant, client):
    with in_tenant(clinic_a):
        doctor = make_user("Doctor", email="doc@clinica.test", name="Dr Omar")
        patient = lf.patient()
        collected = lf.collected(patient, doctor, codes=("K", "UNIT", "UMICRO"))
        resulted = lf.resulted(patient, doctor, {"K": "4.2"})
        ids = {c: str(lf.lab_test(c).pk) for c in ("K", "NA", "UNIT", "UMICRO", "HGB")}
    login(client, clinic_a, doctor.email)
    return {"doctor": doctor, "patient": patient, "collected": collected, "resulted": resulted, "ids": ids}


def _post(client, clinic, url, data=None, **kw):
    response = client.post(url, data=data, tenant=clinic, **kw)
    assert response.status_code < 500, (url, response.status_code, response.get_data(as_text=True)[:400])
    return response


@pytest.mark.parametrize("value, message", [
    ("1e400", "too large"), ("-1e13", "too large"), ("99999999999999999999", "too large"), ("nan", "Enter a number"),
    ("Infinity", "Enter a number"), ("4.25", "decimal place"), ("4,2,1", "Enter a number"), ("<script>", "Enter a number"),
])
def test_results_form_refuses_unreadable_numbers_beside_the_test(client, clinic_a, in_tenant, lab, value, message):
    order, k = lab["collected"], lab["ids"]["K"]
    r = _post(client, clinic_a, f"/lab/orders/{order.pk}/results", {f"r-{k}": value})
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert f'id="r-{k}-error"' in html and message in html and "nothing was saved" in html
    with in_tenant(clinic_a):
        assert LabResult.objects(order=order).count() == 0


def test_results_form_refuses_a_choice_off_the_list_and_an_overlong_text(client, clinic_a, in_tenant, lab):
    order, ids = lab["collected"], lab["ids"]
    r = _post(client, clinic_a, f"/lab/orders/{order.pk}/results",
              {f"r-{ids['UNIT']}": "Purple", f"r-{ids['UMICRO']}": "x" * 2001})
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "Choose one of: Negative, Positive" in html and "At most 2000 characters" in html
    with in_tenant(clinic_a):
        assert LabResult.objects(order=order).count() == 0


def test_results_form_names_a_test_someone_resulted_meanwhile_and_saves_nothing(client, clinic_a, in_tenant, lab):
    """Two desks with the same form open: the second gets 409 and a message beside the test, not silence."""
    order, ids = lab["collected"], lab["ids"]
    first = _post(client, clinic_a, f"/lab/orders/{order.pk}/results", {f"r-{ids['K']}": "4.0"})
    assert first.status_code == 303
    second = _post(client, clinic_a, f"/lab/orders/{order.pk}/results",
                   {f"r-{ids['K']}": "4.4", f"r-{ids['UNIT']}": "Negative"})
    html = second.get_data(as_text=True)
    assert second.status_code == 409 and f'id="r-{ids["K"]}-error"' in html
    assert "Potassium already has a result (4.0 mmol/L, entered by Dr Omar)" in html
    with in_tenant(clinic_a):
        assert LabResult.objects(order=order).count() == 1  # UNIT was not saved either
        assert LabResult.objects.get(order=order, code="K").value_num == 4.0


@pytest.mark.parametrize("value, reason, message", [
    ("1e400", "recount", "too large"), ("NaN", "recount", "Enter a number"), ("", "recount", "Enter the corrected"),
    ("5.0", "", "Give the reason"), ("5.0", "r" * 501, "500 characters"),
])
def test_amend_form_refuses_bad_values_and_reasons(client, clinic_a, in_tenant, lab, value, reason, message):
    with in_tenant(clinic_a):
        result = LabResult.objects.get(order=lab["resulted"])
    r = _post(client, clinic_a, f"/lab/results/{result.pk}/amend", {"value": value, "reason": reason})
    assert r.status_code == 422 and message in r.get_data(as_text=True)
    with in_tenant(clinic_a):
        result.reload()
        assert result.value_num == 4.2 and not result.amendments


@pytest.mark.parametrize("path, data, message", [
    ("collect", {"label": "x" * 61}, "Check the specimen details"),
    ("collect", {"note": "n" * 501}, "Check the specimen details"),
    ("cancel", {"reason": ""}, "Give the reason"),
    ("cancel", {"reason": "r" * 501}, "Give the reason"),
])
def test_specimen_and_cancel_forms_refuse_overlong_or_missing_text(client, clinic_a, in_tenant, lab, path, data,
                                                                    message):
    with in_tenant(clinic_a):
        order = lf.order(lab["patient"], lab["doctor"])
    r = _post(client, clinic_a, f"/lab/orders/{order.pk}/{path}", data)
    assert r.status_code == 422 and message in r.get_data(as_text=True)
    with in_tenant(clinic_a):
        assert LabOrder.objects.get(pk=order.pk).status == "ordered"


def test_review_form_refuses_an_overlong_comment(client, clinic_a, in_tenant, lab):
    r = _post(client, clinic_a, f"/lab/orders/{lab['resulted'].pk}/review", {"comment": "c" * 1001})
    assert r.status_code == 422
    with in_tenant(clinic_a):
        assert LabOrder.objects.get(pk=lab["resulted"].pk).status == "resulted"


@pytest.mark.parametrize("data, status", [
    ({"tests": ["not-an-id", '{"$ne": null}']}, 422),  # junk ids are dropped: nothing left to order
    ({"panels": ["zz" * 12]}, 422),
    ({"tests": ["K"], "priority": "stat"}, 422),
    ({"tests": ["K"], "note": "n" * 1001}, 422),
])
def test_order_form_refuses_junk_ids_unknown_priority_and_long_notes(client, clinic_a, in_tenant, lab, data, status):
    data = {"patient_id": str(lab["patient"].pk), **data}
    data["tests"] = [lab["ids"].get(t, t) for t in data.get("tests", [])]
    with in_tenant(clinic_a):
        before = LabOrder.objects.count()
    r = _post(client, clinic_a, "/lab/orders/new", data)
    assert r.status_code == status
    with in_tenant(clinic_a):
        assert LabOrder.objects.count() == before


@pytest.mark.parametrize("query", ["patient_id=abc", "patient_id=%7B%22%24ne%22%3A1%7D", "visit_id=abc", ""])
def test_order_form_for_an_unknown_or_missing_patient_is_a_clear_4xx(client, clinic_a, lab, query):
    r = client.get(f"/lab/orders/new?{query}", tenant=clinic_a)
    assert r.status_code in (400, 404)


def test_a_json_body_to_a_lab_form_is_refused_with_415(client, clinic_a, in_tenant, lab):
    k = lab["ids"]["K"]
    r = _post(client, clinic_a, f"/lab/orders/{lab['collected'].pk}/results", json={f"r-{k}": "4.0"})
    assert r.status_code == 415
    order = _post(client, clinic_a, "/lab/orders/new", json={"patient_id": str(lab["patient"].pk), "tests": [k]})
    assert order.status_code == 415
    empty = _post(client, clinic_a, f"/lab/orders/{lab['collected'].pk}/results", {})
    assert empty.status_code == 422 and "Enter at least one result" in empty.get_data(as_text=True)
    with in_tenant(clinic_a):
        assert LabResult.objects(order=lab["collected"]).count() == 0


@pytest.mark.parametrize("fields, message", [
    ({"ranges-0-low": "nan"}, "Enter a number"),
    ({"ranges-0-high": "inf"}, "Enter a number"),
    ({"ranges-0-critical_high": "1e400"}, "too large"),
    ({"ranges-0-age_min": "-1"}, "at least 0"),
    ({"ranges-0-age_min": "99999999999999999999999"}, "At most 150 years"),
    ({"ranges-0-age_unit": "days", "ranges-0-age_max": "60000"}, "At most 54900 days"),
    ({"ranges-0-age_min": "30", "ranges-0-age_max": "20"}, "Must not be below the age it starts from"),
    ({"ranges-0-age_min": "ten"}, "Not a valid integer"),
    ({"ranges-0-high": "10"}, "Must not be below low (20)"),
    ({"ranges-0-sex": "other"}, "Not a valid choice"),
    ({"decimals": "99"}, "between 0 and 4"),
    ({"price": "1e20"}, "too large"),
    ({"price": "-5"}, "cannot be negative"),
    ({"result_type": "choice", "choices": ""}, "needs its choices"),
    ({"result_type": "choice", "choices": ", ".join(f"c{i}" for i in range(21))}, "At most 20 choices"),
    ({"code": "x" * 31}, "30 characters"),
])
def test_test_form_refuses_bad_limits_ages_and_fields_beside_the_field(client, clinic_a, in_tenant, login_as, fields,
                                                                        message):
    login_as(clinic_a, "Doctor")
    r = _post(client, clinic_a, "/lab/tests/new", {**NEW_TEST, **fields})
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and message in html, html[html.find('class="error'):][:300]
    assert "ValidationError" not in html and "{" not in html[html.find("<main"):html.find("</main>")].replace("{{", "")
    with in_tenant(clinic_a):
        assert not LabTest.objects(code="VITD").first()


def test_panel_form_refuses_junk_test_ids_and_long_codes(client, clinic_a, in_tenant, login_as):
    login_as(clinic_a, "Doctor")
    junk = _post(client, clinic_a, "/lab/panels/new", {"code": "junk", "name": "Junk", "tests": ["nope", "1" * 24]})
    assert junk.status_code == 422 and "at least one test" in junk.get_data(as_text=True)
    long = _post(client, clinic_a, "/lab/panels/new", {"code": "p" * 31, "name": "Long", "tests": ["nope"]})
    assert long.status_code == 422
    with in_tenant(clinic_a):
        assert not LabPanel.objects(code__in=["JUNK", "P" * 31]).first()
