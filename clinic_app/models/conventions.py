"""The tenancy rules every TenantDocument must follow, checked once at start-up (create_app)."""
from mongoengine import ReferenceField
from mongoengine.fields import GenericLazyReferenceField, GenericReferenceField, LazyReferenceField

from ..tenancy import TenantDocument, TenantReferenceField

# These dereference with an unscoped query, outside the bound clinic.
_UNSCOPED_REFERENCE_FIELDS = (GenericReferenceField, LazyReferenceField, GenericLazyReferenceField)


def check_model_conventions(documents=None):
    """Raise TypeError if a TenantDocument breaks the tenancy rules.

    Rules: every index starts with tenantId; references go through
    TenantReferenceField (plain/lazy/generic references dereference unscoped).
    """
    if documents is None:  # the app's own models (tests define deliberately broken ones)
        documents = [d for d in concrete_subclasses(TenantDocument) if d.__module__.startswith("clinic_app.")]
    problems = []
    for doc in documents:
        for spec in doc._meta.get("index_specs") or []:
            first = spec["fields"][0][0]
            if first != "tenantId":
                problems.append(f"{doc.__name__}: index {spec['fields']} does not start with tenantId")
        for name, field in doc._fields.items():
            inner = getattr(field, "field", None)
            for f in (field, inner):
                if isinstance(f, _UNSCOPED_REFERENCE_FIELDS) or (
                    isinstance(f, ReferenceField) and not isinstance(f, TenantReferenceField)
                ):
                    problems.append(f"{doc.__name__}.{name}: use TenantReferenceField")
            if inner is not None and isinstance(inner, ReferenceField):
                problems.append(f"{doc.__name__}.{name}: lists of references dereference unscoped")
    if problems:
        raise TypeError("; ".join(problems))


def concrete_subclasses(base):
    """Every non-abstract subclass of `base`, at any depth."""
    seen, stack = [], [base]
    while stack:
        cls = stack.pop()
        for sub in cls.__subclasses__():
            stack.append(sub)
            if not sub._meta.get("abstract"):
                seen.append(sub)
    return seen
