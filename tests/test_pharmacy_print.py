"""The printable prescription and its PDF: the clinic's name, address and phone in the header, the date
in the clinic's format, Unicode names that never crash the PDF, other clinics' ids 404, roles 403."""
import re
import zlib

import pytest

from clinic_app.models import AuditEvent, Settings
from clinic_app.services.pharmacy import printout

from . import pharmacy_factories as f
from .support import login, make_user


@pytest.fixture
def rx(clinic_a, in_tenant):
    """A prescription for Mateo Álvarez (penicillin allergy overridden) in a clinic with an address and phone,
    dates written DD/MM/YYYY."""
    with in_tenant(clinic_a):
        Settings.objects.update_one(set__address="Calle Mayor 7, 28013 Madrid", set__phone="+34 910 000 111",
                                    set__date_format="DD/MM/YYYY")
        doctor = make_user("Doctor", email="doc@a.test", name="Dra. Núria Puig")
        amox = f.medicine()
        p = f.patient("Mateo", "Álvarez", allergies=[{"substance": "Penicillin", "severity": "severe"}])
        return f.prescription(f.visit(p, doctor), doctor, f.row(amox, quantity=15), overrides={0: "tolerated"})


def test_the_print_page_shows_the_clinic_header_and_marks_a_draft(client, clinic_a, in_tenant, rx):
    login(client, clinic_a, "doc@a.test")
    page = client.get(f"/prescriptions/{rx.pk}/print", tenant=clinic_a).get_data(as_text=True)
    assert 'id="clinic-name">Clinic A<' in page
    assert "Calle Mayor 7, 28013 Madrid" in page and "Tel. +34 910 000 111" in page
    day = rx.issued_at.strftime("%d/%m/%Y")
    assert f'id="rx-date">{day}<' in page and "Mateo Álvarez" in page and "Dra. Núria Puig" in page
    assert "Take 1 capsule by mouth three times a day for 5 days." in page and "DRAFT" not in page
    with in_tenant(clinic_a):
        draft = f.prescription(rx.visit, rx.prescriber, f.row(f.Medicine.objects.get(), quantity=3),
                               overrides={0: "ok"}, issue=False, confirm_duplicates=True)
    assert "DRAFT — not issued" in client.get(f"/prescriptions/{draft.pk}/print", tenant=clinic_a).get_data(as_text=True)


def test_the_pdf_download_is_a_pdf_and_is_audited(client, clinic_a, in_tenant, rx):
    login(client, clinic_a, "doc@a.test")
    r = client.get(f"/prescriptions/{rx.pk}/pdf", tenant=clinic_a)
    assert r.status_code == 200 and r.mimetype == "application/pdf" and r.data.startswith(b"%PDF")
    with in_tenant(clinic_a):
        record = rx.patient.record_number
    assert r.headers["Content-Disposition"] == f'attachment; filename="prescription-{record}-{rx.issued_at:%Y-%m-%d}.pdf"'
    assert "no-store" in r.headers["Cache-Control"]
    with in_tenant(clinic_a):
        assert AuditEvent.objects(action="prescription.pdf").count() == 1
    show = client.get(f"/prescriptions/{rx.pk}", tenant=clinic_a).get_data(as_text=True)
    assert f'href="/prescriptions/{rx.pk}/pdf"' in show


def _text(pdf):
    """Every content stream of `pdf`, inflated (the core fonts write their text as plain latin-1)."""
    out = b""
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            out += zlib.decompress(stream)
        except zlib.error:
            out += stream
    return out.decode("latin-1")


def test_without_the_dejavu_font_names_fall_back_to_latin1_instead_of_failing(clinic_a, in_tenant, rx, tmp_path):
    with in_tenant(clinic_a):
        from clinic_app.models import Prescription

        rx = Prescription.objects.get(pk=rx.pk)
        rx.patient.first_name, rx.patient.last_name = "Łukasz", "Wąsik–Álvarez"  # not all latin-1
        pdf = printout.prescription_pdf(rx, Settings.current(), font_dir=tmp_path)  # no fonts there
        assert pdf.startswith(b"%PDF")
        text = _text(pdf)
        assert "Lukasz Wasik-Álvarez" in text and "Calle Mayor 7" in text and "supply 15 capsules" in text
        # With DejaVu (Debian's fonts-dejavu-core) the same names are embedded as written.
        if (printout.FONT_DIR / "DejaVuSans.ttf").is_file():
            assert printout.prescription_pdf(rx, Settings.current()).startswith(b"%PDF")


def test_pdf_and_print_of_another_clinic_are_404_and_roles_without_prescriptions_are_403(
        client, clinic_a, clinic_b, login_as, in_tenant, rx):
    login_as(clinic_b, "Admin")
    for path in (f"/prescriptions/{rx.pk}/pdf", f"/prescriptions/{rx.pk}/print"):
        assert client.get(path, tenant=clinic_b).status_code == 404, path
    with in_tenant(clinic_a):
        assert AuditEvent.objects(action__in=["prescription.pdf", "prescription.print"]).count() == 0
    login_as(clinic_a, "Receptionist")
    assert client.get(f"/prescriptions/{rx.pk}/pdf", tenant=clinic_a).status_code == 403
    login_as(clinic_a, "Nurse", email="nurse@a.test")
    assert client.get(f"/prescriptions/{rx.pk}/pdf", tenant=clinic_a).status_code == 200
