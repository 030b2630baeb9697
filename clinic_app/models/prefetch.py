"""Load the references of a list of documents in one scoped query per path, not one per row."""
from mongoengine import Document


def prefetch(docs, *paths):
    """Load the references at `paths` ("patient", "doctor.role") of `docs` in one scoped query per
    path instead of one per row; returns `docs`. Missing/foreign references are left unloaded.
    """
    for path in paths:
        level = list(docs)
        for name in path.split("."):
            level = _prefetch_one(level, name)
    return docs


def _prefetch_one(docs, name):
    """Load reference `name` of each doc in one query; returns the referenced documents."""
    if not docs:
        return []
    field = docs[0]._fields[name]
    refs = [d._data.get(name) for d in docs]
    ids = {getattr(ref, "id", ref) for ref in refs if ref is not None and not isinstance(ref, Document)}
    found = field.document_type.objects.in_bulk(list(ids)) if ids else {}
    loaded = {}
    for doc, ref in zip(docs, refs):
        if isinstance(ref, Document):
            loaded[ref.pk] = ref
            continue
        target = found.get(getattr(ref, "id", ref))
        if target is not None:
            doc._data[name] = target  # a same-clinic document, checked again on access
            loaded[target.pk] = target
    return list(loaded.values())
