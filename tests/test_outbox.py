"""Outbox email: written once per key, delivered once over real SMTP by an RQ job."""
import pytest

from clinic_app.models import OutboundMessage
from clinic_app.services.notifications import deliver, queue_email
from clinic_app.tenancy import NoTenantBound
from tests.support import run_jobs


def _queue(key="welcome:1", to="admin@clinica.test"):
    return queue_email(key=key, kind="welcome", to=to, subject="Welcome to clinic_app",
                       text_body="Hello!", html_body="<p>Hello!</p>")


def test_enqueuing_the_same_message_twice_delivers_it_once(app, clinic_a, in_tenant, mail):
    with in_tenant(clinic_a):
        first = _queue()
        second = _queue()
        assert first.pk == second.pk
        assert OutboundMessage.objects.count() == 1
    run_jobs(app)
    received = mail()
    assert len(received) == 1
    assert received[0]["Subject"] == "Welcome to clinic_app"
    assert received[0]["Message-ID"] == first.message_id
    assert received[0]["X-Clinic"] == "clinica"
    with in_tenant(clinic_a):
        stored = OutboundMessage.objects.get(pk=first.pk)
        assert stored.status == "sent" and stored.sent_at is not None and stored.attempts == 1


def test_running_the_delivery_again_does_not_resend(app, clinic_a, in_tenant, mail):
    with in_tenant(clinic_a):
        message = _queue()
    run_jobs(app)
    with in_tenant(clinic_a):
        assert deliver(message.pk) == "skipped"
    assert len(mail()) == 1


def test_same_key_in_two_clinics_is_two_messages(app, clinic_a, clinic_b, in_tenant, mail):
    with in_tenant(clinic_a):
        _queue(to="a@clinica.test")
    with in_tenant(clinic_b):
        _queue(to="b@clinicb.test")
    run_jobs(app)
    assert sorted(m["To"] for m in mail()) == ["a@clinica.test", "b@clinicb.test"]


def test_a_job_without_a_tenant_fails_and_sees_nothing(app, clinic_a, in_tenant, mail):
    from clinic_app.extensions import get_queue
    from clinic_app.jobs import deliver_email

    with in_tenant(clinic_a):
        message = _queue()
    with app.app_context():
        get_queue().empty()
        job = get_queue().enqueue(deliver_email, None, str(message.pk))
    run_jobs(app)
    with app.app_context():
        job.refresh()
        assert job.is_failed
        assert "NoTenantBound" in job.latest_result().exc_string
    assert mail() == []
    with pytest.raises(NoTenantBound):
        deliver_email("", str(message.pk))


def test_smtp_failure_marks_the_message_failed_and_keeps_it(app, services, clinic_a, in_tenant, mail):
    with in_tenant(clinic_a):
        message = _queue()
        app.config["SMTP_PORT"] = 1  # nothing listens there
        try:
            with pytest.raises(OSError):
                deliver(message.pk)
        finally:
            app.config["SMTP_PORT"] = services.ports["smtp"]
        failed = OutboundMessage.objects.get(pk=message.pk)
        assert failed.status == "failed" and failed.last_error
        assert deliver(message.pk) == "sent"  # a retry sends it
    assert len(mail()) == 1


def test_a_message_under_another_workers_lease_is_not_sent_twice(app, clinic_a, in_tenant, mail):
    from clinic_app import clock
    from clinic_app.services.notifications import _claim

    with in_tenant(clinic_a):
        message = _queue()
        assert _claim(message.pk, clock.now()) is not None  # worker 1 holds the lease
        assert deliver(message.pk) == "skipped"  # worker 2
    assert mail() == []


def test_redis_outage_keeps_the_message_queued(services, clinic_a):
    from clinic_app import create_app
    from clinic_app.tenancy import tenant_context
    from tests.conftest import app_config

    broken = create_app(app_config(services, REDIS_URL="redis://127.0.0.1:1/0", MONGODB_TIMEOUT_MS=300))
    with broken.app_context(), tenant_context(clinic_a):
        message = _queue()
        assert OutboundMessage.objects.get(pk=message.pk).status == "queued"
