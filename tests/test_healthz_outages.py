"""MongoDB out of time on every request path: the 503 page, fragment or JSON, never a 500; one deadline.

Every request runs inside one pymongo deadline (clinic_app/resilience.py). These
tests make that real deadline run out at a chosen point - before the clinic is
resolved, before the Flask-Login loaders, inside a view, a template or a
mongoengine write - so the following MongoDB operations fail exactly as they do
against a stalled database, with pymongo's own timeout errors. The outages of
real processes (stopped, killed, paused) are in tests/faults/.
"""
import signal
import time
from types import SimpleNamespace

import mongoengine
import pymongo
import pytest
from flask import Blueprint, render_template_string, request
from pymongo.errors import PyMongoError

from clinic_app import create_app
from clinic_app.config import load_config
from clinic_app.extensions import init_db
from clinic_app.models import Counter, Patient
from clinic_app.resilience import unavailable_service
from tests.conftest import app_config
from tests.support import TenantClient, api_auth, make_clinic, pause_process, signed_in_client


def exhaust_deadline():
    """From here on, this request's MongoDB deadline has passed (a nested pymongo.timeout, never exited:
    the request's own deadline context restores everything when the request ends)."""
    pymongo.timeout(1e-6).__enter__()
    time.sleep(0.002)


def probes():
    bp = Blueprint("outage_probe", __name__, url_prefix="/_outage")

    @bp.get("/template")
    def template():
        exhaust_deadline()
        return render_template_string("{{ count() }} patients", count=lambda: Patient.objects.count())

    @bp.get("/write")
    def write():
        exhaust_deadline()
        return str(Counter.next("probe"))  # mongoengine re-raises pymongo's timeout as OperationError

    @bp.get("/five-queries")
    def five_queries():
        failures = 0
        for _ in range(5):
            try:
                Patient.objects.count()
            except PyMongoError:
                failures += 1
        return str(failures)

    return bp


@pytest.fixture
def outage_app(services, clinic_a):
    """An app whose requests can run out of MongoDB time where a header says ("first" / "hooks")."""
    app = create_app(app_config(services, MONGODB_REQUEST_BUDGET_MS=300))
    app.test_client_class = TenantClient
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer as in production, not raise into the test
    app.register_blueprint(probes())

    def out_of_time_here(where):
        def hook():
            if request.headers.get("X-Out-Of-Time") == where:
                exhaust_deadline()
        return hook

    app.before_request_funcs.setdefault(None, []).insert(0, out_of_time_here("first"))  # before the clinic lookup
    app.before_request(out_of_time_here("hooks"))  # after every hook: next come the login loaders, the view
    yield app
    init_db(SimpleNamespace(config=load_config(**app_config(services))))


@pytest.fixture
def signed_in(outage_app, clinic_a):
    return signed_in_client(outage_app, clinic_a, "admin@clinica.test")


def _is_503_page(response, fragment=False):
    body = response.get_data(as_text=True)
    assert response.status_code == 503, body[:500]
    assert "Temporarily unavailable" in body and "Traceback" not in body
    assert ("<html" not in body) if fragment else ("<html" in body)
    assert response.headers["Retry-After"]
    return body


@pytest.mark.parametrize("where", ["first", "hooks"], ids=["clinic-lookup", "session-loader"])
def test_signed_in_page_is_503_when_the_deadline_passes_in_the_request_binding(signed_in, clinic_a, where):
    assert signed_in.get("/patients/", tenant=clinic_a).status_code == 200
    _is_503_page(signed_in.get("/patients/", tenant=clinic_a, headers={"X-Out-Of-Time": where}))
    assert signed_in.get("/patients/", tenant=clinic_a).status_code == 200  # the next request is fine


def test_the_503_page_of_a_signed_in_user_does_not_touch_the_database_again(signed_in, clinic_a):
    body = _is_503_page(signed_in.get("/patients/", tenant=clinic_a, headers={"X-Out-Of-Time": "hooks"}))
    assert "Sign out" not in body  # the layout did not load the user (nor its role for the nav)


def test_htmx_fragment_is_a_503_fragment(signed_in, clinic_a):
    headers = {"X-Out-Of-Time": "hooks", "HX-Request": "true"}
    _is_503_page(signed_in.get("/patients/?q=a", tenant=clinic_a, headers=headers), fragment=True)


def test_api_token_loader_out_of_time_is_the_503_envelope(outage_app, clinic_a, in_tenant):
    client = outage_app.test_client()
    headers = api_auth(in_tenant, clinic_a, "Admin")
    assert client.get("/api/v1/patients", tenant=clinic_a, headers=headers).status_code == 200
    response = client.get("/api/v1/patients", tenant=clinic_a, headers={**headers, "X-Out-Of-Time": "hooks"})
    assert response.status_code == 503
    assert response.json["success"] is False and response.json["error"]["code"] == 503


@pytest.mark.parametrize("path", ["/_outage/template", "/_outage/write"], ids=["template", "mongoengine-write"])
def test_view_template_and_mongoengine_write_out_of_time_are_503(outage_app, clinic_a, path):
    _is_503_page(outage_app.test_client().get(path, tenant=clinic_a))


def test_a_404_page_that_needs_the_user_is_503_not_500_when_out_of_time(signed_in, clinic_a):
    assert signed_in.get("/no-such-page", tenant=clinic_a).status_code == 404
    _is_503_page(signed_in.get("/no-such-page", tenant=clinic_a, headers={"X-Out-Of-Time": "hooks"}))


def test_one_deadline_for_the_whole_request_not_one_per_query(services, clinic_a):
    """A stalled database (SIGSTOP: nothing answers, nothing refuses) costs one budget, not five."""
    from clinic_app.dev import Services

    own = Services(services.workdir / "stall").start(redis=False, smtp=False)
    # The clinic stays cached, so the view's five queries are what meets the stalled database.
    app = create_app(app_config(services, MONGODB_URI=own.mongodb_uri, MONGODB_TIMEOUT_MS=400,
                                TENANT_CACHE_SECONDS=60))
    app.test_client_class = TenantClient
    app.register_blueprint(probes())
    try:
        with app.app_context():
            stalled_clinic = make_clinic("stalled")
        client = app.test_client()
        assert client.get("/_outage/five-queries", tenant=stalled_clinic).get_data(as_text=True) == "0"
        pause_process(own.procs["mongo"].pid)
        started = time.monotonic()
        response = client.get("/_outage/five-queries", tenant=stalled_clinic)
        took = time.monotonic() - started
        own.procs["mongo"].send_signal(signal.SIGCONT)
        # All five failed, together within one budget (0.4 s) plus pymongo's 0.5 s server-selection tick.
        assert response.get_data(as_text=True) == "5"
        assert took < 0.4 + 0.5 + 0.5, took
    finally:
        own.procs["mongo"].send_signal(signal.SIGCONT)
        own.stop()
        init_db(SimpleNamespace(config=load_config(**app_config(services))))


def test_writes_are_journaled_and_majority_acknowledged_by_default(app):
    with app.app_context():
        assert mongoengine.get_connection().write_concern.document == {"w": "majority", "j": True}
    assert load_config({})["MONGODB_JOURNAL"] is True


def test_write_concern_is_configurable_but_never_unacknowledged():
    assert load_config({"MONGODB_W": "1", "MONGODB_JOURNAL": "0"})["MONGODB_WRITE_CONCERN"] == 1
    with pytest.raises(RuntimeError, match="MONGODB_W"):
        load_config({"MONGODB_W": "0"})


def test_unavailable_service_sees_through_mongoengine_and_flask_wrappers():
    from mongoengine.errors import OperationError
    from pymongo.errors import ExecutionTimeout, NetworkTimeout, OperationFailure
    from redis.exceptions import ConnectionError as RedisConnectionError
    from werkzeug.exceptions import InternalServerError

    def wrapped(inner):
        try:
            raise inner
        except PyMongoError:
            try:
                raise OperationError("Update failed")
            except OperationError as outer:
                return outer

    assert unavailable_service(wrapped(ExecutionTimeout("operation would exceed time limit", 50))) == "mongodb"
    assert unavailable_service(InternalServerError(original_exception=NetworkTimeout("timed out"))) == "mongodb"
    assert unavailable_service(RedisConnectionError("refused")) == "redis"
    assert unavailable_service(wrapped(OperationFailure("bad query", 2))) is None
    assert unavailable_service(ValueError("a bug")) is None
