"""What a visit can be billed for, read from the areas that record it (the adapter to them).

- the visit itself: its consultation, from the price list ("visit_service:<visit id>");
- medicines dispensed for it, at the unit price recorded when dispensed ("dispense:<id>");
- lab tests ordered in it, at the price copied onto the order ("lab_item:<order id>:<code>").
Cancelled dispenses and cancelled lab orders are not billable. A candidate whose key is claimed
(models.invoicing.BillingClaim) is shown as billed and never offered again.
"""
from dataclasses import dataclass

from bson import ObjectId

from ...models import BillingClaim, Dispense, LabOrder, PriceItem

KINDS = ("visit_service", "dispense", "lab_item")


@dataclass
class Candidate:
    key: str
    kind: str  # an InvoiceLine kind: service, medicine, lab
    description: str
    code: str | None
    quantity: int
    unit_price: int
    tax_rate: int
    price_item_id: ObjectId | None = None
    claimed_by: ObjectId | None = None  # the invoice that has it

    @property
    def available(self):
        return self.claimed_by is None


def visit_price_item():
    """The consultation a visit is billed with: the one marked as the visit default, else the
    first active consultation by name; None when the price list has none."""
    return (PriceItem.objects(active=True, visit_default=True).first()
            or PriceItem.objects(active=True, kind="consultation").order_by("name_lc").first())


def for_visit(visit, settings, price_item=None):
    """Every billable thing of `visit`, each with `claimed_by` set when an invoice has it."""
    found = []
    item = price_item or visit_price_item()
    if item is not None:
        found.append(Candidate(f"visit_service:{visit.pk}", "service", item.name, item.code, 1, item.price,
                               item.tax_rate or 0, item.pk))
    rate = settings.default_tax_rate or 0
    for d in Dispense.objects(visit=visit, status="active").order_by("at"):
        found.append(Candidate(f"dispense:{d.pk}", "medicine", d.medicine_name or "Medicine", None, d.quantity,
                               d.unit_price, rate))
    for order in LabOrder.objects(visit=visit, status__ne="cancelled").order_by("ordered_at"):
        for it in order.items:
            found.append(Candidate(f"lab_item:{order.pk}:{it.code}", "lab", f"{it.name} ({order.number})", it.code,
                                   1, it.price or 0, rate))
    claims = {c.source_key: c.invoice_id for c in BillingClaim.objects(source_key__in=[c.key for c in found])}
    for c in found:
        c.claimed_by = claims.get(c.key)
    return found


def no_longer_billable(lines):
    """Indexes of `lines` whose source was cancelled since (a dispense or lab order), for a warning."""
    dispenses, orders = {}, {}
    for i, ln in enumerate(lines):
        kind, _, rest = (ln.source or "").partition(":")
        if kind == "dispense" and ObjectId.is_valid(rest):
            dispenses[ObjectId(rest)] = i
        elif kind == "lab_item" and ObjectId.is_valid(rest.partition(":")[0]):
            orders.setdefault(ObjectId(rest.partition(":")[0]), []).append(i)
    stale = []
    if dispenses:
        stale += [dispenses[d.pk] for d in Dispense.objects(pk__in=list(dispenses), status="cancelled").only("id")]
    if orders:
        for o in LabOrder.objects(pk__in=list(orders), status="cancelled").only("id"):
            stale += orders[o.pk]
    return sorted(stale)

