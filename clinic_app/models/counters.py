"""Per-clinic sequences (record numbers, invoice numbers) via find_one_and_update."""
from mongoengine import IntField, StringField

from ..tenancy import TenantDocument


class Counter(TenantDocument):
    meta = {"collection": "counters", "indexes": [{"fields": ["tenant_id", "name"], "unique": True}]}

    name = StringField(required=True, max_length=60)
    value = IntField(default=0)

    @classmethod
    def next(cls, name):
        """Atomically increment and return the clinic's counter `name` (starts at 1)."""
        doc = cls.objects(name=name).modify(upsert=True, new=True, inc__value=1)
        return doc.value
