"""Factories for the billing tests (call inside `in_tenant(clinic)`)."""
from clinic_app import clock
from clinic_app.models import Settings, User, Visit
from clinic_app.money import format_money, major_str
from clinic_app.services import patients as patient_svc
from clinic_app.services.billing import invoices, payments, price_list
from clinic_app.services.pharmacy import dispensing
from clinic_app.tenancy import current_tenant
from tests import lab_factories as lf
from tests import pharmacy_factories as pf
from tests.support import make_user


def admin():
    return User.objects.get(email=f"admin@{current_tenant().subdomain}.test")


def price_item(code="CONS", name="Consultation", price=5000, tax_rate=0, kind="consultation", default=True):
    return price_list.create({"code": code, "name": name, "kind": kind, "price": price, "tax_rate": tax_rate,
                              "visit_default": default})


def patient(first="Maria", last="Lopez", email=None):
    return patient_svc.create_patient({"first_name": first, "last_name": last, "email": email, "allergies": []})


def visit(p, provider):
    return Visit(patient=p, provider=provider, started_at=clock.now()).save()


def billable_visit(consultation_tax=0, **billing):
    """Maria's visit with Dr Who and three billable items: the default consultation (50.00 taxed at
    `consultation_tax`), 4 x a 2.50 medicine dispensed and a potassium order; VAT 20% in the settings,
    with `billing` (address, footer...) set beside it."""
    doctor = make_user("Doctor", email="doc@clinica.test", name="Dr Who")
    set_billing(tax_rates=[{"name": "VAT", "rate": 2000}], **billing)
    price_item("CONS", "Consultation", 5000, consultation_tax)
    p = patient(email="maria@example.test")
    v = visit(p, doctor)
    med = pf.medicine(price=250)
    pf.batch(med, "L1", 100, user=doctor)
    dispensing.dispense(pf.prescription(v, doctor, pf.row(med, quantity=4)), 0, 4, doctor)
    lf.order(p, doctor, codes=("K",), visit=v)
    return v


def line(description="Dressing", quantity=1, unit_price=1000, tax_rate=0, **kw):
    return invoices.make_line(description, quantity, unit_price, tax_rate, **kw)


def draft(p=None, user=None, *lines):
    p = p or patient()
    return invoices.create_draft(p, user or admin(), lines=list(lines) or [line()])


def issued(p=None, user=None, *lines):
    inv = draft(p, user, *lines)
    return invoices.finalise(inv, user or admin())


def paid(inv, amount, method="cash", user=None):
    return payments.record_payment(inv, amount, method, user or admin())


def set_billing(**values):
    s = Settings.current()
    for k, v in values.items():
        setattr(s, k, v)
    s.save()
    return s


def money(minor, currency):
    """How a page shows `minor` units of `currency` ('¥4,900', 'KWD1.250')."""
    return format_money(minor, currency)


def major(minor, currency):
    """How a form value and the CSV write it ('4900', '1.250')."""
    return major_str(minor, currency)
