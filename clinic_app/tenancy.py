"""Tenancy core: host -> tenant, the bound tenant, and tenant-scoped documents.

Everything a clinic owns is a `TenantDocument`. Its QuerySet adds
`tenantId = current tenant` to every read, count, update, delete and
aggregate, and raises `NoTenantBound` when no tenant is bound: it fails closed.
The only way across tenants is `Model.all_tenants()` (grep for it).
"""
import contextvars
import re
import threading
from contextlib import contextmanager

from bson import DBRef, ObjectId
from cachetools import TTLCache
from flask import abort, current_app, g, request
from mongoengine import DO_NOTHING, Document, ObjectIdField, ReferenceField
from mongoengine.errors import DoesNotExist
from mongoengine.fields import (
    GenericLazyReferenceField,
    GenericReferenceField,
    LazyReferenceField,
)
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
        if "tenantId" not in base:
            return {"tenantId": tid, **base}
        return {"$and": [{"tenantId": tid}, base]}

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
        return super().aggregate(pipeline, *suppl_pipeline, **kwargs)

    def none(self):
        current_tenant_id()
        return super().none()

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


_UNSCOPED_REFERENCE_FIELDS = (GenericReferenceField, LazyReferenceField, GenericLazyReferenceField)


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


def check_model_conventions(documents=None):
    """Raise TypeError if a TenantDocument breaks the tenancy rules.

    Rules: every index starts with tenantId; references go through
    TenantReferenceField (plain/lazy/generic references dereference unscoped).
    """
    if documents is None:  # the app's own models (tests define deliberately broken ones)
        documents = [d for d in _tenant_document_classes() if d.__module__.startswith("clinic_app.")]
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


def _tenant_document_classes():
    seen, stack = [], [TenantDocument]
    while stack:
        cls = stack.pop()
        for sub in cls.__subclasses__():
            stack.append(sub)
            if not sub._meta.get("abstract"):
                seen.append(sub)
    return seen


# -- host -> tenant -----------------------------------------------------------

RESERVED_SUBDOMAINS = frozenset(
    """www api admin app apps mail email smtp imap pop ftp platform static assets cdn
    media img images files docs help support status blog dev staging test demo-admin
    ns ns1 ns2 mx webmail portal login logout signup register auth account accounts
    billing pay payments secure root system internal localhost dashboard""".split()
)
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


class BadHost(ValueError):
    """The Host header is malformed or not under BASE_DOMAIN."""


def parse_host(host, base_domain):
    """Return the tenant subdomain of `host`, or None for the apex.

    Raises BadHost for malformed hosts, hosts outside `base_domain`, and
    nested subdomains (`a.b.example.com`).
    """
    host = (host or "").strip().lower().rstrip(".")
    if not host or host.startswith("["):
        raise BadHost(host)
    name, sep, port = host.rpartition(":")
    if sep:
        if not port.isdigit() or not name:
            raise BadHost(host)
        host = name.rstrip(".")
    base = base_domain.lower()
    if host in (base, f"www.{base}"):
        return None
    suffix = "." + base
    if not host.endswith(suffix):
        raise BadHost(host)
    label = host[: -len(suffix)]
    if not _LABEL.match(label):
        raise BadHost(host)
    return label


class TenantResolver:
    """Subdomain -> Tenant with a small cache of bounded staleness.

    Only hits are cached (a clinic created a moment ago on another node must
    resolve at once); entries expire after TENANT_CACHE_SECONDS.
    """

    def __init__(self, ttl_seconds, maxsize=4096):
        self._lock = threading.Lock()
        self._cache = TTLCache(maxsize=maxsize, ttl=ttl_seconds) if ttl_seconds > 0 else None

    def lookup(self, subdomain):
        from .models.tenant import Tenant

        if subdomain in RESERVED_SUBDOMAINS:
            return None
        if self._cache is not None:
            with self._lock:
                hit = self._cache.get(subdomain)
            if hit is not None:
                return hit
        tenant = Tenant.objects(subdomain=subdomain, status__ne="provisioning").first()
        if tenant is not None and self._cache is not None:
            with self._lock:
                self._cache[subdomain] = tenant
        return tenant

    def invalidate(self, subdomain=None):
        if self._cache is None:
            return
        with self._lock:
            if subdomain is None:
                self._cache.clear()
            else:
                self._cache.pop(subdomain, None)


def resolver():
    return current_app.extensions["tenant_resolver"]


# Blueprints served only on the apex; every other blueprint only on a clinic
# subdomain. "core" serves both ("/" dispatches on g.tenant).
APEX_BLUEPRINTS = frozenset({"public", "platform", "platform_billing"})
BOTH_BLUEPRINTS = frozenset({"core"})
HOSTLESS_ENDPOINTS = frozenset({"static", "core.healthz"})


def bind_request_tenant():
    """before_request: resolve the Host header and bind the clinic, or 400/404."""
    g.tenant = None
    if request.endpoint in HOSTLESS_ENDPOINTS:
        return None
    try:
        subdomain = parse_host(request.host, current_app.config["BASE_DOMAIN"])
    except BadHost:
        abort(400, description="This address is not served here.")
    blueprint = request.blueprint
    if subdomain is None:
        if blueprint not in APEX_BLUEPRINTS | BOTH_BLUEPRINTS and request.endpoint is not None:
            abort(404)
        return None
    tenant = resolver().lookup(subdomain)
    if tenant is None:
        abort(404, description="There is no clinic at this address.")
    if blueprint in APEX_BLUEPRINTS:
        abort(404)
    g.tenant = tenant
    g._tenant_token = _current.set(tenant)
    return None


def unbind_request_tenant(exc=None):
    token = g.pop("_tenant_token", None)
    if token is not None:
        _current.reset(token)


# -- the subscription gate ------------------------------------------------------

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def allow_when_suspended(view):
    """Mark a view reachable while the clinic is suspended (login, logout, subscription)."""
    view.allow_when_suspended = True
    view.allow_writes_in_grace = True
    return view


def allow_writes_in_grace(view):
    """Mark a view whose writes stay open in read-only grace (login, payments)."""
    view.allow_writes_in_grace = True
    return view


def subscription_gate():
    """before_request: suspended -> suspended page; grace -> read-only."""
    from . import clock
    from .services.subscription import standing
    from .web import htmx_redirect, render

    tenant = g.get("tenant")
    if tenant is None:
        return None
    g.standing = st = standing(tenant, clock.now())
    view = current_app.view_functions.get(request.endpoint)
    if st.suspended:
        if view is not None and getattr(view, "allow_when_suspended", False):
            return None
        return render("errors/suspended.html", block="content", status=403, standing=st)
    if st.read_only and request.method not in SAFE_METHODS:
        if view is not None and getattr(view, "allow_writes_in_grace", False):
            return None
        from flask import flash

        flash("Your clinic is read-only until the subscription is renewed. Nothing was saved.", "warning")
        return htmx_redirect("/subscription")
    return None


def init_app(app):
    app.extensions["tenant_resolver"] = TenantResolver(app.config["TENANT_CACHE_SECONDS"])
    app.before_request(bind_request_tenant)
    app.before_request(subscription_gate)
    app.teardown_request(unbind_request_tenant)


def canonical_url(tenant=None, path="/"):
    """Absolute URL on a tenant's own host (or the apex), never from the request's Host."""
    cfg = current_app.config
    host = cfg["BASE_DOMAIN"] if tenant is None else f"{tenant.subdomain}.{cfg['BASE_DOMAIN']}"
    port = f":{cfg['PUBLIC_PORT']}" if cfg.get("PUBLIC_PORT") else ""
    return f"{cfg['PREFERRED_URL_SCHEME']}://{host}{port}{path}"
