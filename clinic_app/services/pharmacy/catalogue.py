"""The medicines catalogue: search as you type, create/update with per-clinic uniqueness, archive."""
from mongoengine.errors import NotUniqueError
from mongoengine.queryset.visitor import Q

from ...models import Medicine
from .. import audit
from .stock import forget_counts

FIELDS = ("name", "generic_name", "form", "strength", "dispensing_unit", "pack_size", "sale_price",
          "reorder_level")
# The dispensing unit a form usually has; the form suggests it, the user may change it.
DEFAULT_UNIT = {"tablet": "tablet", "capsule": "capsule", "syrup": "ml", "cream": "tube", "injection": "vial",
                "drops": "ml", "inhaler": "unit", "other": "unit"}


class Duplicate(Exception):
    """Another medicine of this clinic has the same name, form and strength."""


def _prefix(field, prefix):
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return {f"{field}__gte": prefix, f"{field}__lt": upper}


def search(q="", include_archived=False):
    """Medicines whose name or generic name starts with `q` (case-insensitive), by name."""
    base = Medicine.objects if include_archived else Medicine.objects(active=True)
    q = " ".join((q or "").lower().split())[:100]
    if q:
        base = base.filter(Q(**_prefix("name_lc", q)) | Q(**_prefix("generic_lc", q)))
    return base.order_by("name_lc", "strength_lc")


def create(data):
    """A new catalogue medicine; raises Duplicate."""
    medicine = Medicine(**{f: data.get(f) for f in FIELDS})
    try:
        medicine.save()
    except NotUniqueError:
        raise Duplicate() from None
    forget_counts()  # a new medicine with nothing on hand is low stock
    audit.record("medicine.create", target=medicine, changes={f: data.get(f) for f in FIELDS})
    return medicine


def update(medicine, data):
    """Apply changed fields; returns the changes. Raises Duplicate."""
    changes = audit.apply_values(medicine, data, FIELDS, same=lambda old, new: (None if new == "" else new) == old)
    if not changes:
        return changes
    try:
        medicine.save()
    except NotUniqueError:
        medicine.reload()
        raise Duplicate() from None
    if "reorder_level" in changes:
        forget_counts()
    audit.record("medicine.update", target=medicine, changes=changes)
    return changes


def set_active(medicine, active):
    if medicine.active == active:
        return False
    Medicine.objects(pk=medicine.pk).update_one(set__active=active)
    medicine.active = active
    forget_counts()
    audit.record("medicine.restore" if active else "medicine.archive", target=medicine)
    return True
