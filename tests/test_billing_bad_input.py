"""Bad input on every billing form and API body: a clear 4xx beside the field or in the page, never a 500,
and nothing half-written (the invoice, its payments and credit notes are as they were)."""
import pytest

from clinic_app.models import CreditNote, Invoice, Payment, PriceItem
from tests import billing_factories as f
from tests.support import api_auth, unchanged


@pytest.fixture
def bills(clinic_a, in_tenant, frozen_clock):
    """A draft and an issued invoice (2 x 10.00) of one patient, as (draft, issued)."""
    with in_tenant(clinic_a):
        p = f.patient(email="p@example.test")
        return f.draft(p), f.issued(p, None, f.line("A", 2, 1000))


def _state(in_tenant, clinic):
    """Everything a refused request must leave as it was."""
    with in_tenant(clinic):
        return ([(i.pk, i.rev, i.status, i.total, i.paid, len(i.lines)) for i in Invoice.objects.order_by("id")],
                Payment.objects.count(), CreditNote.objects.count(), PriceItem.objects.count())


def _errors(response):
    body = response.get_data(as_text=True)
    return body.count('class="error"') + body.count('role="alert"')


BAD_LINES = [
    ({"description": "x", "quantity": "abc"}, "whole number"),
    ({"description": "x", "quantity": "1.5"}, "whole number"),
    ({"description": "x", "quantity": "0"}, "from 1 to"),
    ({"description": "x", "quantity": "-1"}, "from 1 to"),
    ({"description": "x", "quantity": "1000000000"}, "from 1 to"),  # 10^9
    ({"description": "x", "quantity": "²"}, "whole number"),
    ({"description": "x", "unit_price": "abc"}, "such as 12.50"),
    ({"description": "x", "unit_price": "-5"}, "cannot be negative"),
    ({"description": "x", "unit_price": "1e3"}, "such as 12.50"),  # not read as 1000.00
    ({"description": "x", "unit_price": "NaN"}, "such as 12.50"),
    ({"description": "x", "unit_price": "Infinity"}, "such as 12.50"),
    ({"description": "x", "unit_price": "１２"}, "such as 12.50"),  # full-width digits
    ({"description": "x", "unit_price": "1.555"}, "at most 2 decimal"),
    ({"description": "x", "unit_price": "10000000000000.00"}, "too large"),  # 10^15 minor units
    ({"description": "x", "unit_price": "100000000001"}, "At most $100,000,000,000.00"),
    ({"description": "x", "unit_price": "100000000000", "quantity": "100000"}, "more than an invoice can hold"),
    ({"description": "x", "unit_price": "1", "discount_kind": "amount", "discount_value": "abc"}, "such as 12.50"),
    ({"description": "x", "unit_price": "1", "discount_kind": "amount", "discount_value": "-1"}, "negative"),
    ({"description": "x", "unit_price": "1", "discount_kind": "amount", "discount_value": "99999999999999"},
     "too large"),
    ({"description": "x", "unit_price": "1", "discount_kind": "amount", "discount_value": "100000000001"},
     "At most $100,000,000,000.00"),
    ({"description": "x", "unit_price": "1", "discount_kind": "percent", "discount_value": "150"}, "0 to 100"),
    ({"description": "x", "unit_price": "1", "discount_kind": "percent", "discount_value": "NaN"}, "percentage"),
    ({"description": "x", "unit_price": "1", "discount_kind": "percent", "discount_value": "1e400"}, "0 to 100"),
    ({"description": "x", "unit_price": "1", "discount_value": "10"}, "Percent off"),  # no kind: not ignored
    ({"description": "x", "unit_price": "1", "discount_kind": "bogus", "discount_value": "1"}, "Not a valid choice"),
    ({"description": "x", "unit_price": "1", "tax_rate": "99999"}, "tax rate from the list"),
    ({"description": "x" * 300, "unit_price": "1"}, "250"),
    ({"description": "", "unit_price": "1"}, "describe the line"),
]


@pytest.mark.parametrize("data,message", BAD_LINES, ids=[str(i) for i in range(len(BAD_LINES))])
def test_a_bad_line_is_refused_beside_its_field_and_nothing_changes(client, clinic_a, login_as, in_tenant, bills,
                                                                    data, message):
    login_as(clinic_a, "Receptionist")
    draft, _ = bills
    with unchanged(_state, in_tenant, clinic_a):
        for path in (f"/invoices/{draft.pk}/lines", f"/invoices/{draft.pk}/lines/0"):
            response = client.post(path, data={"quantity": "1", "tax_rate": "0", **data}, tenant=clinic_a)
            assert response.status_code == 422, (path, response.status_code)
            assert message.lower() in response.get_data(as_text=True).lower() and _errors(response)


def test_a_new_line_names_an_item_of_this_price_list(client, clinic_a, clinic_b, login_as, in_tenant, bills):
    login_as(clinic_a, "Receptionist")
    draft, _ = bills
    with in_tenant(clinic_b):
        theirs = f.price_item("THEIRS", "Another clinic's service", 100)
    with unchanged(_state, in_tenant, clinic_a):
        for item in ("nope", str(theirs.pk), '{"$ne": null}'):
            response = client.post(f"/invoices/{draft.pk}/lines", data={"price_item_id": item, "quantity": "1"},
                                   tenant=clinic_a)
            assert response.status_code == 422 and "Choose an item from the list" in response.get_data(as_text=True)


def test_lines_that_together_exceed_what_an_invoice_holds_are_refused(client, clinic_a, login_as, in_tenant, bills):
    login_as(clinic_a, "Receptionist")
    draft, _ = bills
    line = {"description": "Big", "quantity": "60000", "unit_price": "100000000.00", "tax_rate": "0"}  # 6 * 10^14
    assert client.post(f"/invoices/{draft.pk}/lines", data=line, tenant=clinic_a).status_code == 303
    with unchanged(_state, in_tenant, clinic_a):
        refused = client.post(f"/invoices/{draft.pk}/lines", data=line, tenant=clinic_a)
        assert refused.status_code == 422 and "more than an invoice can hold" in refused.get_data(as_text=True)


@pytest.mark.parametrize("amount,message", [
    ("abc", "such as 12.50"), ("-5", "above zero"), ("0", "above zero"), ("", "Enter the amount"),
    ("1e3", "such as 12.50"), ("NaN", "such as 12.50"), ("1.555", "at most 2 decimal"),
    ("99999999999999", "too large"), ("100000000001", "At most $100,000,000,000.00"), ("1" * 40, "too large"),
])
def test_bad_payment_credit_and_refund_amounts_are_refused(client, clinic_a, login_as, in_tenant, bills, amount,
                                                           message):
    login_as(clinic_a, "Admin")
    _, issued = bills
    with in_tenant(clinic_a):
        payment, _ = f.paid(Invoice.objects.get(pk=issued.pk), 500)
        f.paid(f.issued(Invoice.objects.get(pk=issued.pk).patient, None, f.line("B", 1, 100)), 300)  # 2.00 credit
    with unchanged(_state, in_tenant, clinic_a):
        for path, data in ((f"/invoices/{issued.pk}/payments/new", {"amount": amount, "method": "cash"}),
                           (f"/invoices/{issued.pk}/apply-credit", {"amount": amount}),
                           (f"/invoices/{issued.pk}/refund", {"amount": amount, "payment_id": str(payment.pk),
                                                              "to": "method", "reason": "r"})):
            response = client.post(path, data=data, tenant=clinic_a)
            assert response.status_code == 422, path
            assert message in response.get_data(as_text=True), path


@pytest.mark.parametrize("data", [{"amount": "1", "method": "bitcoin"}, {"amount": "1", "method": "credit"},
                                  {"amount": "1"}])
def test_a_payment_needs_a_real_method(client, clinic_a, login_as, in_tenant, bills, data):
    login_as(clinic_a, "Receptionist")
    _, issued = bills
    with unchanged(_state, in_tenant, clinic_a):
        response = client.post(f"/invoices/{issued.pk}/payments/new", data=data, tenant=clinic_a)
        assert response.status_code == 422 and "how it was paid" in response.get_data(as_text=True)


@pytest.mark.parametrize("qty", ["²", "-1", "1.5", "99999999999999999999999", "abc", "3"])
def test_bad_credit_note_quantities_are_refused(client, clinic_a, login_as, in_tenant, bills, qty):
    login_as(clinic_a, "Accountant")
    _, issued = bills
    with unchanged(_state, in_tenant, clinic_a):
        response = client.post(f"/invoices/{issued.pk}/credit-note",
                               data={"mode": "lines", "qty-1": qty, "reason": "r"}, tenant=clinic_a)
        assert response.status_code == 422 and "Line 1" in response.get_data(as_text=True)


def test_units_typed_under_everything_left_do_not_credit_the_whole_invoice(client, clinic_a, login_as, in_tenant,
                                                                         bills):
    login_as(clinic_a, "Accountant")
    _, issued = bills
    with unchanged(_state, in_tenant, clinic_a):
        response = client.post(f"/invoices/{issued.pk}/credit-note", data={"mode": "full", "qty-1": "1", "reason": "r"},
                               tenant=clinic_a)
        assert response.status_code == 422 and "Chosen quantities" in response.get_data(as_text=True)


@pytest.mark.parametrize("data,message", [
    ({"code": "", "name": "x", "price": "1"}, "short code"), ({"code": "A", "name": "x", "price": "-1"}, "negative"),
    ({"code": "A", "name": "x", "price": "99999999999999"}, "too large"),
    ({"code": "A", "name": "x", "price": "100000000001"}, "At most $100,000,000,000.00"),
    ({"code": "A", "name": "x", "price": "1e20"}, "such as 12.50"),
    ({"code": "A", "name": "x", "price": "1", "tax_rate": "123"}, "tax rate from the list"),
    ({"code": "A", "name": "x", "price": "1", "kind": "z"}, "Not a valid choice"),
    ({"code": "A" * 40, "name": "x", "price": "1"}, "30"), ({"code": "B", "name": "x", "price": "1.555"}, "decimal"),
])
def test_bad_price_list_items_are_refused(client, clinic_a, login_as, in_tenant, data, message):
    login_as(clinic_a, "Accountant")
    with unchanged(_state, in_tenant, clinic_a):
        response = client.post("/invoices/price-list/new", data={"kind": "procedure", "tax_rate": "0", **data},
                               tenant=clinic_a)
        assert response.status_code == 422 and message in response.get_data(as_text=True)


def test_line_numbers_in_the_address_that_are_not_ascii_digits_are_404(client, clinic_a, login_as, bills):
    login_as(clinic_a, "Receptionist")
    draft, _ = bills
    for index in ("²", "٣", "0x1", "-1", "999", "1" * 50):
        assert client.get(f"/invoices/{draft.pk}/lines/{index}", tenant=clinic_a).status_code == 404
        assert client.post(f"/invoices/{draft.pk}/lines/{index}/remove", tenant=clinic_a).status_code == 404


def test_json_bodies_to_the_billing_forms_are_415_and_change_nothing(client, clinic_a, login_as, in_tenant, bills):
    login_as(clinic_a, "Admin")
    draft, issued = bills
    with in_tenant(clinic_a):
        payment, _ = f.paid(Invoice.objects.get(pk=issued.pk), 500)
    with unchanged(_state, in_tenant, clinic_a):
        body = {"amount": "1", "description": "x", "reason": "r", "patient_id": str(draft._data["patient"].id)}
        for path in (f"/invoices/{draft.pk}/lines", f"/invoices/{draft.pk}/lines/0",
                     f"/invoices/{draft.pk}/lines/0/remove", f"/invoices/{draft.pk}/visit-items",
                     f"/invoices/{draft.pk}/finalise", f"/invoices/{draft.pk}/delete",
                     f"/invoices/{issued.pk}/void", f"/invoices/{issued.pk}/credit-note",
                     f"/invoices/{issued.pk}/payments/new", f"/invoices/{issued.pk}/apply-credit",
                     f"/invoices/{issued.pk}/refund", f"/invoices/payments/{payment.pk}/delete",
                     f"/invoices/payments/{payment.pk}/email", "/invoices/new", "/invoices/price-list/new"):
            response = client.post(path, json=body, tenant=clinic_a)
            assert response.status_code == 415, path


@pytest.mark.parametrize("query,field", [
    ("from=0001-01-01&to=0001-01-02", "from"), ("from=9999-12-30&to=9999-12-31", "from"), ("to=9999-12-31", "to"),
    ("from=0001-01-01", "from"), ("from=2026-01-01&to=2026-02-30", "to"), ("from=2026-1-1", "from"),
    ("period=%00", "period"),
])
def test_far_and_malformed_report_dates_are_refused_everywhere(client, clinic_a, login_as, query, field):
    login_as(clinic_a, "Accountant")
    for name in ("revenue", "day_end", "new_patients", "by_service"):
        if field == "period" and name not in ("revenue", "new_patients"):
            continue
        page = client.get(f"/reports/{name}?{query}", tenant=clinic_a)
        assert page.status_code == 422 and f'id="{field}-error"' in page.get_data(as_text=True), (name, query)
        assert client.get(f"/reports/{name}.csv?{query}", tenant=clinic_a).status_code == 400
        api = client.get(f"/api/v1/reports/{name}?{query}", tenant=clinic_a)
        assert api.status_code == 400 and field in api.json["error"]["fields"]
    as_of = client.get("/reports/outstanding?to=9999-12-31", tenant=clinic_a)
    assert as_of.status_code == 422 and 'id="to-error"' in as_of.get_data(as_text=True)


HUGE = {"description": "x", "quantity": 100_000, "unit_price": 10**13}


@pytest.mark.parametrize("lines,status", [
    ([HUGE] * 100, 422), ([HUGE], 422), ([{"description": "x", "quantity": 1, "unit_price": 10**15}], 400),
    ([{"description": "x", "quantity": 10**9, "unit_price": 1}], 400),
    ([{"description": "x", "quantity": "1", "unit_price": 1}], 400),
    ([{"description": "x", "quantity": 1, "unit_price": 1.5}], 400),
    ([{"description": "x", "quantity": 1, "unit_price": -1}], 400),
    ([{"description": "x", "quantity": 1, "unit_price": 100, "discount_kind": "percent", "discount_value": 20000}], 400),
    ([{"description": "x", "quantity": 50, "unit_price": 10**13}] * 3, 422),  # 5 * 10^14 each, 1.5 * 10^15 in all
])
def test_api_lines_beyond_what_an_invoice_holds_are_4xx(client, clinic_a, in_tenant, bills, lines, status):
    auth = api_auth(in_tenant, clinic_a, "Admin")
    draft, _ = bills
    with unchanged(_state, in_tenant, clinic_a):
        response = client.post("/api/v1/invoices", json={"patient_id": str(draft._data["patient"].id), "lines": lines},
                               headers=auth, tenant=clinic_a)
        assert response.status_code == status and response.json["success"] is False


@pytest.mark.parametrize("body", [{"amount": 10**16, "method": "cash"}, {"amount": 1.5, "method": "cash"},
                                  {"amount": "1", "method": "cash"}, {"amount": -1, "method": "cash"},
                                  {"amount": True, "method": "cash"}, {"amount": 1, "method": "credit"},
                                  {"amount": 1, "method": "cash", "extra": 1}, [1], "x"])
def test_api_bad_payment_bodies_are_400(client, clinic_a, in_tenant, bills, body):
    auth = api_auth(in_tenant, clinic_a, "Admin")
    _, issued = bills
    with unchanged(_state, in_tenant, clinic_a):
        response = client.post(f"/api/v1/invoices/{issued.pk}/payments", json=body, headers=auth, tenant=clinic_a)
        assert response.status_code == 400 and response.json["error"]["fields"]


def test_a_price_item_edit_posted_without_the_price_keeps_it_and_is_never_a_500(client, clinic_a, login_as,
                                                                                  in_tenant):
    """obj= gives the field the stored minor units (an int): not posted means as it is (a 500 before)."""
    login_as(clinic_a, "Accountant")
    with in_tenant(clinic_a):
        item = f.price_item(price=5000)
    assert client.post(f"/invoices/price-list/{item.pk}/edit", data={"name": ""}, tenant=clinic_a).status_code == 422
    saved = client.post(f"/invoices/price-list/{item.pk}/edit", tenant=clinic_a,
                        data={"code": "CONS", "name": "Consultation (long)", "kind": "consultation", "tax_rate": "0"})
    assert saved.status_code == 303
    with in_tenant(clinic_a):
        item.reload()
        assert (item.name, item.price) == ("Consultation (long)", 5000)
