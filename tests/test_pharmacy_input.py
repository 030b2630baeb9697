"""Bad input on every pharmacy form: wrong types, huge numbers, negative quantities, far or past dates,
malformed ids, JSON bodies. Always a clear 4xx with the message beside the field, never a 500."""
import pytest

from clinic_app.models import Medicine, Prescription, StockBatch

from . import pharmacy_factories as f
from .support import login, make_user

BIG = "9" * 40


@pytest.fixture
def world(clinic_a, in_tenant):
    with in_tenant(clinic_a):
        make_user("Admin", email="boss@a.test")
        doctor = make_user("Doctor", email="doc@a.test")
        amox = f.medicine()
        b1 = f.batch(amox, "AMX-1", 10, 40)
        p = f.patient(allergies=[{"substance": "Penicillin"}])
        v = f.visit(p, doctor)
        rx = f.prescription(v, doctor, f.row(amox, quantity=6), overrides={0: "ok"})
        return {"amox": amox, "b1": b1, "visit": v, "rx": rx}


MEDICINE = {"name": "Ibuprofen", "form": "tablet", "dispensing_unit": "tablet", "pack_size": "24", "sale_price": "0.15",
            "reorder_level": "20"}
RECEIVE = {"lot": "NEW-1", "expiry": "2030-01-31", "quantity": "30", "unit_cost": "0.10"}
ADJUST = {"direction": "remove", "quantity": "1", "reason": "damaged"}
LINE = {"lines-0-dose": "1", "lines-0-dose_unit": "capsule", "lines-0-route": "by mouth", "lines-0-frequency": "TDS",
        "lines-0-duration_days": "5", "action": "issue"}

CASES = [
    ("medicine", {"pack_size": "abc"}, "pack_size", "Enter a whole number."),
    ("medicine", {"pack_size": BIG}, "pack_size", "from 1 to 10,000,000"),
    ("medicine", {"reorder_level": "-5"}, "reorder_level", "from 0 to 10,000,000"),
    ("medicine", {"sale_price": "-1"}, "sale_price", "cannot be negative"),
    ("medicine", {"sale_price": "NaN"}, "sale_price", "Enter an amount"),
    ("medicine", {"sale_price": "1" * 30}, "sale_price", "too large"),
    ("medicine", {"name": "X" * 500}, "name", "120 characters"),
    ("medicine", {"form": "bogus"}, "form", "Not a valid choice"),
    ("receive", {"expiry": "9999-12-31"}, "expiry", "more than 10 years away"),
    ("receive", {"expiry": "2020-01-01"}, "expiry", "already expired"),
    ("receive", {"expiry": "2031-02-30"}, "expiry", "Enter the date"),
    ("receive", {"expiry": "99999-01-01"}, "expiry", "Enter the date"),
    ("receive", {"quantity": "-5"}, "quantity", "from 1 to 10,000,000"),
    ("receive", {"quantity": BIG}, "quantity", "from 1 to 10,000,000"),
    ("receive", {"quantity": "1e3"}, "quantity", "Enter a whole number."),
    ("receive", {"unit_cost": BIG}, "unit_cost", "too large"),
    ("receive", {"lot": "X" * 41}, "lot", "At most 40 characters"),
    ("receive", {"lot": "  "}, "lot", "Enter the lot number"),
    ("adjust", {"quantity": "-3"}, "quantity", "from 1 to 10,000,000"),
    ("adjust", {"quantity": "11"}, "quantity", "has only 10 on hand"),
    ("adjust", {"reason": "bogus"}, "reason", "Not a valid choice"),
    ("adjust", {"reason": "other"}, "note", "Say why"),
    ("prescribe", {"lines-0-dose": "abc"}, "lines-0-dose", "Enter a number"),
    ("prescribe", {"lines-0-dose": "1e308"}, "lines-0-dose", "from 0.001 to 10,000"),
    ("prescribe", {"lines-0-dose": "nan"}, "lines-0-dose", "from 0.001 to 10,000"),
    ("prescribe", {"lines-0-duration_days": BIG}, "lines-0-duration_days", "from 1 to 365"),
    ("prescribe", {"lines-0-quantity": "-4"}, "lines-0-quantity", "from 0 to 100,000"),
    ("prescribe", {"lines-0-refills": "99"}, "lines-0-refills", "from 0 to 12"),
    ("prescribe", {"lines-0-frequency": "QXH"}, "lines-0-every_hours", "every how many hours"),
    ("prescribe", {"lines-0-frequency": "PRN"}, "lines-0-quantity", "Enter the quantity in capsules"),
    ("prescribe", {"lines-0-medicine_id": "zzz"}, "lines-0-medicine_id", "from this clinic's catalogue"),
    ("prescribe", {"lines-0-medicine_id": "0" * 24}, "lines-0-medicine_id", "from this clinic's catalogue"),
    ("prescribe", {"lines-0-route": "telepathy"}, "lines-0-route", "Not a valid choice"),
    ("dispense", {"quantity": "-1"}, "qty-1", "from 1 to 100,000"),
    ("dispense", {"quantity": BIG}, "qty-1", "from 1 to 100,000"),
    ("dispense", {"quantity": "1.5"}, "qty-1", "Enter a whole number."),
    ("dispense", {"quantity": "7"}, "qty-1", "more than is left"),
]


def _url_and_base(kind, w):
    return {"medicine": ("/inventory/medicines/new", MEDICINE),
            "receive": (f"/inventory/medicines/{w['amox'].pk}/receive", RECEIVE),
            "adjust": (f"/inventory/batches/{w['b1'].pk}/adjust", ADJUST),
            "prescribe": (f"/prescriptions/new?visit_id={w['visit'].pk}",
                          {**LINE, "lines-0-medicine_id": str(w["amox"].pk)}),
            "dispense": (f"/prescriptions/{w['rx'].pk}/dispense", {"line": "1", "quantity": "1"})}[kind]


@pytest.mark.parametrize("kind,bad,field,message", CASES, ids=[f"{c[0]}-{c[2]}-{i}" for i, c in enumerate(CASES)])
def test_bad_input_is_a_422_with_the_message_beside_the_field(client, clinic_a, in_tenant, world, kind, bad, field,
                                                              message):
    login(client, clinic_a, "boss@a.test")
    url, base = _url_and_base(kind, world)
    r = client.post(url, data={**base, **bad}, tenant=clinic_a, headers={"HX-Request": "true"})
    html = r.get_data(as_text=True)
    assert r.status_code == 422, html[:300]
    start = html.find(f'id="{field}-error"')
    assert start > 0, f"no error beside {field}: {html[:2000]}"
    assert message in html[start:start + 300].replace("&#39;", "'")
    with in_tenant(clinic_a):  # nothing was written
        assert Medicine.objects.count() == 1 and StockBatch.objects.get(pk=world["b1"].pk).on_hand == 10
        assert Prescription.objects.count() == 1 and Prescription.objects.get().lines[0].dispensed == 0


def test_a_json_body_to_a_form_is_a_415_with_a_plain_message(client, clinic_a, in_tenant, world):
    login(client, clinic_a, "boss@a.test")
    for kind in ("medicine", "receive", "adjust", "prescribe", "dispense"):
        url, base = _url_and_base(kind, world)
        r = client.post(url, json=base, tenant=clinic_a)
        assert r.status_code == 415 and b"not JSON" in r.data, kind


def test_a_dispense_for_a_line_that_is_not_there_says_so_on_top(client, clinic_a, in_tenant, world):
    login(client, clinic_a, "boss@a.test")
    for line in ("0", "-1", "99", "abc", BIG):
        r = client.post(f"/prescriptions/{world['rx'].pk}/dispense", data={"line": line, "quantity": "1"},
                        tenant=clinic_a)
        assert r.status_code == 422 and b'id="dispense-error">There is no such line' in r.data, line


def test_the_service_refuses_to_receive_expired_stock(clinic_a, in_tenant, world):
    from clinic_app.services.pharmacy import stock

    with in_tenant(clinic_a):
        with pytest.raises(stock.StockError) as exc:
            stock.receive(world["amox"], "OLD", stock.today().replace(year=2001), 5, 1, None, None)
        assert exc.value.field == "expiry" and StockBatch.objects(lot="OLD").count() == 0


def test_a_label_does_not_repeat_the_form_its_name_already_says(clinic_a, in_tenant):
    with in_tenant(clinic_a):
        assert f.medicine("Salbutamol inhaler", "salbutamol", "inhaler", "100 mcg/dose").label == \
            "Salbutamol inhaler 100 mcg/dose"
        assert f.medicine("Diclofenac gel", "diclofenac", "cream", "1 %").label == "Diclofenac gel 1 %"
        assert f.medicine("Oral rehydration salts", "ors", "other", None).label == "Oral rehydration salts"
        assert f.medicine("Amoxicillin", "amoxicillin", "capsule", "250 mg").label == "Amoxicillin 250 mg capsule"


def test_an_edit_posted_without_the_price_keeps_the_price_and_is_never_a_500(client, clinic_a, in_tenant, world):
    """obj= gives the field the stored minor units (an int): not posted means as it is (a 500 before)."""
    login(client, clinic_a, "boss@a.test")
    amox = world["amox"]
    empty = client.post(f"/inventory/medicines/{amox.pk}/edit", data={"name": ""}, tenant=clinic_a)
    assert empty.status_code == 422
    data = {k: v for k, v in MEDICINE.items() if k != "sale_price"}
    assert client.post(f"/inventory/medicines/{amox.pk}/edit", data=data, tenant=clinic_a).status_code == 303
    with in_tenant(clinic_a):
        assert Medicine.objects.get(pk=amox.pk).sale_price == amox.sale_price
