"""Factories for the laboratory tests (call inside `in_tenant(clinic)`)."""
from datetime import date

from clinic_app import clock
from clinic_app.models import LabPanel, LabTest, User, Visit
from clinic_app.services import patients as patient_svc
from clinic_app.services.labs import orders, results


def patient(first="Maria", last="Lopez", sex="female", born=date(1980, 5, 17)):
    return patient_svc.create_patient({"first_name": first, "last_name": last, "sex": sex, "date_of_birth": born,
                                       "allergies": []})


def lab_test(code):
    return LabTest.objects.get(code=code)


def panel_by_code(code):
    return LabPanel.objects.get(code=code)


def visit(p, provider):
    return Visit(patient=p, provider=provider, started_at=clock.now()).save()


def user(email):
    return User.objects.get(email=email)


def order(p, doctor, codes=("K", "NA"), panels=(), visit=None):
    return orders.place(p, doctor, [str(lab_test(c).pk) for c in codes],
                        [str(panel_by_code(c).pk) for c in panels], visit=visit)


def collected(p, doctor, nurse=None, **kw):
    o = order(p, doctor, **kw)
    return orders.collect(o, nurse or doctor, label="S-1")


def resulted(p, doctor, values, nurse=None, **kw):
    """An order of `values`' codes, collected and fully resulted ({code: raw value})."""
    o = collected(p, doctor, nurse, codes=tuple(values), **kw)
    results.enter(o, {str(lab_test(c).pk): v for c, v in values.items()}, nurse or doctor)
    o.reload()
    return o
