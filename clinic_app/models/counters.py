"""Per-clinic sequences in one collection. `Counter.next` serves numbers that must be unique but may skip
(patient and lab order record numbers); the gap-free invoice and credit-note series take their number
from the same collection inside the finalising transaction instead (services/billing/numbering.py)."""
from mongoengine import IntField, StringField

from ..tenancy import TenantDocument


class Counter(TenantDocument):
    meta = {"collection": "counters", "indexes": [{"fields": ["tenant_id", "name"], "unique": True}]}

    name = StringField(required=True, max_length=60)
    value = IntField(default=0)

    @classmethod
    def next(cls, name, by=1):
        """Atomically increment the clinic's counter `name` by `by` and return its new value (starts at 1):
        `by` numbers, the last of them returned, are taken at once (the demo seeds number in bulk).

        A retried write (pymongo retries once when the connection drops, e.g.
        the database restarting) can come back from SecantusDB as "applied"
        without the document: that number is taken but unknown, so take the
        next one (a gap, never a repeat).
        """
        for _ in range(3):
            doc = cls.objects(name=name).modify(upsert=True, new=True, inc__value=by)
            if doc is not None:
                return doc.value
        raise RuntimeError(f"counter {name!r}: the database applied the increment but did not return it")
