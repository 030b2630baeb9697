"""The platform operator console at the apex /platform/: sign-in, clinics, actions, jobs, messages."""
from datetime import timedelta

import pytest
from bson import ObjectId

from clinic_app.models import OutboundMessage, Patient, Tenant
from clinic_app.models.platform import Operator, OperatorAction, OperatorSession
from clinic_app.models.tenant import PLANS, STATUSES
from clinic_app.services import platform as svc
from clinic_app.services.subscription import State, standing, standing_query
from tests.conftest import T0
from tests.support import make_tenant, run_jobs

OP_EMAIL = "olga@ops.test"
OP_PASSWORD = "violet tractor mango sunrise"
DAY = timedelta(days=1)
HX = {"HX-Request": "true"}


@pytest.fixture
def operator(app):
    with app.app_context():
        return svc.create_operator(OP_EMAIL, "Olga Ops", OP_PASSWORD)


def _login(client, email=OP_EMAIL, password=OP_PASSWORD, **kw):
    return client.post("/platform/login", data={"email": email, "password": password}, **kw)


@pytest.fixture
def op(client, operator):
    """`client`, signed in as an operator on the apex."""
    response = _login(client)
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return client


def _tenant(app, subdomain):
    with app.app_context():
        return Tenant.objects.get(subdomain=subdomain)


def _set_sub(app, tenant, **fields):
    with app.app_context():
        Tenant.objects(pk=tenant.pk).update(**{f"set__subscription__{k}": v for k, v in fields.items()})


def _actions(app, **filters):
    with app.app_context():
        return list(OperatorAction.objects(**filters).order_by("at"))


def _rows(response):
    """{subdomain: state} of the clinic table, from its data attributes."""
    import re

    html = response.get_data(as_text=True)
    return dict(re.findall(r'data-clinic="([^"]+)" data-state="([^"]+)"', html))


# -- creating operators --------------------------------------------------------


def test_create_operator_command_prompts_for_the_password_twice(app):
    result = app.test_cli_runner().invoke(args=["create-operator", "Olga@Ops.test", "--name", "Olga Ops"],
                                          input=f"{OP_PASSWORD}\n{OP_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "Password:" in result.output and "Repeat for confirmation:" in result.output
    assert OP_PASSWORD not in result.output
    assert "http://localhost:5000/platform/" in result.output
    with app.app_context():
        operator = Operator.objects.get(email=OP_EMAIL)
        assert operator.name == "Olga Ops" and operator.active
        assert operator.password_hash.startswith("$2") and OP_PASSWORD not in operator.password_hash


def test_create_operator_refuses_a_weak_password_mismatch_and_duplicate(app, operator):
    runner = app.test_cli_runner()
    weak = runner.invoke(args=["create-operator", "x@ops.test", "--name", "X"], input="password1234\npassword1234\n")
    assert weak.exit_code != 0 and "common" in weak.output
    mismatch = runner.invoke(args=["create-operator", "y@ops.test", "--name", "Y"], input=f"{OP_PASSWORD}\nother\n")
    assert mismatch.exit_code != 0 and "do not match" in mismatch.output
    dup = runner.invoke(args=["create-operator", OP_EMAIL.upper(), "--name", "Again"],
                        input=f"{OP_PASSWORD}\n{OP_PASSWORD}\n")
    assert dup.exit_code != 0 and "already exists" in dup.output
    with app.app_context():
        assert Operator.objects.count() == 1


# -- signing in and out ---------------------------------------------------------


def test_operator_signs_in_with_a_hashed_server_side_session_and_signs_out(app, client, operator):
    assert client.get("/platform/login").status_code == 200
    response = _login(client, "  OLGA@ops.test ")
    assert response.status_code == 303 and response.headers["Location"] == "/platform/"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Domain=" not in cookie
    page = client.get("/platform/")
    assert page.status_code == 200 and b"Olga Ops" in page.data
    with app.app_context():
        record = OperatorSession.objects.get()
        assert record.revoked_at is None and record.expires_at - record.created_at == timedelta(hours=12)
        token = client.get_cookie("clinic_session", domain="localhost")
        assert token is not None and record.token_hash not in token.value  # only the hash is stored
    out = client.post("/platform/logout")
    assert out.status_code == 303 and out.headers["Location"] == "/platform/login"
    assert client.get("/platform/").status_code == 302
    with app.app_context():
        assert OperatorSession.objects.get().revoked_at is not None
    assert [a.action for a in _actions(app)] == ["operator.login", "operator.logout"]


def test_a_revoked_session_cookie_replayed_after_logout_is_refused(app, client, operator):
    _login(client)
    stolen = client.get_cookie("clinic_session", domain="localhost").value
    client.post("/platform/logout")
    client.set_cookie("clinic_session", stolen, domain="localhost")
    assert client.get("/platform/").status_code == 302


def test_wrong_password_and_unknown_email_get_the_same_message(client, operator):
    wrong = _login(client, password="not the right one at all")
    unknown = _login(client, email="nobody@ops.test")
    for response in (wrong, unknown):
        assert response.status_code == 422
        assert b"Email or password is incorrect." in response.data
    assert client.get("/platform/").status_code == 302


def test_failed_sign_ins_are_throttled_per_email(client, operator):
    for _ in range(5):
        assert _login(client, password="wrong password attempt").status_code == 422
    blocked = _login(client)  # even the right password, until the window passes
    assert blocked.status_code == 429 and b"Too many failed sign-in attempts" in blocked.data
    other = _login(client, email="someone-else@ops.test", password="wrong password attempt")
    assert other.status_code == 422  # another account from the same address still gets answers


def test_failed_sign_ins_are_throttled_per_address(client, operator):
    for i in range(30):
        assert _login(client, email=f"guess{i}@ops.test", password="wrong password attempt").status_code == 422
    assert _login(client).status_code == 429
    elsewhere = _login(client, environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert elsewhere.status_code == 303


def test_operator_session_ends_after_12_hours(client, operator, frozen_clock):
    _login(client)
    frozen_clock.advance(hours=11, minutes=59)
    assert client.get("/platform/").status_code == 200
    frozen_clock.advance(minutes=1)
    response = client.get("/platform/")
    assert response.status_code == 302 and "/platform/login" in response.headers["Location"]


def test_a_deactivated_operator_is_signed_out(app, op):
    with app.app_context():
        Operator.objects(email=OP_EMAIL).update(set__active=False)
    assert op.get("/platform/").status_code == 302
    assert _login(op).status_code == 422


def test_sign_in_starts_a_new_session(client, operator):
    client.get("/platform/login")
    with client.session_transaction() as sess:
        sess["planted"] = "by an attacker"
    _login(client)
    with client.session_transaction() as sess:
        assert "planted" not in sess and set(sess) == {"operator_token"}


def test_csrf_is_enforced_on_the_console_forms(services, operator, clinic_a):
    import re

    from clinic_app import create_app
    from tests.conftest import app_config

    app = create_app(app_config(services, WTF_CSRF_ENABLED=True))
    client = app.test_client()

    def token(path, name="csrf_token"):
        html = client.get(path).get_data(as_text=True)
        return re.search(rf'name="{name}" type="hidden" value="([^"]+)"', html)[1]

    assert _login(client).status_code == 400
    login_page_token = token("/platform/login")
    response = client.post("/platform/login", data={"email": OP_EMAIL, "password": OP_PASSWORD,
                                                    "csrf_token": login_page_token})
    assert response.status_code == 303
    path = f"/platform/clinics/{clinic_a.pk}"
    assert client.post(f"{path}/suspend", data={"suspend-reason": "no token"}).status_code == 400
    with app.app_context():
        assert Tenant.objects.get(pk=clinic_a.pk).status == "active"
    form_token = token(path, "suspend-csrf_token")
    ok = client.post(f"{path}/suspend", data={"suspend-reason": "with token", "suspend-csrf_token": form_token})
    assert ok.status_code == 303
    with app.app_context():
        assert Tenant.objects.get(pk=clinic_a.pk).status == "suspended"


# -- access -----------------------------------------------------------------------

GET_PAGES = ["/platform/", "/platform/jobs", "/platform/messages", f"/platform/clinics/{'0' * 24}"]
POSTS = [f"/platform/clinics/{'0' * 24}/suspend", "/platform/jobs/abc/delete", "/platform/logout"]


@pytest.mark.parametrize("path", GET_PAGES)
def test_pages_need_an_operator_session(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/platform/login?next=/platform/")
    htmx = client.get(path, headers=HX)
    assert htmx.status_code == 401 and htmx.headers["HX-Redirect"].startswith("/platform/login")


@pytest.mark.parametrize("path", POSTS)
def test_actions_need_an_operator_session(client, path):
    response = client.post(path, data={"suspend-reason": "x"})
    assert response.status_code == 302 and response.headers["Location"] == "/platform/login"


def test_login_redirects_only_to_console_paths(client, operator):
    ok = _login(client, query_string={"next": "/platform/jobs"})
    assert ok.headers["Location"] == "/platform/jobs"
    client.post("/platform/logout")
    for evil in ("https://evil.test/", "//evil.test/platform/", "/patients/"):
        response = _login(client, query_string={"next": evil})
        assert response.headers["Location"] == "/platform/"
        client.post("/platform/logout")


@pytest.mark.parametrize("path", ["/platform/", "/platform/login", "/platform/jobs", "/platform/messages"])
def test_console_is_404_on_a_clinic_host(op, clinic_a, path):
    assert op.get(path, tenant=clinic_a).status_code == 404
    assert op.post("/platform/login", data={"email": OP_EMAIL, "password": OP_PASSWORD},
                   tenant=clinic_a).status_code == 404


def test_a_clinic_admin_session_cannot_open_the_console(client, clinic_a, login_as):
    login_as(clinic_a, "Admin")
    assert client.get("/platform/", tenant=clinic_a).status_code == 404
    assert client.get("/platform/").status_code == 302  # the apex has its own (empty) cookie
    # Even the clinic's cookie copied onto the apex (same secret key) is no operator session.
    cookie = client.get_cookie("clinic_session", domain="clinica.localhost")
    client.set_cookie("clinic_session", cookie.value, domain="localhost")
    response = client.get("/platform/")
    assert response.status_code == 302 and "/platform/login" in response.headers["Location"]


# -- the clinic list ----------------------------------------------------------------


@pytest.fixture
def clinics(app, frozen_clock):
    """trialco (trial), paidco (monthly, 30 days), oldco (expired 20 days ago), offco (inactive)."""
    with app.app_context():
        trial = make_tenant("trialco", "Trial Co")
        paid = make_tenant("paidco", "Paid Co")
        old = make_tenant("oldco", "Old Co")
        off = make_tenant("offco", "Off Co")
        Tenant.objects(pk=off.pk).update(set__status="inactive")
    _set_sub(app, paid, plan="monthly", expires_at=T0 + 30 * DAY)
    _set_sub(app, old, expires_at=T0 - 20 * DAY)
    return {"trial": trial, "paid": paid, "old": old, "off": off}


def test_list_shows_each_clinic_state_as_the_clock_moves(op, clinics, frozen_clock):
    expected = {"trialco": "trial", "paidco": "active", "oldco": "suspended", "offco": "inactive"}
    assert _rows(op.get("/platform/")) == expected
    frozen_clock.advance(days=8)  # the trial ends: read-only grace
    assert _rows(op.get("/platform/"))["trialco"] == "grace"
    frozen_clock.advance(days=7)
    assert _rows(op.get("/platform/"))["trialco"] == "suspended"
    frozen_clock.advance(days=16)  # day 31: the paid month is over too
    assert _rows(op.get("/platform/"))["paidco"] == "grace"


def test_list_links_each_clinic_to_its_canonical_address(op, clinics):
    page = op.get("/platform/").get_data(as_text=True)
    assert 'href="http://trialco.localhost:5000/"' in page
    assert "Trial Co" in page and "monthly" in page


@pytest.mark.parametrize("state,expected", [
    ("trial", {"trialco"}), ("active", {"paidco"}), ("grace", set()), ("suspended", {"oldco"}),
    ("inactive", {"offco"}), ("provisioning", set()),
])
def test_state_filter(op, clinics, state, expected):
    response = op.get("/platform/", query_string={"state": state})
    assert response.status_code == 200 and set(_rows(response)) == expected


def test_state_filter_agrees_with_the_standing_at_every_boundary(app, frozen_clock):
    """One state machine: the console's filter (subscription.standing_query, turned round for the
    database) and the state shown per clinic (subscription.standing) agree on every day of a trial,
    just before, at and just after each day boundary, for every plan and operator status."""
    with app.app_context():
        for plan in PLANS:
            for status in STATUSES:
                tenant = make_tenant(f"{plan}-{status}")
                Tenant.objects(pk=tenant.pk).update(set__status=status, set__subscription__plan=plan,
                                                    set__subscription__expires_at=T0 + 7 * DAY)
        tenants = list(Tenant.objects)
        tick, micro = timedelta(milliseconds=1), timedelta(microseconds=1)
        for day in range(-1, 18):
            for nudge in (-tick, -micro, timedelta(0), micro, tick):
                now = T0 + day * DAY + nudge
                for state in State:
                    found = {t.subdomain for t in Tenant.objects(standing_query(state, now))}
                    assert found == {t.subdomain for t in tenants if standing(t, now).state is state}, (now, state)
                for state in svc.STATE_FILTERS:
                    found = {t.subdomain for t in Tenant.objects(svc.state_filter(state, now))}
                    assert found == {t.subdomain for t in tenants if svc.clinic_state(t, now) == state}, (now, state)


def test_an_unknown_state_is_a_422_beside_the_field(op, clinics):
    response = op.get("/platform/", query_string={"state": "bogus"})
    assert response.status_code == 422 and b"Choose a state from the list." in response.data


def test_search_by_name_or_subdomain_prefix(op, clinics):
    assert set(_rows(op.get("/platform/", query_string={"q": "trial"}))) == {"trialco"}
    assert set(_rows(op.get("/platform/", query_string={"q": "PAID C"}))) == {"paidco"}  # name, any case
    assert set(_rows(op.get("/platform/", query_string={"q": "co"}))) == set()  # a prefix, not a substring
    for odd in (".*", "(", "o[", "\\"):  # regex characters are literal
        response = op.get("/platform/", query_string={"q": odd})
        assert response.status_code == 200 and _rows(response) == {}
    both = op.get("/platform/", query_string={"q": "o", "state": "inactive"})
    assert set(_rows(both)) == {"offco"}


def test_list_is_paginated_25_a_page(app, op):
    with app.app_context():
        for i in range(27):
            make_tenant(f"clinic{i:02d}", f"Clinic {i:02d}")
    first = op.get("/platform/")
    assert len(_rows(first)) == 25 and b"Page 1 of 2" in first.data and b"27 clinics" in first.data
    second = op.get("/platform/", query_string={"page": 2})
    assert set(_rows(second)) == {"clinic25", "clinic26"}
    beyond = op.get("/platform/", query_string={"page": 99})
    assert set(_rows(beyond)) == {"clinic25", "clinic26"}


def test_list_shows_counts_and_last_activity(app, op, clinic_a, clinic_b, login_as, in_tenant, frozen_clock):
    with in_tenant(clinic_a):
        for n in range(3):
            Patient(record_number=f"P{n}", first_name="Pat", last_name=f"Ient{n}").save()
    frozen_clock.advance(hours=2)
    login_as(clinic_a, "Nurse")  # a second user, and activity at T0 + 2 h
    page = op.get("/platform/").get_data(as_text=True)
    row_a = page[page.index('data-clinic="clinica"'):page.index('data-clinic="clinicb"')]
    assert 'data-field="users">2<' in row_a and 'data-field="patients">3<' in row_a
    assert (T0 + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M") in row_a
    row_b = page[page.index('data-clinic="clinicb"'):]
    assert 'data-field="users">1<' in row_b and 'data-field="patients">0<' in row_b
    assert 'data-field="last-activity">never<' in row_b


def test_the_list_costs_the_same_queries_whatever_the_number_of_clinics(app, frozen_clock):
    """One count, one find and three aggregates per page: never a query per clinic."""
    import mongoengine
    from pymongo import monitoring

    from clinic_app.extensions import init_db

    class Commands(monitoring.CommandListener):
        def __init__(self):
            self.names = []

        def started(self, event):
            self.names.append(event.command_name)

        def succeeded(self, event):
            pass

        def failed(self, event):
            pass

    def queries_for_one_page():
        listener = Commands()
        mongoengine.disconnect()
        mongoengine.connect(host=app.config["MONGODB_URI"], tz_aware=True, uuidRepresentation="standard",
                            event_listeners=[listener])
        try:
            with app.app_context():
                page = svc.clinic_page()
        finally:
            init_db(app)
        return sorted(n for n in listener.names if n in {"find", "aggregate", "count", "getMore"}), page

    with app.app_context():
        make_tenant("one", "One")
    few, page = queries_for_one_page()
    assert page.total == 1
    with app.app_context():
        for i in range(6):
            make_tenant(f"more{i}", f"More {i}")
    many, page = queries_for_one_page()
    assert page.total == 7 and len(page.items) == 7
    assert few == many == ["aggregate", "aggregate", "aggregate", "count", "find"]


def test_list_fragment_has_no_layout_and_varies_on_hx_request(op, clinics):
    response = op.get("/platform/", query_string={"q": "trial"}, headers=HX)
    assert response.status_code == 200 and b"<html" not in response.data
    assert b'id="clinic-results"' in response.data and "HX-Request" in response.headers["Vary"]


# -- clinic actions -----------------------------------------------------------------


def _probe_write(client, tenant):
    return client.post("/_probe/settings", data={"name": "Changed"}, tenant=tenant)


def test_extending_a_grace_clinic_restores_writes(app, op, clinics, frozen_clock):
    trial = clinics["trial"]
    frozen_clock.advance(days=9)
    assert _probe_write(op, trial).status_code == 303  # read-only: sent to /subscription
    response = op.post(f"/platform/clinics/{trial.pk}/extend", data={"extend-days": "7",
                                                                     "extend-reason": "Waiting on their bank"})
    assert response.status_code == 303 and response.headers["Location"] == f"/platform/clinics/{trial.pk}"
    updated = _tenant(app, "trialco")
    assert updated.subscription.expires_at == frozen_clock.now() + 7 * DAY  # from now: it had passed
    assert standing(updated, frozen_clock.now()).full_access
    assert _probe_write(op, trial).status_code == 200
    action, = _actions(app, action="clinic.extend")
    assert action.reason == "Waiting on their bank" and action.tenant_id == trial.pk
    assert action.before["expires_at"] == T0 + 7 * DAY and action.after["expires_at"] == updated.subscription.expires_at
    assert action.operator == f"Olga Ops <{OP_EMAIL}>" and action.ip == "127.0.0.1"


def test_extending_a_running_trial_adds_to_its_expiry(app, op, clinics):
    trial = clinics["trial"]
    op.post(f"/platform/clinics/{trial.pk}/extend", data={"extend-days": "10", "extend-reason": "Demo week"})
    assert _tenant(app, "trialco").subscription.expires_at == T0 + 17 * DAY


@pytest.mark.parametrize("days", ["0", "61", "-3", "abc", ""])
def test_extension_must_be_1_to_60_days(app, op, clinics, days):
    trial = clinics["trial"]
    response = op.post(f"/platform/clinics/{trial.pk}/extend", data={"extend-days": days, "extend-reason": "x"})
    assert response.status_code == 422 and b'id="extend-days-error"' in response.data
    assert _tenant(app, "trialco").subscription.expires_at == T0 + 7 * DAY
    assert _actions(app, action="clinic.extend") == []


@pytest.mark.parametrize("action,field", [("extend", "extend-reason"), ("suspend", "suspend-reason"),
                                          ("reactivate", "reactivate-reason")])
def test_every_action_requires_a_reason(app, op, clinics, action, field):
    tenant = clinics["off"] if action == "reactivate" else clinics["trial"]
    before = _tenant(app, tenant.subdomain)
    response = op.post(f"/platform/clinics/{tenant.pk}/{action}", data={"extend-days": "5", field: "   "})
    assert response.status_code == 422
    assert f'id="{field}-error"'.encode() in response.data and b"Give a reason" in response.data
    after = _tenant(app, tenant.subdomain)
    assert (after.status, after.subscription.expires_at) == (before.status, before.subscription.expires_at)
    assert _actions(app, tenant_id=tenant.pk) == []


def test_a_422_from_htmx_is_the_actions_fragment(op, clinics):
    response = op.post(f"/platform/clinics/{clinics['trial'].pk}/suspend", data={}, headers=HX)
    assert response.status_code == 422 and b"<html" not in response.data
    assert b'id="clinic-actions"' in response.data


def test_suspend_shows_the_suspended_page_then_reactivate_restores(app, op, clinic_a, login_as):
    login_as(clinic_a, "Admin")
    assert op.get("/patients/", tenant=clinic_a).status_code == 200
    response = op.post(f"/platform/clinics/{clinic_a.pk}/suspend", data={"suspend-reason": "Chargeback"})
    assert response.status_code == 303
    assert _tenant(app, "clinica").status == "suspended"
    blocked = op.get("/patients/", tenant=clinic_a)
    assert blocked.status_code == 403 and b"suspended by the operator" in blocked.data
    again = op.post(f"/platform/clinics/{clinic_a.pk}/suspend", data={"suspend-reason": "twice"})
    assert again.status_code == 422 and b"Only an active clinic can be suspended." in again.data
    op.post(f"/platform/clinics/{clinic_a.pk}/reactivate", data={"reactivate-reason": "Paid up"})
    assert _tenant(app, "clinica").status == "active"
    assert op.get("/patients/", tenant=clinic_a).status_code == 200
    suspend, reactivate = _actions(app, tenant_id=clinic_a.pk)
    assert (suspend.action, suspend.before["status"], suspend.after["status"]) == ("clinic.suspend", "active",
                                                                                   "suspended")
    assert (reactivate.action, reactivate.reason, reactivate.after["status"]) == ("clinic.reactivate", "Paid up",
                                                                                  "active")


def test_an_action_takes_effect_at_once_despite_the_tenant_cache(app, op, clinic_a):
    from clinic_app.hosts import TenantResolver

    default = app.extensions["tenant_resolver"]
    app.extensions["tenant_resolver"] = TenantResolver(ttl_seconds=300)
    try:
        assert op.get("/login", tenant=clinic_a).status_code == 200  # now cached as active
        op.post(f"/platform/clinics/{clinic_a.pk}/suspend", data={"suspend-reason": "Fraud"})
        assert op.get("/patients/", tenant=clinic_a).status_code == 403
    finally:
        app.extensions["tenant_resolver"] = default


def test_clinic_page_lists_its_operator_actions(op, clinics):
    trial = clinics["trial"]
    op.post(f"/platform/clinics/{trial.pk}/extend", data={"extend-days": "3", "extend-reason": "Conference"})
    op.post(f"/platform/clinics/{trial.pk}/suspend", data={"suspend-reason": "Abuse report"})
    page = op.get(f"/platform/clinics/{trial.pk}").get_data(as_text=True)
    assert 'data-action="clinic.extend"' in page and "Conference" in page
    assert 'data-action="clinic.suspend"' in page and "Abuse report" in page
    assert 'id="reactivate-form"' in page and 'id="suspend-form"' not in page
    other = op.get(f"/platform/clinics/{clinics['paid'].pk}").get_data(as_text=True)
    assert "Conference" not in other


def test_unknown_clinic_is_404(op):
    assert op.get(f"/platform/clinics/{ObjectId()}").status_code == 404
    assert op.get("/platform/clinics/not-an-id").status_code == 404
    assert op.post(f"/platform/clinics/{ObjectId()}/suspend", data={"suspend-reason": "x"}).status_code == 404


def test_operator_actions_are_append_only(app, op, clinics):
    op.post(f"/platform/clinics/{clinics['trial'].pk}/suspend", data={"suspend-reason": "x"})
    action, = _actions(app, action="clinic.suspend")
    with app.app_context():
        action.reason = "rewritten"
        for attempt in (action.save, action.delete, lambda: action.update(set__reason="y")):
            with pytest.raises(PermissionError):
                attempt()


# -- jobs ---------------------------------------------------------------------------------


@pytest.fixture
def failed_job(app):
    """A job that fails for real: deliver_email without a tenant id, run by an RQ worker."""
    from clinic_app.extensions import get_queue
    from clinic_app.jobs import deliver_email

    with app.app_context():
        job = get_queue().enqueue(deliver_email, None, str(ObjectId()), job_id="doomed-job")
    run_jobs(app)
    with app.app_context():
        assert "doomed-job" in get_queue().failed_job_registry
    return job.id


def _queue(app):
    with app.app_context():
        return svc.queue_overview()


def test_jobs_page_shows_the_failed_job(op, failed_job):
    page = op.get("/platform/jobs").get_data(as_text=True)
    assert 'data-job="doomed-job"' in page and "clinic_app.jobs.deliver_email" in page
    assert "NoTenantBound: job deliver_email was enqueued without a tenant id" in page
    assert '<li data-count="failed"><strong>1</strong>' in page


def test_requeue_a_failed_job(app, op, failed_job):
    response = op.post(f"/platform/jobs/{failed_job}/requeue")
    assert response.status_code == 303 and response.headers["Location"] == "/platform/jobs"
    assert _queue(app)["failed"] == 0 and _queue(app)["queued"] == 1
    action, = _actions(app, action="job.requeue")
    assert action.target == "doomed-job" and action.before["func"] == "clinic_app.jobs.deliver_email"
    assert 'data-action="job.requeue"' in op.get("/platform/jobs").get_data(as_text=True)
    run_jobs(app)  # it fails again, and is back in the list
    assert _queue(app)["failed"] == 1


def test_delete_a_failed_job(app, op, failed_job):
    from rq.job import Job

    assert op.post(f"/platform/jobs/{failed_job}/delete").status_code == 303
    assert _queue(app)["failed"] == 0 and _queue(app)["queued"] == 0
    with app.app_context():
        from clinic_app.extensions import redis_conn

        assert not Job.exists(failed_job, connection=redis_conn())
    assert [a.action for a in _actions(app, target=failed_job)] == ["job.delete"]
    assert op.post(f"/platform/jobs/{failed_job}/delete").status_code == 404


def test_only_failed_jobs_can_be_requeued_or_deleted(app, op):
    from clinic_app.extensions import get_queue
    from clinic_app.jobs import deliver_email

    with app.app_context():
        get_queue().enqueue(deliver_email, None, "x", job_id="waiting-job")
    assert op.post("/platform/jobs/waiting-job/delete").status_code == 404
    assert op.post("/platform/jobs/no-such-job/requeue").status_code == 404
    assert _queue(app)["queued"] == 1 and _actions(app, action="job.delete") == []


# -- message delivery stats -----------------------------------------------------------------


def _message(tenant, kind, status, created_at):
    from clinic_app.tenancy import tenant_context

    n = ObjectId()
    with tenant_context(tenant):
        OutboundMessage(key=f"k{n}", kind=kind, to="x@example.test", subject="s", text_body="b",
                        message_id=f"<{n}@test>", status=status, created_at=created_at).save()


def test_message_stats_by_kind_status_and_window(app, op, clinic_a, clinic_b, frozen_clock):
    with app.app_context():
        from clinic_app.tenancy import tenant_context

        for tenant in (clinic_a, clinic_b):  # provisioning queued a welcome email each: start clean
            with tenant_context(tenant):
                OutboundMessage.objects.delete()
        now = frozen_clock.now()
        _message(clinic_a, "welcome", "sent", now - timedelta(hours=1))
        _message(clinic_a, "welcome", "failed", now - timedelta(hours=2))
        _message(clinic_a, "password_reset", "failed", now - timedelta(days=3))
        _message(clinic_b, "password_reset", "failed", now - timedelta(days=2))
        _message(clinic_b, "password_reset", "failed", now - timedelta(days=4))
        _message(clinic_b, "password_reset", "queued", now - timedelta(minutes=5))
        _message(clinic_b, "welcome", "failed", now - timedelta(days=9))  # outside both windows
        stats = svc.message_stats()
    day, week = stats["windows"]["24h"], stats["windows"]["7d"]
    assert day["total"] == 3 and day["by_status"] == {"sent": 1, "failed": 1, "queued": 1}
    assert day["by_kind"] == {"password_reset": {"queued": 1}, "welcome": {"sent": 1, "failed": 1}}
    assert week["total"] == 6 and week["by_status"]["failed"] == 4
    # A tie is broken by clinic id, so the order is stable from page to page.
    assert [(r["tenant"].subdomain, r["failed"]) for r in stats["top_failing"]] == [("clinica", 2), ("clinicb", 2)]
    page = op.get("/platform/messages").get_data(as_text=True)
    assert 'id="window-24h" data-total="3"' in page and 'id="window-7d" data-total="6"' in page
    assert 'data-clinic="clinica"' in page and 'data-clinic="clinicb"' in page


def test_the_console_shows_the_technical_delivery_error_that_clinic_admins_see_in_plain_words(
        app, op, login_as, client, clinic_a, frozen_clock):
    raw = "SMTPDataError 500 FileNotFoundError /srv/app/var/mail/tmp/1234.eml"
    with app.app_context():
        from clinic_app.tenancy import tenant_context

        with tenant_context(clinic_a):
            OutboundMessage.objects.delete()
            OutboundMessage(key="k1", kind="welcome", to="x@example.test", subject="s", text_body="b",
                            message_id="<k1@test>", status="failed", attempts=5, last_error=raw,
                            created_at=frozen_clock.now()).save()
    console = op.get("/platform/messages").get_data(as_text=True)
    title = console.split("<title>", 1)[1].split("</title>", 1)[0]
    errors = console.split('id="recent-errors"', 1)[1]
    assert raw in errors and 'data-field="error"' in errors and raw not in title
    login_as(clinic_a, "Admin")
    response = client.get("/messages/", tenant=clinic_a)
    clinic_page = response.get_data(as_text=True)
    assert response.status_code == 200 and "x@example.test" in clinic_page
    assert raw not in clinic_page and "/srv/app" not in clinic_page


def test_top_failing_clinics_are_ordered_by_failures(app, clinic_a, clinic_b, frozen_clock):
    with app.app_context():
        now = frozen_clock.now()
        for i in range(3):
            _message(clinic_b, "welcome", "failed", now - timedelta(hours=i))
        _message(clinic_a, "welcome", "failed", now)
        top = svc.message_stats()["top_failing"]
    assert [(r["tenant"].subdomain, r["failed"]) for r in top] == [("clinicb", 3), ("clinica", 1)]



def test_an_operator_can_be_disabled_and_reenabled_from_the_cli(app, op):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["operator-access", OP_EMAIL, "--disable"])
    assert result.exit_code == 0 and "disabled" in result.output
    assert op.get("/platform/").status_code == 302  # signed out at once
    assert _login(op).status_code != 303
    assert runner.invoke(args=["operator-access", OP_EMAIL, "--enable"]).exit_code == 0
    assert _login(op).status_code == 303
    assert runner.invoke(args=["operator-access", "nobody@ops.test"]).exit_code != 0


def test_an_operators_password_is_changed_from_the_cli(app, op):
    runner = app.test_cli_runner()
    weak = runner.invoke(args=["operator-password", OP_EMAIL], input="password1234\npassword1234\n")
    assert weak.exit_code != 0 and "common" in weak.output
    new = "saffron kayak lantern ridge"
    result = runner.invoke(args=["operator-password", OP_EMAIL], input=f"{new}\n{new}\n")
    assert result.exit_code == 0
    assert op.get("/platform/").status_code == 302  # sessions revoked
    assert _login(op).status_code != 303
    assert _login(op, password=new).status_code == 303
