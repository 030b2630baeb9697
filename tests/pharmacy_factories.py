"""Factories for the pharmacy tests (call inside `in_tenant(clinic)`)."""
from datetime import date, timedelta

from clinic_app import clock
from clinic_app.models import Medicine, Visit
from clinic_app.services import patients as patient_svc
from clinic_app.services.pharmacy import catalogue, prescribing, stock


def medicine(name="Amoxicillin", generic="amoxicillin", form="capsule", strength="500 mg", unit=None, price=25,
             reorder=10, pack=21):
    return catalogue.create({"name": name, "generic_name": generic, "form": form, "strength": strength,
                             "dispensing_unit": unit or catalogue.DEFAULT_UNIT[form], "pack_size": pack,
                             "sale_price": price, "reorder_level": reorder})


def batch(med, lot, qty, days=365, user=None, cost=10):
    """Receive `qty` of `med` as lot `lot` expiring `days` from today (negative: already expired).

    An expired lot is received with a future date and then back-dated, as stock ages on the shelf.
    """
    expiry = stock.today() + timedelta(days=days)
    if days >= 0:
        return stock.receive(med, lot, expiry, qty, cost, "Acme Pharma", user)
    b = stock.receive(med, lot, stock.today() + timedelta(days=30), qty, cost, "Acme Pharma", user)
    type(b).objects(pk=b.pk).update_one(set__expiry=expiry)
    b.reload()
    return b


def patient(first="Maria", last="Lopez", allergies=()):
    return patient_svc.create_patient({"first_name": first, "last_name": last, "allergies": list(allergies)})


def visit(p, provider, signed=False):
    v = Visit(patient=p, provider=provider, started_at=clock.now(), assessment="Infection",
              diagnosis="Tonsillitis")
    if signed:
        v.status, v.signed_at, v.signed_by = "signed", clock.now(), provider
    return v.save()


def row(med=None, free_text=None, dose=1, dose_unit=None, frequency="TDS", duration=5, quantity=None, **kw):
    return {"medicine_id": str(med.pk) if med else None, "free_text": free_text, "dose": dose,
            "dose_unit": dose_unit or (med.dispensing_unit if med else None), "route": "by mouth",
            "frequency": frequency, "duration_days": duration, "quantity": quantity, **kw}


def prescription(v, user, *rows, **kw):
    return prescribing.create(v, list(rows), user, **kw)


def on_hand(b):
    return type(b).objects.get(pk=b.pk).on_hand


__all__ = ["medicine", "batch", "patient", "visit", "row", "prescription", "on_hand", "Medicine", "date"]
