"""What the lab pages say: the printed report's header, what to collect, corrections and re-review."""
import pytest

from clinic_app.models import LabResult, Settings
from clinic_app.services.labs import results

from . import lab_factories as lf
from .support import login, make_user


@pytest.fixture
def lab(clinic_a, in_tenant, client):
    with in_tenant(clinic_a):
        doctor = make_user("Doctor", email="doc@clinica.test", name="Dr Omar")
        patient = lf.patient()
    login(client, clinic_a, doctor.email)
    return {"doctor": doctor, "patient": patient}


def test_the_printed_report_has_the_clinics_address_and_phone_in_its_header(client, clinic_a, in_tenant, lab):
    with in_tenant(clinic_a):
        settings = Settings.current()
        settings.clinic_name, settings.address, settings.phone = "Harbour Clinic", "12 Quay Street\nPortsmouth", "+44 23 9200 0000"
        settings.save()
        order = lf.resulted(lab["patient"], lab["doctor"], {"K": "7.0"})
    html = client.get(f"/lab/orders/{order.pk}/report", tenant=clinic_a).get_data(as_text=True)
    head = html[html.index('<header class="report-head">'):html.index("</header>")]
    assert "Harbour Clinic" in head and "12 Quay Street\nPortsmouth" in head and "Tel. +44 23 9200 0000" in head
    assert "preliminary: not yet reviewed" in html and "(age 46 years at collection)" in html
    with in_tenant(clinic_a):
        results.review(order, lab["doctor"])
    reviewed = client.get(f"/lab/orders/{order.pk}/report", tenant=clinic_a).get_data(as_text=True)
    assert "preliminary" not in reviewed and "reviewed by Dr Omar" in reviewed


def test_a_report_without_address_or_phone_leaves_no_empty_lines(client, clinic_a, in_tenant, lab):
    with in_tenant(clinic_a):
        order = lf.order(lab["patient"], lab["doctor"])
    html = client.get(f"/lab/orders/{order.pk}/report", tenant=clinic_a).get_data(as_text=True)
    assert 'id="report-address"' not in html and 'id="report-phone"' not in html and "Tel." not in html


def test_the_order_says_which_specimens_to_take(client, clinic_a, in_tenant, lab):
    with in_tenant(clinic_a):
        order = lf.order(lab["patient"], lab["doctor"], codes=("HGB", "K", "UNIT"))
    html = client.get(f"/lab/orders/{order.pk}", tenant=clinic_a).get_data(as_text=True)
    assert "Take: whole blood, serum, urine." in html
    outstanding = client.get("/lab/", tenant=clinic_a).get_data(as_text=True)
    assert "HGB, K, UNIT" in outstanding and "whole blood, serum, urine" in outstanding


def test_a_choice_result_reads_against_its_normal_choices(client, clinic_a, in_tenant, lab):
    with in_tenant(clinic_a):
        order = lf.resulted(lab["patient"], lab["doctor"], {"UNIT": "Positive"})
        result = LabResult.objects.get(order=order)
    assert (result.flag, result.range_text) == ("A", "normal: Negative")
    html = client.get(f"/lab/orders/{order.pk}", tenant=clinic_a).get_data(as_text=True)
    assert "normal: Negative" in html


def test_a_correction_reopens_review_offers_the_earlier_comment_and_drops_a_stale_acknowledgement(
        client, clinic_a, in_tenant, lab):
    with in_tenant(clinic_a):
        order = lf.resulted(lab["patient"], lab["doctor"], {"PLT": "35", "K": "4.0"})
        results.review(order, lab["doctor"], "Repeat platelets tomorrow.")
        plt = LabResult.objects.get(order=order, code="PLT")
        assert plt.acknowledged_by == "Dr Omar"
    r = client.post(f"/lab/results/{plt.pk}/amend", data={"value": "135", "reason": "Clumped; recounted."},
                    tenant=clinic_a)
    assert r.status_code == 303
    html = client.get(f"/lab/orders/{order.pk}", tenant=clinic_a).get_data(as_text=True)
    assert 'data-status="resulted"' in html and 'id="earlier-review"' in html
    assert "Repeat platelets tomorrow.</textarea>" in html  # offered again in the review form
    row = html[html.index('data-test="PLT"'):].split("</tr>")[0]
    assert "acknowledged by" not in row  # 135 is no longer critical
    page = client.get(f"/lab/results/{plt.pk}", tenant=clinic_a).get_data(as_text=True)
    assert '<del class="old">35</del>' in page and '<ins class="new">135</ins>' in page  # as the test reports them
