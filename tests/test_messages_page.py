"""Messages page: the clinic's outbox for Admins, newest first, 50 a page, filtered by status with htmx."""
import re
from datetime import datetime, timedelta, timezone

import pytest

from clinic_app.models import OutboundMessage, Settings
from clinic_app.services.outbox import message_page
from tests.test_query_plans import assert_tenant_index

HX = {"HX-Request": "true"}
T = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def add_messages(in_tenant, clinic, n, status="sent", start=T, kind="welcome", to=None):
    with in_tenant(clinic):
        for i in range(n):
            at = start + timedelta(minutes=i)
            OutboundMessage(key=f"{kind}:{status}:{start:%H%M}:{i}", kind=kind, to=to or f"p{i}@example.test",
                            subject=f"{kind} {status} {i}", text_body="x", message_id=f"<m{i}@x>",
                            status=status, created_at=at, attempts=1 if status in ("sent", "failed") else 0,
                            sent_at=at + timedelta(seconds=5) if status == "sent" else None,
                            last_error="SMTPRecipientsRefused: nope" if status == "failed" else None).save()


def rows(html):
    return re.findall(r'<tr data-message-id="\w+" data-status="(\w+)" data-kind="(\w+)"', html)


def test_admins_see_every_message_with_status_kind_recipient_subject_and_times(client, clinic_a, login_as,
                                                                              in_tenant):
    with in_tenant(clinic_a):
        s = Settings.current()
        s.timezone, s.date_format = "Europe/Berlin", "DD.MM.YYYY"
        s.save()
    for n, status in enumerate(("queued", "sending", "sent", "failed", "cancelled")):
        add_messages(in_tenant, clinic_a, 1, status=status, start=T + timedelta(hours=n), kind="invite",
                     to=f"{status}@example.test")
    login_as(clinic_a)
    html = client.get("/messages/", tenant=clinic_a).get_data(as_text=True)
    assert [s for s, _ in rows(html)] == ["cancelled", "failed", "sent", "sending", "queued"]  # newest first
    assert "sent@example.test" in html and "invite sent 0" in html
    assert "02.03.2026 12:00" in html  # created at 11:00 UTC, shown in Berlin time (UTC+1)
    assert "02.03.2026 12:00:05" not in html and "02.03.2026 12:00" in html  # sent_at, minutes only
    assert "SMTPRecipientsRefused" not in html and "refused this address" in html  # why, in plain words
    assert 'data-total="5"' in html
    assert '<a href="/messages/" data-nav="messages">Messages</a>' in html  # in the Admin's navigation


def test_fifty_a_page_newest_first(client, clinic_a, login_as, in_tenant):
    add_messages(in_tenant, clinic_a, 55)
    login_as(clinic_a)
    first = client.get("/messages/", tenant=clinic_a).get_data(as_text=True)
    assert len(rows(first)) == 50 and re.findall(r"welcome sent (\d+)", first)[:2] == ["54", "53"]
    assert 'data-page="1" data-has-next="true"' in first and 'rel="next"' in first
    second = client.get("/messages/?page=2", tenant=clinic_a).get_data(as_text=True)
    assert re.findall(r"welcome sent (\d+)", second) == ["4", "3", "2", "1", "0"]
    assert client.get("/messages/?page=99", tenant=clinic_a).status_code == 200


def test_filter_by_status_is_a_get_form_with_htmx_active_search(client, clinic_a, login_as, in_tenant):
    add_messages(in_tenant, clinic_a, 3, status="sent")
    add_messages(in_tenant, clinic_a, 2, status="failed")
    login_as(clinic_a)
    page = client.get("/messages/?status=failed", tenant=clinic_a).get_data(as_text=True)
    assert [s for s, _ in rows(page)] == ["failed", "failed"]
    form = re.search(r'<form method="get" action="/messages/" id="message-filters"[^>]*>', page).group(0)
    assert 'hx-get="/messages/"' in form and 'hx-target="#message-results"' in form and "hx-push-url" in form
    assert '<option selected value="failed">' in page
    fragment = client.get("/messages/?status=sent", headers=HX, tenant=clinic_a)
    html = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in html and "HX-Request" in fragment.headers["Vary"]
    assert html.lstrip().startswith('<div id="message-results"') and [s for s, _ in rows(html)] == ["sent"] * 3
    assert "message-filters" not in html
    boosted = client.get("/messages/?status=sent", headers={**HX, "HX-Boosted": "true"}, tenant=clinic_a)
    assert b"<html" in boosted.data
    empty = client.get("/messages/?status=queued", tenant=clinic_a).get_data(as_text=True)
    assert 'id="message-empty"' in empty


def test_an_unknown_status_is_422_with_the_reason(client, clinic_a, login_as):
    login_as(clinic_a)
    page = client.get("/messages/?status=lost", tenant=clinic_a)
    assert page.status_code == 422 and b"Choose a status from the list." in page.data
    fragment = client.get("/messages/?status=lost", headers=HX, tenant=clinic_a)
    assert fragment.status_code == 422 and b'id="message-filter-problem"' in fragment.data


def test_another_clinics_messages_never_appear(client, clinic_a, clinic_b, login_as, in_tenant):
    add_messages(in_tenant, clinic_a, 2, to="mine@clinica.test")
    add_messages(in_tenant, clinic_b, 3, status="failed", to="secret@clinicb.test")
    login_as(clinic_a)
    for query in ("", "?status=failed", "?status=sent", "?page=2"):
        html = client.get(f"/messages/{query}", tenant=clinic_a).get_data(as_text=True)
        assert "secret@clinicb.test" not in html
    html = client.get("/messages/", tenant=clinic_a).get_data(as_text=True)
    assert len(rows(html)) == 2 and 'data-total="2"' in html


def test_a_doctor_may_not_read_messages(client, clinic_a, login_as):
    login_as(clinic_a, "Doctor")
    assert b'data-nav="messages"' not in client.get("/", tenant=clinic_a).data
    assert client.get("/messages/", tenant=clinic_a).status_code == 403
    assert client.get("/messages/", headers=HX, tenant=clinic_a).status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(client, clinic_a):
    page = client.get("/messages/?status=sent", tenant=clinic_a)
    assert page.status_code == 302 and page.headers["Location"].startswith("/login?next=")
    fragment = client.get("/messages/", headers=HX, tenant=clinic_a)
    assert fragment.status_code == 401 and fragment.headers["HX-Redirect"].startswith("/login?next=")


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_the_page_is_read_only(client, clinic_a, login_as, method):
    login_as(clinic_a)
    assert client.open("/messages/", method=method, tenant=clinic_a).status_code == 405


@pytest.mark.parametrize("status", [None, "failed"])
def test_the_page_query_uses_a_tenant_index(app, clinic_a, in_tenant, status):
    from clinic_app.extensions import ensure_indexes

    with app.app_context():
        ensure_indexes()
    add_messages(in_tenant, clinic_a, 3, status="failed")
    with in_tenant(clinic_a):
        qs = OutboundMessage.objects(**({"status": status} if status else {})).order_by("-created_at")
        assert_tenant_index(qs)
        assert message_page(status).known_total == 3


# -- delivery in plain words ---------------------------------------------------------------

RAW_SMTP_ERROR = ("attempt 1: SMTPDataError: (500, b'Error: (FileNotFoundError) [Errno 2] No such file or "
                  "directory: \\'/srv/clinic/var/mail/tmp/1700000000.M1P2Q3.host\\'')")


def one_message(in_tenant, clinic, **fields):
    with in_tenant(clinic):
        values = {"key": "welcome:1", "kind": "welcome", "to": "ada@example.test", "subject": "Welcome",
                  "text_body": "x", "message_id": "<w1@x>", "created_at": T, **fields}
        return OutboundMessage(**values).save()


def row_of(html, message):
    return re.search(rf'<tr data-message-id="{message.pk}".*?</tr>', html, re.S).group(0)


def test_a_failed_attempt_with_retries_left_shows_retrying_with_the_next_attempt_time(
        app, client, clinic_a, login_as, in_tenant):
    from rq.registry import ScheduledJobRegistry

    from clinic_app.extensions import get_queue

    with in_tenant(clinic_a):
        s = Settings.current()
        s.timezone, s.date_format = "Europe/Berlin", "DD.MM.YYYY"
        s.save()
    message = one_message(in_tenant, clinic_a, status="failed", attempts=1, last_error=RAW_SMTP_ERROR)
    with app.app_context():
        # Where RQ keeps the retry it scheduled for this message's delivery job.
        queue = get_queue()
        queue.connection.zadd(ScheduledJobRegistry(queue=queue).key,
                              {f"email-{message.pk}": datetime(2030, 3, 2, 8, 31, tzinfo=timezone.utc).timestamp()})
    login_as(clinic_a)
    row = row_of(client.get("/messages/", tenant=clinic_a).get_data(as_text=True), message)
    assert 'data-state="retrying"' in row and ">Retrying<" in row and "failed" not in row.replace(
        'data-status="failed"', "")
    assert "attempt 2 of 6, next at 02.03.2030 09:31" in row  # Berlin time, the clinic's date format
    assert "The mail server did not accept the message." in row
    assert "SMTPDataError" not in row and "/var/mail" not in row and "Errno" not in row  # no technical detail


def test_without_a_known_retry_time_it_says_soon_and_after_the_last_attempt_failed(
        client, clinic_a, login_as, in_tenant):
    retrying = one_message(in_tenant, clinic_a, status="failed", attempts=2,
                           last_error="attempt 2: ConnectionRefusedError: [Errno 111] Connection refused")
    given_up = one_message(in_tenant, clinic_a, key="welcome:2", message_id="<w2@x>", status="failed", attempts=6,
                           last_error="attempt 6: SMTPRecipientsRefused: {'x@y': (550, b'5.1.1 no such user')}")
    login_as(clinic_a)
    html = client.get("/messages/", tenant=clinic_a).get_data(as_text=True)
    row = row_of(html, retrying)
    assert "attempt 3 of 6, next one within a few minutes" in row
    assert "The mail server could not be reached." in row and "Errno" not in row
    row = row_of(html, given_up)
    assert 'data-state="failed"' in row and ">Failed<" in row and "after 6 attempts" in row
    assert "refused this address" in row and "5.1.1" not in row


def test_an_interrupted_send_is_explained_without_internals(client, clinic_a, login_as, in_tenant):
    from clinic_app.services.notifications import GAVE_UP, UNKNOWN_OUTCOME

    resent = one_message(in_tenant, clinic_a, status="queued", attempts=1,
                         last_error=f"{UNKNOWN_OUTCOME} the worker stopped during attempt 1 (lease expired)")
    stopped = one_message(in_tenant, clinic_a, key="welcome:2", message_id="<w2@x>", status="failed", attempts=2,
                          last_error=f"{GAVE_UP} the worker stopped during attempt 2")
    login_as(clinic_a)
    html = client.get("/messages/", tenant=clinic_a).get_data(as_text=True)
    assert "attempt 2 of 6" in row_of(html, resent) and "sent once more" in row_of(html, resent)
    row = row_of(html, stopped)
    assert ">Failed<" in row and "not sent again automatically" in row
    assert "lease" not in html and "worker" not in html


def test_the_status_filter_says_failed_includes_retrying(client, clinic_a, login_as):
    login_as(clinic_a)
    html = client.get("/messages/", tenant=clinic_a).get_data(as_text=True)
    assert '<option value="failed">Failed or retrying</option>' in html
