"""Audit log page: newest first, 50 a page, filters in a GET form with htmx active search, read-only."""
import re
from datetime import datetime, timedelta, timezone

import pytest

from clinic_app.models import AuditEvent, Role, Settings
from tests.support import make_user

HX = {"HX-Request": "true"}
T = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def add_events(in_tenant, clinic, n, action="patient.update", actor=None, start=T, step=timedelta(minutes=1)):
    with in_tenant(clinic):
        for i in range(n):
            event = AuditEvent(action=action, at=start + i * step, target=f"thing {i}", changes={"n": i})
            if actor is not None:
                event.actor_id, event.actor = actor.pk, f"{actor.name} <{actor.email}>"
            event.save()


def rows(html):
    return re.findall(r'<tr data-event-id="\w+" data-action="([\w.]+)">', html)


def test_events_are_listed_newest_first_fifty_a_page(client, clinic_a, login_as, in_tenant):
    add_events(in_tenant, clinic_a, 60)
    login_as(clinic_a)  # adds its own auth.login event: 61 in all, with any that setting up the clinic wrote
    with in_tenant(clinic_a):
        extra = AuditEvent.objects(action__ne="patient.update").count()
    first = client.get("/audit/", tenant=clinic_a).get_data(as_text=True)
    assert len(rows(first)) == 50 and "of more than 50 events" in first  # no count over the whole log
    assert rows(first)[0] == "auth.login"  # the sign-in just now is the newest
    assert re.findall(r"thing (\d+)", first)[:3] == ["59", "58", "57"]
    assert 'data-page="1" data-has-next="true"' in first and 'rel="next"' in first
    second = client.get("/audit/?page=2", tenant=clinic_a).get_data(as_text=True)
    assert len(rows(second)) == 10 + extra and f'data-total="{60 + extra}"' in second
    assert re.findall(r"thing (\d+)", second)[-1] == "0"
    assert client.get("/audit/?page=99", tenant=clinic_a).status_code == 200  # clamped to the last page


def test_filters_by_action_actor_and_dates_in_the_clinic_time_zone(client, clinic_a, login_as, in_tenant):
    admin = login_as(clinic_a)
    with in_tenant(clinic_a):
        nurse = make_user("Nurse")
        s = Settings.current()
        s.timezone = "America/New_York"  # UTC-5 in early March
        s.save()
    add_events(in_tenant, clinic_a, 3, action="staff.invite", actor=admin, start=T)
    add_events(in_tenant, clinic_a, 2, action="patient.update", actor=nurse, start=T)
    # 2026-03-03 03:00 UTC is still 2 March in New York.
    add_events(in_tenant, clinic_a, 1, action="patient.update", actor=nurse, start=datetime(2026, 3, 3, 3, 0,
                                                                                            tzinfo=timezone.utc))
    by_action = client.get("/audit/?action=staff.invite", tenant=clinic_a).get_data(as_text=True)
    assert rows(by_action) == ["staff.invite"] * 3
    by_actor = client.get(f"/audit/?actor={nurse.pk}", tenant=clinic_a).get_data(as_text=True)
    assert rows(by_actor) == ["patient.update"] * 3
    one_day = client.get(f"/audit/?actor={nurse.pk}&start=2026-03-02&end=2026-03-02",
                         tenant=clinic_a).get_data(as_text=True)
    assert len(rows(one_day)) == 3
    next_day = client.get("/audit/?start=2026-03-03&end=2026-03-03&action=patient.update",
                          tenant=clinic_a).get_data(as_text=True)
    assert rows(next_day) == [] and 'id="audit-empty"' in next_day
    # The selects offer the distinct actions and the clinic's people.
    assert '<option selected value="staff.invite">' in by_action
    assert f'<option value="{nurse.pk}">Nurse User &lt;nurse@example.test&gt;</option>' in by_action
    assert '<option value="patient.update">' in by_action


def test_the_filters_are_a_get_form_with_htmx_active_search(client, clinic_a, login_as):
    login_as(clinic_a)
    html = client.get("/audit/", tenant=clinic_a).get_data(as_text=True)
    form = re.search(r'<form method="get" action="/audit/" id="audit-filters"[^>]*>', html).group(0)
    assert 'hx-get="/audit/"' in form and 'hx-target="#audit-results"' in form and 'hx-push-url="true"' in form
    assert 'id="audit-results"' in html


def test_an_htmx_search_returns_only_the_results_fragment(client, clinic_a, login_as, in_tenant):
    add_events(in_tenant, clinic_a, 3, action="staff.invite")
    login_as(clinic_a)
    response = client.get("/audit/?action=staff.invite", headers=HX, tenant=clinic_a)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html and "HX-Request" in response.headers["Vary"]
    assert html.lstrip().startswith('<div id="audit-results"') and rows(html) == ["staff.invite"] * 3
    assert 'id="audit-filters"' not in html  # the form the user is typing in is left alone
    boosted = client.get("/audit/?action=staff.invite", headers={**HX, "HX-Boosted": "true"}, tenant=clinic_a)
    assert b"<html" in boosted.data  # a pushed URL always gives the whole page


@pytest.mark.parametrize("query,field,message", [
    ("start=2026-03-05&end=2026-03-01", "end", "before the start"),
    ("start=yesterday", "start", "Enter a date as YYYY-MM-DD"),
    ("action=nope.never", "action", "Choose an action"),
    ("actor=000000000000000000000000", "actor", "Choose a person"),
])
def test_bad_filters_are_422_beside_the_field(client, clinic_a, login_as, in_tenant, query, field, message):
    login_as(clinic_a)
    with in_tenant(clinic_a):
        before = AuditEvent.objects.count()
    page = client.get(f"/audit/?{query}", tenant=clinic_a)
    assert page.status_code == 422
    assert re.search(rf'id="{field}-error">[^<]*{message}', page.get_data(as_text=True))
    # htmx: the results say what is wrong and the form comes along out of band with the errors.
    fragment = client.get(f"/audit/?{query}", headers=HX, tenant=clinic_a)
    html = fragment.get_data(as_text=True)
    assert fragment.status_code == 422 and "<html" not in html and 'id="audit-filter-problem"' in html
    assert re.search(r'<form[^>]*id="audit-filters"[^>]*hx-swap-oob="true"', html, re.S)
    assert re.search(rf'id="{field}-error">[^<]*{message}', html)
    assert "X-Audit-Filter-Errors" in html  # so the next search clears the errors
    cleared = client.get("/audit/", headers={**HX, "X-Audit-Filter-Errors": "1"}, tenant=clinic_a)
    assert cleared.status_code == 200 and 'hx-swap-oob="true"' in cleared.get_data(as_text=True)
    assert "-error" not in cleared.get_data(as_text=True)
    with in_tenant(clinic_a):
        assert AuditEvent.objects.count() == before


def test_only_this_clinics_events_actions_and_people_are_shown(client, clinic_a, clinic_b, login_as, in_tenant):
    add_events(in_tenant, clinic_b, 2, action="secret.b_only")
    with in_tenant(clinic_b):
        b_admin_id = str(make_user("Nurse", email="b.nurse@example.test").pk)
    login_as(clinic_a)
    html = client.get("/audit/", tenant=clinic_a).get_data(as_text=True)
    assert "secret.b_only" not in html and b_admin_id not in html and "b.nurse@example.test" not in html
    assert client.get("/audit/?action=secret.b_only", tenant=clinic_a).status_code == 422
    assert client.get(f"/audit/?actor={b_admin_id}", tenant=clinic_a).status_code == 422


def test_changes_made_in_the_app_show_up_in_the_log(client, clinic_a, login_as, in_tenant):
    login_as(clinic_a)
    with in_tenant(clinic_a):
        nurse = make_user("Nurse")
        doctor_role = str(Role.objects.get(name="Doctor").pk)
    client.post(f"/staff/{nurse.pk}/role", data={"role": doctor_role}, tenant=clinic_a)
    html = client.get("/audit/?action=staff.role_change", tenant=clinic_a).get_data(as_text=True)
    assert rows(html) == ["staff.role_change"]
    assert "Ada Admin &lt;admin@clinica.test&gt;" in html
    assert f'<a href="/staff/{nurse.pk}">Staff: Nurse User</a>' in html  # the record, by name, linked
    assert re.search(r'data-field="role">Role:\s*<del>Nurse</del> → <ins>Doctor</ins>', html)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_the_log_cannot_be_changed_over_http(client, clinic_a, login_as, in_tenant, method):
    login_as(clinic_a)
    with in_tenant(clinic_a):
        event = AuditEvent.objects(action="auth.login").first()  # provisioning may have written others
        before = list(AuditEvent.objects.as_pymongo())
    for path in ("/audit/", f"/audit/{event.pk}", f"/audit/{event.pk}/delete", f"/audit/{event.pk}/edit"):
        assert client.open(path, method=method, tenant=clinic_a).status_code in (404, 405)
    with in_tenant(clinic_a):
        assert list(AuditEvent.objects.as_pymongo()) == before


def test_a_doctor_may_not_read_the_log(client, clinic_a, login_as):
    login_as(clinic_a, "Doctor")
    assert client.get("/audit/", tenant=clinic_a).status_code == 403
    assert client.get("/audit/", headers=HX, tenant=clinic_a).status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(app, client, clinic_a):
    page = client.get("/audit/?action=x", tenant=clinic_a)
    assert page.status_code == 302 and page.headers["Location"].startswith("/login?next=")
    fragment = client.get("/audit/", headers=HX, tenant=clinic_a)
    assert fragment.status_code == 401 and fragment.headers["HX-Redirect"].startswith("/login?next=")


def test_audit_events_are_append_only_in_the_application(clinic_a, in_tenant):
    from clinic_app.services import audit as audit_svc

    with in_tenant(clinic_a):
        event = audit_svc.record("test.event", changes={"x": 1})
        for attempt in (lambda: event.save(), lambda: event.update(set__action="forged"),
                        lambda: event.modify(set__action="forged"), lambda: event.delete(),
                        lambda: AuditEvent.objects(pk=event.pk).update(set__action="forged"),
                        lambda: AuditEvent.objects(pk=event.pk).modify(set__action="forged"),
                        lambda: AuditEvent.objects.delete()):
            with pytest.raises(PermissionError):
                attempt()
        assert AuditEvent.objects.get(pk=event.pk).action == "test.event"


# -- what each event is about, in words --------------------------------------------------------


def _records(in_tenant, clinic, n, tag=""):
    """n patients, each with an appointment and a visit, and an audit event on each of them."""
    from clinic_app.models import Appointment, Patient, User, Visit
    from clinic_app.services import audit as audit_svc

    with in_tenant(clinic):
        doctor = make_user("Doctor", email=f"doc{tag}{n}@example.test", name=f"Grace Okafor{tag}{n}")
        admin = User.objects.get(email=f"admin@{clinic.subdomain}.test")
        made = []
        for i in range(n):
            patient = Patient(record_number=f"P{tag}{n}{i:04d}", first_name="Maria", last_name=f"Lopez{i}").save()
            start = datetime(2026, 3, 2, 14, 30, tzinfo=timezone.utc) + timedelta(days=i)
            appt = Appointment(patient=patient, doctor=doctor, start=start, end=start + timedelta(minutes=15)).save()
            visit = Visit(patient=patient, provider=doctor, started_at=start).save()
            audit_svc.record("patient.update", target=patient, changes={"phone": {"old": "555-0100", "new": "555-0199"}})
            audit_svc.record("appointment.update", target=appt, changes={
                "start": {"old": "2026-03-01T14:30:00+00:00", "new": start.isoformat()},
                "doctor": {"old": str(admin.pk), "new": str(doctor.pk)}})
            audit_svc.record("appointment.status", target=appt, changes={"status": {"old": "scheduled",
                                                                                    "new": "checked_in"}})
            audit_svc.record("visit.sign", target=visit, changes={"status": {"old": "draft", "new": "signed"}})
            audit_svc.record("staff.role_change", target=doctor, changes={"role": {"from": "Nurse", "to": "Doctor"}})
            made.append((patient, appt, visit))
        return doctor, made


def event_row(html, action, nth=0):
    return re.findall(rf'<tr data-event-id="\w+" data-action="{re.escape(action)}">.*?</tr>', html, re.S)[nth]


def test_the_on_column_names_the_record_and_changes_show_their_values(client, clinic_a, login_as, in_tenant):
    with in_tenant(clinic_a):
        s = Settings.current()
        s.timezone, s.date_format = "America/New_York", "MM/DD/YYYY"
        s.save()
    doctor, [(patient, appt, visit)] = _records(in_tenant, clinic_a, 1)
    login_as(clinic_a)
    html = client.get("/audit/", tenant=clinic_a).get_data(as_text=True)
    row = event_row(html, "patient.update")
    assert f'<a href="/patients/{patient.pk}">Maria Lopez0 (P10000)</a>' in row
    assert re.search(r"Phone:\s*<del>555-0100</del> → <ins>555-0199</ins>", row)  # {old, new}, not "old, new"
    assert str(patient.pk) not in row.replace(f"/patients/{patient.pk}", "")
    row = event_row(html, "appointment.update")
    # 14:30 UTC is 09:30 in New York (EST) on 2 March; the clinic writes MM/DD/YYYY.
    assert f'<a href="/appointments/{appt.pk}">Appointment 03/02/2026 09:30 · Maria Lopez0</a>' in row
    assert re.search(r"Start:\s*<del>03/01/2026 09:30</del> → <ins>03/02/2026 09:30</ins>", row)
    assert re.search(r"Doctor:\s*<del>Staff: Ada Admin</del> → <ins>Staff: Grace Okafor1</ins>", row)
    assert re.search(r"Status:\s*<del>scheduled</del> → <ins>checked in</ins>", event_row(html, "appointment.status"))
    assert f'<a href="/visits/{visit.pk}">Visit 03/02/2026 09:30 · Maria Lopez0</a>' in event_row(html, "visit.sign")
    row = event_row(html, "staff.role_change")
    assert f'<a href="/staff/{doctor.pk}">Staff: Grace Okafor1</a>' in row
    assert re.search(r"Role:\s*<del>Nurse</del> → <ins>Doctor</ins>", row)
    assert ">Appointment rescheduled<" in html and ">Visit signed<" in html  # actions in words


def test_a_deleted_record_keeps_the_description_written_with_the_event(client, clinic_a, login_as, in_tenant):
    from clinic_app.services import audit as audit_svc

    login_as(clinic_a)
    with in_tenant(clinic_a):
        role = Role(name="Locum", permissions={"patients": ["read"]}).save()
        audit_svc.record("role.create", target=role)
        Role.objects(pk=role.pk).delete()
    html = client.get("/audit/", tenant=clinic_a).get_data(as_text=True)
    assert "Role: Locum (deleted)" in event_row(html, "role.create")


def test_the_page_costs_the_same_queries_for_few_or_many_records_and_runs_no_distinct(
        app, client, clinic_a, login_as, in_tenant):
    from tests.support import CountQueries

    login_as(clinic_a)
    _records(in_tenant, clinic_a, 2, tag="a")

    def reads():
        with CountQueries(app) as q:
            assert client.get("/audit/", tenant=clinic_a).status_code == 200
        assert "distinct" not in q.names  # the action filter is a known list, not distinct() over the log
        return q.reads

    few = reads()
    _records(in_tenant, clinic_a, 8, tag="b")  # 40 more events on other patients, appointments, visits, staff
    assert reads() == few


def test_every_action_the_code_records_has_a_label_in_the_filter():
    """A module that records a new audit action adds it to blueprints/audit/actions.py."""
    from pathlib import Path

    from clinic_app.blueprints.audit.actions import ACTIONS

    root = Path(__file__).resolve().parent.parent / "clinic_app"
    recorded = set()
    for path in root.rglob("*.py"):
        for call in re.findall(r"\brecord\(\s*((?:\"[a-z_]+\.[a-z_]+\"(?: if [^\"]+ else )?)+)", path.read_text()):
            recorded.update(re.findall(r'"([a-z_]+\.[a-z_]+)"', call))
    assert recorded and sorted(recorded - set(ACTIONS)) == []
