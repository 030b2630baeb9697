"""Demo billing: a price list, and about a month of invoices from the demo clinic's visits (their
consultation, dispensed medicines and lab tests), paid, part paid or open, with an overpayment kept
as credit, a refund, a credit note, a void and two drafts, so every report has numbers.

`seed(tenant, rng, now)` runs once per clinic inside tenant_context (services/demo.py) and writes in
bulk. Numbers come from the clinic's own series (one counter increment per series and year for the
whole batch), so they stay gap-free and the next invoice finalised in the app follows on.
"""
from collections import defaultdict
from datetime import timedelta

from bson import ObjectId

from ..models import (BillingClaim, Counter, CreditBalance, CreditNote, Dispense, Invoice, LabOrder, Patient,
                      PatientCredit, Payment, PriceItem, Settings, User, Visit)
from ..models.invoicing import CreditNoteLine
from ..tenancy import current_tenant_id
from .billing import invoices, numbering
from .visits import ref_id

PRICES = [  # code, name, kind, price (minor), tax (bp), visit default
    ("CONS", "Consultation", "consultation", 6000, 0, True),
    ("FOLL", "Follow-up consultation", "consultation", 4000, 0, False),
    ("DRS", "Wound dressing", "procedure", 1500, 0, False),
    ("ECG", "Electrocardiogram (ECG)", "procedure", 3500, 0, False),
    ("INJ", "Injection administration", "procedure", 1000, 0, False),
    ("CERT", "Medical certificate", "other", 2000, 825, False),
]
DAYS = 35


def _numbers(kind, settings, dated):
    """Give each (document, at) in `dated` (oldest first) the next number of its clinic-local year's series."""
    by_year = defaultdict(list)
    for doc, at in dated:
        by_year[numbering.local_year(at, settings.timezone)].append(doc)
    prefix = getattr(settings, numbering.SERIES[kind])
    for year, docs in sorted(by_year.items()):
        name = numbering.series_name(kind, year, settings.invoice_yearly_reset)
        last = Counter.next(name, by=len(docs))
        for i, doc in enumerate(docs):
            doc.number = numbering.format_number(prefix, year, last - len(docs) + i + 1)


def seed(tenant, rng, now):
    """The price list and a month of invoices, payments, a credit note and a void (once per clinic)."""
    if PriceItem.objects.first() is not None or Invoice.objects.first() is not None:
        return
    settings = Settings.current()
    items = [PriceItem(code=c, name=n, kind=k, price=p, tax_rate=t, visit_default=d, created_at=now - timedelta(
        days=200)) for c, n, k, p, t, d in PRICES]
    for item in items:
        item.clean()
    PriceItem.objects.insert(items, load_bulk=False)
    consult, follow_up = items[0], items[1]
    procedures = [i for i in items if i.kind != "consultation"]
    if not settings.tax_rates:
        Settings.objects(pk=settings.pk).update_one(set__tax_rates=[{"name": "Sales tax", "rate": 825}])
        settings.reload()
    names = settings.tax_names()
    clerk = User.objects(email="reception@demo.clinic").first() or User.objects.order_by("id").first()
    clerk_name = clerk.name if clerk else "Front desk"

    visits = list(Visit.objects(started_at__gte=now - timedelta(days=DAYS)).order_by("started_at").limit(400))
    if not visits:
        return
    visit_ids = [v.pk for v in visits]
    dispenses, labs = defaultdict(list), defaultdict(list)
    for d in Dispense.objects(visit__in=visit_ids, status="active"):
        dispenses[ref_id(d, "visit")].append(d)
    for o in LabOrder.objects(visit__in=visit_ids, status__ne="cancelled"):
        labs[ref_id(o, "visit")].append(o)
    providers = {u.pk: u.name for u in User.objects(pk__in=list({ref_id(v, "provider") for v in visits}))}
    patients = {p.pk: p for p in Patient.objects(pk__in=list({ref_id(v, "patient") for v in visits}))}

    built, claims = [], []
    for k, v in enumerate(visits):
        if rng.random() < 0.2:
            continue  # not billed yet: the "visits to bill" list has something in it
        patient = patients.get(ref_id(v, "patient"))
        if patient is None:
            continue
        item = follow_up if k % 4 == 3 else consult
        lines = [invoices.make_line(item.name, 1, item.price, item.tax_rate, kind="service", code=item.code,
                                    source=f"visit_service:{v.pk}", price_item_id=item.pk, tax_names=names)]
        for d in dispenses.get(v.pk, []):
            lines.append(invoices.make_line(d.medicine_name or "Medicine", d.quantity, d.unit_price, 0, kind="medicine",
                                            source=f"dispense:{d.pk}", tax_names=names))
        for o in labs.get(v.pk, []):
            for it in o.items:
                lines.append(invoices.make_line(f"{it.name} ({o.number})", 1, it.price or 0, 0, kind="lab",
                                                code=it.code, source=f"lab_item:{o.pk}:{it.code}", tax_names=names))
        if rng.random() < 0.3:
            extra = rng.choice(procedures)
            lines.append(invoices.make_line(extra.name, 1, extra.price, extra.tax_rate, kind="service",
                                            code=extra.code, price_item_id=extra.pk, tax_names=names))
        if k % 9 == 5:
            lines[0].discount_kind, lines[0].discount_value = "percent", 1000  # a 10% courtesy discount
        inv = Invoice(id=ObjectId(), tenant_id=current_tenant_id(), patient=patient, patient_name=patient.full_name,
                      record_number=patient.record_number, visit=v, practitioner_id=ref_id(v, "provider"),
                      practitioner_name=providers.get(ref_id(v, "provider")), currency=settings.currency, lines=lines,
                      created_at=v.started_at + timedelta(minutes=45), created_by=clerk_name, rev=1)
        invoices.compute(inv, names)
        built.append(inv)
        claims += [BillingClaim(source_key=ln.source, invoice_id=inv.pk, at=inv.created_at) for ln in lines
                   if ln.source]
    if not built:
        return
    # The newest two stay drafts; the rest are finalised in date order, so numbers follow the dates.
    final = built[:-2] if len(built) > 4 else built
    for inv in final:
        inv.status, inv.issued_at, inv.issued_by = "issued", inv.created_at + timedelta(minutes=5), clerk_name
    _numbers("invoice", settings, [(inv, inv.issued_at) for inv in final])

    pays, credits, notes, balances = [], [], [], defaultdict(int)

    def pay(inv, amount, method, at, **extra):
        applied = min(amount, inv.balance) if amount > 0 else amount
        p = Payment(id=ObjectId(), invoice=inv, invoice_number=inv.number, patient=inv.patient,
                    practitioner_id=inv.practitioner_id, currency=inv.currency, amount=amount, applied=applied,
                    method=method, received_at=at, received_by_id=getattr(clerk, "pk", None), received_by=clerk_name,
                    **extra)
        pays.append(p)
        inv.paid += applied
        invoices.settle(inv)
        excess = amount - applied if amount > 0 else (-amount if method == "credit" else 0)
        if excess:
            kind = "overpayment" if amount > 0 else "refund_to_credit"
            credits.append(PatientCredit(patient=inv.patient, amount=excess, kind=kind, invoice_id=inv.pk,
                                         payment_id=p.pk, currency=inv.currency, at=at, by=clerk_name))
            balances[inv.patient.pk] += excess
        return p

    voided = final[len(final) // 2] if len(final) > 6 else None
    credited = final[len(final) // 3] if len(final) > 6 else None
    for inv in final:
        at = inv.issued_at + timedelta(minutes=3)
        if inv is voided:
            inv.status, inv.voided_at, inv.voided_by = "void", at, clerk_name
            inv.void_reason, inv.balance = "Billed to the wrong patient; re-issued by hand.", 0
            continue
        roll = rng.random()
        method = rng.choice(["cash", "cash", "card", "card", "bank_transfer"])
        if roll < 0.65 or inv is credited:
            pay(inv, inv.balance, method, at)
        elif roll < 0.8:
            pay(inv, max(1, inv.balance // 2), method, at)  # part paid, the rest outstanding
        elif roll < 0.85:
            pay(inv, inv.balance + 1000, "cash", at)  # rounded up: the change kept as credit
        if inv is credited:
            line = max(range(len(inv.lines)), key=lambda i: inv.lines[i].net)
            ln = inv.lines[line]
            note = CreditNote(id=ObjectId(), invoice=inv, invoice_number=inv.number, patient=inv.patient,
                              practitioner_id=inv.practitioner_id, currency=inv.currency, lines=[CreditNoteLine(
                                  line=line, description=ln.description, quantity=ln.quantity, net=ln.net, tax=ln.tax,
                                  tax_rate=ln.tax_rate)], subtotal=ln.net, tax_total=ln.tax, total=ln.total,
                              reason="Charged for a service not given.", issued_at=at + timedelta(days=1),
                              issued_by=clerk_name)
            ln.credited_quantity, ln.credited_net, ln.credited_tax = ln.quantity, ln.net, ln.tax
            inv.credited += note.total
            invoices.settle(inv)
            notes.append(note)
            original = pays[-1]
            pay(inv, -note.total, original.method, note.issued_at + timedelta(minutes=10),
                reason="Refund of the credit note.", refund_of=original.pk)
    if notes:
        _numbers("credit_note", settings, [(note, note.issued_at) for note in notes])
    Invoice.objects.insert(built, load_bulk=False)
    if claims:
        BillingClaim.objects.insert(claims, load_bulk=False)
    if pays:
        Payment.objects.insert(pays, load_bulk=False)
    if notes:
        CreditNote.objects.insert(notes, load_bulk=False)
    if credits:
        PatientCredit.objects.insert(credits, load_bulk=False)
        CreditBalance.objects.insert([CreditBalance(patient_id=pid, balance=b) for pid, b in balances.items()],
                                     load_bulk=False)
