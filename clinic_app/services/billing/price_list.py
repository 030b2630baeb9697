"""The price list: services (consultation types, procedures) with a code, price and tax rate.

Lab tests and medicines bring their own prices from their catalogues (LabTest.price copied onto the
order, Medicine.sale_price copied onto the dispense); only what the clinic does itself is listed here.
"""
from mongoengine import NotUniqueError

from ...models import PriceItem
from .. import audit

FIELDS = ("code", "name", "kind", "price", "tax_rate", "visit_default")


class Duplicate(ValueError):
    """Another item of this clinic has the code."""


def search(q="", include_archived=False):
    """Items by kind and name; `q` is a name prefix or an exact code."""
    qs = PriceItem.objects if include_archived else PriceItem.objects(active=True)
    q = (q or "").strip()
    if q:
        lc = q.lower()
        by_code = PriceItem.objects(code=q.upper())
        if by_code.first() is not None:
            return by_code
        qs = qs.filter(name_lc__gte=lc, name_lc__lt=lc[:-1] + chr(ord(lc[-1]) + 1))
    return qs.order_by("kind", "name_lc")


def choices():
    """Active items for a line picker, by name."""
    return list(PriceItem.objects(active=True).order_by("name_lc").limit(500))


def _only_default(item):
    if item.visit_default:
        PriceItem.objects(pk__ne=item.pk, visit_default=True).update(set__visit_default=False)


def create(values):
    item = PriceItem(**{f: values[f] for f in FIELDS if f in values})
    try:
        item.save()
    except NotUniqueError:
        raise Duplicate() from None
    _only_default(item)
    audit.record("price_item.create", target=item, changes={f: getattr(item, f) for f in FIELDS})
    return item


def update(item, values):
    changes = audit.apply_values(item, values, FIELDS)
    if not changes:
        return changes
    try:
        item.save()
    except NotUniqueError:
        raise Duplicate() from None
    _only_default(item)
    audit.record("price_item.update", target=item, changes=changes)
    return changes


def set_active(item, active):
    if PriceItem.objects(pk=item.pk, active=not active).update(set__active=active):
        item.active = active
        audit.record("price_item.restore" if active else "price_item.archive", target=item)
        return True
    return False
