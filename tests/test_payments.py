"""Paying for the subscription: the sandbox checkout, Stripe's webhook (signed here exactly
as Stripe signs), and the idempotent handler both reach."""
import hashlib
import hmac
import html
import json
import re
import secrets
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from clinic_app import tenancy
from clinic_app.clock import as_utc
from clinic_app.models import AuditEvent, OutboundMessage, Settings, SubscriptionPayment, Tenant
from clinic_app.services import payments
from clinic_app.services.subscription import State, standing
from tests.conftest import T0
from tests.support import make_clinic, run_jobs

DAY = timedelta(days=1)
MONTH = 30 * DAY
WEBHOOK = "/billing/stripe/webhook"
WEBHOOK_SECRET = "whsec_test_" + "k" * 24


# -- helpers ------------------------------------------------------------------------


@pytest.fixture
def trial_clinic(app, frozen_clock):
    """A clinic whose 7-day trial starts at T0 (the frozen clock)."""
    with app.app_context():
        return make_clinic("payclinic", "Pay Clinic")


def fresh(tenant):
    return Tenant.objects.get(pk=tenant.pk)


def expiry(app, tenant):
    with app.app_context():
        return as_utc(fresh(tenant).subscription.expires_at)


def payment_count(in_tenant, tenant):
    with in_tenant(tenant):
        return SubscriptionPayment.objects.count()


def clinic_name(in_tenant, tenant):
    with in_tenant(tenant):
        return Settings.current().clinic_name


def hidden_fields(page_html):
    """The hidden inputs of the sandbox page's Pay form."""
    form = re.search(r'<form[^>]*id="sandbox-pay-form".*?</form>', page_html, re.S).group(0)
    found = re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', form)
    return {name: html.unescape(value) for name, value in found}


def start_sandbox_checkout(client, tenant):
    """POST the pay button; follow to the sandbox page; return the fields its Pay form posts."""
    response = client.post("/subscription/checkout", tenant=tenant)
    assert response.status_code == 303, response.get_data(as_text=True)[:300]
    url = response.headers["Location"]
    assert urlsplit(url).netloc == f"{tenant.subdomain}.localhost:5000"
    assert urlsplit(url).path == "/sandbox-pay/checkout"
    page = client.get(url)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "$49.00" in text and tenant.name in text
    assert 'id="sandbox-pay-form"' in text and "Cancel" in text
    return hidden_fields(text)


def pay_in_sandbox(client, tenant):
    fields = start_sandbox_checkout(client, tenant)
    response = client.post("/sandbox-pay/callback", data=fields, tenant=tenant)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/subscription")
    return fields


def stripe_event(tenant_id, session_id=None, event_type="checkout.session.completed", **session):
    """A Checkout Session event shaped like the ones Stripe sends."""
    body = {
        "id": session_id or f"cs_test_{secrets.token_hex(12)}",
        "object": "checkout.session",
        "amount_total": 4900,
        "currency": "usd",
        "client_reference_id": str(tenant_id),
        "metadata": {"tenant_id": str(tenant_id)},
        "mode": "payment",
        "payment_status": "paid",
        "status": "complete",
    }
    body.update(session)
    return {
        "id": f"evt_{secrets.token_hex(12)}",
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()),
        "livemode": False,
        "type": event_type,
        "data": {"object": body},
    }


def stripe_signature(payload, secret=WEBHOOK_SECRET, timestamp=None):
    """Stripe-Signature as Stripe computes it: t=<unix>,v1=HMAC_SHA256(secret, "<t>.<raw body>")."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


@pytest.fixture
def stripe_webhook(app, client, monkeypatch):
    """post(event_or_payload, signature=...) -> the apex webhook's response (secret configured)."""
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)

    def post(event, signature="sign", **kwargs):
        payload = event if isinstance(event, str) else json.dumps(event)
        headers = {"Content-Type": "application/json"}
        if signature == "sign":
            signature = stripe_signature(payload)
        if signature is not None:
            headers["Stripe-Signature"] = signature
        return client.post(WEBHOOK, data=payload, headers=headers, **kwargs)

    return post


# -- the page -------------------------------------------------------------------------


def test_the_page_shows_plan_state_dates_price_what_next_and_no_payments_yet(client, trial_clinic, login_as):
    login_as(trial_clinic)
    text = client.get("/subscription", tenant=trial_clinic).get_data(as_text=True)
    assert 'data-plan="trial"' in text and 'data-state="trial"' in text
    # Dates in the clinic's own format and zone (YYYY-MM-DD, UTC here); a trial "ends", it is not "paid through".
    assert "<dt>Trial ends</dt><dd id=\"expires-at\">2026-03-09 09:00</dd>" in text and "Paid through" not in text
    assert "Monthly plan: <strong>$49.00</strong> for 30 days" in text
    assert '<strong id="renewal-until">2026-04-08</strong>' in text  # 30 days after the trial's end
    assert 'id="checkout-form"' in text and "Sandbox payments" in text
    assert 'id="no-payments"' in text
    cancelled = client.get("/subscription?checkout=cancelled", tenant=trial_clinic).get_data(as_text=True)
    assert "nothing was charged" in cancelled


# -- the sandbox --------------------------------------------------------------------------


def test_a_clinic_in_grace_pays_in_the_sandbox_and_can_write_again(
    app, client, trial_clinic, frozen_clock, login_as, in_tenant, mail
):
    frozen_clock.advance(days=9)
    now = frozen_clock.now()
    admin = login_as(trial_clinic)
    home = client.get("/", tenant=trial_clinic)
    assert b'id="grace-banner"' in home.data
    refused = client.post("/_probe/settings", data={"name": "Renamed"}, tenant=trial_clinic)
    assert refused.status_code == 303 and refused.headers["Location"].endswith("/subscription")
    assert clinic_name(in_tenant, trial_clinic) == "Pay Clinic"

    fields = pay_in_sandbox(client, trial_clinic)

    tenant = fresh(trial_clinic)
    assert tenant.subscription.plan == "monthly" and tenant.subscription.status == "active"
    assert as_utc(tenant.subscription.expires_at) == now + MONTH
    assert standing(tenant, now).state is State.ACTIVE
    page = client.get("/subscription", tenant=trial_clinic).get_data(as_text=True)
    assert "Payment received: $49.00" in page
    assert 'data-state="active"' in page and 'id="grace-banner"' not in page
    assert f'data-provider-ref="{fields["session"]}"' in page
    assert client.post("/_probe/settings", data={"name": "Renamed"}, tenant=trial_clinic).status_code == 200
    assert clinic_name(in_tenant, trial_clinic) == "Renamed"

    with in_tenant(trial_clinic):
        payment = SubscriptionPayment.objects.get()
        assert (payment.provider, payment.provider_ref, payment.amount_cents, payment.currency) == (
            "sandbox", fields["session"], 4900, "USD")
        assert as_utc(payment.previous_expires_at) == T0 + 7 * DAY
        assert (as_utc(payment.period_start), as_utc(payment.period_end)) == (now, now + MONTH)
        assert payment.paid_by_id == admin.pk
        event = AuditEvent.objects.get(action="subscription.paid")
        assert event.actor_id == admin.pk and event.target_id == payment.pk
        assert OutboundMessage.objects.get(key=f"receipt:sandbox:{fields['session']}").to == "admin@payclinic.test"
    run_jobs(app)
    receipt = [m for m in mail() if m["Subject"].startswith("Receipt")]
    assert len(receipt) == 1
    body = receipt[0].get_body(("plain",)).get_content()
    assert "$49.00" in body and fields["session"] in body and "http://payclinic.localhost:5000/subscription" in body


def test_a_suspended_clinic_reaches_the_subscription_page_pays_and_is_unsuspended(
    client, trial_clinic, frozen_clock, login_as
):
    frozen_clock.advance(days=16)
    login_as(trial_clinic)
    assert client.get("/", tenant=trial_clinic).status_code == 403
    page = client.get("/subscription", tenant=trial_clinic)
    assert page.status_code == 200 and b'data-state="suspended"' in page.data

    pay_in_sandbox(client, trial_clinic)

    assert as_utc(fresh(trial_clinic).subscription.expires_at) == frozen_clock.now() + MONTH
    assert client.get("/", tenant=trial_clinic).status_code == 200


def test_paying_before_the_expiry_extends_from_the_expiry(client, trial_clinic, frozen_clock, login_as, in_tenant):
    frozen_clock.advance(days=3)
    login_as(trial_clinic)
    pay_in_sandbox(client, trial_clinic)
    assert as_utc(fresh(trial_clinic).subscription.expires_at) == T0 + 7 * DAY + MONTH
    pay_in_sandbox(client, trial_clinic)  # paying twice buys two months
    assert as_utc(fresh(trial_clinic).subscription.expires_at) == T0 + 7 * DAY + 2 * MONTH
    assert payment_count(in_tenant, trial_clinic) == 2
    page = client.get("/subscription", tenant=trial_clinic).get_data(as_text=True)
    assert page.count("data-provider-ref=") == 2


def test_a_replayed_sandbox_callback_changes_nothing(app, client, trial_clinic, frozen_clock, login_as, in_tenant):
    frozen_clock.advance(days=9)
    login_as(trial_clinic)
    fields = pay_in_sandbox(client, trial_clinic)
    paid_through = expiry(app, trial_clinic)
    frozen_clock.advance(minutes=10)

    replay = client.post("/sandbox-pay/callback", data=fields, tenant=trial_clinic)

    assert replay.status_code == 303
    assert "already recorded" in client.get("/subscription", tenant=trial_clinic).get_data(as_text=True)
    assert expiry(app, trial_clinic) == paid_through
    assert payment_count(in_tenant, trial_clinic) == 1
    with in_tenant(trial_clinic):
        assert AuditEvent.objects(action="subscription.paid").count() == 1
        assert OutboundMessage.objects(kind="receipt").count() == 1
    with app.test_request_context(), in_tenant(trial_clinic):
        event = payments.get_provider("sandbox").verify(fields)
        assert event.handle().status == "duplicate"
    assert expiry(app, trial_clinic) == paid_through


def _forge(fields, clinic_b):
    return {
        "altered amount": {**fields, "amount": "1"},
        "altered session": {**fields, "session": "sbx_" + "x" * 24},
        "altered clinic": {**fields, "tenant": str(clinic_b.pk)},
        "wrong signature": {**fields, "sig": "0" * 64},
        "no signature": {k: v for k, v in fields.items() if k != "sig"},
        "signed with another key": {**fields, "sig": payments.SandboxProvider("another-key").sign(fields)},
        "an operator value": {**fields, "tenant": '{"$ne": null}'},
    }


def test_forged_sandbox_callbacks_are_refused_and_change_nothing(
    app, client, trial_clinic, clinic_b, frozen_clock, login_as, in_tenant
):
    frozen_clock.advance(days=9)
    login_as(trial_clinic)
    fields = start_sandbox_checkout(client, trial_clinic)
    for name, forged in _forge(fields, clinic_b).items():
        response = client.post("/sandbox-pay/callback", data=forged, tenant=trial_clinic)
        assert response.status_code == 400, name
        assert client.get("/sandbox-pay/checkout", query_string=forged, tenant=trial_clinic).status_code == 400, name
    assert payment_count(in_tenant, trial_clinic) == 0
    assert expiry(app, trial_clinic) == T0 + 7 * DAY
    assert fresh(trial_clinic).subscription.plan == "trial"


def test_an_expired_sandbox_checkout_is_refused(app, client, trial_clinic, frozen_clock, login_as, in_tenant):
    login_as(trial_clinic)
    fields = start_sandbox_checkout(client, trial_clinic)
    frozen_clock.advance(minutes=40)
    client.get("/subscription", tenant=trial_clinic)  # the Admin is still active (sessions idle out after 60 min)
    frozen_clock.advance(minutes=20, seconds=1)
    response = client.post("/sandbox-pay/callback", data=fields, tenant=trial_clinic)
    assert response.status_code == 400 and b"expired" in response.data
    assert payment_count(in_tenant, trial_clinic) == 0
    assert expiry(app, trial_clinic) == T0 + 7 * DAY


def test_a_callback_signed_for_one_clinic_is_refused_on_another(
    app, client, trial_clinic, clinic_b, frozen_clock, login_as, in_tenant
):
    login_as(trial_clinic)
    fields = start_sandbox_checkout(client, trial_clinic)
    login_as(clinic_b)
    before_b = expiry(app, clinic_b)
    assert client.post("/sandbox-pay/callback", data=fields, tenant=clinic_b).status_code == 400
    assert client.get("/sandbox-pay/checkout", query_string=fields, tenant=clinic_b).status_code == 400
    assert payment_count(in_tenant, trial_clinic) == 0 and payment_count(in_tenant, clinic_b) == 0
    assert expiry(app, clinic_b) == before_b and expiry(app, trial_clinic) == T0 + 7 * DAY
    # The same callback on its own clinic's host is good.
    assert client.post("/sandbox-pay/callback", data=fields, tenant=trial_clinic).status_code == 303
    assert payment_count(in_tenant, trial_clinic) == 1 and payment_count(in_tenant, clinic_b) == 0


def test_the_sandbox_is_not_served_when_stripe_is_the_provider(app, client, trial_clinic, login_as, monkeypatch):
    login_as(trial_clinic)
    fields = start_sandbox_checkout(client, trial_clinic)
    monkeypatch.setitem(app.config, "PAYMENT_PROVIDER", "stripe")
    assert client.post("/sandbox-pay/callback", data=fields, tenant=trial_clinic).status_code == 404
    assert client.get("/sandbox-pay/checkout", query_string=fields, tenant=trial_clinic).status_code == 404
    # Without Stripe keys the pay button explains instead of failing.
    response = client.post("/subscription/checkout", tenant=trial_clinic)
    assert response.status_code == 303 and response.headers["Location"].endswith("/subscription")
    assert b"not configured" in client.get("/subscription", tenant=trial_clinic).data


# -- who may pay ------------------------------------------------------------------------


def test_a_doctor_may_not_pay(client, trial_clinic, login_as, in_tenant):
    login_as(trial_clinic, "Doctor")
    assert client.post("/subscription/checkout", tenant=trial_clinic).status_code == 403
    assert client.get("/subscription", tenant=trial_clinic).status_code == 403
    assert payment_count(in_tenant, trial_clinic) == 0


def test_an_accountant_reads_the_page_but_may_not_pay(client, trial_clinic, login_as, in_tenant):
    login_as(trial_clinic)
    fields = start_sandbox_checkout(client, trial_clinic)
    client.post("/logout", tenant=trial_clinic)
    login_as(trial_clinic, "Accountant")
    page = client.get("/subscription", tenant=trial_clinic)
    assert page.status_code == 200
    assert b'id="pay-not-allowed"' in page.data and b'id="checkout-form"' not in page.data
    assert client.post("/subscription/checkout", tenant=trial_clinic).status_code == 403
    assert client.get("/sandbox-pay/checkout", query_string=fields, tenant=trial_clinic).status_code == 403
    assert client.post("/sandbox-pay/callback", data=fields, tenant=trial_clinic).status_code == 403
    assert payment_count(in_tenant, trial_clinic) == 0


def test_signed_out_visitors_cannot_use_a_signed_callback(client, trial_clinic, login_as, in_tenant):
    login_as(trial_clinic)
    fields = start_sandbox_checkout(client, trial_clinic)
    client.post("/logout", tenant=trial_clinic)
    response = client.post("/sandbox-pay/callback", data=fields, tenant=trial_clinic)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert payment_count(in_tenant, trial_clinic) == 0


# -- Stripe -------------------------------------------------------------------------------


def test_a_signed_stripe_event_pays_for_the_clinic_it_names(app, trial_clinic, frozen_clock, stripe_webhook, in_tenant):
    frozen_clock.advance(days=9)
    event = stripe_event(trial_clinic.pk)
    response = stripe_webhook(event)
    assert response.status_code == 200 and response.json == {"received": True, "result": "paid"}
    tenant = fresh(trial_clinic)
    assert tenant.subscription.plan == "monthly"
    assert as_utc(tenant.subscription.expires_at) == frozen_clock.now() + MONTH
    with in_tenant(trial_clinic):
        payment = SubscriptionPayment.objects.get()
        assert (payment.provider, payment.provider_ref, payment.event_id) == (
            "stripe", event["data"]["object"]["id"], event["id"])
        assert payment.amount_display == "$49.00" and payment.paid_by_id is None
        assert AuditEvent.objects.get(action="subscription.paid").actor is None
        assert OutboundMessage.objects(kind="receipt").count() == 1


def test_a_replayed_stripe_event_changes_nothing(app, trial_clinic, stripe_webhook, in_tenant):
    event = stripe_event(trial_clinic.pk)
    payload = json.dumps(event)
    header = stripe_signature(payload)
    assert stripe_webhook(payload, signature=header).json["result"] == "paid"
    paid_through = expiry(app, trial_clinic)
    # The same delivery again, and a redelivery that Stripe signs anew.
    for signature in (header, stripe_signature(payload, timestamp=int(time.time()) + 1)):
        response = stripe_webhook(payload, signature=signature)
        assert response.status_code == 200 and response.json["result"] == "duplicate"
    # A later event about the same paid checkout (another event id) is the same payment.
    again = {**event, "id": "evt_other", "type": "checkout.session.async_payment_succeeded"}
    assert stripe_webhook(again).json["result"] == "duplicate"
    assert expiry(app, trial_clinic) == paid_through
    assert payment_count(in_tenant, trial_clinic) == 1
    with in_tenant(trial_clinic):
        assert AuditEvent.objects(action="subscription.paid").count() == 1


@pytest.mark.parametrize("case", [
    "wrong secret", "no header", "empty header", "stale timestamp", "garbage header",
    "body changed after signing", "v0 scheme only",
])
def test_a_stripe_event_with_a_bad_signature_is_refused(app, trial_clinic, stripe_webhook, in_tenant, case):
    payload = json.dumps(stripe_event(trial_clinic.pk))
    now = int(time.time())
    post = {
        "wrong secret": lambda: stripe_webhook(payload, signature=stripe_signature(payload, secret="whsec_other")),
        "no header": lambda: stripe_webhook(payload, signature=None),
        "empty header": lambda: stripe_webhook(payload, signature=""),
        "stale timestamp": lambda: stripe_webhook(payload, signature=stripe_signature(payload, timestamp=now - 301)),
        "garbage header": lambda: stripe_webhook(payload, signature="t=abc,v1=zzz"),
        "body changed after signing": lambda: stripe_webhook(
            payload.replace('"amount_total": 4900', '"amount_total": 1'), signature=stripe_signature(payload)),
        "v0 scheme only": lambda: stripe_webhook(payload, signature=stripe_signature(payload).replace("v1=", "v0=")),
    }[case]
    response = post()
    assert response.status_code == 400 and response.json["received"] is False
    assert payment_count(in_tenant, trial_clinic) == 0
    assert expiry(app, trial_clinic) == T0 + 7 * DAY and fresh(trial_clinic).subscription.plan == "trial"


def test_a_stripe_event_pays_only_for_the_clinic_it_names(app, trial_clinic, clinic_b, stripe_webhook, in_tenant):
    b_before, a_before = expiry(app, clinic_b), expiry(app, trial_clinic)
    # Naming clinic B pays for clinic B, never for another clinic.
    assert stripe_webhook(stripe_event(clinic_b.pk)).json["result"] == "paid"
    assert expiry(app, clinic_b) == b_before + MONTH and expiry(app, trial_clinic) == a_before
    assert payment_count(in_tenant, trial_clinic) == 0 and payment_count(in_tenant, clinic_b) == 1
    refused = {
        "metadata names another clinic than client_reference_id": stripe_event(
            trial_clinic.pk, metadata={"tenant_id": str(clinic_b.pk)}),
        "subdomain of another clinic": stripe_event(
            clinic_b.pk, metadata={"tenant_id": str(clinic_b.pk), "subdomain": trial_clinic.subdomain}),
        "no such clinic": stripe_event("0" * 24, metadata={}),
        "not a clinic id": stripe_event("clinica", metadata={}),
        "names no clinic": stripe_event("", metadata={}),
        "an operator object": stripe_event("", metadata={"tenant_id": {"$ne": None}}),
    }
    for name, event in refused.items():
        response = stripe_webhook(event)
        assert response.status_code == 400, name
    assert expiry(app, clinic_b) == b_before + MONTH and expiry(app, trial_clinic) == a_before
    assert payment_count(in_tenant, trial_clinic) == 0 and payment_count(in_tenant, clinic_b) == 1


def test_stripe_events_that_are_not_payments_are_acknowledged_and_ignored(app, trial_clinic, stripe_webhook, in_tenant):
    unpaid = stripe_event(trial_clinic.pk, payment_status="unpaid")
    assert stripe_webhook(unpaid).json == {"received": True, "result": "ignored"}
    other = stripe_event(trial_clinic.pk, event_type="customer.created")
    assert stripe_webhook(other).json["result"] == "ignored"
    assert payment_count(in_tenant, trial_clinic) == 0
    # The delayed method settles later: that event pays.
    settled = {**unpaid, "id": "evt_settled", "type": "checkout.session.async_payment_succeeded"}
    settled["data"] = {"object": {**unpaid["data"]["object"], "payment_status": "paid"}}
    assert stripe_webhook(settled).json["result"] == "paid"
    assert payment_count(in_tenant, trial_clinic) == 1


def test_the_webhook_lives_on_the_apex_only_and_needs_a_secret(app, client, trial_clinic, stripe_webhook, monkeypatch):
    assert stripe_webhook(stripe_event(trial_clinic.pk), tenant=trial_clinic).status_code == 404
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", "")
    assert stripe_webhook(stripe_event(trial_clinic.pk)).status_code == 404
    assert fresh(trial_clinic).subscription.plan == "trial"


def test_with_csrf_on_the_webhook_and_the_callback_need_no_token_but_the_pay_button_does(
    services, trial_clinic
):
    from clinic_app import create_app
    from tests.conftest import app_config
    from tests.support import TEST_PASSWORD, TenantClient

    strict = create_app(app_config(services, WTF_CSRF_ENABLED=True, STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET))
    strict.test_client_class = TenantClient
    client = strict.test_client()
    payload = json.dumps(stripe_event(trial_clinic.pk))
    response = client.post(WEBHOOK, data=payload, headers={"Stripe-Signature": stripe_signature(payload),
                                                           "Content-Type": "application/json"})
    assert response.status_code == 200 and response.json["result"] == "paid"

    def token(path):
        text = client.get(path, tenant=trial_clinic).get_data(as_text=True)
        return re.search(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"', text).group(1)

    client.post("/login", tenant=trial_clinic, data={
        "email": "admin@payclinic.test", "password": TEST_PASSWORD, "csrf_token": token("/login")})
    assert client.post("/subscription/checkout", tenant=trial_clinic).status_code == 400  # no token
    started = client.post("/subscription/checkout", data={"csrf_token": token("/subscription")}, tenant=trial_clinic)
    assert started.status_code == 303
    fields = hidden_fields(client.get(started.headers["Location"]).get_data(as_text=True))
    assert "csrf_token" not in fields
    assert client.post("/sandbox-pay/callback", data=fields, tenant=trial_clinic).status_code == 303
    with strict.app_context(), tenancy.tenant_context(trial_clinic):
        assert SubscriptionPayment.objects.count() == 2


class FakeStripe(BaseHTTPRequestHandler):
    """Answers POST /v1/checkout/sessions like Stripe's API, and remembers what it was sent."""

    requests = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        FakeStripe.requests.append((self.path, dict(self.headers), parse_qs(body)))
        if "price_missing" in body:
            status, answer = 400, {"error": {"type": "invalid_request_error", "message": "No such price"}}
        else:
            status, answer = 200, {"id": "cs_test_fake123", "object": "checkout.session",
                                   "url": "https://checkout.stripe.com/c/pay/cs_test_fake123"}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_stripe():
    FakeStripe.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeStripe)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_stripe_checkout_session_names_the_clinic_and_the_price(app, trial_clinic, fake_stripe):
    provider = payments.StripeProvider("sk_test_123", api_base=fake_stripe)
    with app.test_request_context():
        started = provider.create_checkout(trial_clinic, amount_cents=4900, currency="USD",
                                           success_url="http://payclinic.localhost:5000/subscription?checkout=done",
                                           cancel_url="http://payclinic.localhost:5000/subscription?checkout=cancelled")
        assert started == payments.Checkout("https://checkout.stripe.com/c/pay/cs_test_fake123", "cs_test_fake123")
        path, headers, form = FakeStripe.requests[-1]
        assert path == "/v1/checkout/sessions" and headers["Authorization"] == "Bearer sk_test_123"
        tid = str(trial_clinic.pk)
        assert form["mode"] == ["payment"] and form["client_reference_id"] == [tid]
        assert form["metadata[tenant_id]"] == [tid] and form["metadata[subdomain]"] == ["payclinic"]
        assert form["payment_intent_data[metadata][tenant_id]"] == [tid]
        assert form["line_items[0][price_data][unit_amount]"] == ["4900"]
        assert form["line_items[0][price_data][currency]"] == ["usd"]
        assert form["success_url"] == ["http://payclinic.localhost:5000/subscription?checkout=done"]
        with pytest.raises(payments.PaymentsUnavailable):
            payments.StripeProvider("sk_test_123", price_id="price_missing", api_base=fake_stripe).create_checkout(
                trial_clinic, amount_cents=4900, currency="USD", success_url="x", cancel_url="y")
        assert FakeStripe.requests[-1][2]["line_items[0][price]"] == ["price_missing"]


# -- the handler itself ---------------------------------------------------------------------


def test_paying_does_not_lift_an_operator_suspension(app, trial_clinic, frozen_clock):
    Tenant.objects(pk=trial_clinic.pk).update(set__status="suspended")
    with app.test_request_context():
        outcome = payments.payment_succeeded(trial_clinic.pk, "stripe", "cs_op", 4900, "USD", frozen_clock.now())
    tenant = fresh(trial_clinic)
    assert outcome.status == "paid" and tenant.status == "suspended"
    assert as_utc(tenant.subscription.expires_at) == T0 + 7 * DAY + MONTH
    assert standing(tenant, frozen_clock.now()).state is State.SUSPENDED


def test_an_unknown_clinic_cannot_be_paid_for(app, trial_clinic):
    with app.test_request_context():
        for bad in ("0" * 24, "nope", None, {"$ne": None}):
            with pytest.raises(payments.InvalidPayment):
                payments.payment_succeeded(bad, "stripe", "cs_x", 4900, "USD", T0)


def test_concurrent_deliveries_of_one_payment_apply_it_once_and_two_payments_both_count(app, trial_clinic):
    def deliver(ref, results):
        with app.test_request_context():
            results.append(payments.payment_succeeded(trial_clinic.pk, "stripe", ref, 4900, "USD", T0).status)

    results = []
    threads = [threading.Thread(target=deliver, args=("cs_same", results)) for _ in range(4)]
    threads += [threading.Thread(target=deliver, args=("cs_other", results))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["duplicate", "duplicate", "duplicate", "paid", "paid"]
    assert expiry(app, trial_clinic) == T0 + 7 * DAY + 2 * MONTH
