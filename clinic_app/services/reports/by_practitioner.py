"""Revenue by practitioner (the visit's provider): invoiced, credit notes, voided and collected."""
from ...models import User
from . import money
from .common import Column, Report, clinic_range

TITLE = "Revenue by practitioner"
COLUMNS = [Column("practitioner", "Practitioner"), Column("invoices", "Invoices", "int"),
           Column("invoiced", "Invoiced (accrual)", "money"), Column("credit_notes", "Credit notes", "money"),
           Column("voided", "Voided", "money"), Column("net_invoiced", "Net invoiced", "money"),
           Column("net_collected", "Net collected (cash)", "money")]
NONE = "No practitioner (hand-made invoices)"


def run(start, end, **options):
    r, settings = clinic_range(start, end)
    inv = money.invoiced(r, "practitionerId")
    cn = money.credit_notes(r, "practitionerId")
    vd = money.voided(r, "practitionerId")
    pay = money.payments(r, "practitionerId")
    ids = set(inv) | set(cn) | set(vd) | {k for (_, k) in pay}
    names = {u.pk: u.name for u in User.objects(pk__in=[i for i in ids if i]).only("name")}
    out = []
    for pid in ids:
        collected = sum(v["amount"] for (kind, k), v in pay.items() if k == pid and kind != "to_credit")
        row = {"practitioner": names.get(pid, NONE) if pid else NONE,
               "invoices": inv.get(pid, {}).get("count", 0), "invoiced": inv.get(pid, {}).get("amount", 0),
               "credit_notes": cn.get(pid, {}).get("amount", 0), "voided": vd.get(pid, {}).get("amount", 0),
               "net_collected": collected}
        row["net_invoiced"] = row["invoiced"] - row["credit_notes"] - row["voided"]
        out.append(row)
    out.sort(key=lambda x: (x["practitioner"] == NONE, x["practitioner"]))
    keys = ("invoices", "invoiced", "credit_notes", "voided", "net_invoiced", "net_collected")
    return Report("by_practitioner", TITLE, COLUMNS, out, totals={k: sum(x[k] for x in out) for k in keys},
                  currency=settings.currency, start=start, end=end)
