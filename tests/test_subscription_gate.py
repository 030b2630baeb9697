"""The subscription state machine (ARCHITECTURE §8) and the gate, by moving the clock."""
from datetime import timedelta

import pytest

from clinic_app.models import Settings
from clinic_app.services.subscription import State, standing
from clinic_app.tenancy import tenant_context
from tests.conftest import T0

DAY = timedelta(days=1)


@pytest.fixture
def trial_clinic(app, frozen_clock):
    from tests.support import make_clinic

    with app.app_context():
        return make_clinic("trialclinic", "Trial Clinic")


@pytest.mark.parametrize(
    "offset,state",
    [
        (timedelta(0), State.TRIAL),
        (5 * DAY, State.TRIAL),
        (7 * DAY, State.TRIAL),  # day 7: "expires today", still full access
        (8 * DAY - timedelta(seconds=1), State.TRIAL),
        (8 * DAY, State.GRACE),  # day 8
        (14 * DAY, State.GRACE),
        (15 * DAY - timedelta(seconds=1), State.GRACE),
        (15 * DAY, State.SUSPENDED),  # day 15
        (40 * DAY, State.SUSPENDED),
    ],
)
def test_trial_state_at_each_day_boundary(trial_clinic, offset, state):
    assert standing(trial_clinic, T0 + offset).state is state


def test_paid_clinic_is_active_then_grace_then_suspended(trial_clinic):
    trial_clinic.subscription.plan = "monthly"
    trial_clinic.subscription.expires_at = T0 + 30 * DAY
    assert standing(trial_clinic, T0 + 30 * DAY).state is State.ACTIVE
    assert standing(trial_clinic, T0 + 31 * DAY).state is State.GRACE
    assert standing(trial_clinic, T0 + 38 * DAY).state is State.SUSPENDED


def test_operator_status_overrides_the_dates(trial_clinic):
    trial_clinic.status = "suspended"
    assert standing(trial_clinic, T0).state is State.SUSPENDED
    trial_clinic.status = "inactive"
    assert standing(trial_clinic, T0).state is State.INACTIVE


def test_days_left_counts_down(trial_clinic):
    assert standing(trial_clinic, T0).days_left == 8
    assert standing(trial_clinic, T0 + 7 * DAY).days_left == 1
    assert standing(trial_clinic, T0 + 7 * DAY + timedelta(hours=23)).days_left == 0


def _clinic_name(app, tenant):
    with app.app_context(), tenant_context(tenant):
        return Settings.current().clinic_name


def test_trial_allows_writes(client, app, trial_clinic, frozen_clock):
    frozen_clock.advance(days=7, hours=23)
    response = client.post("/_probe/settings", data={"name": "New name"}, tenant=trial_clinic)
    assert response.status_code == 200
    assert _clinic_name(app, trial_clinic) == "New name"


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_grace_refuses_form_writes_with_303_to_subscription(client, app, trial_clinic, frozen_clock, method):
    frozen_clock.advance(days=8)
    response = client.open("/_probe/settings", method=method, data={"name": "Hacked"}, tenant=trial_clinic)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/subscription")
    assert _clinic_name(app, trial_clinic) == "Trial Clinic"


def test_grace_refuses_htmx_writes_with_hx_redirect(client, app, trial_clinic, frozen_clock):
    frozen_clock.advance(days=10)
    response = client.post(
        "/_probe/settings", data={"name": "Hacked"}, headers={"HX-Request": "true"}, tenant=trial_clinic
    )
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == "/subscription"
    assert _clinic_name(app, trial_clinic) == "Trial Clinic"


def test_grace_allows_reads_with_a_banner_on_every_page(client, trial_clinic, frozen_clock, login_as):
    frozen_clock.advance(days=14, hours=23)
    login_as(trial_clinic)  # signing in is a write that grace allows
    for path in ("/", "/subscription"):
        response = client.get(path, tenant=trial_clinic)
        assert response.status_code == 200
        assert b'id="grace-banner"' in response.data
        assert b"read-only" in response.data
    assert client.get("/_probe/settings", tenant=trial_clinic).status_code == 200


def test_suspended_clinic_shows_only_the_suspended_page(client, app, trial_clinic, frozen_clock, login_as):
    frozen_clock.advance(days=15)
    login_as(trial_clinic)
    response = client.get("/", tenant=trial_clinic)
    assert response.status_code == 403
    assert b'id="suspended"' in response.data
    response = client.post("/_probe/settings", data={"name": "Hacked"}, tenant=trial_clinic)
    assert response.status_code == 403
    assert _clinic_name(app, trial_clinic) == "Trial Clinic"
    # The subscription page stays reachable for the Admin so the clinic can pay.
    assert client.get("/subscription", tenant=trial_clinic).status_code == 200
    client.post("/logout", tenant=trial_clinic)
    login_as(trial_clinic, "Doctor")
    assert client.get("/subscription", tenant=trial_clinic).status_code == 403


def test_suspended_page_is_a_fragment_for_htmx(client, trial_clinic, frozen_clock):
    frozen_clock.advance(days=20)
    response = client.get("/", headers={"HX-Request": "true"}, tenant=trial_clinic)
    assert response.status_code == 403
    assert b"<html" not in response.data
    assert b'id="suspended"' in response.data
    assert "HX-Request" in response.headers["Vary"]


def test_the_gate_does_not_leak_between_clinics(client, app, trial_clinic, frozen_clock):
    from tests.support import make_clinic

    frozen_clock.advance(days=15)
    with app.app_context():
        fresh = make_clinic("freshclinic", "Fresh Clinic")  # trial starts now
    assert client.get("/_probe/settings", tenant=trial_clinic).status_code == 403
    assert client.get("/_probe/settings", tenant=fresh).status_code == 200
