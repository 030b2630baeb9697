"""Tenancy core: the bound tenant and tenant-scoped documents.

Everything a clinic owns is a `TenantDocument`. Its QuerySet adds
`tenantId = current tenant` to every read, count, update, delete and
aggregate, and raises `NoTenantBound` when no tenant is bound: it fails closed.
The only way across tenants is `Model.all_tenants()` (grep for it).

Which clinic a request is for comes from its Host header (clinic_app/hosts.py),
which binds it here with `bind_request_tenant()`.
"""
import contextvars
from contextlib import contextmanager

from bson import DBRef, ObjectId
from flask import g
from mongoengine import DO_NOTHING, Document, ObjectIdField, ReferenceField
from mongoengine.errors import DoesNotExist
from mongoengine.queryset import Q, QuerySet
from mongoengine.queryset import transform
from mongoengine.queryset.visitor import QCombination


class NoTenantBound(RuntimeError):
    """Raised when tenant-owned data is touched with no tenant bound."""


class CrossTenantError(ValueError):
    """Raised when a write would move or link data across tenants."""


class UnsafeQueryValue(ValueError):
    """Raised when a filter value is a dict of query operators (e.g. {"$ne": None})."""


# -- the bound tenant -------------------------------------------------------

_current = contextvars.ContextVar("clinic_app_tenant", default=None)


def current_tenant():
    """The bound tenant. Raises NoTenantBound when there is none."""
    tenant = _current.get()
    if tenant is None:
        raise NoTenantBound("no tenant is bound: use a clinic subdomain or tenant_context()")
    return tenant


def current_tenant_id():
    return current_tenant().pk


def bound_tenant():
    """The bound tenant or None; for code that works on the apex too."""
    return _current.get()


@contextmanager
def tenant_context(tenant):
    """Bind `tenant` for the block (jobs, CLI, tests); restores the previous one on exit."""
    if tenant is None or getattr(tenant, "pk", None) is None:
        raise NoTenantBound("tenant_context() needs a saved tenant")
    token = _current.set(tenant)
    try:
        yield tenant
    finally:
        _current.reset(token)


def bind_request_tenant(tenant):
    """Bind `tenant` (resolved from the Host header) for the rest of this request, as `g.tenant` too."""
    g.tenant = tenant
    g._tenant_token = _current.set(tenant)


def unbind_request_tenant(exc=None):
    """teardown_request: undo `bind_request_tenant`, so no later work on this thread sees the clinic."""
    token = g.pop("_tenant_token", None)
    if token is not None:
        _current.reset(token)


# -- the scoped QuerySet ----------------------------------------------------

# Stages that read other collections, or write results elsewhere, unscoped.
_FORBIDDEN_STAGES = {"$lookup", "$unionWith", "$graphLookup", "$out", "$merge", "$facet"}


def _check_filter_value(value):
    """Refuse operator dicts smuggled in as values (`{"$ne": None}` from JSON)."""
    if isinstance(value, dict):
        if any(isinstance(k, str) and k.startswith("$") for k in value):
            raise UnsafeQueryValue("a filter value may not be a query operator")
        for v in value.values():
            _check_filter_value(v)
    elif isinstance(value, (list, tuple, set)):
        for v in value:
            _check_filter_value(v)


def _check_q(q):
    if isinstance(q, QCombination):
        for child in q.children:
            _check_q(child)
    elif isinstance(q, Q):
        for key, value in q.query.items():
            if key != "__raw__":
                _check_filter_value(value)


def _walk_stages(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _FORBIDDEN_STAGES:
                raise CrossTenantError(f"{key} is not allowed on tenant data (it escapes the tenant scope)")
            _walk_stages(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _walk_stages(value)


class TenantQuerySet(QuerySet):
    """A QuerySet that only ever sees the bound tenant's documents."""

    @property
    def _query(self):
        base = super()._query
        tid = current_tenant_id()  # fails closed
        # The caller's filter first, the tenant last. Same meaning on MongoDB, but
        # SecantusDB picks its index by the filter's first key: {_id: X, tenantId: T}
        # reads one document where {tenantId: T, _id: X} walks the whole clinic.
        if "tenantId" not in base:
            return {**base, "tenantId": tid}
        if base["tenantId"] == tid:  # instance update/delete/reload add the shard key themselves
            return {**{k: v for k, v in base.items() if k != "tenantId"}, "tenantId": tid}
        return {"$and": [base, {"tenantId": tid}]}

    def _is_empty(self):
        """True for `.none()` (and empty slices): mongoengine's sum/average/distinct/delete ignore it."""
        current_tenant_id()  # fails closed like every other query
        return self._none or self._empty

    def __call__(self, q_obj=None, **query):
        if q_obj is not None:
            _check_q(q_obj)
        for key, value in query.items():
            if key != "__raw__":
                _check_filter_value(value)
        return super().__call__(q_obj, **query)

    _UPDATE_OPTIONS = frozenset(
        {"upsert", "multi", "write_concern", "read_concern", "full_result", "array_filters", "remove", "new"}
    )

    def _refuse_tenant_change(self, update):
        ops = {k: v for k, v in update.items() if k not in self._UPDATE_OPTIONS}
        compiled = transform.update(self._document, **ops)
        for op, fields in compiled.items():
            if isinstance(fields, dict) and any(f == "tenantId" or f.startswith("tenantId.") for f in fields):
                raise CrossTenantError("a document's tenant cannot be changed")
            if op == "tenantId":
                raise CrossTenantError("a document's tenant cannot be changed")

    def update(self, *args, **update):
        self._refuse_tenant_change(update)
        return super().update(*args, **update)

    def modify(self, *args, **update):
        self._refuse_tenant_change(update)
        return super().modify(*args, **update)

    def in_bulk(self, object_ids):
        # The base class queries the raw collection by _id alone.
        return {doc.pk: doc for doc in self.filter(pk__in=list(object_ids))}

    def insert(self, doc_or_docs, *args, **kwargs):
        tid = current_tenant_id()
        docs = doc_or_docs if isinstance(doc_or_docs, (list, tuple)) else [doc_or_docs]
        for doc in docs:
            if doc.tenant_id is None:
                doc.tenant_id = tid
            elif doc.tenant_id != tid:
                raise CrossTenantError("cannot insert another tenant's document")
            doc.validate()
        return super().insert(doc_or_docs, *args, **kwargs)

    def aggregate(self, pipeline, *suppl_pipeline, **kwargs):
        _walk_stages(pipeline)
        _walk_stages(suppl_pipeline)
        current_tenant_id()
        # For an empty QuerySet mongoengine prepends {$match: {$expr: false}}: no rows.
        return super().aggregate(pipeline, *suppl_pipeline, **kwargs)

    def none(self):
        current_tenant_id()
        return super().none()

    # Empty means empty: the base class runs these over the whole scope even after .none().

    def sum(self, field):
        return 0 if self._is_empty() else super().sum(field)

    def average(self, field):
        return 0 if self._is_empty() else super().average(field)  # mongoengine's answer for no documents

    def distinct(self, field):
        return [] if self._is_empty() else super().distinct(field)

    def delete(self, *args, **kwargs):
        return 0 if self._is_empty() else super().delete(*args, **kwargs)

    def select_related(self, max_depth=1):
        # mongoengine's DeReference reads referenced collections raw, outside
        # the scope; here references load lazily through the scoped field.
        return list(self.clone())

    def map_reduce(self, *args, **kwargs):
        raise CrossTenantError("map_reduce() is not supported on tenant data")

    def exec_js(self, *args, **kwargs):
        raise CrossTenantError("exec_js() is not supported on tenant data")


# -- references -------------------------------------------------------------


class TenantReferenceField(ReferenceField):
    """A reference to a document of the same tenant: checked on write, scoped on read."""

    def __init__(self, document_type, **kwargs):
        kwargs.setdefault("reverse_delete_rule", DO_NOTHING)
        kwargs["dbref"] = False
        super().__init__(document_type, **kwargs)

    def __get__(self, instance, owner):
        if instance is None:
            return self
        value = instance._data.get(self.name)
        if value is None:
            return None
        if isinstance(value, DBRef) and instance._fields[self.name]._auto_dereference:
            # Plain ReferenceField dereferences with an unscoped find_one.
            doc = self.document_type.objects(pk=value.id).first()
            if doc is None:
                raise DoesNotExist(f"{self.document_type.__name__} {value.id} not found in this clinic")
            instance._data[self.name] = doc
            return doc
        if isinstance(value, TenantDocument) and value.tenant_id != current_tenant_id():
            raise DoesNotExist(f"{self.document_type.__name__} {value.pk} not found in this clinic")
        return value

    def validate(self, value):
        super().validate(value)
        if value is None:
            return
        tid = current_tenant_id()
        if isinstance(value, TenantDocument):
            if value.tenant_id != tid:
                self.error("must reference a record of the same clinic")
            return
        ref_id = value.id if isinstance(value, DBRef) else value
        if not isinstance(ref_id, ObjectId) or not self.document_type.objects(pk=ref_id).only("id").first():
            self.error("must reference a record of the same clinic")


# -- the document base ------------------------------------------------------


class TenantDocument(Document):
    """Base class of every tenant-owned document."""

    meta = {
        "abstract": True,
        "queryset_class": TenantQuerySet,
        # The shard key puts tenantId into every instance write's filter and
        # makes it immutable on a loaded document.
        "shard_key": ("tenant_id",),
        "auto_create_index": False,
    }

    tenant_id = ObjectIdField(db_field="tenantId", required=True)

    @classmethod
    def all_tenants(cls):
        """THE cross-tenant escape hatch: an unscoped QuerySet (platform console, sweeps)."""
        return QuerySet(cls, cls._get_collection())

    def save(self, *args, **kwargs):
        tid = current_tenant_id()
        if self.tenant_id is None:
            self.tenant_id = tid
        elif self.tenant_id != tid:
            raise CrossTenantError("cannot save another tenant's document")
        return super().save(*args, **kwargs)
