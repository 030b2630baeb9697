"""Laboratory API: tests, orders (list/get/create, filters), results with server-computed flags."""
import pytest

from clinic_app.models import LabOrder, LabResult

from . import lab_factories as lf
from .support import api_auth, login, make_user


@pytest.fixture
def setup(clinic_a, in_tenant):
    with in_tenant(clinic_a):
        doctor = make_user("Doctor", email="doc@clinica.test", name="Dr Omar")
        p = lf.patient()
        return {"doctor": doctor, "patient": p, "k": str(lf.lab_test("K").pk), "na": str(lf.lab_test("NA").pk),
                "cbc": str(lf.panel_by_code("CBC").pk), "unit": str(lf.lab_test("UNIT").pk)}


def test_lab_tests_list_with_ranges_and_prices(client, clinic_a, in_tenant, setup):
    auth = api_auth(in_tenant, clinic_a, "Nurse")
    r = client.get("/api/v1/lab-tests?per_page=100", headers=auth, tenant=clinic_a).json
    assert r["success"] and len(r["data"]) >= 20 and r["meta"]["has_next"] is False
    k = next(t for t in r["data"] if t["code"] == "K")
    assert k["unit"] == "mmol/L" and k["ranges"][0]["critical_high"] == 6.5 and isinstance(k["price"], int)


def test_create_order_post_results_and_read_flags(client, clinic_a, in_tenant, setup):
    auth = api_auth(in_tenant, clinic_a, "Doctor")
    body = {"patient_id": str(setup["patient"].pk), "panel_ids": [setup["cbc"]], "test_ids": [setup["k"]],
            "priority": "urgent", "ordered_by_id": str(setup["doctor"].pk)}
    created = client.post("/api/v1/lab-orders", json=body, headers=auth, tenant=clinic_a)
    assert created.status_code == 201, created.json
    order = created.json["data"]
    assert order["status"] == "ordered" and [i["code"] for i in order["items"]][-1] == "K"
    assert order["total_price"] == sum(i["price"] for i in order["items"]) and order["ordered_by"] == "Dr Omar"
    early = client.post(f"/api/v1/lab-orders/{order['id']}/results", json={"results": [
        {"test_id": setup["k"], "value": 4}]}, headers=auth, tenant=clinic_a)
    assert early.status_code == 409
    with in_tenant(clinic_a):
        from clinic_app.services.labs import orders

        orders.collect(LabOrder.objects.get(pk=order["id"]), setup["doctor"])
    posted = client.post(f"/api/v1/lab-orders/{order['id']}/results", json={"results": [
        {"test_id": setup["k"], "value": 7}, {"test_id": [i for i in order["items"] if i["code"] == "HGB"][0]["test_id"],
                                              "value": "12.0"}]}, headers=auth, tenant=clinic_a)
    assert posted.status_code == 201, posted.json
    flags = {r["code"]: r["flag"] for r in posted.json["data"]["results"]}
    assert flags == {"K": "HH", "HGB": "L"}  # female adult Hgb 12.1–15.1
    assert all(r["id"] for r in posted.json["data"]["results"])
    got = client.get(f"/api/v1/lab-orders/{order['id']}", headers=auth, tenant=clinic_a).json["data"]
    assert got["critical_count"] == 1 and {r["code"] for r in got["results"]} == {"K", "HGB"}
    listed = client.get(f"/api/v1/lab-orders/{order['id']}/results", headers=auth, tenant=clinic_a).json["data"]
    assert len(listed) == 2
    filtered = client.get(f"/api/v1/lab-orders?patient_id={setup['patient'].pk}&status=collected", headers=auth,
                          tenant=clinic_a).json["data"]
    assert [o["id"] for o in filtered] == [order["id"]]
    assert client.get("/api/v1/lab-orders?status=resulted", headers=auth, tenant=clinic_a).json["data"] == []


def test_a_token_must_say_who_orders_and_a_session_user_orders_as_themselves(client, clinic_a, in_tenant, setup):
    auth = api_auth(in_tenant, clinic_a, "Doctor")
    body = {"patient_id": str(setup["patient"].pk), "test_ids": [setup["k"]]}
    r = client.post("/api/v1/lab-orders", json=body, headers=auth, tenant=clinic_a)
    assert r.status_code == 400 and "ordered_by_id" in r.json["error"]["fields"]
    login(client, clinic_a, setup["doctor"].email)
    r = client.post("/api/v1/lab-orders", json=body, tenant=clinic_a)
    assert r.status_code == 201 and r.json["data"]["ordered_by_id"] == str(setup["doctor"].pk)


@pytest.mark.parametrize("body, field", [
    ({"test_ids": []}, "body"),
    ({"test_ids": [{"$ne": None}]}, "test_ids.0"),
    ({"test_ids": "abc"}, "test_ids"),
    ({"priority": "stat"}, "priority"),
    ({"flag": "N"}, "flag"),
])
def test_order_bodies_are_strict(client, clinic_a, in_tenant, setup, body, field):
    auth = api_auth(in_tenant, clinic_a, "Doctor")
    full = {"patient_id": str(setup["patient"].pk), "ordered_by_id": str(setup["doctor"].pk), "test_ids": [setup["k"]],
            **body}
    r = client.post("/api/v1/lab-orders", json=full, headers=auth, tenant=clinic_a)
    assert r.status_code == 400 and r.json["success"] is False
    assert any(k.startswith(field) or k == "body" for k in r.json["error"]["fields"]), r.json
    with in_tenant(clinic_a):
        assert LabOrder.objects.count() == 0


def test_results_bodies_refuse_client_flags_unknown_tests_and_bad_values(client, clinic_a, in_tenant, setup):
    auth = api_auth(in_tenant, clinic_a, "Doctor")
    with in_tenant(clinic_a):
        o = lf.collected(setup["patient"], setup["doctor"], codes=("K",))
    url = f"/api/v1/lab-orders/{o.pk}/results"
    flagged = client.post(url, json={"results": [{"test_id": setup["k"], "value": 4, "flag": "N"}]}, headers=auth,
                          tenant=clinic_a)
    assert flagged.status_code == 400
    other = client.post(url, json={"results": [{"test_id": setup["na"], "value": 140}]}, headers=auth, tenant=clinic_a)
    assert other.status_code == 400 and "not on the order" in other.json["error"]["fields"][setup["na"]]
    junk = client.post(url, json={"results": [{"test_id": setup["k"], "value": "lots"}]}, headers=auth, tenant=clinic_a)
    assert junk.status_code == 400 and setup["k"] in junk.json["error"]["fields"]
    with in_tenant(clinic_a):
        assert LabResult.objects.count() == 0
    zero = client.post(url, json={"results": [{"test_id": setup["k"], "value": 0}]}, headers=auth, tenant=clinic_a)
    assert zero.status_code == 201 and zero.json["data"]["results"][0]["flag"] == "LL"


def _resulted_k_of_two(in_tenant, clinic, setup):
    """An order of K and NA, collected, with K already resulted (5.0) and NA still pending."""
    with in_tenant(clinic):
        from clinic_app.services.labs import results

        o = lf.collected(setup["patient"], setup["doctor"], codes=("K", "NA"))
        results.enter(o, {setup["k"]: "5.0"}, setup["doctor"])
    return f"/api/v1/lab-orders/{o.pk}/results"


def test_a_value_for_a_test_already_resulted_is_refused_per_test_and_nothing_is_saved(client, clinic_a, in_tenant,
                                                                                       setup):
    auth = api_auth(in_tenant, clinic_a, "Nurse")
    url = _resulted_k_of_two(in_tenant, clinic_a, setup)
    mixed = client.post(url, json={"results": [{"test_id": setup["k"], "value": 6.0},
                                               {"test_id": setup["na"], "value": 140}]}, headers=auth, tenant=clinic_a)
    assert mixed.status_code == 409 and mixed.json["success"] is False
    error = mixed.json["error"]
    assert set(error["fields"]) == {setup["k"]}  # only the test already resulted is named
    assert "already has a result (5.0 mmol/L" in error["fields"][setup["k"]] and "correct it" in error["fields"][setup["k"]]
    assert "nothing was saved" in error["message"]
    with in_tenant(clinic_a):
        assert LabResult.objects(code="NA").count() == 0  # all or nothing: NA was not stored either
        assert LabResult.objects.get(code="K").value_num == 5.0  # and K is unchanged
    rest = client.post(url, json={"results": [{"test_id": setup["na"], "value": 140}]}, headers=auth, tenant=clinic_a)
    assert rest.status_code == 201 and rest.json["data"]["order"]["status"] == "resulted"


def test_a_test_posted_twice_or_not_ordered_is_named_in_fields(client, clinic_a, in_tenant, setup):
    auth = api_auth(in_tenant, clinic_a, "Nurse")
    url = _resulted_k_of_two(in_tenant, clinic_a, setup)
    twice = client.post(url, json={"results": [{"test_id": setup["na"], "value": 140},
                                               {"test_id": setup["na"], "value": 141}]}, headers=auth, tenant=clinic_a)
    assert twice.status_code == 400 and "more than once" in twice.json["error"]["fields"][setup["na"]]
    with in_tenant(clinic_a):
        assert LabResult.objects(code="NA").count() == 0


@pytest.mark.parametrize("value, why", [
    ("1e400", "too large"), ("NaN", "Enter a number"), ("-Infinity", "Enter a number"),
    (1e300, "too large"), (10 ** 30, "too large"), ("140.55", "decimal"), ("", "body"), (True, "body"),
    ({"$gt": 0}, "body"), ([140], "body"), (None, "body"),
])
def test_bad_result_values_get_a_clear_400(client, clinic_a, in_tenant, setup, value, why):
    auth = api_auth(in_tenant, clinic_a, "Nurse")
    url = _resulted_k_of_two(in_tenant, clinic_a, setup)
    r = client.post(url, json={"results": [{"test_id": setup["na"], "value": value}]}, headers=auth, tenant=clinic_a)
    assert r.status_code == 400, r.json
    fields = r.json["error"]["fields"]
    if why == "body":
        assert any(k.startswith("results.0.value") for k in fields), fields
    else:
        assert why in fields[setup["na"]], fields
    with in_tenant(clinic_a):
        assert LabResult.objects(code="NA").count() == 0


def test_a_text_result_must_be_sent_as_text(client, clinic_a, in_tenant, setup):
    auth = api_auth(in_tenant, clinic_a, "Nurse")
    with in_tenant(clinic_a):
        o = lf.collected(setup["patient"], setup["doctor"], codes=("UNIT",))
    r = client.post(f"/api/v1/lab-orders/{o.pk}/results", json={"results": [{"test_id": setup["unit"], "value": 1}]},
                    headers=auth, tenant=clinic_a)
    assert r.status_code == 400 and "as a string" in r.json["error"]["fields"][setup["unit"]]


def test_results_endpoint_answers_415_to_a_form_body_and_400_to_broken_json(client, clinic_a, in_tenant, setup):
    auth = api_auth(in_tenant, clinic_a, "Nurse")
    url = _resulted_k_of_two(in_tenant, clinic_a, setup)
    assert client.post(url, data={"results": "x"}, headers=auth, tenant=clinic_a).status_code == 415
    broken = client.post(url, data="{not json", headers={**auth, "Content-Type": "application/json"}, tenant=clinic_a)
    assert broken.status_code == 400 and broken.json["success"] is False
