"""A clinic in JPY (no decimals) or KWD (three) sees its own amounts on the invoice pages, the printed
invoice, the payment form and the CSV, and typing more decimals than the currency has is refused."""
import csv
import io

import pytest

from clinic_app.models import Invoice
from clinic_app.models.settings import CURRENCIES
from tests import billing_factories as f
from tests.support import login, make_clinic

CASES = {
    # currency: (unit price typed, minor units, shown, CSV, too many decimals typed, refusal)
    "JPY": ("4900", 4900, "¥4,900", "4900", "1.5", "Use whole amounts."),
    "KWD": ("1.250", 1250, "KWD1.250", "1.250", "1.2345", "Use at most 3 decimal places."),
}


@pytest.mark.parametrize("currency", sorted(CASES))
def test_a_clinic_sees_invoices_and_csv_in_its_currency(app, client, in_tenant, currency, frozen_clock):
    typed, minor, shown, in_csv, too_precise, refusal = CASES[currency]
    assert currency in CURRENCIES  # a clinic can choose it in settings
    with app.app_context():
        clinic = make_clinic(f"cur{currency.lower()}", currency=currency)
    with in_tenant(clinic):
        admin = f.admin()
        p = f.patient()
        inv = f.draft(p, admin, f.line("Seed", 1, 0))
    login(client, clinic, admin.email)
    path = f"/invoices/{inv.pk}"
    added = client.post(f"{path}/lines", data={"description": "Consultation", "quantity": "2", "unit_price": typed,
                                               "tax_rate": "0"}, tenant=clinic)
    assert added.status_code == 303
    refused = client.post(f"{path}/lines", data={"description": "x", "quantity": "1", "unit_price": too_precise,
                                                 "tax_rate": "0"}, tenant=clinic)
    assert refused.status_code == 422 and refusal in refused.get_data(as_text=True)
    with in_tenant(clinic):
        stored = Invoice.objects.get(pk=inv.pk)
        assert stored.currency == currency and stored.total == 2 * minor and len(stored.lines) == 2
    assert client.post(f"{path}/finalise", tenant=clinic).status_code == 303
    page = client.get(path, tenant=clinic).get_data(as_text=True)
    assert f'data-total="total">{f.money(2 * minor, currency)}' in page and shown in page
    assert "$" not in page.split('id="invoice-totals"')[1].split("</table>")[0]
    form = client.get(f"{path}/payments/new", tenant=clinic).get_data(as_text=True)
    assert f'value="{f.major(2 * minor, currency)}"' in form and f"In {currency}" in form
    bad_payment = client.post(f"{path}/payments/new", data={"amount": too_precise, "method": "cash"}, tenant=clinic)
    assert bad_payment.status_code == 422 and refusal in bad_payment.get_data(as_text=True)
    assert client.post(f"{path}/payments/new", data={"amount": typed, "method": "cash"},
                       tenant=clinic).status_code == 303
    printed = client.get(f"{path}/print", tenant=clinic).get_data(as_text=True)
    assert shown in printed and f.money(minor, currency) in printed
    rows = list(csv.reader(io.StringIO(client.get("/reports/revenue.csv?from=2026-03-02&to=2026-03-02",
                                                  tenant=clinic).get_data(as_text=True))))
    assert rows[1][:2] == ["2026-03-02", f.major(2 * minor, currency)] and rows[1][6] == in_csv
    day_end = client.get("/reports/day_end?from=2026-03-02&to=2026-03-02", tenant=clinic).get_data(as_text=True)
    assert f"amounts in {currency}" in day_end and shown in day_end
