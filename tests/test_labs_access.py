"""Every lab page and API endpoint: another clinic's ids are 404 with nothing changed; roles without the
permission get 403. The route list is checked against the URL map, so a new route must be added here."""
import pytest

from clinic_app.models import AuditEvent, LabOrder, LabPanel, LabResult, LabTest

from . import lab_factories as lf
from .support import make_user, unchanged

# (method, url template, form/json body) for every lab route; {order} {result} {patient} {visit} {test} {panel}.
PAGES = {
    "labs.index": ("GET", "/lab/", None),
    "labs.order_new": ("POST", "/lab/orders/new", lambda ids: {"patient_id": ids["patient"], "tests": [ids["test"]]}),
    "labs.order_show": ("GET", "/lab/orders/{order}", None),
    "labs.order_collect": ("POST", "/lab/orders/{order}/collect", {"label": "X"}),
    "labs.order_cancel": ("POST", "/lab/orders/{order}/cancel", {"reason": "x"}),
    "labs.order_review": ("POST", "/lab/orders/{resulted}/review", {}),
    "labs.order_results": ("POST", "/lab/orders/{collected}/results", lambda ids: {f"r-{ids['test']}": "4.0"}),
    "labs.order_report": ("GET", "/lab/orders/{order}/report", None),
    "labs.result_show": ("GET", "/lab/results/{result}", None),
    "labs.result_amend": ("POST", "/lab/results/{result}/amend", {"value": "9.9", "reason": "x"}),
    "labs.result_acknowledge": ("POST", "/lab/results/{result}/acknowledge", {}),
    "labs.patient_labs": ("GET", "/lab/patients/{patient}", None),
    "labs.visit_orders": ("GET", "/lab/visits/{visit}", None),
    "labs.tests": ("GET", "/lab/tests", None),
    "labs.test_new": ("POST", "/lab/tests/new", {"code": "NEW", "name": "New", "price": "1"}),
    "labs.test_edit": ("POST", "/lab/tests/{test}/edit", {"code": "K", "name": "Changed", "price": "1"}),
    "labs.panels": ("GET", "/lab/panels", None),
    "labs.panel_new": ("POST", "/lab/panels/new", lambda ids: {"code": "P2", "name": "P", "tests": [ids["test"]]}),
    "labs.panel_edit": ("POST", "/lab/panels/{panel}/edit", lambda ids: {"code": "P3", "name": "P", "tests": [ids["test"]]}),
}
API = {
    "api.lab_tests_list": ("GET", "/api/v1/lab-tests", None),
    "api.lab_orders_list": ("GET", "/api/v1/lab-orders", None),
    "api.lab_orders_get": ("GET", "/api/v1/lab-orders/{order}", None),
    "api.lab_orders_create": ("POST", "/api/v1/lab-orders", lambda ids: {"patient_id": ids["patient"],
                                                                         "test_ids": [ids["test"]]}),
    "api.lab_results_list": ("GET", "/api/v1/lab-orders/{order}/results", None),
    "api.lab_results_create": ("POST", "/api/v1/lab-orders/{collected}/results",
                               lambda ids: {"results": [{"test_id": ids["test"], "value": 4}]}),
}
# Routes whose URL names no record of the other clinic (lists of the signed-in clinic).
UNNAMED = {"labs.index", "labs.tests", "labs.panels", "labs.test_new", "api.lab_tests_list", "api.lab_orders_list"}

PICKED_IN_A_FORM = {"labs.panel_new"}


def _world(in_tenant, clinic):
    """One of everything in `clinic`; returns the ids as strings."""
    with in_tenant(clinic):
        doctor = make_user("Doctor", email=f"doc@{clinic.subdomain}.test")
        p = lf.patient(last=f"Of{clinic.subdomain}")
        v = lf.visit(p, doctor)
        order = lf.order(p, doctor, codes=("K",), visit=v)
        collected = lf.collected(p, doctor, codes=("K",))
        resulted = lf.resulted(p, doctor, {"K": "7.0"})
        result = LabResult.objects.get(order=resulted)
        return {"order": str(order.pk), "collected": str(collected.pk), "resulted": str(resulted.pk),
                "result": str(result.pk), "patient": str(p.pk), "visit": str(v.pk),
                "test": str(lf.lab_test("K").pk), "panel": str(lf.panel_by_code("CBC").pk)}


def _snapshot(in_tenant, clinic):
    with in_tenant(clinic):
        return (
            [o.to_mongo().to_dict() for o in LabOrder.objects.order_by("id")],
            [r.to_mongo().to_dict() for r in LabResult.objects.order_by("id")],
            [t.to_mongo().to_dict() for t in LabTest.objects.order_by("id")],
            [p.to_mongo().to_dict() for p in LabPanel.objects.order_by("id")],
        )


def _call(client, clinic, method, template, data, ids):
    url = template.format(**ids)
    payload = data(ids) if callable(data) else data
    if url.startswith("/api/"):
        return client.open(url, method=method, json=payload if method != "GET" else None, tenant=clinic)
    return client.open(url, method=method, data=payload, tenant=clinic)


def test_every_lab_route_is_listed_here(app):
    endpoints = {r.endpoint for r in app.url_map.iter_rules()
                 if r.endpoint.startswith("labs.") or r.endpoint.startswith("api.lab")}
    assert endpoints == set(PAGES) | set(API)


@pytest.mark.parametrize("endpoint", sorted((set(PAGES) | set(API)) - UNNAMED))
def test_another_clinics_ids_are_404_and_change_nothing(client, clinic_a, clinic_b, in_tenant, login_as, endpoint):
    _world(in_tenant, clinic_a)
    theirs = _world(in_tenant, clinic_b)
    with in_tenant(clinic_b):
        events = AuditEvent.objects.count()
    login_as(clinic_a, "Admin")
    method, template, data = (PAGES | API)[endpoint]
    with unchanged(_snapshot, in_tenant, clinic_b):
        response = _call(client, clinic_a, method, template, data, theirs)
        # A new panel names the other clinic's test only as a form choice: refused as a form error, not found.
        expected = 422 if endpoint in PICKED_IN_A_FORM else 404
        assert response.status_code == expected, (endpoint, response.status_code)
        if template.startswith("/api/"):
            assert response.json["success"] is False
    with in_tenant(clinic_b):
        assert AuditEvent.objects.count() == events


def test_lists_show_only_this_clinic(client, clinic_a, clinic_b, in_tenant, login_as):
    _world(in_tenant, clinic_a)
    theirs = _world(in_tenant, clinic_b)
    login_as(clinic_a, "Admin")
    for url in ("/lab/", "/api/v1/lab-orders", "/"):
        body = client.get(url, tenant=clinic_a).get_data(as_text=True)
        assert "Ofclinicb" not in body and theirs["order"] not in body and theirs["collected"] not in body


# role -> endpoints it may not use (from DEFAULT_ROLES: lab_results / lab_catalogue grants).
FORBIDDEN = [
    ("Receptionist", sorted(set(PAGES) | set(API))),
    ("Accountant", sorted(set(PAGES) | set(API))),
    ("Nurse", ["labs.test_new", "labs.test_edit", "labs.panel_new", "labs.panel_edit"]),
    ("Doctor", []),
]


@pytest.mark.parametrize("role, endpoints", FORBIDDEN, ids=[r for r, _ in FORBIDDEN])
def test_roles_without_the_permission_get_403_and_change_nothing(app, client, clinic_a, in_tenant, login_as, role,
                                                                 endpoints):
    ours = _world(in_tenant, clinic_a)
    login_as(clinic_a, role)
    with unchanged(_snapshot, in_tenant, clinic_a):
        wrong = []
        for endpoint in endpoints:
            method, template, data = (PAGES | API)[endpoint]
            response = _call(client, clinic_a, method, template, data, ours)
            if response.status_code != 403:
                wrong.append(f"{endpoint}: {response.status_code}")
        assert wrong == []


def test_nurse_may_enter_results_but_not_review_or_acknowledge(client, clinic_a, in_tenant, login_as):
    ours = _world(in_tenant, clinic_a)
    login_as(clinic_a, "Nurse")
    for endpoint in ("labs.order_review", "labs.result_acknowledge"):
        method, template, data = PAGES[endpoint]
        assert _call(client, clinic_a, method, template, data, ours).status_code == 403
    method, template, data = PAGES["labs.order_results"]
    assert _call(client, clinic_a, method, template, data, ours).status_code == 303
    assert client.get("/lab/tests", tenant=clinic_a).status_code == 200  # catalogue: read only
